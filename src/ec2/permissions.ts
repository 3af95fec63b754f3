/**
 * Security group permissions as EC2 takes them (`IpPermissions.N` with
 * IpProtocol, FromPort, ToPort, IpRanges.M.CidrIp, Groups.M.GroupId), made
 * into one normalised rule per (permission × source): what is stored, compared
 * for duplicates and revokes, and described back.
 */
import { formatCidr, parseCidr } from '../model/cidr.ts';
import { Ec2Error } from './errors.ts';
import type { QueryReader } from './query.ts';
import type { SecurityGroupRuleRecord } from '../store/networks-repo.ts';

/** One rule, without its ids: what makes two rules the same. */
export type PermissionSpec = Omit<SecurityGroupRuleRecord, 'id' | 'groupId' | 'egress'>;

/** A peer group as the caller named it, before it is looked up. */
export interface PeerRef {
  groupId?: string;
  groupName?: string;
}

const PROTOCOL_NAMES: Record<string, string> = { tcp: 'tcp', '6': 'tcp', udp: 'udp', '17': 'udp', icmp: 'icmp', '1': 'icmp', '-1': '-1', all: '-1' };

/** `tcp`, `6`, `TCP` → `tcp`; `-1`/`all` → `-1`; other numbers stay numbers. */
export function normaliseProtocol(raw: string | undefined): string {
  if (raw === undefined || raw === '') throw new Ec2Error('MissingParameter', 'Each IpPermissions item needs an IpProtocol: tcp, udp, icmp, -1 (all) or a protocol number.');
  const p = raw.toLowerCase();
  if (PROTOCOL_NAMES[p]) return PROTOCOL_NAMES[p];
  if (/^\d{1,3}$/.test(p) && Number(p) <= 255) return String(Number(p));
  throw new Ec2Error('InvalidParameterValue', `Invalid value '${raw}' for IP protocol. Unknown protocol: use tcp, udp, icmp, -1 (all) or a number 0-255.`);
}

function portRange(protocol: string, from: number | undefined, to: number | undefined): { fromPort?: number; toPort?: number } {
  if (protocol === 'tcp' || protocol === 'udp') {
    if (from === undefined || to === undefined) {
      throw new Ec2Error('InvalidParameterValue', `Invalid value for portRange. Must specify both from and to ports with TCP/UDP (e.g. FromPort=80, ToPort=80).`);
    }
    if (from === -1 && to === -1) return { fromPort: 0, toPort: 65535 };
    if (from < 0 || to > 65535 || from > to) {
      throw new Ec2Error('InvalidParameterValue', `Invalid ${protocol} port range ${from}-${to}: ports are 0-65535 and FromPort must not exceed ToPort.`);
    }
    return { fromPort: from, toPort: to };
  }
  if (protocol === 'icmp') {
    const type = from ?? -1;
    const code = to ?? -1;
    if (type < -1 || type > 255 || code < -1 || code > 255) throw new Ec2Error('InvalidParameterValue', `Invalid ICMP type ${type} or code ${code}: each is -1 (all) or 0-255.`);
    if (type === -1 && code !== -1) throw new Ec2Error('InvalidParameterValue', `Invalid ICMP code ${code}: give a type (FromPort) before a code (ToPort), or -1 for both.`);
    return { ...(type !== -1 ? { fromPort: type } : {}), ...(code !== -1 ? { toPort: code } : {}) };
  }
  return {};
}

function normaliseCidr(raw: string): string {
  try {
    return formatCidr(parseCidr(raw));
  } catch (e) {
    throw new Ec2Error('InvalidParameterValue', `Invalid IPv4 CIDR '${raw}': ${(e as Error).message.replace(/^invalid CIDR block: /, '')}.`);
  }
}

/**
 * Reads `IpPermissions.N` (or the legacy top-level IpProtocol/FromPort/ToPort/CidrIp)
 * into rule specs with their peers still unresolved. `resolvePeer` turns a peer
 * reference into a group id (throwing InvalidGroup.NotFound).
 */
export function readPermissions(q: QueryReader, resolvePeer: (ref: PeerRef) => string): PermissionSpec[] {
  const out: PermissionSpec[] = [];
  const perms = q.structs('IpPermissions');
  if (perms.length === 0 && q.str('IpProtocol') !== undefined) {
    const protocol = normaliseProtocol(q.str('IpProtocol'));
    const cidr = q.str('CidrIp');
    const peerName = q.str('SourceSecurityGroupName');
    if (!cidr && !peerName) throw new Ec2Error('MissingParameter', 'Give CidrIp or SourceSecurityGroupName with IpProtocol, or use IpPermissions.');
    const base = { protocol, ...portRange(protocol, q.int('FromPort'), q.int('ToPort')) };
    if (cidr) out.push({ ...base, cidr: normaliseCidr(cidr) });
    if (peerName) out.push({ ...base, peerGroupId: resolvePeer({ groupName: peerName }) });
    return out;
  }
  if (perms.length === 0) throw new Ec2Error('MissingParameter', 'The request must contain the parameter IpPermissions (IpPermissions.1.IpProtocol, ...).');
  for (const p of perms) {
    const protocol = normaliseProtocol(p.str('IpProtocol'));
    const base = { protocol, ...portRange(protocol, p.int('FromPort'), p.int('ToPort')) };
    if (p.structs('Ipv6Ranges').length || p.structs('PrefixListIds').length) {
      throw new Ec2Error('InvalidParameterValue', 'Skiff task networks are IPv4 only: use IpRanges or Groups, not Ipv6Ranges or PrefixListIds.');
    }
    const ranges = p.structs('IpRanges');
    const groups = p.structs('Groups');
    if (ranges.length === 0 && groups.length === 0) {
      throw new Ec2Error('MissingParameter', 'Each IpPermissions item needs a source or destination: IpRanges.N.CidrIp or Groups.N.GroupId.');
    }
    for (const r of ranges) {
      const description = r.str('Description');
      out.push({ ...base, cidr: normaliseCidr(r.required('CidrIp')), ...(description ? { description } : {}) });
    }
    for (const g of groups) {
      const description = g.str('Description');
      const ref = { groupId: g.str('GroupId'), groupName: g.str('GroupName') };
      if (!ref.groupId && !ref.groupName) throw new Ec2Error('MissingParameter', 'Each Groups item needs a GroupId (or GroupName).');
      out.push({ ...base, peerGroupId: resolvePeer(ref), ...(description ? { description } : {}) });
    }
  }
  return out;
}

/** What makes two rules the same (description aside). */
export function permissionKey(p: PermissionSpec): string {
  return [p.protocol, p.fromPort ?? '', p.toPort ?? '', p.cidr ?? '', p.peerGroupId ?? ''].join('|');
}

/** AWS's wording of a rule in InvalidPermission.Duplicate / NotFound messages. */
export function describePermission(p: PermissionSpec): string {
  const proto = p.protocol === '-1' ? 'ALL' : p.protocol.toUpperCase();
  const ports = p.fromPort !== undefined || p.toPort !== undefined ? `, from port: ${p.fromPort ?? -1}, to port: ${p.toPort ?? -1}` : '';
  return `peer: ${p.cidr ?? p.peerGroupId}, ${proto}${ports}, ALLOW`;
}

/** Rules as EC2 describes them: grouped into IpPermissions by protocol and port range. */
export interface IpPermissionView {
  protocol: string;
  fromPort?: number;
  toPort?: number;
  ranges: { cidr: string; description?: string }[];
  peers: { groupId: string; description?: string }[];
}

export function groupPermissions(rules: PermissionSpec[]): IpPermissionView[] {
  const byKey = new Map<string, IpPermissionView>();
  for (const r of rules) {
    const key = [r.protocol, r.fromPort ?? '', r.toPort ?? ''].join('|');
    let v = byKey.get(key);
    if (!v) byKey.set(key, (v = { protocol: r.protocol, fromPort: r.fromPort, toPort: r.toPort, ranges: [], peers: [] }));
    if (r.cidr) v.ranges.push({ cidr: r.cidr, ...(r.description ? { description: r.description } : {}) });
    if (r.peerGroupId) v.peers.push({ groupId: r.peerGroupId, ...(r.description ? { description: r.description } : {}) });
  }
  return [...byKey.values()];
}
