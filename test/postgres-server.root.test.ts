/**
 * `skiff server --database postgres://...`: the whole single-host server on a
 * real PostgreSQL 15 (started in a temp dir by test/support/postgres.ts). A task
 * runs for real (runc) through the AWS SDK: RunTask → RUNNING → StopTask →
 * STOPPED; the server restarts and the record is there, in PostgreSQL (no
 * skiff.db in the data dir). With the database down the API answers a
 * ServerException naming the database (the server keeps running), and once it
 * is back the same server answers again.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeTasksCommand, ECSClient, ListClustersCommand, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { TEST_ROOT_KEY, waitFor } from './support/skiff-server.ts';
import { startBusyboxStack, type BusyboxStack } from './support/stack.ts';
import { registerFamily, waitTaskStatus } from './support/tasks.ts';
import { startPostgres, type TestPostgres } from './support/postgres.ts';

let pg: TestPostgres | undefined;
let stack: BusyboxStack | undefined;
let url: string;

before(async () => {
  pg = await startPostgres();
  url = pg.createDatabase('skiff');
  stack = await startBusyboxStack('test/busybox:postgres', { args: ['--database', url] });
});
after(async () => {
  try {
    await stack?.stop();
  } finally {
    pg?.stop();
  }
});

test('a task runs, stops and is still described after a restart, all state in PostgreSQL', async (t) => {
  const { server, image } = stack!;
  let passed = false;
  t.after(() => {
    if (!passed) console.error(`server output:\n${server.output.slice(-6000)}`);
  });
  let ecs = server.ecs();
  await registerFamily(ecs, 'pg-sleeper', [{ name: 'app', image, stopTimeout: 2, command: ['sleep', '600'] }]);
  const run = await ecs.send(new RunTaskCommand({ taskDefinition: 'pg-sleeper', clientToken: 'pg-e2e-1' }));
  const arn = run.tasks![0].taskArn!;
  await waitTaskStatus(ecs, arn, 'RUNNING', 90_000);
  await ecs.send(new StopTaskCommand({ task: arn, reason: 'done with it' }));
  const stopped = await waitTaskStatus(ecs, arn, 'STOPPED', 90_000);
  assert.equal(stopped.stoppedReason, 'done with it');
  const id = arn.split('/').pop()!;
  assert.equal(pg!.psql(`SELECT last_status FROM tasks WHERE id = '${id}'`, 'skiff').trim(), 'STOPPED', 'the record is in PostgreSQL');
  assert.equal(existsSync(join(server.dataDir, 'skiff.db')), false, 'no SQLite store beside it');

  await server.stop('SIGTERM');
  await server.start();
  ecs = server.ecs();
  const [again] = (await ecs.send(new DescribeTasksCommand({ tasks: [arn] }))).tasks!;
  assert.equal(again.lastStatus, 'STOPPED');
  assert.equal(again.stoppedReason, 'done with it');
  const replay = await ecs.send(new RunTaskCommand({ taskDefinition: 'pg-sleeper', clientToken: 'pg-e2e-1' }));
  assert.equal(replay.tasks![0].taskArn, arn, 'clientToken idempotency holds across the restart');
  passed = true;
});

test('database down: a ServerException naming the database, the server keeps running; database back: answers again', async () => {
  const { server } = stack!;
  const ecs = new ECSClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: TEST_ROOT_KEY, maxAttempts: 1 });
  pg!.halt();
  try {
    const t0 = Date.now();
    const err = await ecs.send(new ListClustersCommand({})).then(
      () => undefined,
      (e: unknown) => e as { name: string; message: string; $metadata: { httpStatusCode?: number } },
    );
    assert.ok(err, 'the call fails');
    assert.equal(err.name, 'ServerException');
    assert.ok(err.$metadata.httpStatusCode! >= 500, `HTTP ${err.$metadata.httpStatusCode}`);
    assert.match(err.message, new RegExp(`cannot reach its database postgres://skiff@127\\.0\\.0\\.1:${pg!.port}/skiff`));
    assert.ok(Date.now() - t0 < 20_000, 'no hang');
    await new Promise((r) => setTimeout(r, 8000)); // the background loops (services, metering, ...) run into the outage meanwhile
    assert.ok(isAlive(server.pid!), `the server survived several seconds without its database; its output:\n${server.output.slice(-3000)}`);
  } finally {
    pg!.restart();
  }
  assert.equal(server.pid !== undefined && isAlive(server.pid), true, 'the server survived the outage');
  // Recovery: within a second or two of the database's return (after a failure the store fails at once for 1 s).
  const out = await waitFor('the API answering again', () => ecs.send(new ListClustersCommand({})).catch(() => undefined), 15_000);
  assert.ok(out.clusterArns!.some((a) => a.endsWith(':cluster/default')));
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
