/**
 * Security groups on the wire: ONE host-side nftables table per server, shared
 * by all of its tasks, so a task starting or stopping changes a few set and map
 * elements — never the tables of the other tasks (the cost of a start does not
 * grow with the number of tasks).
 *
 *   table inet <name>                        (stateful filtering)
 *     set   g_<group>   ipv4_addr            member addresses of a group that a rule names as its peer
 *     map   ingress     ipv4_addr : verdict  task address → jump i_<profile>
 *     map   egress      ipv4_addr : verdict  task address → jump e_<profile>
 *     chain i_<profile> the inbound allow rules of a combination of groups; ends in drop
 *     chain e_<profile> the outbound allow rules; `return` when allowed; ends in drop
 *     chain forward     hook forward: tasks to tasks, on one bridge or routed between subnets
 *                       (bridged IPv4 reaches the inet hooks through br_netfilter, see host-tuning.ts)
 *     chain input       hook input: tasks to the host (the gateway's DNS, routed traffic is in forward)
 *     chain output      hook output: the host to tasks (allowed unless host access is off)
 *   table bridge <name>                      (anti-spoofing at the bridge port)
 *     set   ports       ifname               host veths of the tasks
 *     set   port_addrs  ifname . ipv4_addr   the one address each port may send from
 *
 * A "profile" is a sorted set of group ids: tasks with the same groups share
 * one pair of chains. Replies to allowed connections pass both ways
 * (conntrack), loopback inside a task never reaches the host, the metadata
 * endpoint (169.254.170.2) is always reachable, and a task cannot change any of
 * it (the tables live in the host's namespace). Because every packet from a
 * task port must carry that task's address (IPv4 and ARP; IPv6 is dropped), the
 * address-keyed maps and peer sets cannot be fooled by a spoofed source.
 *
 * Everything here is pure: `fullScript` replaces both tables in one nft
 * transaction (first pass, after a restart or a failed update), `updateScript`
 * turns one state into another with element and chain changes only.
 * `HostFirewall` runs the scripts with `nft -f -`.
 */
import { createHash } from 'node:crypto';
import { run } from '../util/exec.ts';

/** One allow rule: traffic of `protocol` (and ports) from (ingress) / to (egress) a CIDR or the members of a peer set. */
export interface FirewallRule {
  /** `tcp`, `udp`, `icmp`, `-1` (all) or an IP protocol number. */
  protocol: string;
  /** tcp/udp: port range; icmp: type (fromPort) and code (toPort). */
  fromPort?: number;
  toPort?: number;
  cidr?: string;
  /** Name of a set in `FirewallState.peerSets` (member addresses of a security group). */
  peerSet?: string;
}

export interface Profile {
  ingress: FirewallRule[];
  egress: FirewallRule[];
}

/** What the tables hold. Maps are keyed by name / address; values compare by content. */
export interface FirewallState {
  /** Set name (`g_…`) → member addresses. */
  peerSets: Map<string, Set<string>>;
  /** Profile name (`p…`) → its rules. */
  profiles: Map<string, Profile>;
  /** Task address → its host veth and profile. */
  tasks: Map<string, { port: string; profile: string }>;
}

export interface FirewallOptions {
  /** Name of both tables (family inet and bridge). */
  table: string;
  /** The host may open connections to tasks (load balancer, health checks, the operator). */
  hostAccess: boolean;
  /** Addresses every task may always reach (the metadata endpoint). */
  alwaysReachable: string[];
}

/** The security-group tables of a server whose boundary table is `nftTable`. */
export const securityGroupTable = (nftTable: string) => `${nftTable}_sg`.slice(0, 32);

export const emptyState = (): FirewallState => ({ peerSets: new Map(), profiles: new Map(), tasks: new Map() });

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const IPV4_RE = /^\d{1,3}(\.\d{1,3}){3}$/;
const CIDR_RE = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;
const IFNAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`invalid firewall input: ${what}`);
}

function intOk(n: number | undefined, max: number): boolean {
  return n === undefined || (Number.isInteger(n) && n >= 0 && n <= max);
}

/** The set holding a group's member addresses: `g_` + the group id's hex. */
export const peerSetName = (groupId: string) => `g_${groupId.replace(/^sg-/, '').replace(/[^A-Za-z0-9_]/g, '_')}`;

/** The profile of a task in these groups (order does not matter): `p` + 16 hex of a hash. */
export const profileName = (groupIds: string[]) =>
  `p${createHash('sha256').update([...new Set(groupIds)].sort().join(',')).digest('hex').slice(0, 16)}`;

/** The nft match expression of a rule (without the verdict); never empty. */
export function ruleMatch(rule: FirewallRule, direction: 'ingress' | 'egress'): string {
  const parts: string[] = [];
  const addr = direction === 'ingress' ? 'ip saddr' : 'ip daddr';
  if (rule.peerSet !== undefined) {
    check(NAME_RE.test(rule.peerSet), `set name ${rule.peerSet}`);
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

/** The rules of a profile's two chains (bodies only, one rule per line). */
export function profileRules(profile: Profile): { ingress: string[]; egress: string[] } {
  return {
    ingress: ['ct state invalid drop', ...profile.ingress.map((r) => `${ruleMatch(r, 'ingress')} accept`), 'drop'],
    egress: [...profile.egress.map((r) => `${ruleMatch(r, 'egress')} return`), 'drop'],
  };
}

function checkState(s: FirewallState): void {
  for (const [name, addrs] of s.peerSets) {
    check(NAME_RE.test(name), `set name ${name}`);
    for (const a of addrs) check(IPV4_RE.test(a), `address ${a}`);
  }
  for (const name of s.profiles.keys()) check(NAME_RE.test(name), `profile ${name}`);
  for (const [ip, t] of s.tasks) {
    check(IPV4_RE.test(ip), `address ${ip}`);
    check(IFNAME_RE.test(t.port), `port ${t.port}`);
    check(s.profiles.has(t.profile), `profile ${t.profile} of ${ip}`);
  }
}

function hookChains(o: FirewallOptions): string[] {
  for (const a of o.alwaysReachable) check(IPV4_RE.test(a), `address ${a}`);
  return [
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    '    ct state established,related accept',
    '    ip saddr vmap @egress',
    '    ip daddr vmap @ingress',
    '  }',
    '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    '    ct state established,related accept',
    // By the input hook the metadata NAT has rewritten the destination; the original one tells.
    ...o.alwaysReachable.map((a) => `    ct original ip daddr ${a} accept comment "metadata"`),
    '    ip saddr vmap @egress',
    '  }',
    '  chain output {',
    '    type filter hook output priority filter; policy accept;',
    ...(o.hostAccess ? [] : ['    ct state established,related accept', '    ip daddr vmap @ingress']),
    '  }',
  ];
}

const elements = (items: string[]) => (items.length ? ` elements = { ${items.join(', ')} };` : '');

/** Replaces both tables with `s` in one transaction: there is never a moment without rules. */
export function fullScript(s: FirewallState, o: FirewallOptions): string {
  checkState(s);
  const t = `inet ${o.table}`;
  const b = `bridge ${o.table}`;
  const tasks = [...s.tasks].sort(([x], [y]) => x.localeCompare(y));
  const lines = [`table ${t}`, `delete table ${t}`, `table ${t} {`];
  for (const [name, addrs] of [...s.peerSets].sort(([x], [y]) => x.localeCompare(y))) {
    lines.push(`  set ${name} { type ipv4_addr;${elements([...addrs].sort())} }`);
  }
  for (const [name, p] of [...s.profiles].sort(([x], [y]) => x.localeCompare(y))) {
    const r = profileRules(p);
    lines.push(`  chain i_${name} {`, ...r.ingress.map((x) => `    ${x}`), '  }');
    lines.push(`  chain e_${name} {`, ...r.egress.map((x) => `    ${x}`), '  }');
  }
  lines.push(`  map ingress { type ipv4_addr : verdict;${elements(tasks.map(([ip, x]) => `${ip} : jump i_${x.profile}`))} }`);
  lines.push(`  map egress { type ipv4_addr : verdict;${elements(tasks.map(([ip, x]) => `${ip} : jump e_${x.profile}`))} }`);
  lines.push(...hookChains(o), '}');
  lines.push(`table ${b}`, `delete table ${b}`, `table ${b} {`);
  lines.push(`  set ports { type ifname;${elements(tasks.map(([, x]) => `"${x.port}"`))} }`);
  lines.push(`  set port_addrs { type ifname . ipv4_addr;${elements(tasks.map(([ip, x]) => `"${x.port}" . ${ip}`))} }`);
  lines.push(
    '  chain prerouting {',
    '    type filter hook prerouting priority filter; policy accept;',
    '    iifname != @ports accept',
    '    ether type ip iifname . ip saddr @port_addrs accept',
    '    ether type arp iifname . arp saddr ip @port_addrs accept',
    '    counter drop comment "skiff: spoofed source or not IPv4"',
    '  }',
    '}',
  );
  return lines.join('\n') + '\n';
}

/**
 * The commands that turn `from` (what the tables hold) into `to`; '' when they
 * are equal. Order matters to nft: new sets and chains before the elements that
 * name them, map entries gone before their chains, chains gone before their sets.
 */
export function updateScript(from: FirewallState, to: FirewallState, o: FirewallOptions): string {
  checkState(to);
  const t = `inet ${o.table}`;
  const b = `bridge ${o.table}`;
  const out: string[] = [];
  const sameProfile = (x: Profile, y: Profile) => JSON.stringify(profileRules(x)) === JSON.stringify(profileRules(y));

  for (const name of to.peerSets.keys()) if (!from.peerSets.has(name)) out.push(`add set ${t} ${name} { type ipv4_addr; }`);
  for (const [name, p] of to.profiles) {
    const old = from.profiles.get(name);
    if (old && sameProfile(old, p)) continue;
    const r = profileRules(p);
    for (const [dir, body] of [['i', r.ingress], ['e', r.egress]] as const) {
      out.push(`add chain ${t} ${dir}_${name}`, `flush chain ${t} ${dir}_${name}`, ...body.map((x) => `add rule ${t} ${dir}_${name} ${x}`));
    }
  }
  for (const [name, addrs] of to.peerSets) {
    const had = from.peerSets.get(name) ?? new Set<string>();
    const gone = [...had].filter((a) => !addrs.has(a));
    const added = [...addrs].filter((a) => !had.has(a));
    if (gone.length) out.push(`delete element ${t} ${name} { ${gone.join(', ')} }`);
    if (added.length) out.push(`add element ${t} ${name} { ${added.join(', ')} }`);
  }
  for (const [ip, old] of from.tasks) {
    const now = to.tasks.get(ip);
    if (now && now.port === old.port && now.profile === old.profile) continue;
    out.push(`delete element ${t} ingress { ${ip} }`, `delete element ${t} egress { ${ip} }`);
    out.push(`delete element ${b} port_addrs { "${old.port}" . ${ip} }`, `delete element ${b} ports { "${old.port}" }`);
  }
  for (const [ip, now] of to.tasks) {
    const old = from.tasks.get(ip);
    if (old && now.port === old.port && now.profile === old.profile) continue;
    out.push(`add element ${t} ingress { ${ip} : jump i_${now.profile} }`, `add element ${t} egress { ${ip} : jump e_${now.profile} }`);
    out.push(`add element ${b} ports { "${now.port}" }`, `add element ${b} port_addrs { "${now.port}" . ${ip} }`);
  }
  for (const name of from.profiles.keys()) if (!to.profiles.has(name)) out.push(`delete chain ${t} i_${name}`, `delete chain ${t} e_${name}`);
  for (const name of from.peerSets.keys()) if (!to.peerSets.has(name)) out.push(`delete set ${t} ${name}`);
  return out.length ? out.join('\n') + '\n' : '';
}

export class FirewallError extends Error {
  override name = 'FirewallError';
}

/** Runs firewall scripts in the host's namespace. */
export class HostFirewall {
  constructor(private readonly opts: { nftCommand?: string } = {}) {}

  async apply(script: string): Promise<void> {
    const r = await run(this.opts.nftCommand ?? 'nft', ['-f', '-'], { input: script });
    if (r.code !== 0) throw new FirewallError(`cannot apply the security group rules: ${r.stderr.trim()}`);
  }

  /** Whether both tables named `table` exist (cheap: lists table names only). */
  async exists(table: string): Promise<boolean> {
    const r = await run(this.opts.nftCommand ?? 'nft', ['list', 'tables']);
    const have = new Set(r.stdout.split('\n').map((l) => l.trim()));
    return have.has(`table inet ${table}`) && have.has(`table bridge ${table}`);
  }

  /** Removes both tables (the server's tasks are gone; tests and uninstall). */
  async remove(table: string): Promise<void> {
    for (const family of ['inet', 'bridge']) await run(this.opts.nftCommand ?? 'nft', ['delete', 'table', family, table]);
  }
}
