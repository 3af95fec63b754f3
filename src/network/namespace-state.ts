/**
 * Whether a task's existing namespace is complete and holds what `attach` would
 * make (pure: LinuxNetwork feeds it `ip -n NS -j -batch` output of
 * `addr show dev eth0` and `route show`, and reads /sys for the host veth).
 */
import type { RunResult } from '../util/exec.ts';
import { formatCidr } from '../model/cidr.ts';
import { METADATA_ADDRESS } from './host-boundary.ts';
import type { CheckedSubnet } from './checked-subnet.ts';
import { masterOf, readSys, type IpLink, type IpRoute } from './links.ts';

export type NamespaceState = { ok: true; mac: string } | { ok: false; conflict?: string };

export interface ExpectedNamespace {
  ns: string;
  veth: string;
  subnet: CheckedSubnet;
  ip: string;
  /** Egress on: the namespace has a default route (and only then). */
  egress: boolean;
}

/** Complete and matching (with eth0's MAC), half-made, or holding a different address (a conflict). */
export function namespaceState(r: RunResult, x: ExpectedNamespace): NamespaceState {
  if (r.code !== 0) return { ok: false };
  const lines = r.stdout.split('\n').filter((l) => l.trim().startsWith('['));
  if (lines.length < 2) return { ok: false };
  let link: IpLink | undefined;
  let routes: IpRoute[];
  try {
    link = (JSON.parse(lines[0]!) as IpLink[])[0];
    routes = JSON.parse(lines[1]!) as IpRoute[];
  } catch {
    return { ok: false };
  }
  const s = x.subnet;
  const p = s.cidr.prefixLength;
  const v4 = (link?.addr_info ?? []).filter((a) => a.family === 'inet');
  if (v4.length > 0 && !v4.some((a) => a.local === x.ip && a.prefixlen === p)) {
    return { ok: false, conflict: `its namespace ${x.ns} already has ${v4.map((a) => `${a.local}/${a.prefixlen}`).join(', ')}, not ${x.ip}/${p}` };
  }
  const hasRoute = (dst: string) => routes.some((r) => r.dst === dst && r.gateway === s.gateway);
  const complete =
    link?.address !== undefined &&
    v4.length === 1 &&
    (link.flags ?? []).includes('UP') &&
    (s.vpc.prefixLength >= p || hasRoute(formatCidr(s.vpc))) &&
    hasRoute(METADATA_ADDRESS) &&
    routes.some((r) => r.dst === 'default') === x.egress &&
    masterOf(x.veth) === s.spec.bridge &&
    readSys(`/sys/class/net/${x.veth}/operstate`) !== 'down';
  return complete ? { ok: true, mac: link!.address! } : { ok: false };
}
