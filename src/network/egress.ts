/**
 * Egress to outside networks, the AWS way (pure: nft scripts and the decision;
 * LinuxNetwork and the security-group enforcer run them).
 *
 * Who may leave (`egressRoute`), as on AWS:
 *   - a task in a public subnet (MapPublicIpOnLaunch: the default VPC's subnets,
 *     or ModifySubnetAttribute) that runs with assignPublicIp ENABLED: "through the
 *     internet gateway";
 *   - a task whose subnet's route table sends 0.0.0.0/0 to an available NAT
 *     gateway that itself sits in a public subnet: "through the NAT gateway";
 *   - nobody when the operator runs `skiff server --no-egress`.
 * Either way the packets leave with the host's address on the outgoing
 * interface (masquerade): Skiff has one public face per host, the NAT gateway's
 * and the task's "public IP" alike.
 *
 * How, in the boundary table `inet <table>` (host-boundary.ts), whose forward
 * chain otherwise drops everything between a Skiff bridge and any other interface:
 *   set   egress      ipv4_addr           addresses of the tasks that may leave (the enforcer keeps it)
 *   set   bridge_vpc  ifname . ipv4_addr  each bridge with its VPC's CIDR (interval)
 *   set   uplinks     ifname              interfaces whose forwarding Skiff switched on
 *   forward, before the boundary's drops:
 *     - bridge → bridge to an address outside the bridge's VPC: drop (tasks have a
 *       default route once egress is on; VPCs still never reach each other);
 *     - bridge → non-bridge from @egress: accept (the security-group table still
 *       applies the task's egress rules: revoke allow-all and nothing leaves);
 *     - non-bridge → bridge, established/related, to @egress: accept (replies);
 *     - from @uplinks to a non-bridge, not the reply of a NATed connection: drop
 *       (switching forwarding on for an uplink must not make the host a router);
 *   postrouting (nat): from @egress to a non-bridge: masquerade.
 * Host change, documented in the README: net.ipv4.conf.<uplink>.forwarding = 1
 * for the egress interfaces (replies arrive there and are forwarded to the
 * bridge after de-NAT); the host-wide net.ipv4.ip_forward is left alone.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** What decides a task's egress. */
export interface EgressFacts {
  /** The operator did not pass --no-egress. */
  serverEgress: boolean;
  assignPublicIp: boolean;
  /** The task's subnet maps public IPs on launch (Skiff's "public subnet"). */
  subnetPublic: boolean;
  /** The NAT gateway the subnet's 0.0.0.0/0 route points to (available), if any. */
  natGatewayId?: string;
  /** That NAT gateway's subnet is public. */
  natGatewayPublic?: boolean;
}

export type EgressRoute =
  | { egress: true; via: 'internet-gateway' | 'nat-gateway'; natGatewayId?: string }
  | { egress: false; reason: string };

/** Whether (and how) a task reaches outside networks; the reason says what to change when it does not. */
export function egressRoute(f: EgressFacts): EgressRoute {
  if (!f.serverEgress) return { egress: false, reason: 'the server runs with --no-egress: no task reaches outside networks' };
  if (f.natGatewayId) {
    if (f.natGatewayPublic) return { egress: true, via: 'nat-gateway', natGatewayId: f.natGatewayId };
    return { egress: false, reason: `the subnet's default route goes to ${f.natGatewayId}, which is in a private subnet (put NAT gateways in a subnet with MapPublicIpOnLaunch)` };
  }
  if (f.subnetPublic && f.assignPublicIp) return { egress: true, via: 'internet-gateway' };
  if (f.subnetPublic) return { egress: false, reason: 'assignPublicIp is not ENABLED: in a public subnet a task needs a public IP to reach outside networks' };
  return {
    egress: false,
    reason: 'the subnet is private (MapPublicIpOnLaunch false) and its route table has no 0.0.0.0/0 route to a NAT gateway',
  };
}

export interface EgressOptions {
  /** The boundary table (inet family). */
  table: string;
  /** Egress on for this server (not --no-egress). */
  enabled: boolean;
}

const IPV4_RE = /^\d{1,3}(\.\d{1,3}){3}$/;
const CIDR_RE = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;
const IFNAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

/** The sets, created when missing and never flushed (safe to run before the table exists). */
export function egressSetsScript(table: string): string {
  const t = `inet ${table}`;
  return [
    `add table ${t}`,
    `add set ${t} egress { type ipv4_addr; comment "tasks that may reach outside networks"; }`,
    `add set ${t} bridge_vpc { type ifname . ipv4_addr; flags interval; comment "bridge . its VPC CIDR"; }`,
    `add set ${t} uplinks { type ifname; comment "interfaces whose forwarding Skiff switched on"; }`,
  ].join('\n') + '\n';
}

/**
 * Run after boundaryScript (which flushes the forward chain): puts the egress
 * rules in front of the boundary's drops and (re)writes the NAT chain.
 */
export function egressScript(o: EgressOptions): string {
  const t = `inet ${o.table}`;
  const lines = [
    egressSetsScript(o.table).trimEnd(),
    `add chain ${t} postrouting { type nat hook postrouting priority srcnat; policy accept; }`,
    `flush chain ${t} postrouting`,
  ];
  // `insert` prepends: the last inserted comes first.
  const front: string[] = [`iifname @bridges oifname @bridges iifname . ip daddr != @bridge_vpc counter drop comment "skiff: between VPCs"`];
  if (o.enabled) {
    front.push(
      `iifname @bridges oifname != @bridges ip saddr @egress accept comment "skiff: egress"`,
      `oifname @bridges iifname != @bridges ct state established,related ip daddr @egress accept comment "skiff: replies to egress"`,
      `iifname @uplinks oifname != @bridges ct status & snat == 0 counter drop comment "skiff: uplink forwarding is for replies only"`,
    );
    lines.push(`add rule ${t} postrouting ip saddr @egress oifname != @bridges masquerade comment "skiff: egress"`);
  }
  for (const r of [...front].reverse()) lines.push(`insert rule ${t} forward ${r}`);
  return lines.join('\n') + '\n';
}

/** Adds a bridge with its VPC's CIDR to bridge_vpc. */
export function bridgeVpcScript(table: string, bridge: string, vpcCidr: string, op: 'add' | 'delete' = 'add'): string {
  if (!IFNAME_RE.test(bridge) || !CIDR_RE.test(vpcCidr)) throw new Error(`invalid bridge ${bridge} / VPC CIDR ${vpcCidr}`);
  return `${op} element inet ${table} bridge_vpc { "${bridge}" . ${vpcCidr} }\n`;
}

/** Records uplinks in the uplinks set. */
export function uplinksScript(table: string, uplinks: readonly string[]): string {
  for (const u of uplinks) if (!IFNAME_RE.test(u)) throw new Error(`invalid interface name ${u}`);
  return uplinks.length ? `add element inet ${table} uplinks { ${uplinks.map((u) => `"${u}"`).join(', ')} }\n` : '';
}

/** Replaces the egress set's members with `addresses` (one transaction with whatever runs with it). */
export function egressMembersScript(table: string, addresses: Iterable<string>): string {
  const list = [...addresses].sort();
  for (const a of list) if (!IPV4_RE.test(a)) throw new Error(`invalid address ${a}`);
  const t = `inet ${table}`;
  return egressSetsScript(table) + `flush set ${t} egress\n` + (list.length ? `add element ${t} egress { ${list.join(', ')} }\n` : '');
}

/**
 * Sets net.ipv4.conf.<if>.forwarding = 1 where it is 0 (the only impure part);
 * returns the interfaces it switched (the ones the uplinks rule then guards).
 */
export function switchOnForwarding(interfaces: readonly string[]): string[] {
  const switched: string[] = [];
  for (const u of interfaces) {
    if (!IFNAME_RE.test(u)) throw new Error(`invalid interface name ${u}`);
    const file = `/proc/sys/net/ipv4/conf/${u}/forwarding`;
    if (!existsSync(file)) throw new Error(`egress interface ${u} does not exist`);
    if (readFileSync(file, 'utf8').trim() === '0') {
      writeFileSync(file, '1');
      switched.push(u);
    }
  }
  return switched;
}
