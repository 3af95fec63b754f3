/**
 * Security groups on the wire: each task's network namespace holds one nftables
 * table, `inet skiff_sg`, that is its firewall. Inbound is dropped unless a rule
 * allows it; outbound is dropped unless a rule allows it (a new group's
 * allow-all egress rule is what makes outbound open by default, as in EC2).
 * Replies to allowed connections pass both ways (conntrack), loopback always
 * passes, the task metadata endpoint (169.254.170.2) is always reachable, and
 * the host — its address on the task's bridge — may open connections to the
 * task unless the operator turned host access off.
 *
 * The table lives inside the task's namespace, so the same rules hold whether
 * the peer is on the same bridge or routed, and the task itself cannot change
 * them (it has no CAP_NET_ADMIN over a namespace the host owns). A table is
 * replaced in one nft transaction: there is never a moment without rules.
 *
 * `rulesetScript` is pure (unit-tested); `NetnsFirewall` applies it with
 * `nsenter --net=<netns> nft -f -`.
 */
import { existsSync } from 'node:fs';
import { run } from '../util/exec.ts';

export const FIREWALL_TABLE = 'skiff_sg';

/** One allow rule: traffic of `protocol` (and ports) from (ingress) / to (egress) a CIDR or the members of a peer set. */
export interface FirewallRule {
  /** `tcp`, `udp`, `icmp`, `-1` (all) or an IP protocol number. */
  protocol: string;
  /** tcp/udp: port range; icmp: type (fromPort) and code (toPort). */
  fromPort?: number;
  toPort?: number;
  cidr?: string;
  /** Name of a set in `peerSets` (member addresses of a security group). */
  peerSet?: string;
}

export interface TaskRuleset {
  ingress: FirewallRule[];
  egress: FirewallRule[];
  /** Named sets of IPv4 addresses the rules refer to (a set name: letters, digits, `_`). */
  peerSets: Record<string, string[]>;
  /** Addresses that may always open connections to the task (the host's address on its bridge); empty: none. */
  trustedSources: string[];
  /** Addresses the task may always reach (the metadata endpoint). */
  alwaysReachable: string[];
}

const SET_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,30}$/;
const IPV4_RE = /^\d{1,3}(\.\d{1,3}){3}$/;
const CIDR_RE = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`invalid firewall input: ${what}`);
}

function intOk(n: number | undefined, max: number): boolean {
  return n === undefined || (Number.isInteger(n) && n >= 0 && n <= max);
}

/** The nft match expression of a rule (without the verdict); `''` matches everything. */
export function ruleMatch(rule: FirewallRule, direction: 'ingress' | 'egress'): string {
  const parts: string[] = [];
  const addr = direction === 'ingress' ? 'ip saddr' : 'ip daddr';
  if (rule.peerSet !== undefined) {
    check(SET_NAME_RE.test(rule.peerSet), `set name ${rule.peerSet}`);
    parts.push(`${addr} @${rule.peerSet}`);
  } else if (rule.cidr !== undefined && rule.cidr !== '0.0.0.0/0') {
    check(CIDR_RE.test(rule.cidr), `CIDR ${rule.cidr}`);
    parts.push(`${addr} ${rule.cidr}`);
  } else {
    parts.push('meta nfproto ipv4');
  }
  const p = rule.protocol;
  check(intOk(rule.fromPort, 65535) && intOk(rule.toPort, 65535), `ports ${rule.fromPort}-${rule.toPort}`);
  if (p === 'tcp' || p === 'udp') {
    const from = rule.fromPort ?? 0;
    const to = rule.toPort ?? 65535;
    if (from === 0 && to === 65535) parts.push(`meta l4proto ${p}`);
    else parts.push(`${p} dport ${from === to ? from : `${from}-${to}`}`);
  } else if (p === 'icmp') {
    check(intOk(rule.fromPort, 255) && intOk(rule.toPort, 255), `icmp type/code ${rule.fromPort}/${rule.toPort}`);
    parts.push('meta l4proto icmp');
    if (rule.fromPort !== undefined) parts.push(`icmp type ${rule.fromPort}`);
    if (rule.toPort !== undefined) parts.push(`icmp code ${rule.toPort}`);
  } else if (p !== '-1') {
    check(/^\d{1,3}$/.test(p) && Number(p) <= 255, `protocol ${p}`);
    parts.push(`meta l4proto ${Number(p)}`);
  }
  return parts.join(' ');
}

/** The nft script that replaces the task's firewall table in one transaction. */
export function rulesetScript(r: TaskRuleset): string {
  const t = `inet ${FIREWALL_TABLE}`;
  const lines = [`table ${t}`, `delete table ${t}`, `table ${t} {`];
  for (const [name, addrs] of Object.entries(r.peerSets)) {
    check(SET_NAME_RE.test(name), `set name ${name}`);
    for (const a of addrs) check(IPV4_RE.test(a), `address ${a}`);
    const elements = addrs.length ? ` elements = { ${[...new Set(addrs)].sort().join(', ')} };` : '';
    lines.push(`  set ${name} { type ipv4_addr;${elements} }`);
  }
  for (const a of [...r.trustedSources, ...r.alwaysReachable]) check(IPV4_RE.test(a), `address ${a}`);
  lines.push(
    '  chain ingress {',
    '    type filter hook input priority filter; policy drop;',
    '    iifname "lo" accept',
    '    ct state established,related accept',
    '    ct state invalid drop',
    ...r.trustedSources.map((a) => `    ip saddr ${a} accept comment "host"`),
    ...r.ingress.map((x) => `    ${ruleMatch(x, 'ingress')} accept`),
    '  }',
    '  chain egress {',
    '    type filter hook output priority filter; policy drop;',
    '    oifname "lo" accept',
    '    ct state established,related accept',
    ...r.alwaysReachable.map((a) => `    ip daddr ${a} accept comment "metadata"`),
    ...r.egress.map((x) => `    ${ruleMatch(x, 'egress')} accept`),
    '  }',
    '}',
  );
  return lines.join('\n') + '\n';
}

export class FirewallError extends Error {
  override name = 'FirewallError';
}

/** Applies rulesets inside task namespaces (`/var/run/netns/<name>`). */
export class NetnsFirewall {
  constructor(private readonly opts: { netnsPath: (taskId: string) => string; nsenterCommand?: string; nftCommand?: string }) {}

  hasNamespace(taskId: string): boolean {
    return existsSync(this.opts.netnsPath(taskId));
  }

  async apply(taskId: string, script: string): Promise<void> {
    const r = await run(this.opts.nsenterCommand ?? 'nsenter', [`--net=${this.opts.netnsPath(taskId)}`, this.opts.nftCommand ?? 'nft', '-f', '-'], { input: script });
    if (r.code !== 0) throw new FirewallError(`cannot apply the security group rules of task ${taskId}: ${r.stderr.trim()}`);
  }
}
