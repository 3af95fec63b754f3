import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AwslogsError, awslogsTargets, prepareAwslogs } from './awslogs.ts';
import { openLogDb } from './log-db.ts';
import { LogStore } from './log-store.ts';

const task = { id: 'a'.repeat(32), containers: [{ name: 'web', runtimeId: `${'a'.repeat(32)}-web` }, { name: 'side', runtimeId: `${'a'.repeat(32)}-side` }] } as never;
const targets = (options: Record<string, string> | undefined, driver = 'awslogs') =>
  awslogsTargets(task, (name) => (name === 'web' ? { logDriver: driver, options } : undefined), 'us-east-1');

test('streams are named prefix/container/task-id (the container id without a prefix); other drivers ship nothing', () => {
  assert.deepEqual(targets({ 'awslogs-group': '/ecs/x', 'awslogs-stream-prefix': 'app', 'awslogs-region': 'us-east-1' }), [
    { containerName: 'web', runtimeId: `${'a'.repeat(32)}-web`, group: '/ecs/x', stream: `app/web/${'a'.repeat(32)}`, createGroup: false },
  ]);
  assert.equal(targets({ 'awslogs-group': 'g' })[0].stream, `${'a'.repeat(32)}-web`);
  assert.equal(targets({ 'awslogs-group': 'g', 'awslogs-create-group': 'true' })[0].createGroup, true);
  assert.deepEqual(targets({ 'awslogs-group': 'g' }, 'splunk'), []);
});

test('bad options fail as the Docker driver words them', () => {
  assert.throws(() => targets({}), /must specify a value for log opt 'awslogs-group'/);
  assert.throws(() => targets({ 'awslogs-group': 'g', colour: 'red' }), /unknown log opt 'colour'/);
  assert.throws(() => targets({ 'awslogs-group': 'g', 'awslogs-region': 'eu-west-1' }), /not this Skiff server's region 'us-east-1'/);
  assert.throws(() => targets({ 'awslogs-group': 'g', 'awslogs-create-group': 'yes' }), /awslogs-create-group/);
  assert.throws(() => targets({ 'awslogs-group': 'g', 'awslogs-stream-prefix': 'a:b' }), AwslogsError);
});

test('a missing group fails unless awslogs-create-group is true; preparing twice changes nothing', () => {
  const store = new LogStore(openLogDb(':memory:'));
  const file = (id: string) => `/logs/${id}.log`;
  assert.throws(
    () => prepareAwslogs(store, targets({ 'awslogs-group': 'g', 'awslogs-stream-prefix': 'p' }), task, file, 1),
    /failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist\. : exit status 1$/,
  );
  assert.equal(store.group('g'), undefined);
  const t = targets({ 'awslogs-group': 'g', 'awslogs-stream-prefix': 'p', 'awslogs-create-group': 'true' });
  prepareAwslogs(store, t, task, file, 1);
  prepareAwslogs(store, t, task, file, 2);
  const g = store.group('g')!;
  assert.equal(store.stream(g.id, `p/web/${'a'.repeat(32)}`)!.createdAt, 1);
  assert.deepEqual(store.activeShipments().map((s) => [s.runtimeId, s.file]), [[`${'a'.repeat(32)}-web`, `/logs/${'a'.repeat(32)}-web.log`]]);
});
