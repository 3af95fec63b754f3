/**
 * Security groups enforced for real: runc tasks in their own namespaces, the
 * server's security-group nftables tables on the host (one inet table for the
 * rules, one bridge table against spoofing), groups and rules changed with @aws-sdk/client-ec2
 * while the tasks run. Traffic is busybox `nc` between this test's own task
 * addresses: the servers listen in their containers, the clients connect from
 * inside the client task's network namespace (nsenter), so the client's egress
 * and the server's ingress rules both apply. The host (this process) connects
 * to task addresses directly.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import {
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
  type IpPermission,
} from '@aws-sdk/client-ec2';
import { DescribeTaskDefinitionCommand, RegisterTaskDefinitionCommand, RunTaskCommand, StopTaskCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { TestServer, TEST_ROOT_KEY, waitFor } from './support/skiff-server.ts';
import { startRegistry, type TestRegistry } from './support/registry.ts';
import { pushBusyboxImage } from './support/images.ts';
import { ipOf, tcpRead, waitTaskStatus } from './support/tasks.ts';
import { freeOctets } from './support/octets.ts';

const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
const skip = isRoot ? false : 'needs root on Linux (runc, namespaces, nftables)';

let server: TestServer;
let registry: TestRegistry;
let ecs: ECSClient;
let ec2: EC2Client;
let defaultSubnet: string;
let secondSubnet: string;
let defaultGroup: string;

before(async () => {
  if (skip) return;
  registry = await startRegistry({ auth: 'none' });
  const image = await pushBusyboxImage(registry, 'test/busybox:sg');
  // A small warm pool: some tasks get a ready namespace, others a fresh one; both must get their firewall before they run.
  server = new TestServer({ env: { SKIFF_WARM_POOL_SIZE: '2' } });
  await server.start();
  ecs = server.ecs();
  ec2 = new EC2Client({ endpoint: server.endpoint, region: 'us-east-1', credentials: TEST_ROOT_KEY, maxAttempts: 1 });
  const base = { requiresCompatibilities: ['FARGATE' as const], networkMode: 'awsvpc' as const, cpu: '256', memory: '512' };
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      ...base,
      family: 'srv',
      containerDefinitions: [
        { name: 'a', image, stopTimeout: 2, command: ['sh', '-c', 'while true; do echo pong8080 | nc -l -p 8080; done'] },
        { name: 'b', image, stopTimeout: 2, command: ['sh', '-c', 'while true; do echo pong9090 | nc -l -p 9090; done'] },
      ],
    }),
  );
  await ecs.send(new RegisterTaskDefinitionCommand({ ...base, family: 'idle', containerDefinitions: [{ name: 'idle', image, stopTimeout: 2, command: ['sleep', '3600'] }] }));
  const vpc = (await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }))).Vpcs![0]!;
  const subnets = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc.VpcId!] }] }))).Subnets!;
  defaultSubnet = subnets[0]!.SubnetId!;
  secondSubnet = subnets[1]!.SubnetId!;
  defaultGroup = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc.VpcId!] }, { Name: 'group-name', Values: ['default'] }] })))
    .SecurityGroups![0]!.GroupId!;
});
after(async () => {
  ec2?.destroy();
  await server?.destroy();
  await registry?.stop();
});

interface RunningTask {
  arn: string;
  id: string;
  ip: string;
}

async function runTask(family: string, opts: { subnet?: string; groups?: string[] } = {}): Promise<RunningTask> {
  const out = await ecs.send(
    new RunTaskCommand({
      taskDefinition: family,
      launchType: 'FARGATE',
      networkConfiguration: { awsvpcConfiguration: { subnets: [opts.subnet ?? defaultSubnet], ...(opts.groups ? { securityGroups: opts.groups } : {}) } },
    }),
  );
  assert.equal(out.tasks?.length, 1, JSON.stringify(out.failures));
  const t = await waitTaskStatus(ecs, out.tasks![0]!.taskArn!, 'RUNNING', 60_000);
  return { arn: t.taskArn!, id: t.taskArn!.split('/').pop()!, ip: ipOf(t)! };
}

/**
 * Connects from inside `from`'s network namespace to ip:port with busybox nc
 * (1 s connect timeout); true when the server's greeting came back.
 */
function reaches(from: RunningTask, to: RunningTask, port: number): Promise<boolean> {
  return new Promise((res) => {
    const child = spawn('nsenter', [`--net=/var/run/netns/${server.prefix}-${from.id}`, '/bin/busybox', 'nc', '-w', '1', to.ip, String(port)], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', () => res(out.includes(`pong${port}`)));
    child.on('error', () => res(false));
  });
}

/** Polls until `from` reaches `to:port`; returns the ms it took. The servers' nc loops need a moment between connections. */
async function reachable(from: RunningTask, to: RunningTask, port: number, withinMs = 5000): Promise<number> {
  const t0 = Date.now();
  await waitFor(`${from.ip} → ${to.ip}:${port}`, async () => (await reaches(from, to, port)) || undefined, withinMs);
  return Date.now() - t0;
}

async function blocked(from: RunningTask, to: RunningTask, port: number): Promise<void> {
  // Twice, so a server between two nc loops does not pass for a firewall.
  for (let i = 0; i < 2; i++) assert.equal(await reaches(from, to, port), false, `${from.ip} → ${to.ip}:${port} should be blocked`);
}

const tcp = (port: number, source: { cidr?: string; group?: string }): IpPermission => ({
  IpProtocol: 'tcp',
  FromPort: port,
  ToPort: port,
  ...(source.cidr ? { IpRanges: [{ CidrIp: source.cidr }] } : {}),
  ...(source.group ? { UserIdGroupPairs: [{ GroupId: source.group }] } : {}),
});

let srvDefault: RunningTask;
let client: RunningTask;
let srvWeb: RunningTask;
let web: string;

test('tasks launched without securityGroups join the default group and reach each other; the host reaches them', { skip }, async () => {
  [srvDefault, client] = await Promise.all([runTask('srv'), runTask('idle')]);
  await reachable(client, srvDefault, 8080);
  await reachable(client, srvDefault, 9090);
  assert.equal((await tcpRead(srvDefault.ip, 8080)).trim(), 'pong8080', 'host → task');
});

test('a group without ingress rules blocks other tasks but not the host; authorize opens within a second, revoke closes', { skip }, async () => {
  web = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'web' }))).GroupId!;
  srvWeb = await runTask('srv', { groups: [web] });
  await blocked(client, srvWeb, 8080);
  assert.equal((await tcpRead(srvWeb.ip, 8080)).trim(), 'pong8080', 'the host may always reach task addresses');

  // A source-group rule: members of the default group may reach web on 8080 (not 9090).
  await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: web, IpPermissions: [tcp(8080, { group: defaultGroup })] }));
  await reachable(client, srvWeb, 8080, 1000);
  await blocked(client, srvWeb, 9090);

  // A CIDR rule for one address.
  await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: web, IpPermissions: [tcp(9090, { cidr: `${client.ip}/32` })] }));
  await reachable(client, srvWeb, 9090, 1000);

  // Revoke: blocked again, the other rule stays.
  await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: web, IpPermissions: [tcp(8080, { group: defaultGroup })] }));
  await blocked(client, srvWeb, 8080);
  await reachable(client, srvWeb, 9090, 1000);
  await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: web, IpPermissions: [tcp(9090, { cidr: `${client.ip}/32` })] }));
  await blocked(client, srvWeb, 9090);
});

test('source-group rules follow membership: a task started later is let in, a stopped one leaves the set', { skip }, async () => {
  const peers = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'peers', Description: 'may reach web' }))).GroupId!;
  await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: web, IpPermissions: [tcp(8080, { group: peers })] }));
  await blocked(client, srvWeb, 8080);
  const late = await runTask('idle', { groups: [peers] });
  await reachable(late, srvWeb, 8080, 2000);
  await blocked(client, srvWeb, 8080);
  // The group is in use: it cannot be deleted while the task runs.
  await assert.rejects(ec2.send(new DeleteSecurityGroupCommand({ GroupId: peers })), (e: Error) => e.name === 'DependencyViolation');
  await ecs.send(new StopTaskCommand({ task: late.arn }));
  await waitTaskStatus(ecs, late.arn, 'STOPPED', 30_000);
  await waitFor('the stopped task to leave the peer set', async () => {
    const r = await listFirewall();
    return (r.includes('table inet') && !r.includes(`${late.ip} `) && !r.includes(`${late.ip},`)) || undefined;
  }, 3000);
  await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: web, IpPermissions: [tcp(8080, { group: peers })] }));
  await ec2.send(new DeleteSecurityGroupCommand({ GroupId: peers }));
});

/** The server's security-group tables as nft lists them (the inet one, then the bridge one). */
function listFirewall(): Promise<string> {
  return new Promise((res) => {
    const child = spawn('sh', ['-c', `nft list table inet ${server.prefix}_sg; nft list table bridge ${server.prefix}_sg`], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', () => res(out));
  });
}

test('a task cannot send from an address that is not its own: the bridge port drops it', { skip }, async (t) => {
  const attacker = await runTask('idle');
  const spoofed = `${srvWeb.ip.split('.').slice(0, 3).join('.')}.250`;
  assert.ok(!(await listFirewall()).includes(`${spoofed} `), `${spoofed} belongs to no task`);
  // web lets the spoofed address in: without the port check, the attacker taking that address would connect.
  await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: web, IpPermissions: [tcp(8080, { cidr: `${spoofed}/32` })] }));
  t.after(() => ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: web, IpPermissions: [tcp(8080, { cidr: `${spoofed}/32` })] })));
  const dropped = async () => Number(/packets (\d+) bytes \d+ drop comment "skiff: spoofed/.exec(await listFirewall())?.[1] ?? NaN);
  const before = await dropped();
  const ns = `/var/run/netns/${server.prefix}-${attacker.id}`;
  const prefix = JSON.parse(spawnSync('nsenter', [`--net=${ns}`, 'ip', '-j', '-4', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8' }).stdout)[0].addr_info[0].prefixlen;
  for (const cmd of [['ip', 'addr', 'flush', 'dev', 'eth0'], ['ip', 'addr', 'add', `${spoofed}/${prefix}`, 'dev', 'eth0']]) {
    const r = spawnSync('nsenter', [`--net=${ns}`, ...cmd], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  await blocked({ ...attacker, ip: spoofed }, srvWeb, 8080);
  assert.ok((await dropped()) > before, `the port dropped the spoofed packets (${before} → ${await dropped()})`);
  await ecs.send(new StopTaskCommand({ task: attacker.arn }));
  await waitTaskStatus(ecs, attacker.arn, 'STOPPED', 30_000);
});

test('egress: a group whose allow-all egress is revoked restricts outbound until a rule allows it', { skip }, async () => {
  await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: web, IpPermissions: [tcp(8080, { cidr: '0.0.0.0/0' })] }));
  await reachable(client, srvWeb, 8080, 1000);
  const locked = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'locked', Description: 'no egress' }))).GroupId!;
  await ec2.send(new RevokeSecurityGroupEgressCommand({ GroupId: locked, IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }));
  const egressless = await runTask('idle', { groups: [locked] });
  await blocked(egressless, srvWeb, 8080);
  await ec2.send(new AuthorizeSecurityGroupEgressCommand({ GroupId: locked, IpPermissions: [tcp(8080, { cidr: `${srvWeb.ip}/32` })] }));
  await reachable(egressless, srvWeb, 8080, 1000);
  await blocked(egressless, srvDefault, 8080); // its egress allows only srvWeb (and srvDefault's ingress only the default group)
});

test('tasks in different subnets of one VPC reach each other as the rules say (routed through the host)', { skip }, async () => {
  const [far, farWeb] = await Promise.all([runTask('srv', { subnet: secondSubnet }), runTask('srv', { subnet: secondSubnet, groups: [web] })]);
  assert.notEqual(far.ip.split('.').slice(0, 3).join('.'), client.ip.split('.').slice(0, 3).join('.'), 'another subnet');
  await reachable(client, far, 9090); // both in the default group
  await reachable(far, srvDefault, 8080);
  await reachable(client, farWeb, 8080); // web: 8080 from 0.0.0.0/0 (previous test)
  await blocked(client, farWeb, 9090);
  assert.equal((await tcpRead(farWeb.ip, 9090)).trim(), 'pong9090', 'the host reaches every subnet');
});

test('routing between subnets stops at the boundary: nothing is forwarded from a task to a non-Skiff interface', { skip }, async (t) => {
  // An "outside" network on this host: a namespace behind a veth that is not a Skiff bridge, listening on 7070.
  const octet = freeOctets([Number(server.vpcCidr.split('.')[1])])[0]!;
  const ns = `${server.prefix}-outside`;
  const veth = `${server.prefix}out`;
  const sh = (...args: string[]) => spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  t.after(() => {
    sh('ip', 'link', 'del', veth);
    sh('ip', 'netns', 'del', ns);
  });
  for (const cmd of [
    ['ip', 'netns', 'add', ns],
    ['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns],
    ['ip', 'addr', 'add', `10.${octet}.250.1/30`, 'dev', veth],
    ['ip', 'link', 'set', veth, 'up'],
    ['ip', '-n', ns, 'addr', 'add', `10.${octet}.250.2/30`, 'dev', 'eth0'],
    ['ip', '-n', ns, 'link', 'set', 'eth0', 'up'],
    ['ip', '-n', ns, 'route', 'add', 'default', 'via', `10.${octet}.250.1`],
  ]) {
    const r = sh(...cmd);
    assert.equal(r.status, 0, `${cmd.join(' ')}: ${r.stderr}`);
  }
  const listener = spawn('nsenter', [`--net=/var/run/netns/${ns}`, 'sh', '-c', 'while true; do echo pong7070 | /bin/busybox nc -l -p 7070; done'], { stdio: 'ignore' });
  t.after(() => listener.kill('SIGKILL'));
  const outside: RunningTask = { arn: '', id: '', ip: `10.${octet}.250.2` };
  assert.equal((await waitFor('the outside listener (from the host)', async () => (await tcpRead(outside.ip, 7070).catch(() => '')).trim() || undefined, 5000)), 'pong7070');
  // Give the client task a route there through its gateway, as a task that could change its routes would.
  const routes = JSON.parse(sh('nsenter', `--net=/var/run/netns/${server.prefix}-${client.id}`, 'ip', '-j', 'route').stdout) as { dst: string; gateway?: string }[];
  const gw = routes.find((r) => r.gateway)!.gateway!;
  const added = sh('nsenter', `--net=/var/run/netns/${server.prefix}-${client.id}`, 'ip', 'route', 'add', `10.${octet}.250.0/30`, 'via', gw);
  assert.equal(added.status, 0, added.stderr);
  await blocked(client, outside, 7070);
  assert.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), '0', 'host-wide forwarding stays off');
  const boundary = sh('nft', 'list', 'chain', 'inet', server.prefix, 'forward').stdout;
  assert.match(boundary, /counter packets [1-9]\d* bytes \d+ drop comment "skiff: task to outside"/, 'the boundary dropped the attempts');
});

test('a task in another VPC reaches no task of this one, whatever the rules say', { skip }, async () => {
  const octet = freeOctets([Number(server.vpcCidr.split('.')[1])])[0]!;
  const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: `10.${octet}.0.0/16` }))).Vpc!;
  const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: `10.${octet}.1.0/24` }))).Subnet!;
  const [outsider, outsiderSrv] = await Promise.all([runTask('idle', { subnet: subnet.SubnetId }), runTask('srv', { subnet: subnet.SubnetId })]);
  assert.ok(outsider.ip.startsWith(`10.${octet}.1.`));
  await reachable(outsider, outsiderSrv, 8080); // its own VPC's default group works
  await blocked(outsider, srvWeb, 8080); // web allows 0.0.0.0/0 on 8080, but the VPCs are not connected
  await blocked(client, outsiderSrv, 8080);

  // The subnet cannot go while its tasks run; once they stop it goes, with its warm namespaces and its bridge.
  await assert.rejects(ec2.send(new DeleteSubnetCommand({ SubnetId: subnet.SubnetId })), (e: Error) => e.name === 'DependencyViolation');
  await Promise.all([outsider, outsiderSrv].map((t) => ecs.send(new StopTaskCommand({ task: t.arn }))));
  await Promise.all([outsider, outsiderSrv].map((t) => waitTaskStatus(ecs, t.arn, 'STOPPED', 30_000)));
  await ec2.send(new DeleteSubnetCommand({ SubnetId: subnet.SubnetId }));
  const bridge = `${server.prefix.slice(0, 6)}b${subnet.SubnetId!.slice(7, 15)}`;
  assert.equal(existsSync(`/sys/class/net/${bridge}`), false, `bridge ${bridge} removed`);
  const pool = (await (await server.fetch('/skiff/v1/warm-pool')).json()) as { subnets: { subnetId: string }[] };
  assert.ok(!pool.subnets.some((s) => s.subnetId === subnet.SubnetId), 'the warm pool forgot the subnet');
});

test('after a restart (kill -9) the server re-applies every adopted task\'s firewall and keeps enforcing changes', { skip }, async () => {
  await server.stop('SIGKILL');
  // While the server is down, the security-group tables are lost: without the restart re-applying them, all would be open.
  for (const family of ['inet', 'bridge']) {
    const del = spawnSync('nft', ['delete', 'table', family, `${server.prefix}_sg`], { encoding: 'utf8' });
    assert.equal(del.status, 0, del.stderr);
  }
  await reachable(client, srvWeb, 9090); // open now
  await server.start();
  await waitFor('the firewall re-applied', async () => (await listFirewall()).includes(srvWeb.ip) || undefined, 10_000);
  await blocked(client, srvWeb, 9090);
  await reachable(client, srvWeb, 8080, 1000); // web: 8080 from 0.0.0.0/0
  await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: web, IpPermissions: [tcp(8080, { cidr: '0.0.0.0/0' })] }));
  await blocked(client, srvWeb, 8080);
  // Tables removed behind the running server's back come back within its next checks.
  for (const family of ['inet', 'bridge']) spawnSync('nft', ['delete', 'table', family, `${server.prefix}_sg`]);
  await waitFor('the firewall rewritten', async () => (await listFirewall()).includes(srvWeb.ip) || undefined, 5000);
  await blocked(client, srvWeb, 9090);
});

test('with --no-host-access the host cannot open connections to tasks; tasks still reach each other', { skip }, async (t) => {
  const octet = freeOctets([Number(server.vpcCidr.split('.')[1])])[0]!;
  const closed = new TestServer({ args: ['--no-host-access'], vpcSecondOctet: octet });
  t.after(() => closed.destroy());
  await closed.start();
  const closedEcs = closed.ecs();
  t.after(() => closedEcs.destroy());
  for (const family of ['srv', 'idle']) {
    const d = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: family }))).taskDefinition!;
    await closedEcs.send(new RegisterTaskDefinitionCommand({ family: d.family, requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc', cpu: '256', memory: '512', containerDefinitions: d.containerDefinitions }));
  }
  const start = async (family: string): Promise<RunningTask> => {
    const out = await closedEcs.send(new RunTaskCommand({ taskDefinition: family, launchType: 'FARGATE' }));
    const task = await waitTaskStatus(closedEcs, out.tasks![0]!.taskArn!, 'RUNNING', 60_000);
    return { arn: task.taskArn!, id: task.taskArn!.split('/').pop()!, ip: ipOf(task)! };
  };
  const [srv, cli] = await Promise.all([start('srv'), start('idle')]);
  const reach = (port: number) =>
    new Promise<boolean>((res) => {
      const child = spawn('nsenter', [`--net=/var/run/netns/${closed.prefix}-${cli.id}`, '/bin/busybox', 'nc', '-w', '1', srv.ip, String(port)], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.on('close', () => res(out.includes(`pong${port}`)));
    });
  await waitFor('task → task in the default group', async () => (await reach(8080)) || undefined, 5000);
  await assert.rejects(tcpRead(srv.ip, 8080, 1500), /no answer/, 'the host may not connect: its SYN is dropped');
});
