/**
 * Reading the host's main routing table (pure; LinuxNetwork reads it with
 * `ip -j -4 route show table main`): subnets must not overlap a host route, and
 * egress leaves by default through the devices of the default routes.
 */
import { overlaps, parseCidr, type Ipv4Cidr } from '../model/cidr.ts';
import { isValidIfName, type IpRoute } from './links.ts';

/** The first host route (not on `bridge`, not default) that overlaps `cidr`, as "DST on DEV"; undefined when none does. */
export function overlappingRoute(routes: readonly IpRoute[], bridge: string, cidr: Ipv4Cidr): string | undefined {
  for (const r of routes) {
    if (!r.dst || r.dst === 'default' || r.dev === bridge) continue;
    let dst: Ipv4Cidr;
    try {
      dst = parseCidr(r.dst.includes('/') ? r.dst : `${r.dst}/32`, { allowHostBits: true });
    } catch {
      continue;
    }
    if (overlaps(dst, cidr)) return `${r.dst}${r.dev ? ` on ${r.dev}` : ''}`;
  }
  return undefined;
}

/** Devices of the default routes (the host's uplinks), without duplicates. */
export function defaultRouteDevices(routes: readonly IpRoute[]): string[] {
  return [...new Set(routes.filter((r) => r.dst === 'default' && r.dev && isValidIfName(r.dev)).map((r) => r.dev!))];
}
