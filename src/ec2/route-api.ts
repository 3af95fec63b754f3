/**
 * EC2 NAT gateway and route table actions, the subset that decides egress
 * (network/egress.ts): CreateNatGateway, DescribeNatGateways, DeleteNatGateway,
 * CreateRouteTable, DescribeRouteTables, DeleteRouteTable, CreateRoute,
 * DeleteRoute, AssociateRouteTable, DisassociateRouteTable.
 *
 * Mapping: a NAT gateway is a record in a public subnet (it is `available` at
 * once; there are no Elastic IPs — its public face is the host's address on the
 * egress interface, as for tasks with a public IP). A route table's routes other
 * than `local` may only be `0.0.0.0/0 → nat-…` of the same VPC. A subnet
 * associated with a table whose 0.0.0.0/0 goes to an available NAT gateway in a
 * public subnet gives its tasks egress, whatever their assignPublicIp. Every
 * change is enforced (the enforcer's egress set) before the answer.
 */
import type { RoutesRepo, NatGatewayRecord, RouteTableRecord } from '../store/routes-repo.ts';
import { newResourceId } from '../util/clock.ts';
import { Ec2Error } from './errors.ts';
import type { QueryReader } from './query.ts';
import type { XmlValue } from './xml.ts';
import { checkId, dryRun, notFoundSubnet, notFoundVpc, type Ec2Deps, type Handler } from './ec2-common.ts';

const NAT_RE = /^nat-[0-9a-f]{8,17}$/;
const RTB_RE = /^rtb-[0-9a-f]{8,17}$/;
const ASSOC_RE = /^rtbassoc-[0-9a-f]{8,17}$/;

const notFound = (what: 'NatGateway' | 'RouteTable' | 'Association', id: string) =>
  new Ec2Error(
    what === 'NatGateway' ? 'NatGatewayNotFound' : what === 'RouteTable' ? 'InvalidRouteTableID.NotFound' : 'InvalidAssociationID.NotFound',
    `The ${what === 'NatGateway' ? 'NAT gateway' : what === 'RouteTable' ? 'route table' : 'association'} ID '${id}' does not exist`,
  );

function idOf(q: QueryReader, key: string, re: RegExp, kind: string): string {
  const id = q.required(key);
  if (!re.test(id)) throw new Ec2Error('InvalidParameterValue', `Invalid id: "${id}" (expecting "${kind}-...")`);
  return id;
}

export class RouteApi {
  constructor(private readonly deps: Ec2Deps & { routes: RoutesRepo; now: () => number }) {}

  handlers(): Record<string, Handler> {
    return {
      CreateNatGateway: (q) => this.createNatGateway(q),
      DescribeNatGateways: (q) => this.describeNatGateways(q),
      DeleteNatGateway: (q) => this.deleteNatGateway(q),
      CreateRouteTable: (q) => this.createRouteTable(q),
      DescribeRouteTables: (q) => this.describeRouteTables(q),
      DeleteRouteTable: (q) => this.deleteRouteTable(q),
      CreateRoute: (q) => this.createRoute(q),
      DeleteRoute: (q) => this.deleteRoute(q),
      AssociateRouteTable: (q) => this.associate(q),
      DisassociateRouteTable: (q) => this.disassociate(q),
    };
  }

  private natView(n: NatGatewayRecord): Record<string, XmlValue> {
    return {
      natGatewayId: n.id,
      subnetId: n.subnetId,
      vpcId: n.vpcId,
      state: n.state,
      connectivityType: 'public',
      createTime: new Date(n.createdAt).toISOString(),
      ...(n.deletedAt ? { deleteTime: new Date(n.deletedAt).toISOString() } : {}),
    };
  }

  private tableView(t: RouteTableRecord): Record<string, XmlValue> {
    const vpc = this.deps.networks.vpcs().find((v) => v.id === t.vpcId);
    return {
      routeTableId: t.id,
      vpcId: t.vpcId,
      ownerId: this.deps.accountId,
      routeSet: [
        ...(vpc ? [{ destinationCidrBlock: vpc.cidr, gatewayId: 'local', state: 'active', origin: 'CreateRouteTable' }] : []),
        ...t.routes.map((r) => ({
          destinationCidrBlock: r.destination,
          natGatewayId: r.natGatewayId ?? '',
          state: this.deps.routes.natGateway(r.natGatewayId ?? '')?.state === 'available' ? 'active' : 'blackhole',
          origin: 'CreateRoute',
        })),
      ],
      associationSet: t.associations.map((a) => ({
        routeTableAssociationId: a.id,
        routeTableId: t.id,
        subnetId: a.subnetId,
        main: false,
        associationState: { state: 'associated' },
      })),
    };
  }

  private async createNatGateway(q: QueryReader): Promise<Record<string, XmlValue>> {
    const subnetId = checkId('subnet', q.required('SubnetId'));
    const subnet = this.deps.networks.subnet(subnetId);
    if (!subnet) throw notFoundSubnet(subnetId);
    if (q.str('ConnectivityType') === 'private') {
      throw new Ec2Error('InvalidParameterValue', 'Skiff serves public NAT gateways only (ConnectivityType public): a private one reaches nothing outside its VPC.');
    }
    if (q.bool('DryRun')) throw dryRun();
    const n: NatGatewayRecord = { id: newResourceId('nat'), subnetId, vpcId: subnet.vpcId, state: 'available', createdAt: this.deps.now() };
    this.deps.routes.insertNatGateway(n);
    if (!subnet.mapPublicIpOnLaunch) this.deps.log?.(`NAT gateway ${n.id} is in private subnet ${subnetId}: tasks routed to it will have no egress`);
    return { clientToken: q.str('ClientToken') ?? '', natGateway: this.natView(n) };
  }

  private describeNatGateways(q: QueryReader): Record<string, XmlValue> {
    const ids = q.strings('NatGatewayId');
    let all = this.deps.routes.natGateways();
    for (const id of ids) if (!all.some((n) => n.id === id)) throw notFound('NatGateway', id);
    if (ids.length) all = all.filter((n) => ids.includes(n.id));
    return { natGatewaySet: all.map((n) => this.natView(n)) };
  }

  private async deleteNatGateway(q: QueryReader): Promise<Record<string, XmlValue>> {
    const id = idOf(q, 'NatGatewayId', NAT_RE, 'nat');
    if (!this.deps.routes.natGateway(id)) throw notFound('NatGateway', id);
    if (q.bool('DryRun')) throw dryRun();
    this.deps.routes.deleteNatGateway(id, this.deps.now());
    await this.deps.enforce?.();
    return { natGatewayId: id };
  }

  private createRouteTable(q: QueryReader): Record<string, XmlValue> {
    const vpcId = checkId('vpc', q.required('VpcId'));
    if (!this.deps.networks.vpcs().some((v) => v.id === vpcId)) throw notFoundVpc(vpcId);
    if (q.bool('DryRun')) throw dryRun();
    const id = newResourceId('rtb');
    this.deps.routes.insertRouteTable(id, vpcId);
    return { routeTable: this.tableView(this.deps.routes.routeTable(id)!) };
  }

  private describeRouteTables(q: QueryReader): Record<string, XmlValue> {
    const ids = q.strings('RouteTableId');
    let all = this.deps.routes.routeTables();
    for (const id of ids) if (!all.some((t) => t.id === id)) throw notFound('RouteTable', id);
    if (ids.length) all = all.filter((t) => ids.includes(t.id));
    return { routeTableSet: all.map((t) => this.tableView(t)) };
  }

  private table(q: QueryReader): RouteTableRecord {
    const id = idOf(q, 'RouteTableId', RTB_RE, 'rtb');
    const t = this.deps.routes.routeTable(id);
    if (!t) throw notFound('RouteTable', id);
    return t;
  }

  private deleteRouteTable(q: QueryReader): Record<string, XmlValue> {
    const t = this.table(q);
    if (t.associations.length) {
      throw new Ec2Error('DependencyViolation', `The routeTable '${t.id}' has dependencies and cannot be deleted: disassociate it from ${t.associations.map((a) => a.subnetId).join(', ')} first.`);
    }
    if (q.bool('DryRun')) throw dryRun();
    this.deps.routes.deleteRouteTable(t.id);
    return { return: true };
  }

  private async createRoute(q: QueryReader): Promise<Record<string, XmlValue>> {
    const t = this.table(q);
    const dest = q.required('DestinationCidrBlock');
    const natId = q.str('NatGatewayId');
    if (dest !== '0.0.0.0/0' || !natId) {
      throw new Ec2Error('InvalidParameterValue', `Skiff's route tables take one kind of route: DestinationCidrBlock 0.0.0.0/0 with NatGatewayId (got ${dest}${natId ? ` → ${natId}` : ' without a NatGatewayId'}).`);
    }
    const nat = this.deps.routes.natGateway(natId);
    if (!nat || nat.state !== 'available') throw notFound('NatGateway', natId);
    if (nat.vpcId !== t.vpcId) throw new Ec2Error('InvalidParameterValue', `NAT gateway ${natId} is in ${nat.vpcId}, route table ${t.id} in ${t.vpcId}: route to a NAT gateway of the same VPC.`);
    if (t.routes.some((r) => r.destination === dest)) throw new Ec2Error('RouteAlreadyExists', `The route identified by ${dest} already exists.`);
    if (q.bool('DryRun')) throw dryRun();
    this.deps.routes.insertRoute(t.id, { destination: dest, natGatewayId: natId });
    await this.deps.enforce?.();
    return { return: true };
  }

  private async deleteRoute(q: QueryReader): Promise<Record<string, XmlValue>> {
    const t = this.table(q);
    const dest = q.required('DestinationCidrBlock');
    if (q.bool('DryRun')) throw dryRun();
    if (!this.deps.routes.deleteRoute(t.id, dest)) throw new Ec2Error('InvalidRoute.NotFound', `No route with destination-cidr-block ${dest} in route table ${t.id}`);
    await this.deps.enforce?.();
    return { return: true };
  }

  private async associate(q: QueryReader): Promise<Record<string, XmlValue>> {
    const t = this.table(q);
    const subnetId = checkId('subnet', q.required('SubnetId'));
    const subnet = this.deps.networks.subnet(subnetId);
    if (!subnet) throw notFoundSubnet(subnetId);
    if (subnet.vpcId !== t.vpcId) throw new Ec2Error('InvalidParameterValue', `Subnet ${subnetId} is in ${subnet.vpcId}, route table ${t.id} in ${t.vpcId}: associate a table of the subnet's VPC.`);
    const other = this.deps.routes.routeTables().find((x) => x.associations.some((a) => a.subnetId === subnetId));
    if (other) throw new Ec2Error('Resource.AlreadyAssociated', `the specified association for route table ${other.id} conflicts with an existing association: disassociate ${subnetId} first.`);
    if (q.bool('DryRun')) throw dryRun();
    const id = newResourceId('rtbassoc');
    this.deps.routes.associate(id, t.id, subnetId);
    await this.deps.enforce?.();
    return { associationId: id, associationState: { state: 'associated' } };
  }

  private async disassociate(q: QueryReader): Promise<Record<string, XmlValue>> {
    const id = idOf(q, 'AssociationId', ASSOC_RE, 'rtbassoc');
    if (q.bool('DryRun')) throw dryRun();
    if (!this.deps.routes.disassociate(id)) throw notFound('Association', id);
    await this.deps.enforce?.();
    return { return: true };
  }
}
