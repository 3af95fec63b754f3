/**
 * `skiff doctor` end to end: the checklist run through the CLI against a real
 * `skiff server`, with the facts it checks made through the public APIs (the
 * AWS SDK clients and the AWS CLI), as a user would make them:
 *
 *  - a careless task definition fails and a careful one passes, from the server
 *    and from a file, and an invalid file fails the first item;
 *  - a service run well (log group, secret + execution role allowed to read it,
 *    task role, a security group open only to a private range, a load balancer
 *    in front of a health-checked container with a grace period, a scalable
 *    target with a policy, the circuit breaker) passes every item — also with a
 *    `read-only` preset key;
 *  - a service run badly (log group, secret and roles missing, a group open to
 *    0.0.0.0/0 on every port, no load balancer, no autoscaling, no circuit
 *    breaker) fails or warns item by item with what to do.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateServiceCommand, RegisterTaskDefinitionCommand, type ECSClient, type RegisterTaskDefinitionCommandInput } from '@aws-sdk/client-ecs';
import { CloudWatchLogsClient, CreateLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs';
import { AuthorizeSecurityGroupIngressCommand, CreateSecurityGroupCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ApplicationAutoScalingClient, PutScalingPolicyCommand, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { TestServer, TEST_ROOT_KEY } from './support/skiff-server.ts';
import { startRegistry, type TestRegistry } from './support/registry.ts';
import { pushBusyboxImage } from './support/images.ts';
import type { DoctorReport } from '../src/advisor/doctor.ts';

const SKIFF = resolve(import.meta.dirname, '../bin/skiff.js');
const ACCOUNT = '123456789012';
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
type Key = { accessKeyId: string; secretAccessKey: string };

let server: TestServer;
let registry: TestRegistry;
let ecs: ECSClient;
let image: string;
let dir: string;
let secretArn: string;
let privateGroup: string;
let openGroup: string;
let subnet: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-doctor-'));
  registry = await startRegistry({ auth: 'none' });
  image = await pushBusyboxImage(registry, 'test/busybox:doctor');
  server = new TestServer();
  await server.start();
  ecs = server.ecs();
  const sdk = { endpoint: server.endpoint, region: 'us-east-1', credentials: TEST_ROOT_KEY, maxAttempts: 1 };
  const ec2 = new EC2Client(sdk);

  await new CloudWatchLogsClient(sdk).send(new CreateLogGroupCommand({ logGroupName: '/doctor/good' }));
  const created = aws(TEST_ROOT_KEY, 'secretsmanager', 'create-secret', '--name', 'doctor/db', '--secret-string', 'not-for-your-eyes');
  assert.equal(created.status, 0, created.stderr);
  secretArn = created.json().ARN;
  await createRole('doctor-app', [{ Effect: 'Allow', Action: 'logs:PutLogEvents', Resource: `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/doctor/good:*` }]);
  await createRole('doctor-exec', [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secretArn }]);

  subnet = (await ec2.send(new DescribeSubnetsCommand({}))).Subnets![0].SubnetId!;
  privateGroup = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'doctor-private', Description: 'app port from the private range' }))).GroupId!;
  await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: privateGroup, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, IpRanges: [{ CidrIp: '10.0.0.0/8' }] }] }));
  openGroup = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'doctor-open', Description: 'everything from anywhere' }))).GroupId!;
  await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: openGroup, IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }));

  await ecs.send(new RegisterTaskDefinitionCommand(careful('good', image)));
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      ...careful('bad', image),
      taskRoleArn: role('doctor-nobody'),
      executionRoleArn: role('doctor-nobody-exec'),
      containerDefinitions: [
        {
          ...careful('bad', image).containerDefinitions![0],
          secrets: [{ name: 'DB_PASSWORD', valueFrom: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:doctor/none` }],
          logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/doctor/missing', 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'app' } },
        },
      ],
    }),
  );
  await ecs.send(
    new CreateServiceCommand({
      serviceName: 'good',
      taskDefinition: 'good',
      desiredCount: 2,
      loadBalancers: [{ targetGroupArn: `arn:aws:elasticloadbalancing:us-east-1:${ACCOUNT}:targetgroup/good/0123456789abcdef`, containerName: 'app', containerPort: 8080 }],
      healthCheckGracePeriodSeconds: 30,
      deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true } },
      networkConfiguration: { awsvpcConfiguration: { subnets: [subnet], securityGroups: [privateGroup] } },
    }),
  );
  const aas = new ApplicationAutoScalingClient(sdk);
  const target = { ServiceNamespace: 'ecs', ScalableDimension: 'ecs:service:DesiredCount', ResourceId: 'service/default/good' } as const;
  await aas.send(new RegisterScalableTargetCommand({ ...target, MinCapacity: 2, MaxCapacity: 4 }));
  await aas.send(
    new PutScalingPolicyCommand({
      ...target,
      PolicyName: 'cpu70',
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: { TargetValue: 70, PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' } },
    }),
  );
  // The bad service runs no task: what doctor says about it needs none.
  await ecs.send(
    new CreateServiceCommand({
      serviceName: 'bad',
      taskDefinition: 'bad',
      desiredCount: 0,
      networkConfiguration: { awsvpcConfiguration: { subnets: [subnet], securityGroups: [openGroup] } },
    }),
  );
});

after(async () => {
  try {
    await server?.destroy();
  } finally {
    await registry?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

function env(key: Key): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH!, HOME: dir, AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey, AWS_REGION: 'us-east-1', AWS_DEFAULT_REGION: 'us-east-1', AWS_PAGER: '' };
}

function skiff(key: Key, ...args: string[]) {
  const r = spawnSync(process.execPath, [SKIFF, '--endpoint', server.endpoint, ...args], { env: env(key), encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function aws(key: Key, ...args: string[]) {
  const r = spawnSync('/usr/bin/aws', ['--endpoint-url', server.endpoint, '--output', 'json', ...args], { env: env(key), encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr, json: () => JSON.parse(r.stdout) };
}

async function createRole(name: string, statements: unknown[]): Promise<void> {
  const res = await server.fetch('/skiff/v1/roles', { method: 'POST', body: JSON.stringify({ name, policy: { Statement: statements } }) });
  assert.equal(res.status, 200, await res.text());
}

/** The JSON report of `skiff doctor args...` and its exit code. */
function report(key: Key, ...args: string[]): { status: number | null; report: DoctorReport; byId: Record<string, DoctorReport['items'][number]> } {
  const r = skiff(key, '--output', 'json', 'doctor', ...args);
  let parsed: DoctorReport;
  try {
    parsed = JSON.parse(r.stdout) as DoctorReport;
  } catch {
    assert.fail(`doctor ${args.join(' ')} printed no report (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  }
  return { status: r.status, report: parsed, byId: Object.fromEntries(parsed.items.map((i) => [i.id, i])) };
}

function careful(family: string, img: string): RegisterTaskDefinitionCommandInput {
  return {
    family,
    requiresCompatibilities: ['FARGATE'],
    networkMode: 'awsvpc',
    cpu: '256',
    memory: '512',
    taskRoleArn: role('doctor-app'),
    executionRoleArn: role('doctor-exec'),
    containerDefinitions: [
      {
        name: 'app',
        image: img,
        user: '1000:1000',
        readonlyRootFilesystem: true,
        stopTimeout: 30,
        portMappings: [{ containerPort: 8080 }],
        command: ['sh', '-c', 'trap "exit 0" TERM; exec httpd -f -p 8080'],
        secrets: [{ name: 'DB_PASSWORD', valueFrom: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:doctor/db` }],
        linuxParameters: { capabilities: { drop: ['ALL'] } },
        healthCheck: { command: ['CMD-SHELL', 'true'], interval: 30, retries: 3, startPeriod: 10, timeout: 5 },
        logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/doctor/good', 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'app' } },
      },
    ],
  };
}

const careless = (img: string): RegisterTaskDefinitionCommandInput => ({
  family: 'careless',
  requiresCompatibilities: ['FARGATE'],
  networkMode: 'awsvpc',
  cpu: '256',
  memory: '512',
  taskRoleArn: role('AdministratorAccess'),
  containerDefinitions: [
    {
      name: 'app',
      image: img.replace(/:[^:/]+$/, ':latest'),
      user: 'root',
      command: ['sh', '-c', 'while true; do sleep 1; done'],
      environment: [{ name: 'DB_PASSWORD', value: 'hunter2-very-secret' }],
    },
  ],
});

/** Items that need what only running tasks give (measurements, the image), not the resources checked here. */
const MEASURED = ['right-sized', 'image'];

test('a service run well passes every resource and service item, also for a read-only preset key', async () => {
  const good = report(TEST_ROOT_KEY, '--service', 'good');
  assert.equal(good.status, 0, JSON.stringify(good.report.items.filter((i) => i.status === 'fail')));
  const notPass = good.report.items.filter((i) => i.status !== 'pass' && !MEASURED.includes(i.id) && i.id !== 'network.egress');
  assert.deepEqual(notPass.map((i) => `${i.id}: ${i.message}`), []);
  // Private addresses in a public subnet: no egress, said with the reason (a warning, as AWS users learn it).
  assert.equal(good.byId['network.egress'].status, 'warn');
  assert.match(good.byId['network.egress'].message, /no egress: subnet-[0-9a-f]+: assignPublicIp is not ENABLED/);
  assert.match(good.byId['network.security-groups'].message, new RegExp(`${privateGroup} allow no ingress from 0\\.0\\.0\\.0/0`));
  assert.match(good.byId['secrets.resolvable'].message, /1 secret\(s\) exist and the execution role may read them/);
  assert.match(good.byId['service.autoscaling'].message, /scales between 2 and 4 tasks \(1 policy/);
  assert.match(good.byId['service.load-balancer'].message, /1 load balancer\(s\) .* 30 s grace period/);
  assert.match(good.byId['logging'].message, /\/doctor\/good/);

  // A read-only preset key may look at everything doctor needs.
  const made = skiff(TEST_ROOT_KEY, '--output', 'json', 'keys', 'create', '--name', 'doctor-viewer', '--preset', 'read-only');
  assert.equal(made.status, 0, made.stderr);
  const viewer = JSON.parse(made.stdout).accessKey as Key;
  const seen = report(viewer, '--service', 'good');
  // The access-key count doctor asks for (a count a read-only key may read): only about a cluster ARN.
  const junk = await server.fetch(`/skiff/v1/clusters/${encodeURIComponent('not-an-arn')}/access-keys`, { key: viewer });
  assert.equal(junk.status, 400, await junk.clone().text());
  assert.match(((await junk.json()) as { message: string }).message, /is not a cluster ARN/);
  // Measured items may change between the two runs (the service's tasks are starting); access may not.
  const byAccess = (items: typeof good.report.items) => items.filter((i) => !MEASURED.includes(i.id)).map((i) => [i.id, i.status]);
  assert.deepEqual(
    byAccess(seen.report.items),
    byAccess(good.report.items),
    `the read-only key sees what the root key sees:\n${JSON.stringify(seen.report.items.filter((i) => i.status !== 'pass'), null, 1)}`,
  );
  assert.doesNotMatch(seen.report.items.map((i) => i.message).join('\n'), /AccessDenied|could not be/);

  // A key that may only read ECS: what it cannot look at warns with the reason; nothing crashes or fails.
  const policy = join(dir, 'ecs-only.json');
  writeFileSync(policy, JSON.stringify({ Statement: [{ Effect: 'Allow', Action: ['ecs:Describe*', 'skiff:Get*'], Resource: '*' }, { Effect: 'Deny', Action: 'skiff:GetRole', Resource: '*' }] }));
  const ecsOnly = JSON.parse(skiff(TEST_ROOT_KEY, '--output', 'json', 'keys', 'create', '--name', 'doctor-ecs-only', '--policy', policy).stdout).accessKey as Key;
  const partial = report(ecsOnly, '--service', 'good');
  assert.equal(partial.status, 0, 'what could not be checked warns, it does not fail');
  for (const [id, api] of [['logging', 'DescribeLogGroups'], ['secrets.resolvable', 'DescribeSecret'], ['iam.roles-exist', 'roles'], ['network.security-groups', 'DescribeSecurityGroups'], ['service.autoscaling', 'Application Auto Scaling']]) {
    assert.equal(partial.byId[id].status, 'warn', id);
    assert.match(partial.byId[id].message, new RegExp(`${api}.*(AccessDenied|UnauthorizedOperation|not authorized)`), id);
  }
  assert.equal(partial.byId['service.load-balancer'].status, 'pass', 'DescribeServices was allowed');
});

test('a service run badly fails item by item, saying what to do, in the table and in JSON', () => {
  const bad = report(TEST_ROOT_KEY, '--service', 'bad');
  assert.equal(bad.status, 1);
  const i = bad.byId;
  assert.equal(i['network.security-groups'].status, 'fail');
  assert.match(i['network.security-groups'].message, new RegExp(`${openGroup} \\(all traffic from 0\\.0\\.0\\.0/0\\)`));
  assert.equal(i['iam.roles-exist'].status, 'fail');
  assert.match(i['iam.roles-exist'].fix!, /skiff roles create doctor-nobody/);
  assert.equal(i['secrets.resolvable'].status, 'fail');
  assert.match(i['secrets.resolvable'].message, /secret:doctor\/none do not exist/);
  assert.equal(i['logging'].status, 'fail');
  assert.match(i['logging'].fix!, /aws logs create-log-group --log-group-name \/doctor\/missing/);
  assert.equal(i['service.load-balancer'].status, 'warn');
  assert.equal(i['service.autoscaling'].status, 'warn');
  assert.match(i['service.autoscaling'].fix!, /skiff autoscaling set bad --min 2/);
  assert.equal(i['service.circuit-breaker'].status, 'fail');

  const table = skiff(TEST_ROOT_KEY, 'doctor', '--service', 'bad');
  assert.equal(table.status, 1);
  assert.match(table.stdout, /^FAIL\s+security groups not open to the world\s+ingress on every port from anywhere/m);
  assert.match(table.stdout, /^FAIL\s+deployment circuit breaker enabled/m);
  assert.match(table.stdout, /^bad:1: \d+ pass, \d+ warn, [1-9]\d* fail/m);

  // The good definition under the bad service's network: only the network fails.
  const mixed = report(TEST_ROOT_KEY, 'good', '--service', 'bad');
  assert.equal(mixed.byId['network.security-groups'].status, 'fail');
  assert.equal(mixed.byId['secrets.resolvable'].status, 'pass');

  const missing = skiff(TEST_ROOT_KEY, 'doctor', '--service', 'nope');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /service nope not found in cluster default/);
});

test('a careless task definition fails and a careful one passes, from the server and from a file', async () => {
  await ecs.send(new RegisterTaskDefinitionCommand(careless(image)));
  const bad = skiff(TEST_ROOT_KEY, 'doctor', 'careless');
  assert.equal(bad.status, 1, `careless must fail:\n${bad.stdout}${bad.stderr}`);
  assert.match(bad.stdout, /^FAIL\s+read-only root filesystem/m);
  assert.match(bad.stdout, /^FAIL\s+non-root user/m);
  assert.match(bad.stdout, /^FAIL\s+secrets referenced from the secret store.*DB_PASSWORD=\[redacted\]/m);
  assert.match(bad.stdout, /^FAIL\s+task and execution roles exist\s+taskRoleArn .*AdministratorAccess does not exist/m);
  assert.match(bad.stdout, /^WARN\s+autoscaling configured\s+no --service given/m);
  assert.doesNotMatch(bad.stdout, /hunter2/);

  const good = report(TEST_ROOT_KEY, 'good:1');
  assert.equal(good.status, 0);
  assert.equal(good.report.summary.fail, 0);
  for (const id of ['network.security-groups', 'service.load-balancer', 'service.autoscaling', 'service.circuit-breaker']) assert.equal(good.byId[id].status, 'warn', `${id}: no service given`);
  for (const id of ['logging', 'secrets.resolvable', 'iam.roles-exist', 'container.read-only-root']) assert.equal(good.byId[id].status, 'pass', id);

  // From a file: the resources are still checked on the server, and a networkConfiguration in the file is used.
  const carefulFile = join(dir, 'careful.json');
  writeFileSync(carefulFile, JSON.stringify({ ...careful('good', image), networkConfiguration: { awsvpcConfiguration: { securityGroups: [openGroup] } } }));
  const f1 = report(TEST_ROOT_KEY, '--file', carefulFile);
  assert.equal(f1.status, 1);
  assert.equal(f1.byId['network.security-groups'].status, 'fail');
  assert.equal(f1.byId['secrets.resolvable'].status, 'pass');
  const carelessFile = join(dir, 'careless.json');
  writeFileSync(carelessFile, JSON.stringify({ ...careless(image), networkConfiguration: { awsvpcConfiguration: { assignPublicIp: 'ENABLED' } } }));
  assert.equal(report(TEST_ROOT_KEY, '--file', carelessFile).byId['network.public-ip'].status, 'fail');
  const invalidFile = join(dir, 'invalid.json');
  writeFileSync(invalidFile, JSON.stringify({ ...careful('good', image), memory: '4096' }));
  const f3 = skiff(TEST_ROOT_KEY, 'doctor', '--file', invalidFile);
  assert.equal(f3.status, 1);
  assert.match(f3.stdout, /^FAIL\s+valid Fargate task definition\s+No Fargate configuration exists/m);
});
