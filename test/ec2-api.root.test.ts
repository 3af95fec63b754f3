/**
 * The EC2 subset over the Query protocol, driven by the real clients:
 * @aws-sdk/client-ec2 and the AWS CLI (/usr/bin/aws). VPCs, subnets, security
 * groups and their rules, filters, EC2's error codes, SigV4 for `ec2` and
 * `ec2:<Action>` policies, and RunTask's check of awsvpcConfiguration.securityGroups.
 * No task runs here (see security-groups.root.test.ts for enforcement).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DeleteVpcCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import { CreateServiceCommand, ListTasksCommand, RegisterTaskDefinitionCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { TestServer, TEST_ROOT_KEY } from './support/skiff-server.ts';
import { freeOctets } from './support/octets.ts';
import { rejectsWith } from './support/api-errors.ts';

const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
const skip = isRoot ? false : 'needs root on Linux (the server sets up networking)';

let server: TestServer;
let ec2: EC2Client;
let home: string;
/** A second octet in this run's range other than the server's default VPC's. */
let otherOctet: number;

before(async () => {
  if (skip) return;
  server = new TestServer();
  await server.start();
  ec2 = new EC2Client({ endpoint: server.endpoint, region: 'us-east-1', credentials: TEST_ROOT_KEY, maxAttempts: 1 });
  home = mkdtempSync(join(tmpdir(), 'skiff-ec2-'));
  otherOctet = freeOctets([Number(server.vpcCidr.split('.')[1])])[0]!;
});
after(async () => {
  ec2?.destroy();
  await server?.destroy();
  if (home) rmSync(home, { recursive: true, force: true });
});

/** Runs `aws ec2 ...` against the server; JSON output. */
function aws(...args: string[]) {
  const r = spawnSync('/usr/bin/aws', ['--endpoint-url', server.endpoint, '--output', 'json', 'ec2', ...args], {
    env: { PATH: process.env.PATH!, HOME: home, AWS_ACCESS_KEY_ID: TEST_ROOT_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_ROOT_KEY.secretAccessKey, AWS_DEFAULT_REGION: 'us-east-1', AWS_PAGER: '' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stderr: r.stderr, json: () => JSON.parse(r.stdout) };
}

test('the default VPC, its subnets and its default security group are there out of the box', { skip }, async () => {
  const vpcs = (await ec2.send(new DescribeVpcsCommand({}))).Vpcs!;
  const def = vpcs.find((v) => v.IsDefault)!;
  assert.ok(def, 'a default VPC');
  assert.equal(def.CidrBlock, server.vpcCidr);
  assert.equal(def.State, 'available');
  const subnets = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [def.VpcId!] }] }))).Subnets!;
  assert.equal(subnets.length, 3);
  assert.ok(subnets.every((s) => s.DefaultForAz && s.VpcId === def.VpcId && s.AvailableIpAddressCount! > 4000));
  const groups = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [def.VpcId!] }] }))).SecurityGroups!;
  assert.equal(groups.length, 1);
  const g = groups[0]!;
  assert.equal(g.GroupName, 'default');
  assert.match(g.GroupId!, /^sg-[0-9a-f]{17}$/);
  assert.deepEqual(
    g.IpPermissions!.map((p) => [p.IpProtocol, p.UserIdGroupPairs!.map((x) => x.GroupId)]),
    [['-1', [g.GroupId]]],
    'all inbound from members of itself',
  );
  assert.deepEqual(
    g.IpPermissionsEgress!.map((p) => [p.IpProtocol, p.IpRanges!.map((x) => x.CidrIp)]),
    [['-1', ['0.0.0.0/0']]],
    'all outbound',
  );
  await rejectsWith(ec2.send(new DeleteSecurityGroupCommand({ GroupId: g.GroupId })), 'CannotDelete');
  await rejectsWith(ec2.send(new DescribeVpcsCommand({ VpcIds: ['vpc-0123456789abcdef0'] })), 'InvalidVpcID.NotFound', /vpc-0123456789abcdef0/);
  await rejectsWith(ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'nonsense', Values: ['x'] }] })), 'InvalidParameterValue', /filter 'nonsense' is invalid/);
});

test('VPCs and subnets: create, describe with filters, ranges and conflicts, delete', { skip }, async () => {
  await rejectsWith(ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/8' })), 'InvalidVpc.Range', /\/16 and \/28/);
  const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: `10.${otherOctet}.0.0/16` }))).Vpc!;
  assert.match(vpc.VpcId!, /^vpc-/);
  assert.equal(vpc.IsDefault, false);
  await rejectsWith(ec2.send(new CreateVpcCommand({ CidrBlock: `10.${otherOctet}.128.0/17` })), 'InvalidVpc.Range', /overlaps vpc-.*must not overlap/);
  const listed = (await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc.VpcId!] }] }))).Vpcs!;
  assert.deepEqual(listed.map((v) => v.CidrBlock), [`10.${otherOctet}.0.0/16`]);

  const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: `10.${otherOctet}.1.0/24` }))).Subnet!;
  assert.equal(subnet.VpcId, vpc.VpcId);
  assert.equal(subnet.AvailableIpAddressCount, 251, 'a /24 less the 5 addresses AWS reserves');
  assert.equal(subnet.AvailabilityZone, 'us-east-1a');
  await rejectsWith(ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: `10.${otherOctet}.1.128/25` })), 'InvalidSubnet.Conflict', /conflicts with another subnet/);
  await rejectsWith(ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '192.168.77.0/24' })), 'InvalidSubnet.Range', /not within the VPC CIDR block/);
  await rejectsWith(ec2.send(new CreateSubnetCommand({ VpcId: 'vpc-0123456789abcdef0', CidrBlock: `10.${otherOctet}.2.0/24` })), 'InvalidVpcID.NotFound');
  await rejectsWith(ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: `10.${otherOctet}.2.0/24`, AvailabilityZone: 'mars-1a' })), 'InvalidParameterValue', /availabilityZone/);

  const bySubnet = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'subnet-id', Values: [subnet.SubnetId!] }] }))).Subnets!;
  assert.deepEqual(bySubnet.map((s) => s.CidrBlock), [`10.${otherOctet}.1.0/24`]);
  const byVpc = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc.VpcId!] }] }))).Subnets!;
  assert.deepEqual(byVpc.map((s) => s.SubnetId), [subnet.SubnetId]);
  const byId = (await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnet.SubnetId!] }))).Subnets!;
  assert.equal(byId.length, 1);

  // Each new VPC gets its own default group.
  const groups = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc.VpcId!] }, { Name: 'group-name', Values: ['default'] }] }))).SecurityGroups!;
  assert.equal(groups.length, 1);

  await rejectsWith(ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId })), 'DependencyViolation', new RegExp(`delete ${subnet.SubnetId} first`));
  await ec2.send(new DeleteSubnetCommand({ SubnetId: subnet.SubnetId }));
  await rejectsWith(ec2.send(new DeleteSubnetCommand({ SubnetId: subnet.SubnetId })), 'InvalidSubnetID.NotFound');
  await rejectsWith(ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnet.SubnetId!] })), 'InvalidSubnetID.NotFound');

  // A VPC with only its default group left can go; a fresh one stays for the tests below.
  await ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId }));
  await rejectsWith(ec2.send(new DescribeVpcsCommand({ VpcIds: [vpc.VpcId!] })), 'InvalidVpcID.NotFound');
  assert.equal((await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc.VpcId!] }] }))).SecurityGroups!.length, 0);
  await ec2.send(new CreateVpcCommand({ CidrBlock: `10.${otherOctet}.0.0/16` }));
});

test('security groups with the SDK: create, rules in and out, duplicates, revoke, dependencies, delete', { skip }, async () => {
  const defVpc = (await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }))).Vpcs![0]!;
  const web = await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'web servers', VpcId: defVpc.VpcId }));
  const db = await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'db', Description: 'databases' })); // no VpcId: the default VPC
  await rejectsWith(ec2.send(new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'again', VpcId: defVpc.VpcId })), 'InvalidGroup.Duplicate', /'web' already exists/);
  await rejectsWith(ec2.send(new CreateSecurityGroupCommand({ GroupName: 'x', Description: 'y', VpcId: 'vpc-0123456789abcdef0' })), 'InvalidVpcID.NotFound');

  const auth = await ec2.send(
    new AuthorizeSecurityGroupIngressCommand({
      GroupId: web.GroupId,
      IpPermissions: [
        { IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'http' }] },
        { IpProtocol: 'udp', FromPort: 5000, ToPort: 5010, IpRanges: [{ CidrIp: '10.1.0.0/16' }] },
        { IpProtocol: 'icmp', FromPort: -1, ToPort: -1, IpRanges: [{ CidrIp: '10.2.0.0/16' }] },
      ],
    }),
  );
  assert.equal(auth.Return, true);
  assert.equal(auth.SecurityGroupRules!.length, 3);
  assert.ok(auth.SecurityGroupRules!.every((r) => /^sgr-/.test(r.SecurityGroupRuleId!) && r.IsEgress === false));
  await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: db.GroupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, UserIdGroupPairs: [{ GroupId: web.GroupId }] }] }));

  await rejectsWith(
    ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: web.GroupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] })),
    'InvalidPermission.Duplicate',
    /already exists/,
  );
  await rejectsWith(ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: web.GroupId, IpPermissions: [{ IpProtocol: 'tcp', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] })), 'InvalidParameterValue', /from and to ports/);
  await rejectsWith(ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: web.GroupId, IpPermissions: [{ IpProtocol: 'gre2', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] })), 'InvalidParameterValue', /Unknown protocol/);
  await rejectsWith(ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: web.GroupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 1, ToPort: 2, IpRanges: [{ CidrIp: '10.0.0.1/8' }] }] })), 'InvalidParameterValue', /host bits/);
  await rejectsWith(ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: 'sg-0123456789abcdef0', IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] })), 'InvalidGroup.NotFound');
  await rejectsWith(
    ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: web.GroupId, IpPermissions: [{ IpProtocol: '-1', UserIdGroupPairs: [{ GroupId: 'sg-0123456789abcdef0' }] }] })),
    'InvalidGroup.NotFound',
  );
  await rejectsWith(ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: ['nonsense'] })), 'InvalidGroup.NotFound');

  const described = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [web.GroupId!] }))).SecurityGroups![0]!;
  assert.equal(described.GroupName, 'web');
  assert.equal(described.Description, 'web servers');
  const perms = described.IpPermissions!.map((p) => ({ p: p.IpProtocol, from: p.FromPort, to: p.ToPort, cidrs: p.IpRanges!.map((r) => r.CidrIp) }));
  assert.deepEqual(perms, [
    { p: 'tcp', from: 80, to: 80, cidrs: ['0.0.0.0/0'] },
    { p: 'udp', from: 5000, to: 5010, cidrs: ['10.1.0.0/16'] },
    { p: 'icmp', from: -1, to: -1, cidrs: ['10.2.0.0/16'] },
  ]);
  assert.equal(described.IpPermissions![0]!.IpRanges![0]!.Description, 'http');
  const byName = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['db'] }] }))).SecurityGroups!;
  assert.deepEqual(byName.map((g) => g.GroupId), [db.GroupId]);
  assert.deepEqual(byName[0]!.IpPermissions![0]!.UserIdGroupPairs!.map((x) => x.GroupId), [web.GroupId]);
  const byNames = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['web', 'db'] }))).SecurityGroups!;
  assert.deepEqual(byNames.map((g) => g.GroupName).sort(), ['db', 'web']);
  const wildcard = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['w*'] }] }))).SecurityGroups!;
  assert.deepEqual(wildcard.map((g) => g.GroupName), ['web']);

  // Egress: revoke the default allow-all, add one rule.
  await ec2.send(new RevokeSecurityGroupEgressCommand({ GroupId: web.GroupId, IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }));
  await ec2.send(new AuthorizeSecurityGroupEgressCommand({ GroupId: web.GroupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '10.0.0.0/8' }] }] }));
  const egress = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [web.GroupId!] }))).SecurityGroups![0]!.IpPermissionsEgress!;
  assert.deepEqual(egress.map((p) => [p.IpProtocol, p.FromPort, p.ToPort, p.IpRanges![0]!.CidrIp]), [['tcp', 443, 443, '10.0.0.0/8']]);

  // Revoke: a rule that exists goes; one that does not is InvalidPermission.NotFound.
  const revoked = await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: web.GroupId, IpPermissions: [{ IpProtocol: 'udp', FromPort: 5000, ToPort: 5010, IpRanges: [{ CidrIp: '10.1.0.0/16' }] }] }));
  assert.equal(revoked.Return, true);
  await rejectsWith(
    ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: web.GroupId, IpPermissions: [{ IpProtocol: 'udp', FromPort: 5000, ToPort: 5010, IpRanges: [{ CidrIp: '10.1.0.0/16' }] }] })),
    'InvalidPermission.NotFound',
  );
  const ruleId = auth.SecurityGroupRules!.find((r) => r.IpProtocol === 'icmp')!.SecurityGroupRuleId!;
  await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: web.GroupId, SecurityGroupRuleIds: [ruleId] }));
  const left = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [web.GroupId!] }))).SecurityGroups![0]!.IpPermissions!;
  assert.deepEqual(left.map((p) => p.IpProtocol), ['tcp']);

  // web is referenced by db's rule: it cannot go until that rule does.
  await rejectsWith(ec2.send(new DeleteSecurityGroupCommand({ GroupId: web.GroupId })), 'DependencyViolation', /refer to it/);
  await ec2.send(new DeleteSecurityGroupCommand({ GroupId: db.GroupId }));
  await ec2.send(new DeleteSecurityGroupCommand({ GroupId: web.GroupId }));
  await rejectsWith(ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [web.GroupId!] })), 'InvalidGroup.NotFound');
  await rejectsWith(ec2.send(new DeleteSecurityGroupCommand({ GroupId: web.GroupId })), 'InvalidGroup.NotFound');
});

test('security groups with the AWS CLI, including its --protocol/--port/--cidr and --source-group shorthands', { skip }, () => {
  const created = aws('create-security-group', '--group-name', 'cli', '--description', 'from the CLI');
  assert.equal(created.status, 0, created.stderr);
  const id: string = created.json().GroupId;
  assert.match(id, /^sg-/);
  let r = aws('authorize-security-group-ingress', '--group-id', id, '--protocol', 'tcp', '--port', '22', '--cidr', '10.9.0.0/16');
  assert.equal(r.status, 0, r.stderr);
  r = aws('authorize-security-group-ingress', '--group-id', id, '--protocol', 'tcp', '--port', '8000-8080', '--source-group', id);
  assert.equal(r.status, 0, r.stderr);
  r = aws('authorize-security-group-ingress', '--group-id', id, '--ip-permissions', 'IpProtocol=udp,FromPort=53,ToPort=53,IpRanges=[{CidrIp=10.8.0.0/16}]');
  assert.equal(r.status, 0, r.stderr);
  const d = aws('describe-security-groups', '--filters', `Name=group-id,Values=${id}`);
  assert.equal(d.status, 0, d.stderr);
  const perms = d.json().SecurityGroups[0].IpPermissions as { IpProtocol: string; FromPort: number; ToPort: number; IpRanges: { CidrIp: string }[]; UserIdGroupPairs: { GroupId: string }[] }[];
  assert.deepEqual(
    perms.map((p) => [p.IpProtocol, p.FromPort, p.ToPort, p.IpRanges.map((x) => x.CidrIp), p.UserIdGroupPairs.map((x) => x.GroupId)]),
    [
      ['tcp', 22, 22, ['10.9.0.0/16'], []],
      ['tcp', 8000, 8080, [], [id]],
      ['udp', 53, 53, ['10.8.0.0/16'], []],
    ],
  );
  r = aws('authorize-security-group-ingress', '--group-id', id, '--protocol', 'tcp', '--port', '22', '--cidr', '10.9.0.0/16');
  assert.equal(r.status, 254);
  assert.match(r.stderr, /\(InvalidPermission\.Duplicate\)/);
  r = aws('revoke-security-group-ingress', '--group-id', id, '--protocol', 'tcp', '--port', '22', '--cidr', '10.9.0.0/16');
  assert.equal(r.status, 0, r.stderr);
  r = aws('describe-security-groups', '--group-ids', 'sg-0123456789abcdef0');
  assert.equal(r.status, 254);
  assert.match(r.stderr, /\(InvalidGroup\.NotFound\).*sg-0123456789abcdef0/);
  r = aws('describe-vpcs', '--filters', 'Name=isDefault,Values=true');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.json().Vpcs[0].CidrBlock, server.vpcCidr);
  r = aws('revoke-security-group-ingress', '--group-id', id, '--protocol', 'tcp', '--port', '8000-8080', '--source-group', id);
  assert.equal(r.status, 0, r.stderr);
  r = aws('delete-security-group', '--group-id', id);
  assert.equal(r.status, 0, r.stderr);
});

test('the Query protocol itself: unsigned requests, unknown actions and DryRun answer in EC2\'s XML', { skip }, async () => {
  const unsigned = await fetch(server.endpoint + '/', { method: 'POST', body: 'Action=DescribeVpcs&Version=2016-11-15', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } });
  assert.equal(unsigned.status, 401);
  assert.match(unsigned.headers.get('content-type') ?? '', /xml/);
  assert.match(await unsigned.text(), /^<\?xml[^>]*>\n<Response><Errors><Error><Code>MissingAuthenticationToken<\/Code><Message>.+<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>$/);
  const r = aws('describe-instances');
  assert.equal(r.status, 254);
  assert.match(r.stderr, /\(InvalidAction\).*DescribeInstances is not valid/);
  await rejectsWith(ec2.send(new CreateSecurityGroupCommand({ GroupName: 'dry', Description: 'dry run', DryRun: true })), 'DryRunOperation');
  const groups = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['dry'] }] }))).SecurityGroups!;
  assert.equal(groups.length, 0, 'a dry run creates nothing');
});

test('signing and policies: a wrong secret is AuthFailure; a key without ec2 actions is UnauthorizedOperation', { skip }, async () => {
  const bad = new EC2Client({ endpoint: server.endpoint, region: 'us-east-1', credentials: { ...TEST_ROOT_KEY, secretAccessKey: 'wrong-secret' }, maxAttempts: 1 });
  await rejectsWith(bad.send(new DescribeVpcsCommand({})), 'AuthFailure');
  bad.destroy();
  const res = await server.fetch('/skiff/v1/keys', {
    method: 'POST',
    body: JSON.stringify({ name: 'ec2-reader', policy: { Statement: [{ Effect: 'Allow', Action: 'ec2:Describe*', Resource: '*' }] } }),
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(res.status, 200, await res.clone().text());
  const key = ((await res.json()) as { accessKey: { accessKeyId: string; secretAccessKey: string } }).accessKey;
  const reader = new EC2Client({ endpoint: server.endpoint, region: 'us-east-1', credentials: key, maxAttempts: 1 });
  assert.ok((await reader.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups!.length >= 1, 'ec2:DescribeSecurityGroups is allowed');
  await rejectsWith(reader.send(new CreateSecurityGroupCommand({ GroupName: 'nope', Description: 'denied' })), 'UnauthorizedOperation', /ec2:CreateSecurityGroup/);
  reader.destroy();
  const groups = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['nope'] }] }))).SecurityGroups!;
  assert.equal(groups.length, 0, 'nothing was created');
});

test('RunTask: securityGroups must exist and belong to the subnets\' VPC (InvalidParameterException)', { skip }, async () => {
  const ecs = server.ecs();
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'sgcheck',
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: '256',
      memory: '512',
      containerDefinitions: [{ name: 'app', image: '127.0.0.1:1/never-pulled:latest' }],
    }),
  );
  const defVpc = (await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }))).Vpcs![0]!;
  const defSubnet = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [defVpc.VpcId!] }] }))).Subnets![0]!;
  const other = (await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['false'] }] }))).Vpcs![0]!;
  const foreign = await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'foreign', Description: 'other VPC', VpcId: other.VpcId }));
  const run = (securityGroups: string[]) =>
    ecs.send(new RunTaskCommand({ taskDefinition: 'sgcheck', launchType: 'FARGATE', networkConfiguration: { awsvpcConfiguration: { subnets: [defSubnet.SubnetId!], securityGroups } } }));
  await assert.rejects(run(['sg-0123456789abcdef0']), (e: Error) => e.name === 'InvalidParameterException' && /sg-0123456789abcdef0.*does not exist/.test(e.message));
  await assert.rejects(run([foreign.GroupId!]), (e: Error) => e.name === 'InvalidParameterException' && new RegExp(`${foreign.GroupId} belongs to ${other.VpcId}`).test(e.message));
  await assert.rejects(
    ecs.send(
      new CreateServiceCommand({
        serviceName: 'sgcheck',
        taskDefinition: 'sgcheck',
        desiredCount: 1,
        launchType: 'FARGATE',
        networkConfiguration: { awsvpcConfiguration: { subnets: [defSubnet.SubnetId!], securityGroups: ['sg-0123456789abcdef0'] } },
      }),
    ),
    (e: Error) => e.name === 'InvalidParameterException' && /sg-0123456789abcdef0.*does not exist/.test(e.message),
  );
  const { taskArns } = await ecs.send(new ListTasksCommand({}));
  assert.deepEqual(taskArns ?? [], [], "nothing was started");
  ecs.destroy();
});
