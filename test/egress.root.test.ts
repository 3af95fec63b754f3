/**
 * Egress the AWS way (issue #15) and the DNS forwarder, end to end: a real
 * `skiff server`, real runc tasks, and an "outside" the test makes itself — a
 * network namespace joined to the host by a veth with 198.18.x.y addresses,
 * holding 198.19.y.1 (an HTTP server that tells who called, and a DNS server
 * over UDP and TCP that counts the questions). The host gets one route,
 * 198.19.y.0/24 via the outside's veth end; the server is told to leave through
 * that veth only (SKIFF_EGRESS_INTERFACES) and to forward names to the test DNS
 * server (SKIFF_DNS_UPSTREAMS). Nothing is sent anywhere else: no default route,
 * no real uplink.
 *
 * The matrix, each from inside a task's own namespace (`ip netns exec`, curl):
 * public subnet + assignPublicIp ENABLED → reaches it, seen as the host's
 * address (SNAT); DISABLED → nothing; a private subnet (CreateSubnet: no
 * MapPublicIpOnLaunch) → nothing; its group's allow-all egress revoked →
 * nothing; a new connection from the outside to a task → dropped. Names:
 * service-less names answered by the test DNS server through the forwarder
 * (UDP), a > 512-byte answer truncated over UDP and whole over TCP, cached.
 * Everything (namespace, veth, route, server and its host resources) is removed
 * even when an assertion fails.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import dgram from 'node:dgram';
import net from 'node:net';
import * as dnsPacket from 'dns-packet';
import {
  AssociateRouteTableCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateNatGatewayCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  DeleteNatGatewayCommand,
  DescribeNatGatewaysCommand,
  DescribeRouteTablesCommand,
  DisassociateRouteTableCommand,
  ModifySubnetAttributeCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  EC2Client,
  RevokeSecurityGroupEgressCommand,
} from '@aws-sdk/client-ec2';
import type { ECSClient, Task } from '@aws-sdk/client-ecs';
import { TestServer, TEST_ROOT_KEY } from './support/skiff-server.ts';
import { startRegistry, type TestRegistry } from './support/registry.ts';
import { pushBusyboxImage } from './support/images.ts';
import { ipOf, registerFamily, runOne, waitTaskStatus } from './support/tasks.ts';
import { gatewayAddress, parseCidr } from '../src/model/cidr.ts';
import { freeOctets } from './support/octets.ts';
import { startOutside, type Outside } from './support/outside.ts';

const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
const skip = isRoot ? false : 'needs root on Linux (runc, namespaces, nftables)';

const tag = randomBytes(3).toString('hex');
// The outside (test/support/outside.ts): its namespace, the host's veth to it and the host's address
// there, its own address 198.19.y.1; set in `before`.
let outside: Outside | undefined;
let [OUT_NS, HOST_VETH, HOST_END, OUTSIDE, y] = ['', '', '', '', ''];

let registry: TestRegistry | undefined;
let server: TestServer | undefined;
let ecs: ECSClient;
let ec2: EC2Client;
let image = '';

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const quiet = (cmd: string, args: string[]) => {
  try {
    sh(cmd, args);
  } catch {
    /* already gone */
  }
};

/** The outside's servers at `address`: HTTP on :80 (answers "outside saw <caller>"), DNS on :53 UDP+TCP, /count → questions per name. */
function outsideScript(dnsPacketPath: string, address: string): string {
  const y = address.split('.')[2];
  return `
import http from 'node:http'; import dgram from 'node:dgram'; import net from 'node:net';
import { createRequire } from 'node:module';
const dnsPacket = createRequire(import.meta.url)(${JSON.stringify(dnsPacketPath)});
const counts = {};
const answer = (q) => {
  const name = q.questions[0].name.toLowerCase();
  counts[name + '|' + q.questions[0].type] = (counts[name + '|' + q.questions[0].type] ?? 0) + 1;
  const answers = name === 'x.example.test' ? [{ type: 'A', name, ttl: 60, data: '198.19.${y}.77' }]
    : name === 'big.example.test' ? Array.from({ length: 40 }, (_, i) => ({ type: 'A', name, ttl: 60, data: '198.19.${y}.' + (i + 10) }))
    : [];
  return dnsPacket.encode({ id: q.id, type: 'response', flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (answers.length ? 0 : 3), questions: q.questions, answers });
};
const udp = dgram.createSocket('udp4');
udp.on('message', (m, r) => { const q = dnsPacket.decode(m); let a = answer(q); if (a.length > 512) a = dnsPacket.encode({ id: q.id, type: 'response', flags: dnsPacket.TRUNCATED_RESPONSE, questions: q.questions }); udp.send(a, r.port, r.address); });
udp.bind(53, '${address}');
net.createServer((c) => { let b = Buffer.alloc(0); c.on('data', (d) => { b = Buffer.concat([b, d]); if (b.length >= 2 && b.length >= 2 + b.readUInt16BE(0)) { const a = answer(dnsPacket.decode(b.subarray(2))); const l = Buffer.alloc(2); l.writeUInt16BE(a.length); c.end(Buffer.concat([l, a])); } }); }).listen(53, '${address}');
http.createServer((req, res) => res.end(req.url === '/count' ? JSON.stringify(counts) : 'outside saw ' + req.socket.remoteAddress + '\\n')).listen(80, '${address}', () => console.log('ready'));
`;
}

function cleanupOutside(): void {
  outside?.remove();
}

before(async () => {
  if (skip) return;
  try {
    // The outside: a namespace, a veth, one host route to its /24. No default route anywhere.
    const dnsPacketPath = createRequire(import.meta.url).resolve('dns-packet');
    outside = await startOutside('egout', (address) => outsideScript(dnsPacketPath, address));
    ({ ns: OUT_NS, hostVeth: HOST_VETH, hostEnd: HOST_END, address: OUTSIDE } = outside);
    y = OUTSIDE.split('.')[2]!;
    registry = await startRegistry({ auth: 'none' });
    image = await pushBusyboxImage(registry, 'test/busybox:egress');
    server = new TestServer({ env: { SKIFF_EGRESS: '1', SKIFF_EGRESS_INTERFACES: HOST_VETH, SKIFF_DNS_UPSTREAMS: `${OUTSIDE}:53` } });
    await server.start();
    ecs = server.ecs();
    ec2 = new EC2Client({ endpoint: server.endpoint, region: 'us-east-1', credentials: TEST_ROOT_KEY });
    await registerFamily(ecs, 'egress', [{ name: 'app', image, essential: true, command: ['sleep', '600'] }]);
  } catch (e) {
    cleanupOutside();
    await server?.destroy();
    await registry?.stop();
    throw e;
  }
});

after(async () => {
  if (skip) return;
  try {
    await server?.destroy();
  } finally {
    cleanupOutside();
    await registry?.stop();
  }
});

const netnsOf = (t: Task) => `${server!.prefix}-${t.taskArn!.split('/').pop()}`;

/** curl from inside the task's namespace; the body, or undefined when nothing answered in 3 s. */
function fromTask(t: Task, url: string): string | undefined {
  try {
    return sh('ip', ['netns', 'exec', netnsOf(t), 'curl', '-s', '--max-time', '3', url]);
  } catch {
    return undefined;
  }
}

async function running(extra: Parameters<typeof runOne>[2]): Promise<Task> {
  const t = await runOne(ecs, 'egress', extra);
  return waitTaskStatus(ecs, t.taskArn!, 'RUNNING', 60_000);
}

async function defaultSubnet(): Promise<{ id: string; cidr: string; vpcId: string }> {
  const s = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'default-for-az', Values: ['true'] }] }))).Subnets![0]!;
  return { id: s.SubnetId!, cidr: s.CidrBlock!, vpcId: s.VpcId! };
}

test('public subnet + assignPublicIp ENABLED reaches the outside, as the host address; DISABLED does not', { skip }, async () => {
  const subnet = await defaultSubnet();
  const pub = await running({ networkConfiguration: { awsvpcConfiguration: { subnets: [subnet.id], assignPublicIp: 'ENABLED' } } });
  const priv = await running({ networkConfiguration: { awsvpcConfiguration: { subnets: [subnet.id], assignPublicIp: 'DISABLED' } } });
  assert.equal(fromTask(pub, `http://${OUTSIDE}/`), `outside saw ${HOST_END}\n`, 'SNAT to the host address on the egress interface, not the task address');
  assert.equal(fromTask(priv, `http://${OUTSIDE}/`), undefined, 'no public IP: no egress');
  // Replies only: a new connection from the outside to the task is dropped, even with a group that allows it.
  await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: await defaultGroup(), IpPermissions: [{ IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }));
  const listener = spawn('ip', ['netns', 'exec', netnsOf(pub), 'busybox', 'nc', '-ll', '-p', '8080', '-e', 'echo', 'task-answered'], { stdio: 'ignore' });
  try {
    sh('ip', ['-n', OUT_NS, 'route', 'replace', subnet.cidr, 'via', HOST_END]);
    assert.equal(fromTask(pub, `http://${OUTSIDE}/`)?.startsWith('outside saw'), true);
    const reached = await new Promise<boolean>((resolve) => {
      const c = spawn('ip', ['netns', 'exec', OUT_NS, 'busybox', 'nc', '-w', '3', ipOf(pub)!, '8080'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      c.stdout!.on('data', (d) => (out += d));
      c.on('exit', () => resolve(out.includes('task-answered')));
    });
    assert.equal(reached, false, 'outside → task without a connection the task opened: dropped');
    assert.equal(ncFrom(netnsOf(priv), ipOf(pub)!), true, 'control: a task of the same VPC reaches the listener');
    // Another VPC, public subnet, public IP: it has a default route and egress, yet never reaches this VPC.
    const octet = freeOctets([Number(server!.vpcCidr.split('.')[1])])[0]!;
    const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: `10.${octet}.0.0/16` }))).Vpc!;
    const other = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId!, CidrBlock: `10.${octet}.1.0/24` }))).Subnet!;
    await ec2.send(new ModifySubnetAttributeCommand({ SubnetId: other.SubnetId!, MapPublicIpOnLaunch: { Value: true } }));
    const otherSg = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc.VpcId!] }] }));
    const outsider = await running({ networkConfiguration: { awsvpcConfiguration: { subnets: [other.SubnetId!], securityGroups: [otherSg.SecurityGroups![0]!.GroupId!], assignPublicIp: 'ENABLED' } } });
    assert.equal(fromTask(outsider, `http://${OUTSIDE}/`), `outside saw ${HOST_END}\n`, 'the other VPC has egress');
    const betweenVpcs = () => Number(/counter packets (\d+) .*"skiff: between VPCs"/.exec(sh('nft', ['list', 'chain', 'inet', server!.prefix, 'forward']))?.[1]);
    const dropped = betweenVpcs();
    assert.equal(ncFrom(netnsOf(outsider), ipOf(pub)!), false, 'another VPC never reaches this one, default route or not');
    assert.ok(betweenVpcs() > dropped, 'dropped by the boundary rule between VPCs');
  } finally {
    if (listener.pid && listener.exitCode === null) process.kill(listener.pid);
    quiet('ip', ['-n', OUT_NS, 'route', 'del', subnet.cidr]);
  }
});

/** Whether a connection from namespace `ns` to ip:8080 got the listener's answer. */
function ncFrom(ns: string, ip: string): boolean {
  try {
    return sh('ip', ['netns', 'exec', ns, 'busybox', 'nc', '-w', '3', ip, '8080']).includes('task-answered');
  } catch {
    return false;
  }
}

async function defaultGroup(): Promise<string> {
  const vpc = (await defaultSubnet()).vpcId;
  const g = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc] }, { Name: 'group-name', Values: ['default'] }] }))).SecurityGroups![0]!;
  return g.GroupId!;
}

test('a private subnet has no egress, but through a NAT gateway (route table) or once made public; revoking the allow-all egress rule stops a public task', { skip }, async () => {
  const subnet = await defaultSubnet();
  const base = server!.vpcCidr.split('.').slice(0, 2).join('.');
  const created = await ec2.send(new CreateSubnetCommand({ VpcId: subnet.vpcId, CidrBlock: `${base}.240.0/24` }));
  assert.equal(created.Subnet?.MapPublicIpOnLaunch, false, 'a created subnet is private, as on AWS');
  const inPrivate = await running({ networkConfiguration: { awsvpcConfiguration: { subnets: [created.Subnet!.SubnetId!], assignPublicIp: 'ENABLED' } } });
  assert.equal(fromTask(inPrivate, `http://${OUTSIDE}/`), undefined, 'private subnet without a NAT gateway: no egress');

  // A NAT gateway in the public subnet, a route table 0.0.0.0/0 → it, associated with the private subnet.
  const nat = (await ec2.send(new CreateNatGatewayCommand({ SubnetId: subnet.id }))).NatGateway!;
  assert.equal(nat.State, 'available');
  const rtb = (await ec2.send(new CreateRouteTableCommand({ VpcId: subnet.vpcId }))).RouteTable!;
  await ec2.send(new CreateRouteCommand({ RouteTableId: rtb.RouteTableId!, DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: nat.NatGatewayId! }));
  await assert.rejects(
    ec2.send(new CreateRouteCommand({ RouteTableId: rtb.RouteTableId!, DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: nat.NatGatewayId! })),
    (e: Error) => e.name === 'RouteAlreadyExists',
  );
  const assoc = await ec2.send(new AssociateRouteTableCommand({ RouteTableId: rtb.RouteTableId!, SubnetId: created.Subnet!.SubnetId! }));
  const described = (await ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [rtb.RouteTableId!] }))).RouteTables![0]!;
  assert.deepEqual(described.Routes?.map((r) => [r.DestinationCidrBlock, r.GatewayId ?? r.NatGatewayId, r.State]), [
    [server!.vpcCidr, 'local', 'active'],
    ['0.0.0.0/0', nat.NatGatewayId, 'active'],
  ]);
  assert.equal(fromTask(inPrivate, `http://${OUTSIDE}/`), `outside saw ${HOST_END}\n`, 'private subnet routed to a NAT gateway: egress, as the host address');
  await ec2.send(new DisassociateRouteTableCommand({ AssociationId: assoc.AssociationId! }));
  assert.equal(fromTask(inPrivate, `http://${OUTSIDE}/`), undefined, 'association gone: no egress');
  await ec2.send(new AssociateRouteTableCommand({ RouteTableId: rtb.RouteTableId!, SubnetId: created.Subnet!.SubnetId! }));
  await ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: nat.NatGatewayId! }));
  assert.equal(fromTask(inPrivate, `http://${OUTSIDE}/`), undefined, 'NAT gateway deleted: the route is a blackhole');
  assert.equal((await ec2.send(new DescribeNatGatewaysCommand({ NatGatewayIds: [nat.NatGatewayId!] }))).NatGateways![0]!.State, 'deleted');

  // The same subnet made public (ModifySubnetAttribute): its public-IP task leaves without a NAT gateway.
  await ec2.send(new ModifySubnetAttributeCommand({ SubnetId: created.Subnet!.SubnetId!, MapPublicIpOnLaunch: { Value: true } }));
  assert.equal((await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [created.Subnet!.SubnetId!] }))).Subnets![0]!.MapPublicIpOnLaunch, true);
  assert.equal(fromTask(inPrivate, `http://${OUTSIDE}/`), `outside saw ${HOST_END}\n`, 'public subnet + assignPublicIp ENABLED');

  const sg = await ec2.send(new CreateSecurityGroupCommand({ GroupName: `noegress-${tag}`, Description: 'egress revoked', VpcId: subnet.vpcId }));
  const pub = await running({ networkConfiguration: { awsvpcConfiguration: { subnets: [subnet.id], securityGroups: [sg.GroupId!], assignPublicIp: 'ENABLED' } } });
  assert.equal(fromTask(pub, `http://${OUTSIDE}/`), `outside saw ${HOST_END}\n`, 'the new group allows all egress');
  await ec2.send(new RevokeSecurityGroupEgressCommand({ GroupId: sg.GroupId!, IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }));
  assert.equal(fromTask(pub, `http://${OUTSIDE}/`), undefined, 'allow-all egress revoked: nothing leaves');
});

function udpAsk(server: string, name: string): Promise<dnsPacket.DecodedPacket> {
  const s = dgram.createSocket('udp4');
  return new Promise<dnsPacket.DecodedPacket>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no UDP answer for ${name}`)), 5000);
    s.on('message', (m) => {
      clearTimeout(timer);
      resolve(dnsPacket.decode(m) as dnsPacket.DecodedPacket);
    });
    s.send(dnsPacket.encode({ id: 7, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name, class: 'IN' }] }), 53, server);
  }).finally(() => s.close());
}

function tcpAsk(server: string, name: string): Promise<dnsPacket.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host: server, port: 53 });
    let b = Buffer.alloc(0);
    c.setTimeout(5000, () => c.destroy(new Error(`no TCP answer for ${name}`)));
    c.on('connect', () => c.write(dnsPacket.streamEncode({ id: 8, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name, class: 'IN' }] })));
    c.on('data', (d) => {
      b = Buffer.concat([b, d]);
      if (b.length >= 2 && b.length >= 2 + b.readUInt16BE(0)) {
        c.end();
        resolve(dnsPacket.decode(b.subarray(2)) as dnsPacket.DecodedPacket);
      }
    });
    c.on('error', reject);
  });
}

test('the task DNS forwards other names to the upstream: UDP, TC then TCP for a big answer, cached', { skip }, async () => {
  const subnet = await defaultSubnet();
  const t = await running({ networkConfiguration: { awsvpcConfiguration: { subnets: [subnet.id] } } });
  const gw = gatewayAddress(parseCidr(subnet.cidr));
  // From inside the task, as its resolver does.
  const looked = sh('ip', ['netns', 'exec', netnsOf(t), 'busybox', 'nslookup', 'x.example.test', gw]);
  assert.match(looked, new RegExp(`198\\.19\\.${y}\\.77`));
  const a = await udpAsk(gw, 'x.example.test');
  assert.deepEqual(a.answers?.map((r) => (r as { data: unknown }).data), [`198.19.${y}.77`]);
  assert.equal(a.id, 7);
  const big = await udpAsk(gw, 'big.example.test');
  assert.equal(big.flag_tc, true, 'over 512 bytes: truncated over UDP');
  assert.equal(big.answers?.length, 0);
  const whole = await tcpAsk(gw, 'big.example.test');
  assert.equal(whole.answers?.length, 40, 'whole over TCP');
  const counts = JSON.parse(sh('ip', ['netns', 'exec', OUT_NS, 'curl', '-s', `http://${OUTSIDE}/count`])) as Record<string, number>;
  assert.equal(counts['x.example.test|A'], 1, 'A asked upstream once (nslookup, then the test): later questions came from the cache');
  assert.equal(counts['big.example.test|A'], 2, 'the big answer: once over UDP (TC), once over TCP, then cached');
  assert.equal((await udpAsk(gw, 'nope.example.test')).flags! & 0xf, 3, 'NXDOMAIN passes through');
});

test('a --no-egress server: a public task with a public IP reaches nothing outside', { skip }, async () => {
  const off = new TestServer({ env: { SKIFF_EGRESS: '0', SKIFF_DNS_UPSTREAMS: `${OUTSIDE}:53` } });
  try {
    await off.start();
    const offEcs = off.ecs();
    const offEc2 = new EC2Client({ endpoint: off.endpoint, region: 'us-east-1', credentials: TEST_ROOT_KEY });
    await registerFamily(offEcs, 'egress', [{ name: 'app', image, essential: true, command: ['sleep', '600'] }]);
    const s = (await offEc2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'default-for-az', Values: ['true'] }] }))).Subnets![0]!;
    assert.equal(s.MapPublicIpOnLaunch, true, 'default subnets are public');
    const t0 = await runOne(offEcs, 'egress', { networkConfiguration: { awsvpcConfiguration: { subnets: [s.SubnetId!], assignPublicIp: 'ENABLED' } } });
    const t = await waitTaskStatus(offEcs, t0.taskArn!, 'RUNNING', 60_000);
    const ns = `${off.prefix}-${t.taskArn!.split('/').pop()}`;
    assert.doesNotMatch(sh('ip', ['-n', ns, 'route']), /default/, 'no default route');
    // Even with a default route added behind Skiff's back, the boundary forwards nothing out.
    sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', gatewayAddress(parseCidr(s.CidrBlock!))]);
    let body: string | undefined;
    try {
      body = sh('ip', ['netns', 'exec', ns, 'curl', '-s', '--max-time', '3', `http://${OUTSIDE}/`]);
    } catch {
      body = undefined;
    }
    assert.equal(body, undefined);
  } finally {
    await off.destroy();
  }
});
