/**
 * EC2 VPC and subnet actions: DescribeVpcs, CreateVpc, DeleteVpc,
 * DescribeSubnets, CreateSubnet, DeleteSubnet, ModifySubnetAttribute
 * (MapPublicIpOnLaunch: Skiff's public subnet, see network/egress.ts). A new VPC gets its `default`
 * security group in the same transaction; a subnet in use by tasks (or holding
 * addresses) cannot be deleted.
 */
import type { SubnetRecord, VpcRecord } from '../store/networks-repo.ts';
import { newResourceId } from '../util/clock.ts';
import { formatCidr, overlaps, parseCidr, subnetCidrProblem, vpcCidrProblem } from '../model/cidr.ts';
import { Ec2Error } from './errors.ts';
import { QueryReader, readFilters } from './query.ts';
import type { XmlValue } from './xml.ts';
import { applyFilters, checkId, dryRun, ec2Arn, notFoundSubnet, notFoundVpc, type Ec2Deps, type Handler } from './ec2-common.ts';
import { ensureDefaultSecurityGroup } from './security-group-api.ts';

export class VpcApi {
  constructor(private readonly deps: Ec2Deps) {}

  /** The actions, by name, in the order Skiff lists them. */
  handlers(): Record<string, Handler> {
    return {
      DescribeVpcs: (q) => this.describeVpcs(q),
      CreateVpc: (q) => this.createVpc(q),
      DeleteVpc: (q) => this.deleteVpc(q),
      DescribeSubnets: (q) => this.describeSubnets(q),
      CreateSubnet: (q) => this.createSubnet(q),
      DeleteSubnet: (q) => this.deleteSubnet(q),
      ModifySubnetAttribute: (q) => this.modifySubnetAttribute(q),
    };
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


  private subnetView(s: SubnetRecord): Record<string, XmlValue> {
    return {
      subnetId: s.id,
      subnetArn: ec2Arn(this.deps, `subnet/${s.id}`),
      state: 'available',
      vpcId: s.vpcId,
      cidrBlock: s.cidr,
      availableIpAddressCount: this.deps.networks.availableCount(s),
      availabilityZone: s.availabilityZone,
      defaultForAz: s.isDefault,
      mapPublicIpOnLaunch: s.mapPublicIpOnLaunch ?? s.isDefault,
      assignIpv6AddressOnCreation: false,
      ownerId: this.deps.accountId,
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
    const tables = (this.deps.routes?.routeTables() ?? []).filter((t) => t.vpcId === id);
    if (subnets.length || groups.length || tables.length) {
      const what = [...subnets.map((s) => s.id), ...groups.map((g) => g.id), ...tables.map((t) => t.id)].join(', ');
      throw new Ec2Error('DependencyViolation', `The vpc '${id}' has dependencies and cannot be deleted: delete ${what} first.`);
    }
    if (q.bool('DryRun')) throw dryRun();
    n.deleteVpc(id);
    return { return: true };
  }

  // ---------------------------------------------------------------- subnets

  private describeSubnets(q: QueryReader): Record<string, XmlValue> {
    const filters = readFilters(q, ['subnet-id', 'vpc-id', 'cidr', 'cidr-block', 'cidrBlock', 'availability-zone', 'availabilityZone', 'default-for-az', 'defaultForAz', 'map-public-ip-on-launch', 'state', 'owner-id']);
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
        case 'map-public-ip-on-launch': return String(s.mapPublicIpOnLaunch ?? s.isDefault);
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
    const nat = this.deps.routes?.natGateways().find((g) => g.subnetId === id && g.state === 'available');
    if (nat) throw new Ec2Error('DependencyViolation', `The subnet '${id}' has dependencies and cannot be deleted: NAT gateway ${nat.id} is in it. Delete it first.`);
    const inUse = () => n.liveMembers().filter((m) => m.subnetId === id).length;
    if (inUse() > 0) throw new Ec2Error('DependencyViolation', `The subnet '${id}' has dependencies and cannot be deleted: ${inUse()} task(s) use it. Stop them first.`);
    await this.deps.releaseIdleAddresses?.(id);
    this.deps.db.transaction(() => {
      if (n.usedCount(id) > 0) throw new Ec2Error('DependencyViolation', `The subnet '${id}' has dependencies and cannot be deleted: addresses in it are still held. Try again in a moment.`);
      n.deleteSubnet(id);
      this.deps.routes?.disassociateSubnet(id); // as on AWS: the subnet's route table association goes with it
    })();
    await this.deps.subnetRemoved?.(subnet).catch((e) => this.deps.log?.(`subnet ${id} deleted, but its bridge was not removed: ${e instanceof Error ? e.message : e}`));
    return { return: true };
  }

  /** ModifySubnetAttribute: MapPublicIpOnLaunch.Value only (the attribute that decides egress). */
  private async modifySubnetAttribute(q: QueryReader): Promise<Record<string, XmlValue>> {
    const id = checkId('subnet', q.required('SubnetId'));
    const sub = q.tree.MapPublicIpOnLaunch;
    const value = sub && typeof sub === 'object' ? new QueryReader(sub, 'MapPublicIpOnLaunch').bool('Value') : undefined;
    const others = Object.keys(q.tree).filter((k) => !['Action', 'Version', 'SubnetId', 'MapPublicIpOnLaunch', 'DryRun'].includes(k));
    if (value === undefined) {
      throw new Ec2Error(
        'MissingParameter',
        `Skiff's ModifySubnetAttribute changes MapPublicIpOnLaunch only: give MapPublicIpOnLaunch.Value=true|false${others.length ? ` (not ${others.join(', ')})` : ''}.`,
      );
    }
    if (!this.deps.networks.subnet(id)) throw notFoundSubnet(id);
    if (q.bool('DryRun')) throw dryRun();
    this.deps.networks.setMapPublicIpOnLaunch(id, value);
    await this.deps.enforce?.();
    return { return: true };
  }
}
