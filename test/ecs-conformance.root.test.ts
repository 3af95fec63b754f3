/**
 * Where Skiff used to differ from ECS, checked as clients written against real
 * AWS see it (@aws-sdk/client-ecs, @aws-sdk/client-ec2, and raw signed requests
 * for what an SDK cannot send): clusters' capacity providers, RunTask's answer,
 * containerOverrides, DescribeServices' and ListTagsForResource's failures,
 * ConflictException's resourceIds, and the protocol edges (operations named like
 * Object's members, deep JSON, the credential scope's region and service).
 * No task here needs to start: images point nowhere, only the API is under test.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConflictException,
  CreateClusterCommand,
  DescribeClustersCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListClustersCommand,
  ListTagsForResourceCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  TagResourceCommand,
} from '@aws-sdk/client-ecs';
import { DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { TestServer, TEST_ROOT_KEY } from './support/skiff-server.ts';
import { rejectsWith } from './support/api-errors.ts';
import { signedFetch } from '../src/cli/client.ts';

const ECS_PREFIX = 'AmazonEC2ContainerServiceV20141113';
let server: TestServer;
let ecs: ECSClient;
let account: string;
const started: { cluster: string; task: string }[] = [];

before(async () => {
  server = new TestServer();
  await server.start();
  ecs = server.ecs();
  const d = await ecs.send(new DescribeClustersCommand({ clusters: ['default'] }));
  account = d.clusters![0].clusterArn!.split(':')[4];
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'conf',
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: '256',
      memory: '512',
      containerDefinitions: [
        { name: 'app', image: '127.0.0.1:1/none:latest' },
        { name: 'side', image: '127.0.0.1:1/none:latest', essential: false },
      ],
    }),
  );
});
after(async () => {
  for (const t of started) await ecs?.send(new StopTaskCommand(t)).catch(() => {});
  await server?.destroy();
});

async function run(input: ConstructorParameters<typeof RunTaskCommand>[0]) {
  const out = await ecs.send(new RunTaskCommand(input));
  for (const t of out.tasks ?? []) started.push({ cluster: t.clusterArn!, task: t.taskArn! });
  return out;
}

/** A raw request signed with the root key: `service`/`region` of the credential scope as given. */
async function raw(body: string, headers: Record<string, string>, scope: { service?: string; region?: string } = {}) {
  const res = await signedFetch(new URL(server.endpoint + '/'), {
    method: 'POST',
    body,
    headers,
    service: scope.service ?? 'ecs',
    region: scope.region ?? 'us-east-1',
    credentials: TEST_ROOT_KEY,
  });
  return { status: res.status, text: await res.text() };
}

const ecsCall = (operation: string, body: string) =>
  raw(body, { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `${ECS_PREFIX}.${operation}` });

test('a cluster created without capacity providers has none; launchType FARGATE still runs there, a strategy is refused', async () => {
  const def = await ecs.send(new DescribeClustersCommand({ clusters: ['default'] }));
  assert.deepEqual(def.clusters![0].capacityProviders, ['FARGATE', 'FARGATE_SPOT'], 'the out-of-box default cluster keeps both');

  const bare = (await ecs.send(new CreateClusterCommand({ clusterName: 'bare' }))).cluster!;
  assert.deepEqual(bare.capacityProviders, []);
  assert.deepEqual(bare.defaultCapacityProviderStrategy, []);
  const ok = await run({ cluster: 'bare', taskDefinition: 'conf', launchType: 'FARGATE' });
  assert.equal(ok.tasks?.[0]?.launchType, 'FARGATE');
  await rejectsWith(
    run({ cluster: 'bare', taskDefinition: 'conf', capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] }),
    'InvalidParameterException',
    /not associated with the cluster.*PutClusterCapacityProviders/,
  );
  // The default cluster has both providers, so the same strategy works there.
  const spot = await run({ taskDefinition: 'conf', capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] });
  assert.equal(spot.tasks?.[0]?.capacityProviderName, 'FARGATE_SPOT');
});

test('CreateCluster keeps capacityProviders and defaultCapacityProviderStrategy, and RunTask uses that default', async () => {
  const c = (
    await ecs.send(
      new CreateClusterCommand({
        clusterName: 'spot-only',
        capacityProviders: ['FARGATE_SPOT'],
        defaultCapacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }],
      }),
    )
  ).cluster!;
  assert.deepEqual(c.capacityProviders, ['FARGATE_SPOT']);
  assert.deepEqual(c.defaultCapacityProviderStrategy, [{ capacityProvider: 'FARGATE_SPOT', weight: 1, base: 0 }]);
  const described = (await ecs.send(new DescribeClustersCommand({ clusters: ['spot-only'] }))).clusters![0];
  assert.deepEqual(described.capacityProviders, ['FARGATE_SPOT'], 'stored, not only echoed');
  const t = (await run({ cluster: 'spot-only', taskDefinition: 'conf' })).tasks![0];
  assert.equal(t.capacityProviderName, 'FARGATE_SPOT');
  await rejectsWith(
    run({ cluster: 'spot-only', taskDefinition: 'conf', capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }] }),
    'InvalidParameterException',
    /not associated/,
  );
  await rejectsWith(
    ecs.send(new CreateClusterCommand({ clusterName: 'odd', capacityProviders: ['FARGATE'], defaultCapacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] })),
    'InvalidParameterException',
    /FARGATE_SPOT/,
  );
  await rejectsWith(ecs.send(new CreateClusterCommand({ clusterName: 'odd', capacityProviders: ['EC2_ASG'] })), 'InvalidParameterException', /EC2_ASG/);
  const names = (await ecs.send(new ListClustersCommand({}))).clusterArns!.map((a) => a.split('/').pop());
  assert.ok(!names.includes('odd'), 'a refused CreateCluster made nothing');
});

test('RunTask answers with the task as just accepted, and containerOverrides names every container', async () => {
  const out = await run({
    taskDefinition: 'conf',
    launchType: 'FARGATE',
    overrides: { containerOverrides: [{ name: 'side', environment: [{ name: 'MODE', value: 'x' }] }] },
  });
  const t = out.tasks![0];
  assert.equal(t.lastStatus, 'PROVISIONING');
  assert.equal(t.desiredStatus, 'RUNNING');
  assert.equal(t.version, 1);
  assert.equal(t.attachments?.[0]?.status, 'PRECREATED');
  assert.deepEqual(
    t.containers?.map((c) => c.lastStatus),
    ['PENDING', 'PENDING'],
  );
  const expected = [{ name: 'app' }, { name: 'side', environment: [{ name: 'MODE', value: 'x' }] }];
  assert.deepEqual(t.overrides?.containerOverrides, expected);
  const d = (await ecs.send(new DescribeTasksCommand({ tasks: [t.taskArn!] }))).tasks![0];
  assert.deepEqual(d.overrides?.containerOverrides, expected, 'DescribeTasks shows the same');
  const plain = (await run({ taskDefinition: 'conf', launchType: 'FARGATE' })).tasks![0];
  assert.deepEqual(plain.overrides?.containerOverrides, [{ name: 'app' }, { name: 'side' }], 'listed even without overrides');
});

test('a reused clientToken with other parameters is a ConflictException carrying the original tasks as resourceIds', async () => {
  const first = await run({ taskDefinition: 'conf', launchType: 'FARGATE', clientToken: 'conformance-token' });
  const arn = first.tasks![0].taskArn!;
  await assert.rejects(run({ taskDefinition: 'conf', launchType: 'FARGATE', clientToken: 'conformance-token', count: 2 }), (e: unknown) => {
    assert.ok(e instanceof ConflictException, `expected ConflictException, got ${String(e)}`);
    assert.deepEqual(e.resourceIds, [arn]);
    return true;
  });
});

test('DescribeServices names a missing service as arn:aws:ecs:REGION:ACCOUNT:service/NAME', async () => {
  const out = await ecs.send(new DescribeServicesCommand({ services: ['nope'] }));
  assert.deepEqual(out.failures, [{ arn: `arn:aws:ecs:us-east-1:${account}:service/nope`, reason: 'MISSING' }]);
});

test('ListTagsForResource on something that is not there answers its documented error types', async () => {
  const p = `arn:aws:ecs:us-east-1:${account}:`;
  const list = (resourceArn: string) => ecs.send(new ListTagsForResourceCommand({ resourceArn }));
  await rejectsWith(list(`${p}cluster/ghost`), 'ClusterNotFoundException');
  await rejectsWith(list(`${p}service/ghost/svc`), 'ClusterNotFoundException');
  await rejectsWith(list(`${p}task/default/0123456789abcdef0123456789abcdef`), 'InvalidParameterException', /not found/);
  await rejectsWith(list(`${p}service/default/ghost`), 'InvalidParameterException', /not found/);
  await rejectsWith(list(`${p}task-definition/ghost:1`), 'ClientException', /task definition does not exist/);
  await rejectsWith(list('not-an-arn'), 'InvalidParameterException');
  // TagResource documents ResourceNotFoundException and keeps it.
  await rejectsWith(ecs.send(new TagResourceCommand({ resourceArn: `${p}cluster/ghost`, tags: [{ key: 'k', value: 'v' }] })), 'ResourceNotFoundException');
  assert.deepEqual((await list(`${p}cluster/default`)).tags, [], 'an existing resource still answers');
});

test("X-Amz-Target and EC2 Action naming Object's members are unknown operations, not 200 or 500", async () => {
  for (const op of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
    const r = await ecsCall(op, '{}');
    assert.equal(r.status, 400, `${op}: ${r.text}`);
    assert.equal(JSON.parse(r.text).__type, 'UnknownOperationException', op);
  }
  for (const action of ['toString', 'constructor', '__proto__']) {
    const r = await raw(`Action=${action}&Version=2016-11-15`, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, { service: 'ec2' });
    assert.equal(r.status, 400, `${action}: ${r.text}`);
    assert.match(r.text, /<Code>InvalidAction<\/Code>/);
    assert.match(r.text, new RegExp(`The action ${action} is not valid for this web service`));
  }
});

test('JSON nested 20,000 deep is a 400 SerializationException, and the server keeps serving', async () => {
  const deep = '['.repeat(20_000) + ']'.repeat(20_000);
  const r = await ecsCall('RunTask', `{"taskDefinition":"conf","launchType":"FARGATE","extra":${deep}}`);
  assert.equal(r.status, 400, r.text);
  assert.equal(JSON.parse(r.text).__type, 'SerializationException');
  const objects = '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000);
  const r2 = await ecsCall('ListClusters', objects);
  assert.equal(r2.status, 400, r2.text);
  // Brackets inside strings are not nesting.
  const fine = await ecsCall('ListClusters', JSON.stringify({ nextToken: undefined, x: '['.repeat(500) }));
  assert.equal(fine.status, 200, fine.text);
});

test("the credential scope must name the server's region and the called API's service", async () => {
  const elsewhere = new ECSClient({ endpoint: server.endpoint, region: 'eu-west-1', credentials: TEST_ROOT_KEY, maxAttempts: 1 });
  await rejectsWith(elsewhere.send(new ListClustersCommand({})), 'InvalidSignatureException', /Credential should be scoped to a valid region/);
  const ec2Elsewhere = new EC2Client({ endpoint: server.endpoint, region: 'eu-west-1', credentials: TEST_ROOT_KEY, maxAttempts: 1 });
  await rejectsWith(ec2Elsewhere.send(new DescribeVpcsCommand({})), 'AuthFailure', /valid region/);
  const ec2 = new EC2Client({ endpoint: server.endpoint, region: 'us-east-1', credentials: TEST_ROOT_KEY, maxAttempts: 1 });
  assert.ok((await ec2.send(new DescribeVpcsCommand({}))).Vpcs!.length >= 1, 'the right scope works');

  // An EC2 call signed for ecs: with or without an ECS X-Amz-Target beside the form body, it is refused.
  const form = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
  for (const headers of [form, { ...form, 'x-amz-target': `${ECS_PREFIX}.ListClusters` }]) {
    const r = await raw('Action=DescribeVpcs&Version=2016-11-15', headers, { service: 'ecs' });
    assert.equal(r.status, 401, r.text);
    assert.match(r.text, /<Code>AuthFailure<\/Code>/);
    assert.match(r.text, /scoped to correct service: (&apos;|&#39;|')ec2/);
  }
  // And an ECS call signed for ec2 is refused too.
  const r = await raw('{}', { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `${ECS_PREFIX}.ListClusters` }, { service: 'ec2' });
  assert.equal(r.status, 403, r.text);
  assert.equal(JSON.parse(r.text).__type, 'InvalidSignatureException');
});
