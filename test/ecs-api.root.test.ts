/**
 * The ECS API as the real @aws-sdk/client-ecs sees it: clusters, task
 * definitions, tags, validation errors and pagination, against a real
 * `skiff server` process.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateClusterCommand,
  DescribeClustersCommand,
  ListClustersCommand,
  DeleteClusterCommand,
  RegisterTaskDefinitionCommand,
  DescribeTaskDefinitionCommand,
  ListTaskDefinitionsCommand,
  ListTaskDefinitionFamiliesCommand,
  DeregisterTaskDefinitionCommand,
  DeleteTaskDefinitionsCommand,
  CreateServiceCommand,
  DeleteServiceCommand,
  TagResourceCommand,
  UntagResourceCommand,
  ListTagsForResourceCommand,
  RunTaskCommand,
  ListTasksCommand,
  DescribeTasksCommand,
  StopTaskCommand,
  type ECSClient,
  type RegisterTaskDefinitionCommandInput,
} from '@aws-sdk/client-ecs';
import { TestServer, waitFor } from './support/skiff-server.ts';
import { rejectsWith } from './support/api-errors.ts';
import { allValidSizes } from '../src/ecs/sizes.ts';

let server: TestServer;
let ecs: ECSClient;

before(async () => {
  server = new TestServer();
  await server.start();
  ecs = server.ecs();
});
after(async () => {
  await server?.destroy();
});

const basicDef = (family: string, extra: Partial<RegisterTaskDefinitionCommandInput> = {}): RegisterTaskDefinitionCommandInput => ({
  family,
  requiresCompatibilities: ['FARGATE'],
  networkMode: 'awsvpc',
  cpu: '256',
  memory: '512',
  containerDefinitions: [{ name: 'app', image: '127.0.0.1:1/none:latest', essential: true }],
  ...extra,
});

test('the default cluster exists out of the box and clusters are created, described, listed and deleted', async () => {
  const d = await ecs.send(new DescribeClustersCommand({ clusters: ['default'] }));
  assert.equal(d.clusters?.[0]?.status, 'ACTIVE');
  assert.match(d.clusters![0].clusterArn!, /^arn:aws:ecs:us-east-1:\d{12}:cluster\/default$/);

  const c = await ecs.send(new CreateClusterCommand({ clusterName: 'api-test', tags: [{ key: 'team', value: 'infra' }] }));
  assert.equal(c.cluster?.clusterName, 'api-test');
  assert.deepEqual(c.cluster?.capacityProviders, [], 'none unless asked for, as in AWS');
  const described = await ecs.send(new DescribeClustersCommand({ clusters: ['api-test', 'nope'], include: ['TAGS'] }));
  assert.deepEqual(described.clusters?.[0]?.tags, [{ key: 'team', value: 'infra' }]);
  assert.equal(described.failures?.[0]?.reason, 'MISSING');
  const list = await ecs.send(new ListClustersCommand({}));
  assert.ok(list.clusterArns?.some((a) => a.endsWith(':cluster/api-test')));

  const del = await ecs.send(new DeleteClusterCommand({ cluster: 'api-test' }));
  assert.equal(del.cluster?.status, 'INACTIVE');
  await rejectsWith(ecs.send(new DeleteClusterCommand({ cluster: 'api-test' })), 'ClusterNotFoundException');
  await rejectsWith(ecs.send(new ListTasksCommand({ cluster: 'missing-cluster' })), 'ClusterNotFoundException', /missing-cluster/);
  await rejectsWith(ecs.send(new CreateClusterCommand({ clusterName: 'bad name!' })), 'InvalidParameterException', /letters.*numbers, hyphens/);
});

test('task definitions get revisions per family and can be described by family, family:revision or ARN', async () => {
  const r1 = await ecs.send(new RegisterTaskDefinitionCommand(basicDef('web')));
  const r2 = await ecs.send(new RegisterTaskDefinitionCommand(basicDef('web', { cpu: '1 vCPU', memory: '2GB' })));
  assert.equal(r1.taskDefinition?.revision, 1);
  assert.equal(r2.taskDefinition?.revision, 2);
  assert.equal(r2.taskDefinition?.cpu, '1024');
  assert.equal(r2.taskDefinition?.memory, '2048');
  assert.ok(r2.taskDefinition?.registeredAt instanceof Date);
  assert.ok(Math.abs(r2.taskDefinition!.registeredAt!.getTime() - Date.now()) < 60_000, 'registeredAt is epoch seconds on the wire');

  const byFamily = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web' }));
  assert.equal(byFamily.taskDefinition?.revision, 2);
  const byRev = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web:1' }));
  assert.equal(byRev.taskDefinition?.cpu, '256');
  const byArn = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: r1.taskDefinition!.taskDefinitionArn }));
  assert.equal(byArn.taskDefinition?.revision, 1);
  assert.equal(byArn.taskDefinition?.containerDefinitions?.[0]?.essential, true);

  const dereg = await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'web:1' }));
  assert.equal(dereg.taskDefinition?.status, 'INACTIVE');
  const active = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'web' }));
  assert.deepEqual(active.taskDefinitionArns?.map((a) => a.split('/').pop()), ['web:2']);
  const inactive = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'web', status: 'INACTIVE' }));
  assert.deepEqual(inactive.taskDefinitionArns?.map((a) => a.split('/').pop()), ['web:1']);
  const fams = await ecs.send(new ListTaskDefinitionFamiliesCommand({ familyPrefix: 'we' }));
  assert.deepEqual(fams.families, ['web']);
  await rejectsWith(ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'nope' })), 'ClientException', /RegisterTaskDefinition/);
  await rejectsWith(ecs.send(new RunTaskCommand({ taskDefinition: 'web:1' })), 'ClientException', /inactive/);
});

test('every valid Fargate size is accepted and sizes off the table are refused with the valid choices', async () => {
  for (const { cpu, memory } of allValidSizes()) {
    const r = await ecs.send(new RegisterTaskDefinitionCommand(basicDef('sizes', { cpu: String(cpu), memory: String(memory) })));
    assert.equal(r.taskDefinition?.memory, String(memory));
  }
  for (const [cpu, memory] of [
    ['256', '4096'],
    ['512', '512'],
    ['1024', '9216'],
    ['4096', '31744'],
    ['8192', '18432'],
    ['16384', '36864'],
    ['100', '512'],
  ]) {
    await rejectsWith(ecs.send(new RegisterTaskDefinitionCommand(basicDef('sizes', { cpu, memory }))), 'ClientException', /memory|CPU|cpu/);
  }
});

test('bad task definitions are refused with a message that says what to fix', async () => {
  await rejectsWith(ecs.send(new RegisterTaskDefinitionCommand(basicDef('bad', { requiresCompatibilities: ['EC2'] }))), 'ClientException', /FARGATE/);
  await rejectsWith(ecs.send(new RegisterTaskDefinitionCommand(basicDef('bad', { networkMode: 'bridge' }))), 'ClientException', /awsvpc/);
  await rejectsWith(
    ecs.send(new RegisterTaskDefinitionCommand(basicDef('bad', { ephemeralStorage: { sizeInGiB: 10 } }))),
    'ClientException',
    /21/,
  );
  await rejectsWith(
    ecs.send(
      new RegisterTaskDefinitionCommand(
        basicDef('bad', { containerDefinitions: [{ name: 'app', image: 'x', memory: 1024 }] }),
      ),
    ),
    'ClientException',
    /memory/,
  );
  await rejectsWith(
    ecs.send(new RegisterTaskDefinitionCommand(basicDef('bad', { containerDefinitions: [{ name: 'app', image: 'x', essential: false }] }))),
    'ClientException',
    /essential/,
  );
});

test('a task definition over 64 KiB is refused with ECS\'s ClientException; one just under is registered', async () => {
  /** basicDef('big') padded with one environment value so its JSON (what the SDK sends, minus tags) is `bytes` long. */
  const sized = (bytes: number): RegisterTaskDefinitionCommandInput => {
    const def = (value: string) => basicDef('big', { containerDefinitions: [{ name: 'app', image: '127.0.0.1:1/none:latest', environment: [{ name: 'PAD', value }] }] });
    return def('x'.repeat(bytes - Buffer.byteLength(JSON.stringify(def('')))));
  };
  await rejectsWith(ecs.send(new RegisterTaskDefinitionCommand(sized(65 * 1024))), 'ClientException', /^Actual length: '66560'\. Max allowed length is '65536' bytes\./);
  const justUnder = sized(65535);
  const ok = await ecs.send(new RegisterTaskDefinitionCommand({ ...justUnder, tags: [{ key: 'k'.repeat(128), value: 'v'.repeat(256) }] }));
  assert.equal(ok.taskDefinition?.containerDefinitions?.[0]?.environment?.[0]?.value, justUnder.containerDefinitions![0].environment![0].value, 'registered whole; tags do not count');
  await rejectsWith(
    ecs.send(new RegisterTaskDefinitionCommand(basicDef('nosecretrole', { containerDefinitions: [{ name: 'app', image: 'x', secrets: [{ name: 'P', valueFrom: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:p' }] }] }))),
    'ClientException',
    /you must also specify a value for 'executionRoleArn'/,
  );
});

test('DeleteTaskDefinitions: INACTIVE revisions turn DELETE_IN_PROGRESS, stay describable while a service uses them, then are gone', async () => {
  for (let i = 0; i < 3; i++) await ecs.send(new RegisterTaskDefinitionCommand(basicDef('gone')));
  await ecs.send(new CreateServiceCommand({ serviceName: 'holds-gone-2', taskDefinition: 'gone:2', desiredCount: 0 }));
  for (const rev of [1, 2]) await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: `gone:${rev}` }));
  const arn2 = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'gone:2' }))).taskDefinition!.taskDefinitionArn!;

  const del = await ecs.send(new DeleteTaskDefinitionsCommand({ taskDefinitions: ['gone:1', arn2, 'gone:3', 'gone:9'] }));
  assert.deepEqual(del.taskDefinitions?.map((d) => [d.revision, d.status]), [[1, 'DELETE_IN_PROGRESS'], [2, 'DELETE_IN_PROGRESS']]);
  assert.ok(Math.abs(del.taskDefinitions![0].deleteRequestedAt!.getTime() - Date.now()) < 60_000, 'deleteRequestedAt is epoch seconds on the wire');
  assert.deepEqual(
    del.failures?.map((f) => [f.arn?.split('/').pop(), f.reason]),
    [
      ['gone:3', 'The specified task definition is still in ACTIVE status. Please deregister the target and try again.'],
      ['gone:9', 'The specified task definition does not exist.'],
    ],
  );

  // gone:1 is used by nothing and is deleted at once; the service holds gone:2.
  await rejectsWith(ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'gone:1' })), 'ClientException', /does not exist/);
  const held = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'gone:2' }));
  assert.equal(held.taskDefinition?.status, 'DELETE_IN_PROGRESS');
  assert.ok(held.taskDefinition?.deleteRequestedAt instanceof Date);
  const deleting = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'gone', status: 'DELETE_IN_PROGRESS' }));
  assert.deepEqual(deleting.taskDefinitionArns, [arn2]);
  await rejectsWith(ecs.send(new RunTaskCommand({ taskDefinition: 'gone:2' })), 'ClientException');
  await rejectsWith(ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'gone:2' })), 'ClientException', /being deleted/);
  const again = await ecs.send(new DeleteTaskDefinitionsCommand({ taskDefinitions: ['gone:2'] }));
  assert.deepEqual(again.taskDefinitions?.map((d) => d.deleteRequestedAt?.getTime()), [del.taskDefinitions![1].deleteRequestedAt!.getTime()]);

  await ecs.send(new DeleteServiceCommand({ service: 'holds-gone-2' }));
  await waitFor('gone:2 to be deleted once its service is gone', async () =>
    (await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'gone', status: 'DELETE_IN_PROGRESS' }))).taskDefinitionArns?.length === 0,
  );
  await rejectsWith(ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn2 })), 'ClientException');
  assert.equal((await ecs.send(new RegisterTaskDefinitionCommand(basicDef('gone')))).taskDefinition?.revision, 4, 'revision numbers are not reused');

  await rejectsWith(ecs.send(new DeleteTaskDefinitionsCommand({ taskDefinitions: [] })), 'InvalidParameterException', /1 to 10/);
  await rejectsWith(ecs.send(new DeleteTaskDefinitionsCommand({ taskDefinitions: ['gone'] })), 'ClientException', /no revision/);
});

test('RunTask validates its input before anything starts', async () => {
  await ecs.send(new RegisterTaskDefinitionCommand(basicDef('runcheck')));
  await rejectsWith(ecs.send(new RunTaskCommand({ taskDefinition: 'runcheck', count: 11 })), 'InvalidParameterException', /10/);
  await rejectsWith(
    ecs.send(
      new RunTaskCommand({
        taskDefinition: 'runcheck',
        launchType: 'FARGATE',
        capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }],
      }),
    ),
    'InvalidParameterException',
  );
  await rejectsWith(
    ecs.send(new RunTaskCommand({ taskDefinition: 'runcheck', overrides: { cpu: '256', memory: '4096' } })),
    'InvalidParameterException',
    /512, 1024, 2048/,
  );
  await rejectsWith(
    ecs.send(
      new RunTaskCommand({
        taskDefinition: 'runcheck',
        networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-00000000000000000'] } },
      }),
    ),
    'InvalidParameterException',
    /subnet/i,
  );
  await rejectsWith(ecs.send(new RunTaskCommand({ taskDefinition: 'runcheck', cluster: 'nope' })), 'ClusterNotFoundException');
  const none = await ecs.send(new ListTasksCommand({ family: 'runcheck' }));
  assert.deepEqual(none.taskArns, [], 'no task was created by a refused RunTask');
});

test('a task whose image cannot be pulled stops with CannotPullContainerError, and a clientToken retry returns the same task', async () => {
  await ecs.send(new RegisterTaskDefinitionCommand(basicDef('nopull')));
  const token = 'retry-token-1';
  const first = await ecs.send(new RunTaskCommand({ taskDefinition: 'nopull', clientToken: token, tags: [{ key: 'k', value: 'v' }] }));
  const arn = first.tasks![0].taskArn!;
  assert.equal(first.tasks![0].lastStatus, 'PROVISIONING');
  assert.equal(first.tasks![0].desiredStatus, 'RUNNING');
  const again = await ecs.send(new RunTaskCommand({ taskDefinition: 'nopull', clientToken: token, tags: [{ key: 'k', value: 'v' }] }));
  assert.deepEqual(again.tasks?.map((t) => t.taskArn), [arn]);
  await rejectsWith(ecs.send(new RunTaskCommand({ taskDefinition: 'nopull', clientToken: token, count: 2 })), 'ConflictException');

  let task;
  for (let i = 0; i < 100; i++) {
    task = (await ecs.send(new DescribeTasksCommand({ tasks: [arn], include: ['TAGS'] }))).tasks![0];
    if (task.lastStatus === 'STOPPED') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(task?.lastStatus, 'STOPPED');
  assert.equal(task?.stopCode, 'TaskFailedToStart');
  assert.match(task!.stoppedReason!, /^CannotPullContainerError: /);
  assert.deepEqual(task?.tags, [{ key: 'k', value: 'v' }]);
  assert.ok(task?.pullStartedAt instanceof Date && task.stoppedAt instanceof Date);

  const tags = await ecs.send(new ListTagsForResourceCommand({ resourceArn: arn }));
  assert.deepEqual(tags.tags, [{ key: 'k', value: 'v' }]);
  await ecs.send(new TagResourceCommand({ resourceArn: arn, tags: [{ key: 'env', value: 'test' }] }));
  await ecs.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['k'] }));
  assert.deepEqual((await ecs.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags, [{ key: 'env', value: 'test' }]);
  await rejectsWith(ecs.send(new TagResourceCommand({ resourceArn: arn, tags: [{ key: 'aws:x', value: '1' }] })), 'InvalidParameterException', /reserved/);

  const stopped = await ecs.send(new ListTasksCommand({ desiredStatus: 'STOPPED', family: 'nopull' }));
  assert.deepEqual(stopped.taskArns, [arn]);
  await rejectsWith(ecs.send(new StopTaskCommand({ task: 'ffffffffffffffffffffffffffffffff' })), 'InvalidParameterException');
  await rejectsWith(ecs.send(new DescribeTasksCommand({ tasks: Array.from({ length: 101 }, (_, i) => String(i)) })), 'InvalidParameterException', /100/);
});

test('listing pages with maxResults and nextToken', async () => {
  for (let i = 0; i < 5; i++) await ecs.send(new RegisterTaskDefinitionCommand(basicDef(`page-${i}`)));
  const seen: string[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  do {
    const page = await ecs.send(new ListTaskDefinitionFamiliesCommand({ familyPrefix: 'page-', maxResults: 2, nextToken }));
    seen.push(...page.families!);
    nextToken = page.nextToken;
    pages++;
  } while (nextToken);
  assert.deepEqual(seen, ['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
  assert.equal(pages, 3);
  await rejectsWith(ecs.send(new ListTaskDefinitionFamiliesCommand({ maxResults: 101 })), 'InvalidParameterException');
  await rejectsWith(ecs.send(new ListTaskDefinitionFamiliesCommand({ nextToken: 'garbage' })), 'InvalidParameterException');
});

test('malformed requests get protocol errors, not crashes', async () => {
  const res = await server.fetch('/', {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.ListClusters' },
    body: '{not json',
  });
  assert.equal(res.status, 400);
  assert.equal(((await res.json()) as { __type: string }).__type, 'SerializationException');
  const unknown = await server.fetch('/', {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.Frobnicate' },
    body: '{}',
  });
  assert.equal(unknown.status, 400);
  const wrongType = await server.fetch('/', {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.DescribeClusters' },
    body: JSON.stringify({ clusters: 'default' }),
  });
  assert.equal(wrongType.status, 400);
  assert.equal(((await wrongType.json()) as { __type: string }).__type, 'InvalidParameterException');
  assert.equal((await fetch(`${server.endpoint}/healthz`)).status, 200, 'server still healthy');
});
