/**
 * The EC2 subset Skiff serves over the EC2 Query protocol (`POST /`, form body
 * `Action=...&Version=2016-11-15&...`, XML answers): VPCs, subnets and security
 * groups, so `aws ec2 ... --endpoint-url` and @aws-sdk/client-ec2 work.
 *
 *   DescribeVpcs, CreateVpc, DeleteVpc, DescribeSubnets, CreateSubnet, DeleteSubnet,
 *   CreateSecurityGroup, DescribeSecurityGroups, DeleteSecurityGroup,
 *   AuthorizeSecurityGroupIngress/Egress, RevokeSecurityGroupIngress/Egress
 *
 * IAM actions are `ec2:<Action>` on `*`. Every change is committed to the store
 * before it is enforced; rule changes are enforced (every running task's
 * firewall rewritten) before the response is sent.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../store/db.ts';
import type { NetworksRepo, SecurityGroupRecord, SecurityGroupRuleRecord, SubnetRecord, VpcRecord } from '../store/networks-repo.ts';
import { newResourceId } from '../util/clock.ts';
import { formatCidr, overlaps, parseCidr, subnetCidrProblem, vpcCidrProblem } from '../network/cidr.ts';
import { Ec2Error, errorXml, toEc2Error } from './errors.ts';
import { filterMatches, parseQueryBody, QueryReader, readFilters, type Filter, type QueryTree } from './query.ts';
import { responseXml, type XmlValue } from './xml.ts';
import { describePermission, groupPermissions, permissionKey, readPermissions, type PeerRef, type PermissionSpec } from './permissions.ts';

export const EC2_API_VERSION = '2016-11-15';
/** Most rules per group and direction (the EC2 default quota). */
export const MAX_RULES_PER_DIRECTION = 60;
/** Most security groups per VPC (the EC2 default quota). */
export const MAX_GROUPS_PER_VPC = 2500;

export interface Ec2Deps {
  db: Db;
  networks: NetworksRepo;
  region: string;
  accountId: string;
  /** Prefix of subnet bridge names (`<prefix><8 chars of the subnet id>`). */
  bridgePrefix: string;
  /** Brings every running task's firewall up to date with the store. */
  enforce?: () => Promise<void>;
  /** After a subnet left the store: release what the host keeps for it (warm namespaces, its bridge). */
  subnetRemoved?: (subnet: SubnetRecord) => Promise<void>;
  /** Before a subnet is deleted: give back addresses held for it that belong to no task (warm pool). */
  releaseIdleAddresses?: (subnetId: string) => Promise<void>;
  log?: (msg: string) => void;
}

type Handler = (q: QueryReader) => Promise<Record<string, XmlValue>> | Record<string, XmlValue>;

const notFoundVpc = (id: string) => new Ec2Error('InvalidVpcID.NotFound', `The vpc ID '${id}' does not exist`);
const notFoundSubnet = (id: string) => new Ec2Error('InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`);
const notFoundGroup = (id: string) => new Ec2Error('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
const dryRun = () => new Ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);

const ID_RE = { vpc: /^vpc-[0-9a-f]{8,17}$/, subnet: /^subnet-[0-9a-f]{8,17}$/, sg: /^sg-[0-9a-f]{8,17}$/, sgr: /^sgr-[0-9a-f]{8,17}$/ };

function checkId(kind: keyof typeof ID_RE, id: string): string {
  if (!ID_RE[kind].test(id)) {
    const code = ({ vpc: 'InvalidVpcID.Malformed', subnet: 'InvalidSubnetID.Malformed', sg: 'InvalidGroupId.Malformed', sgr: 'InvalidSecurityGroupRuleId.Malformed' } as const)[kind];
    throw new Ec2Error(code, `Invalid id: "${id}" (expecting "${kind}-...")`);
  }
  return id;
}

function applyFilters<T>(items: T[], filters: Filter[], field: (item: T, name: string) => string | string[] | undefined): T[] {
  return items.filter((item) =>
    filters.every((f) => {
      const v = field(item, f.name);
      return Array.isArray(v) ? v.some((x) => filterMatches(f.values, x)) : filterMatches(f.values, v);
    }),
  );
}

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

export class Ec2Api {
  /** IAM service prefix of every action (`ec2:<Action>`). */
  readonly service = 'ec2';
  private readonly handlers: Record<string, Handler>;

  constructor(private readonly deps: Ec2Deps) {
    this.handlers = {
      DescribeVpcs: (q) => this.describeVpcs(q),
      CreateVpc: (q) => this.createVpc(q),
      DeleteVpc: (q) => this.deleteVpc(q),
      DescribeSubnets: (q) => this.describeSubnets(q),
      CreateSubnet: (q) => this.createSubnet(q),
      DeleteSubnet: (q) => this.deleteSubnet(q),
      CreateSecurityGroup: (q) => this.createSecurityGroup(q),
      DescribeSecurityGroups: (q) => this.describeSecurityGroups(q),
      DeleteSecurityGroup: (q) => this.deleteSecurityGroup(q),
      AuthorizeSecurityGroupIngress: (q) => this.authorize(q, false),
      AuthorizeSecurityGroupEgress: (q) => this.authorize(q, true),
      RevokeSecurityGroupIngress: (q) => this.revoke(q, false),
      RevokeSecurityGroupEgress: (q) => this.revoke(q, true),
    };
  }

  /** Decodes a form body into the action and its parameters (for authorization before `run`). */
  decode(body: string): { action: string; params: QueryTree } {
    const params = parseQueryBody(body);
    const q = new QueryReader(params);
    const action = q.str('Action');
    if (!action) throw new Ec2Error('MissingAction', 'The request must contain the parameter Action.');
    const version = q.str('Version');
    if (version !== undefined && version !== EC2_API_VERSION) {
      throw new Ec2Error('InvalidParameterValue', `Version '${version}' is not supported: Skiff serves EC2 API version ${EC2_API_VERSION}.`);
    }
    if (!this.handlers[action]) {
      throw new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service. Skiff serves: ${Object.keys(this.handlers).join(', ')}.`);
    }
    return { action, params };
  }

  /** Runs an action; resolves to the XML response document. */
  async run(action: string, params: QueryTree, requestId: string): Promise<string> {
    const result = await this.handlers[action]!(new QueryReader(params));
    return responseXml(action, requestId, result);
  }

  /** Any error as EC2's XML error document with its HTTP status. */
  errorResponse(err: unknown, requestId: string): { status: number; body: string } {
    let e = toEc2Error(err);
    if (!e) {
      this.deps.log?.(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      e = new Ec2Error('InternalError', 'Skiff hit an internal error; see the server log for details.', 500);
    }
    return { status: e.status, body: errorXml(e, requestId) };
  }

  newRequestId(): string {
    return randomUUID();
  }

  // ---------------------------------------------------------------- views

  private vpcView(v: VpcRecord): Record<string, XmlValue> {
    return {
      vpcId: v.id,
      ownerId: this.deps.accountId,
      state: 'available',
      cidrBlock: v.cidr,
      cidrBlockAssociationSet: [{ associationId: `vpc-cidr-assoc-${v.id.slice(4)}`, cidrBlock: v.cidr, cidrBlockState: { state: 'associated' } }],
      dhcpOptionsId: 'default',
      instanceTenancy: 'default',
      isDefault: v.isDefault,
    };
  }

  /** The ARN of one of this account's EC2 resources (`subnet/<id>`, `security-group/<id>`). */
  private arn(resource: string): string {
    return `arn:aws:ec2:${this.deps.region}:${this.deps.accountId}:${resource}`;
  }

  private subnetView(s: SubnetRecord): Record<string, XmlValue> {
    return {
      subnetId: s.id,
      subnetArn: this.arn(`subnet/${s.id}`),
      state: 'available',
      vpcId: s.vpcId,
      cidrBlock: s.cidr,
      availableIpAddressCount: this.deps.networks.availableCount(s),
      availabilityZone: s.availabilityZone,
      defaultForAz: s.isDefault,
      mapPublicIpOnLaunch: false,
      assignIpv6AddressOnCreation: false,
      ownerId: this.deps.accountId,
    };
  }

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
      securityGroupArn: this.arn(`security-group/${g.id}`),
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

  // ---------------------------------------------------------------- VPCs

  private describeVpcs(q: QueryReader): Record<string, XmlValue> {
    const filters = readFilters(q, ['vpc-id', 'cidr', 'cidr-block', 'cidr-block-association.cidr-block', 'is-default', 'isDefault', 'state', 'owner-id']);
    const ids = q.strings('VpcId');
    let vpcs = this.deps.networks.vpcs();
    for (const id of ids) if (!vpcs.some((v) => v.id === id)) throw notFoundVpc(id);
    if (q.bool('DryRun')) throw dryRun();
    if (ids.length) vpcs = vpcs.filter((v) => ids.includes(v.id));
    vpcs = applyFilters(vpcs, filters, (v, name) => {
      switch (name) {
        case 'vpc-id': return v.id;
        case 'is-default': case 'isDefault': return String(v.isDefault);
        case 'state': return 'available';
        case 'owner-id': return this.deps.accountId;
        default: return v.cidr;
      }
    });
    return { vpcSet: vpcs.map((v) => this.vpcView(v)) };
  }

  private createVpc(q: QueryReader): Record<string, XmlValue> {
    const cidr = q.required('CidrBlock');
    const problem = vpcCidrProblem(cidr);
    if (problem) throw new Ec2Error('InvalidVpc.Range', `The CIDR '${cidr}' is invalid: ${problem}.`);
    const clash = this.deps.networks.vpcs().find((v) => overlaps(v.cidr, cidr));
    if (clash) {
      throw new Ec2Error(
        'InvalidVpc.Range',
        `The CIDR '${cidr}' overlaps ${clash.id} (${clash.cidr}): Skiff routes every VPC on this host, so VPC CIDR blocks must not overlap. Pick another block.`,
      );
    }
    if (q.bool('AmazonProvidedIpv6CidrBlock')) throw new Ec2Error('InvalidParameterValue', 'Skiff task networks are IPv4 only: leave out AmazonProvidedIpv6CidrBlock.');
    if (q.bool('DryRun')) throw dryRun();
    const vpc: VpcRecord = { id: newResourceId('vpc'), cidr: formatCidr(parseCidr(cidr)), isDefault: false };
    this.deps.db.transaction(() => {
      this.deps.networks.insertVpc(vpc);
      ensureDefaultSecurityGroup(this.deps.networks, vpc.id);
    })();
    return { vpc: this.vpcView(vpc) };
  }

  private deleteVpc(q: QueryReader): Record<string, XmlValue> {
    const id = checkId('vpc', q.required('VpcId'));
    const n = this.deps.networks;
    if (!n.vpc(id)) throw notFoundVpc(id);
    const subnets = n.subnets().filter((s) => s.vpcId === id);
    const groups = n.securityGroups().filter((g) => g.vpcId === id && !g.isDefault);
    if (subnets.length || groups.length) {
      const what = [...subnets.map((s) => s.id), ...groups.map((g) => g.id)].join(', ');
      throw new Ec2Error('DependencyViolation', `The vpc '${id}' has dependencies and cannot be deleted: delete ${what} first.`);
    }
    if (q.bool('DryRun')) throw dryRun();
    n.deleteVpc(id);
    return { return: true };
  }

  // ---------------------------------------------------------------- subnets

  private describeSubnets(q: QueryReader): Record<string, XmlValue> {
    const filters = readFilters(q, ['subnet-id', 'vpc-id', 'cidr', 'cidr-block', 'cidrBlock', 'availability-zone', 'availabilityZone', 'default-for-az', 'defaultForAz', 'state', 'owner-id']);
    const ids = q.strings('SubnetId');
    let subnets = this.deps.networks.subnets();
    for (const id of ids) if (!subnets.some((s) => s.id === id)) throw notFoundSubnet(id);
    if (q.bool('DryRun')) throw dryRun();
    if (ids.length) subnets = subnets.filter((s) => ids.includes(s.id));
    subnets = applyFilters(subnets, filters, (s, name) => {
      switch (name) {
        case 'subnet-id': return s.id;
        case 'vpc-id': return s.vpcId;
        case 'availability-zone': case 'availabilityZone': return s.availabilityZone;
        case 'default-for-az': case 'defaultForAz': return String(s.isDefault);
        case 'state': return 'available';
        case 'owner-id': return this.deps.accountId;
        default: return s.cidr;
      }
    });
    return { subnetSet: subnets.map((s) => this.subnetView(s)) };
  }

  private createSubnet(q: QueryReader): Record<string, XmlValue> {
    const vpcId = checkId('vpc', q.required('VpcId'));
    const cidr = q.required('CidrBlock');
    const n = this.deps.networks;
    const vpc = n.vpc(vpcId);
    if (!vpc) throw notFoundVpc(vpcId);
    const problem = subnetCidrProblem(cidr, vpc.cidr);
    if (problem) throw new Ec2Error('InvalidSubnet.Range', `The CIDR '${cidr}' is invalid: ${problem}.`);
    const zones = ['a', 'b', 'c'].map((z) => `${this.deps.region}${z}`);
    const az = q.str('AvailabilityZone') ?? zones[0]!;
    if (!zones.includes(az)) {
      throw new Ec2Error('InvalidParameterValue', `Value (${az}) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: ${zones.join(', ')}.`);
    }
    const normalised = formatCidr(parseCidr(cidr));
    for (const s of n.subnets()) {
      if (!overlaps(s.cidr, normalised)) continue;
      if (s.vpcId === vpcId) throw new Ec2Error('InvalidSubnet.Conflict', `The CIDR '${normalised}' conflicts with another subnet (${s.id}, ${s.cidr}).`);
      throw new Ec2Error(
        'InvalidSubnet.Conflict',
        `The CIDR '${normalised}' overlaps subnet ${s.id} (${s.cidr}) of ${s.vpcId}: every Skiff subnet is routed on this host, so subnets of different VPCs must not overlap either. Pick another block.`,
      );
    }
    if (q.bool('DryRun')) throw dryRun();
    const id = newResourceId('subnet');
    const subnet: SubnetRecord = { id, vpcId, cidr: normalised, availabilityZone: az, isDefault: false, bridge: `${this.deps.bridgePrefix}${id.slice(7, 15)}` };
    n.insertSubnet(subnet);
    return { subnet: this.subnetView(subnet) };
  }

  private async deleteSubnet(q: QueryReader): Promise<Record<string, XmlValue>> {
    const id = checkId('subnet', q.required('SubnetId'));
    const n = this.deps.networks;
    const subnet = n.subnet(id);
    if (!subnet) throw notFoundSubnet(id);
    if (q.bool('DryRun')) throw dryRun();
    const inUse = () => n.liveMembers().filter((m) => m.subnetId === id).length;
    if (inUse() > 0) throw new Ec2Error('DependencyViolation', `The subnet '${id}' has dependencies and cannot be deleted: ${inUse()} task(s) use it. Stop them first.`);
    await this.deps.releaseIdleAddresses?.(id);
    this.deps.db.transaction(() => {
      if (n.usedCount(id) > 0) throw new Ec2Error('DependencyViolation', `The subnet '${id}' has dependencies and cannot be deleted: addresses in it are still held. Try again in a moment.`);
      n.deleteSubnet(id);
    })();
    await this.deps.subnetRemoved?.(subnet).catch((e) => this.deps.log?.(`subnet ${id} deleted, but its bridge was not removed: ${e instanceof Error ? e.message : e}`));
    return { return: true };
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
    return { return: true, groupId: g.id, securityGroupArn: this.arn(`security-group/${g.id}`) };
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

/** Ports as EC2 shows them: tcp/udp their range, icmp type/code with -1 for all, nothing for other protocols. */
function portsView(r: { protocol: string; fromPort?: number; toPort?: number }): { fromPort?: number; toPort?: number } {
  if (r.protocol === 'tcp' || r.protocol === 'udp') return { fromPort: r.fromPort ?? 0, toPort: r.toPort ?? 65535 };
  if (r.protocol === 'icmp') return { fromPort: r.fromPort ?? -1, toPort: r.toPort ?? -1 };
  return {};
}
