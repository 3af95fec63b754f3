/**
 * EC2 security group actions: CreateSecurityGroup, DescribeSecurityGroups,
 * DeleteSecurityGroup, Authorize/RevokeSecurityGroupIngress/Egress, and each
 * VPC's `default` group. Rules are committed to the store, then enforced
 * (`deps.enforce`: every running task's firewall rewritten) before the answer.
 */
import type { Db } from '../store/db.ts';
import type { NetworksRepo, SecurityGroupRecord, SecurityGroupRuleRecord } from '../store/networks-repo.ts';
import { newResourceId } from '../util/clock.ts';
import { Ec2Error } from './errors.ts';
import { readFilters, type QueryReader } from './query.ts';
import type { XmlValue } from './xml.ts';
import { describePermission, groupPermissions, permissionKey, readPermissions, type PeerRef, type PermissionSpec } from './permissions.ts';
import { applyFilters, checkId, dryRun, ec2Arn, notFoundGroup, notFoundVpc, portsView, type Ec2Deps, type Handler } from './ec2-common.ts';

/** Most rules per group and direction (the EC2 default quota). */
export const MAX_RULES_PER_DIRECTION = 60;
/** Most security groups per VPC (the EC2 default quota). */
export const MAX_GROUPS_PER_VPC = 2500;

/** Creates the VPC's `default` group (all inbound from its own members, all outbound) if it has none. Inside a transaction. */
export function ensureDefaultSecurityGroup(networks: NetworksRepo, vpcId: string): SecurityGroupRecord {
  const existing = networks.securityGroups().find((g) => g.vpcId === vpcId && g.isDefault);
  if (existing) return existing;
  const g: SecurityGroupRecord = { id: newResourceId('sg'), vpcId, name: 'default', description: 'default VPC security group', isDefault: true };
  networks.insertSecurityGroup(g);
  networks.insertSecurityGroupRule({ id: newResourceId('sgr'), groupId: g.id, egress: false, protocol: '-1', peerGroupId: g.id });
  networks.insertSecurityGroupRule({ id: newResourceId('sgr'), groupId: g.id, egress: true, protocol: '-1', cidr: '0.0.0.0/0' });
  return g;
}

/** Gives every VPC its default group (a store made before security groups existed). */
export function ensureDefaultSecurityGroups(db: Db, networks: NetworksRepo): void {
  db.transaction(() => {
    for (const v of networks.vpcs()) ensureDefaultSecurityGroup(networks, v.id);
  })();
}

export class SecurityGroupApi {
  constructor(private readonly deps: Ec2Deps) {}

  /** The actions, by name, in the order Skiff lists them. */
  handlers(): Record<string, Handler> {
    return {
      CreateSecurityGroup: (q) => this.createSecurityGroup(q),
      DescribeSecurityGroups: (q) => this.describeSecurityGroups(q),
      DeleteSecurityGroup: (q) => this.deleteSecurityGroup(q),
      AuthorizeSecurityGroupIngress: (q) => this.authorize(q, false),
      AuthorizeSecurityGroupEgress: (q) => this.authorize(q, true),
      RevokeSecurityGroupIngress: (q) => this.revoke(q, false),
      RevokeSecurityGroupEgress: (q) => this.revoke(q, true),
    };
  }

  // ---------------------------------------------------------------- views

  private permissionsView(rules: SecurityGroupRuleRecord[]): XmlValue[] {
    return groupPermissions(rules).map((p) => ({
      ipProtocol: p.protocol,
      ...portsView(p),
      groups: p.peers.map((x) => ({ userId: this.deps.accountId, groupId: x.groupId, description: x.description })),
      ipRanges: p.ranges.map((x) => ({ cidrIp: x.cidr, description: x.description })),
      ipv6Ranges: [],
      prefixListIds: [],
    }));
  }

  private groupView(g: SecurityGroupRecord): Record<string, XmlValue> {
    const rules = this.deps.networks.securityGroupRules(g.id);
    return {
      ownerId: this.deps.accountId,
      groupId: g.id,
      groupName: g.name,
      groupDescription: g.description,
      securityGroupArn: ec2Arn(this.deps, `security-group/${g.id}`),
      vpcId: g.vpcId,
      ipPermissions: this.permissionsView(rules.filter((r) => !r.egress)),
      ipPermissionsEgress: this.permissionsView(rules.filter((r) => r.egress)),
    };
  }

  private ruleView(r: SecurityGroupRuleRecord): Record<string, XmlValue> {
    return {
      securityGroupRuleId: r.id,
      groupId: r.groupId,
      groupOwnerId: this.deps.accountId,
      isEgress: r.egress,
      ipProtocol: r.protocol,
      fromPort: portsView(r).fromPort ?? -1,
      toPort: portsView(r).toPort ?? -1,
      cidrIpv4: r.cidr,
      referencedGroupInfo: r.peerGroupId ? { groupId: r.peerGroupId, userId: this.deps.accountId } : undefined,
      description: r.description,
    };
  }

  // ---------------------------------------------------------------- security groups

  /** The group a request names with GroupId, or GroupName (in the default VPC, as EC2 does). */
  private groupOf(q: QueryReader): SecurityGroupRecord {
    const id = q.str('GroupId');
    const name = q.str('GroupName');
    if (id) {
      const g = this.deps.networks.securityGroup(checkId('sg', id));
      if (!g) throw notFoundGroup(id);
      return g;
    }
    if (name) return this.groupByName(name, this.deps.networks.defaultVpc()?.id);
    throw new Ec2Error('MissingParameter', 'The request must contain the parameter GroupId (or GroupName for a group of the default VPC).');
  }

  private groupByName(name: string, vpcId: string | undefined): SecurityGroupRecord {
    const g = this.deps.networks.securityGroups().find((x) => x.vpcId === vpcId && x.name === name);
    if (!g) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${name}' does not exist in VPC '${vpcId}'`);
    return g;
  }

  private createSecurityGroup(q: QueryReader): Record<string, XmlValue> {
    const name = q.required('GroupName');
    const description = q.str('GroupDescription');
    if (description === undefined || description === '') throw new Ec2Error('MissingParameter', 'The request must contain the parameter GroupDescription.');
    if (name.length > 255 || description.length > 255) throw new Ec2Error('InvalidParameterValue', 'GroupName and GroupDescription are at most 255 characters.');
    if (/^sg-/i.test(name)) throw new Ec2Error('InvalidParameterValue', `Invalid security group name '${name}': names cannot start with sg-.`);
    if (name === 'default') throw new Ec2Error('InvalidParameterValue', 'Cannot use reserved security group name: default');
    const n = this.deps.networks;
    const vpcId = q.str('VpcId') ?? n.defaultVpc()?.id;
    if (!vpcId || !n.vpc(checkId('vpc', vpcId))) throw notFoundVpc(vpcId ?? '(default)');
    const groups = n.securityGroups().filter((g) => g.vpcId === vpcId);
    if (groups.some((g) => g.name === name)) throw new Ec2Error('InvalidGroup.Duplicate', `The security group '${name}' already exists for VPC '${vpcId}'`);
    if (groups.length >= MAX_GROUPS_PER_VPC) throw new Ec2Error('SecurityGroupLimitExceeded', `VPC ${vpcId} already has ${MAX_GROUPS_PER_VPC} security groups; delete some first.`);
    if (q.bool('DryRun')) throw dryRun();
    const g: SecurityGroupRecord = { id: newResourceId('sg'), vpcId, name, description, isDefault: false };
    this.deps.db.transaction(() => {
      n.insertSecurityGroup(g);
      n.insertSecurityGroupRule({ id: newResourceId('sgr'), groupId: g.id, egress: true, protocol: '-1', cidr: '0.0.0.0/0' });
    })();
    return { return: true, groupId: g.id, securityGroupArn: ec2Arn(this.deps, `security-group/${g.id}`) };
  }

  private describeSecurityGroups(q: QueryReader): Record<string, XmlValue> {
    const filters = readFilters(q, ['group-id', 'group-name', 'vpc-id', 'description', 'owner-id']);
    const n = this.deps.networks;
    let groups = n.securityGroups();
    const ids = q.strings('GroupId');
    const names = q.strings('GroupName');
    for (const id of ids) if (!groups.some((g) => g.id === id)) throw notFoundGroup(id);
    const defaultVpc = n.defaultVpc()?.id;
    for (const name of names) this.groupByName(name, defaultVpc);
    if (q.bool('DryRun')) throw dryRun();
    if (ids.length || names.length) groups = groups.filter((g) => ids.includes(g.id) || (g.vpcId === defaultVpc && names.includes(g.name)));
    groups = applyFilters(groups, filters, (g, name) => {
      switch (name) {
        case 'group-id': return g.id;
        case 'group-name': return g.name;
        case 'vpc-id': return g.vpcId;
        case 'description': return g.description;
        default: return this.deps.accountId;
      }
    });
    return { securityGroupInfo: groups.map((g) => this.groupView(g)) };
  }

  private deleteSecurityGroup(q: QueryReader): Record<string, XmlValue> {
    const g = this.groupOf(q);
    const n = this.deps.networks;
    if (g.isDefault) throw new Ec2Error('CannotDelete', `the specified group: "${g.id}" name: "default" cannot be deleted by a user`);
    const members = n.liveMemberCount(g.id);
    if (members > 0) throw new Ec2Error('DependencyViolation', `resource ${g.id} has a dependent object: ${members} running task(s) use it.`);
    const referrers = n.securityGroupRules().filter((r) => r.peerGroupId === g.id && r.groupId !== g.id);
    if (referrers.length > 0) {
      throw new Ec2Error('DependencyViolation', `resource ${g.id} has a dependent object: rules of ${[...new Set(referrers.map((r) => r.groupId))].join(', ')} refer to it. Revoke them first.`);
    }
    if (q.bool('DryRun')) throw dryRun();
    n.deleteSecurityGroup(g.id);
    return { return: true, groupId: g.id };
  }

  private readRules(q: QueryReader, g: SecurityGroupRecord): PermissionSpec[] {
    const n = this.deps.networks;
    const resolvePeer = (ref: PeerRef): string => {
      const peer = ref.groupId ? n.securityGroup(checkId('sg', ref.groupId)) : this.groupByName(ref.groupName!, g.vpcId);
      if (!peer) throw notFoundGroup(ref.groupId!);
      if (peer.vpcId !== g.vpcId) {
        throw new Ec2Error('InvalidParameterValue', `You have specified two resources that belong to different networks: ${peer.id} is in ${peer.vpcId}, ${g.id} in ${g.vpcId}.`);
      }
      return peer.id;
    };
    return readPermissions(q, resolvePeer);
  }

  private async authorize(q: QueryReader, egress: boolean): Promise<Record<string, XmlValue>> {
    const g = this.groupOf(q);
    const specs = this.readRules(q, g);
    const n = this.deps.networks;
    const existing = n.securityGroupRules(g.id).filter((r) => r.egress === egress);
    const seen = new Set(existing.map(permissionKey));
    for (const s of specs) {
      const key = permissionKey(s);
      if (seen.has(key)) throw new Ec2Error('InvalidPermission.Duplicate', `the specified rule "${describePermission(s)}" already exists`);
      seen.add(key);
    }
    if (existing.length + specs.length > MAX_RULES_PER_DIRECTION) {
      throw new Ec2Error('RulesPerSecurityGroupLimitExceeded', `The maximum number of rules per security group has been reached: at most ${MAX_RULES_PER_DIRECTION} ${egress ? 'egress' : 'ingress'} rules.`);
    }
    if (q.bool('DryRun')) throw dryRun();
    const added = specs.map((s): SecurityGroupRuleRecord => ({ id: newResourceId('sgr'), groupId: g.id, egress, ...s }));
    this.deps.db.transaction(() => added.forEach((r) => n.insertSecurityGroupRule(r)))();
    await this.deps.enforce?.();
    return { return: true, securityGroupRuleSet: added.map((r) => this.ruleView(r)) };
  }

  private async revoke(q: QueryReader, egress: boolean): Promise<Record<string, XmlValue>> {
    const g = this.groupOf(q);
    const n = this.deps.networks;
    const existing = n.securityGroupRules(g.id).filter((r) => r.egress === egress);
    const ruleIds = q.strings('SecurityGroupRuleId');
    let matched: SecurityGroupRuleRecord[];
    let unknown: PermissionSpec[] = [];
    if (ruleIds.length) {
      matched = ruleIds.map((id) => {
        const r = existing.find((x) => x.id === checkId('sgr', id));
        if (!r) throw new Ec2Error('InvalidSecurityGroupRuleId.NotFound', `The security group rule ID '${id}' does not exist in ${g.id}.`);
        return r;
      });
    } else {
      const specs = this.readRules(q, g);
      matched = [];
      for (const s of specs) {
        const r = existing.find((x) => permissionKey(x) === permissionKey(s));
        if (r) matched.push(r);
        else unknown.push(s);
      }
      if (matched.length === 0) throw new Ec2Error('InvalidPermission.NotFound', `The specified rule does not exist in this security group (${g.id}): ${unknown.map(describePermission).join('; ')}.`);
    }
    if (q.bool('DryRun')) throw dryRun();
    this.deps.db.transaction(() => matched.forEach((r) => n.deleteSecurityGroupRule(r.id)))();
    await this.deps.enforce?.();
    return {
      return: true,
      unknownIpPermissionSet: unknown.length ? this.permissionsView(unknown.map((s) => ({ ...s, id: '', groupId: g.id, egress }))) : undefined,
      revokedSecurityGroupRuleSet: matched.map((r) => ({ securityGroupRuleId: r.id, groupId: g.id, isEgress: egress, ipProtocol: r.protocol, ...portsView(r), cidrIpv4: r.cidr, referencedGroupId: r.peerGroupId })),
    };
  }
}
