import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDb } from '../store/db.ts';
import { NetworksRepo } from '../store/networks-repo.ts';
import { RoutesRepo } from '../store/routes-repo.ts';
import { Ec2Api } from './ec2-protocol.ts';

function setup() {
  const db = openDb(':memory:');
  const networks = new NetworksRepo(db);
  const routes = new RoutesRepo(db);
  networks.insertVpc({ id: 'vpc-0000000000000000a', cidr: '10.9.0.0/16', isDefault: true });
  networks.insertSubnet({ id: 'subnet-0000000000000000a', vpcId: 'vpc-0000000000000000a', cidr: '10.9.0.0/20', availabilityZone: 'us-east-1a', isDefault: true, bridge: 'skb0000000a' });
  networks.insertSubnet({ id: 'subnet-0000000000000000b', vpcId: 'vpc-0000000000000000a', cidr: '10.9.16.0/20', availabilityZone: 'us-east-1b', isDefault: false, bridge: 'skb0000000b' });
  let enforced = 0;
  const api = new Ec2Api({ db, networks, routes, region: 'us-east-1', accountId: '123456789012', bridgePrefix: 'skb', now: () => 1_700_000_000_000, enforce: async () => void enforced++ });
  const call = async (params: Record<string, string>) => {
    const { action, params: tree } = api.decode(new URLSearchParams(params).toString());
    try {
      return { xml: await api.run(action, tree, 'req-1') };
    } catch (e) {
      return { error: api.errorResponse(e, 'req-1').body };
    }
  };
  return { call, routes, networks, enforced: () => enforced };
}

const tagOf = (xml: string, tag: string) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];

test('ModifySubnetAttribute and DescribeSubnets: MapPublicIpOnLaunch (default subnets public, created ones private)', async () => {
  const { call, enforced } = setup();
  const before = (await call({ Action: 'DescribeSubnets', 'SubnetId.1': 'subnet-0000000000000000b' })).xml!;
  assert.equal(tagOf(before, 'mapPublicIpOnLaunch'), 'false');
  assert.equal(tagOf((await call({ Action: 'DescribeSubnets', 'SubnetId.1': 'subnet-0000000000000000a' })).xml!, 'mapPublicIpOnLaunch'), 'true');
  assert.match((await call({ Action: 'ModifySubnetAttribute', SubnetId: 'subnet-0000000000000000b', 'MapPublicIpOnLaunch.Value': 'true' })).xml!, /<return>true<\/return>/);
  assert.equal(enforced(), 1, 'enforced before the answer');
  const filtered = (await call({ Action: 'DescribeSubnets', 'Filter.1.Name': 'map-public-ip-on-launch', 'Filter.1.Value.1': 'true' })).xml!;
  assert.equal(filtered.match(/<subnetId>/g)?.length, 2);
  assert.match((await call({ Action: 'ModifySubnetAttribute', SubnetId: 'subnet-0000000000000000b' })).error!, /<Code>MissingParameter<\/Code>.*MapPublicIpOnLaunch\.Value=true\|false/);
  assert.match((await call({ Action: 'ModifySubnetAttribute', SubnetId: 'subnet-0000000000000000c', 'MapPublicIpOnLaunch.Value': 'true' })).error!, /InvalidSubnetID\.NotFound/);
});

test('NAT gateways and route tables: shapes, the one route kind, associations, errors in EC2 words', async () => {
  const { call, routes } = setup();
  const nat = (await call({ Action: 'CreateNatGateway', SubnetId: 'subnet-0000000000000000a' })).xml!;
  const natId = tagOf(nat, 'natGatewayId')!;
  assert.match(natId, /^nat-[0-9a-f]{17}$/);
  assert.equal(tagOf(nat, 'state'), 'available');
  assert.equal(tagOf(nat, 'createTime'), '2023-11-14T22:13:20.000Z');
  const rtbId = tagOf((await call({ Action: 'CreateRouteTable', VpcId: 'vpc-0000000000000000a' })).xml!, 'routeTableId')!;
  assert.match((await call({ Action: 'CreateRoute', RouteTableId: rtbId, DestinationCidrBlock: '10.0.0.0/8', NatGatewayId: natId })).error!, /InvalidParameterValue.*0\.0\.0\.0\/0 with NatGatewayId/);
  await call({ Action: 'CreateRoute', RouteTableId: rtbId, DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: natId });
  assert.match((await call({ Action: 'CreateRoute', RouteTableId: rtbId, DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: natId })).error!, /<Code>RouteAlreadyExists<\/Code>/);
  const assocId = tagOf((await call({ Action: 'AssociateRouteTable', RouteTableId: rtbId, SubnetId: 'subnet-0000000000000000b' })).xml!, 'associationId')!;
  assert.match(assocId, /^rtbassoc-/);
  assert.match((await call({ Action: 'AssociateRouteTable', RouteTableId: rtbId, SubnetId: 'subnet-0000000000000000b' })).error!, /Resource\.AlreadyAssociated/);
  assert.deepEqual([...routes.natRoutes()], [['subnet-0000000000000000b', natId]]);
  const described = (await call({ Action: 'DescribeRouteTables', 'RouteTableId.1': rtbId })).xml!;
  assert.match(described, /<destinationCidrBlock>10\.9\.0\.0\/16<\/destinationCidrBlock><gatewayId>local<\/gatewayId>/);
  assert.match(described, new RegExp(`<destinationCidrBlock>0\\.0\\.0\\.0/0</destinationCidrBlock><natGatewayId>${natId}</natGatewayId><state>active</state>`));
  assert.match((await call({ Action: 'DeleteRouteTable', RouteTableId: rtbId })).error!, /DependencyViolation.*disassociate/);
  assert.match((await call({ Action: 'DeleteSubnet', SubnetId: 'subnet-0000000000000000a' })).error!, new RegExp(`DependencyViolation.*NAT gateway ${natId} is in it`));
  assert.match((await call({ Action: 'DeleteVpc', VpcId: 'vpc-0000000000000000a' })).error!, new RegExp(`DependencyViolation.*${rtbId}`));
  await call({ Action: 'DeleteNatGateway', NatGatewayId: natId });
  assert.deepEqual([...routes.natRoutes()], [], 'a deleted NAT gateway routes nothing');
  assert.match((await call({ Action: 'DescribeRouteTables', 'RouteTableId.1': rtbId })).xml!, /<state>blackhole<\/state>/);
  await call({ Action: 'DisassociateRouteTable', AssociationId: assocId });
  assert.match((await call({ Action: 'DeleteRouteTable', RouteTableId: rtbId })).xml!, /<return>true<\/return>/);
  // Deleting a subnet drops its association, as on AWS.
  const rtb2 = tagOf((await call({ Action: 'CreateRouteTable', VpcId: 'vpc-0000000000000000a' })).xml!, 'routeTableId')!;
  await call({ Action: 'AssociateRouteTable', RouteTableId: rtb2, SubnetId: 'subnet-0000000000000000b' });
  assert.match((await call({ Action: 'DeleteSubnet', SubnetId: 'subnet-0000000000000000b' })).xml!, /<return>true<\/return>/);
  assert.deepEqual(routes.routeTable(rtb2)?.associations, []);
  assert.match((await call({ Action: 'DescribeNatGateways', 'NatGatewayId.1': 'nat-00000000000000000' })).error!, /<Code>NatGatewayNotFound<\/Code>/);
  assert.match((await call({ Action: 'DescribeRouteTables', 'RouteTableId.1': 'rtb-00000000000000000' })).error!, /InvalidRouteTableID\.NotFound/);
});
