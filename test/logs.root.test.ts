/**
 * Logs the AWS way, end to end: tasks whose containers use the awslogs driver
 * write to the log group and the stream ECS names (`prefix/container/task-id`);
 * the CloudWatch Logs subset is checked with @aws-sdk/client-cloudwatch-logs and
 * the real AWS CLI (`aws logs get-log-events | filter-log-events | tail --follow`);
 * a missing group fails the task as ECS reports it; retention deletes old events;
 * a kill -9 of the server neither loses nor doubles a line.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StopTaskCommand, type ContainerDefinition } from '@aws-sdk/client-ecs';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  DeleteLogGroupCommand,
  DeleteRetentionPolicyCommand,
  DescribeLogGroupsCommand,
  DescribeLogStreamsCommand,
  FilterLogEventsCommand,
  GetLogEventsCommand,
  PutLogEventsCommand,
  PutRetentionPolicyCommand,
  type DescribeLogStreamsCommandOutput,
  type OutputLogEvent,
} from '@aws-sdk/client-cloudwatch-logs';
import { TEST_ROOT_KEY, waitFor, type TestServer } from './support/skiff-server.ts';
import { startBusyboxStack, type BusyboxStack } from './support/stack.ts';
import { rejectsWith } from './support/api-errors.ts';
import { registerFamily, runOne, waitTaskStatus } from './support/tasks.ts';
import { runtimeStateDir } from './support/runtimes.ts';

let stack: BusyboxStack;
let server: TestServer;
let image: string;
let home: string;

before(async () => {
  // conmon's file capped at 64 KiB, so the rotation test sees conmon start it afresh several times.
  stack = await startBusyboxStack('test/busybox:logs', { env: { SKIFF_LOGS_SHIP_INTERVAL_MS: '100', SKIFF_LOGS_ENFORCE_INTERVAL_MS: '300', SKIFF_CONTAINER_LOG_MAX_BYTES: '65536' } });
  ({ server, image } = stack);
  home = mkdtempSync(join(tmpdir(), 'skiff-logs-home-'));
});
after(async () => {
  await stack?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

const logs = () => new CloudWatchLogsClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: TEST_ROOT_KEY, maxAttempts: 1 });

function awsEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH!, HOME: home, AWS_ACCESS_KEY_ID: TEST_ROOT_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_ROOT_KEY.secretAccessKey, AWS_DEFAULT_REGION: 'us-east-1', AWS_PAGER: '', PYTHONUNBUFFERED: '1' };
}

function aws(...args: string[]) {
  const r = spawnSync('/usr/bin/aws', ['--endpoint-url', server.endpoint, '--output', 'json', ...args], { env: awsEnv(), encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr, json: () => JSON.parse(r.stdout) };
}

let family = 0;
/** Registers a one-container task definition with the given awslogs options and runs it; returns the task id and ARN. */
async function runWithLogs(command: string, options: Record<string, string> | undefined, extra: Partial<ContainerDefinition> = {}) {
  const ecs = server.ecs();
  const name = `logs-${++family}`;
  await registerFamily(ecs, name, [
    { name: 'app', image, command: ['sh', '-c', command], stopTimeout: 2, ...(options ? { logConfiguration: { logDriver: 'awslogs', options } } : {}), ...extra },
  ]);
  const arn = (await runOne(ecs, name)).taskArn!;
  return { arn, id: arn.split('/').pop()! };
}

async function allEvents(group: string, stream: string): Promise<OutputLogEvent[]> {
  const c = logs();
  const out: OutputLogEvent[] = [];
  let token: string | undefined;
  for (;;) {
    const r = await c.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, startFromHead: true, nextToken: token }));
    out.push(...r.events!);
    if (r.nextForwardToken === token) return out;
    token = r.nextForwardToken;
  }
}

test('a task with awslogs writes to the group and the ECS-named stream; GetLogEvents and FilterLogEvents read it', async () => {
  const c = logs();
  const group = '/ecs/web';
  await c.send(new CreateLogGroupCommand({ logGroupName: group }));
  await rejectsWith(c.send(new CreateLogGroupCommand({ logGroupName: group })), 'ResourceAlreadyExistsException', /already exists/);
  // stdout and stderr are separate pipes: pause around the stderr line so the order across them is defined.
  const script = 'for i in 1 2 3 4 5; do echo "hello $i"; done; sleep 0.2; echo "ERROR disk full" >&2; sleep 0.2; echo "WARN disk low"; echo "ERROR Retry later"';
  const { arn, id } = await runWithLogs(script, { 'awslogs-group': group, 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'web' });
  await waitTaskStatus(server.ecs(), arn, 'STOPPED');
  const stream = `web/app/${id}`;
  const expected = ['hello 1', 'hello 2', 'hello 3', 'hello 4', 'hello 5', 'ERROR disk full', 'WARN disk low', 'ERROR Retry later'];
  await waitFor('all lines shipped', async () => (await allEvents(group, stream)).length === expected.length);

  const streams = await c.send(new DescribeLogStreamsCommand({ logGroupName: group, logStreamNamePrefix: 'web/' }));
  assert.deepEqual(streams.logStreams!.map((s) => s.logStreamName), [stream]);
  assert.ok(streams.logStreams![0].firstEventTimestamp! <= streams.logStreams![0].lastEventTimestamp!);
  assert.equal(streams.logStreams![0].arn, `arn:aws:logs:us-east-1:123456789012:log-group:${group}:log-stream:${stream}`);

  // Forward paging: in order, then the same token when there is nothing new.
  const p1 = await c.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, startFromHead: true, limit: 5 }));
  assert.deepEqual(p1.events!.map((e) => e.message), expected.slice(0, 5));
  const ts = p1.events!.map((e) => e.timestamp!);
  assert.deepEqual([...ts].sort((a, b) => a - b), ts, 'ascending timestamps');
  assert.ok(Math.abs(ts[0] - Date.now()) < 120_000, 'the lines keep the time they were written');
  const p2 = await c.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, nextToken: p1.nextForwardToken, limit: 5 }));
  assert.deepEqual(p2.events!.map((e) => e.message), expected.slice(5));
  const p3 = await c.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, nextToken: p2.nextForwardToken }));
  assert.deepEqual(p3.events, []);
  assert.equal(p3.nextForwardToken, p2.nextForwardToken);
  const back = await c.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, nextToken: p2.nextBackwardToken }));
  assert.deepEqual(back.events!.map((e) => e.message), expected.slice(0, 5));

  const filter = async (filterPattern: string) =>
    (await c.send(new FilterLogEventsCommand({ logGroupName: group, filterPattern }))).events!.map((e) => e.message);
  assert.deepEqual(await filter('ERROR'), ['ERROR disk full', 'ERROR Retry later']);
  assert.deepEqual(await filter('ERROR -Retry'), ['ERROR disk full']);
  assert.deepEqual(await filter('?WARN ?full'), ['ERROR disk full', 'WARN disk low']);
  assert.deepEqual(await filter('"disk low"'), ['WARN disk low']);
  const f = await c.send(new FilterLogEventsCommand({ logGroupName: group, logStreamNames: [stream], filterPattern: 'hello', limit: 2 }));
  assert.deepEqual(f.events!.map((e) => e.message), ['hello 1', 'hello 2']);
  assert.equal(f.events![0].logStreamName, stream);
  assert.ok(f.nextToken);
  const f2 = await c.send(new FilterLogEventsCommand({ logGroupName: group, logStreamNames: [stream], filterPattern: 'hello', limit: 10, nextToken: f.nextToken }));
  assert.deepEqual(f2.events!.map((e) => e.message), ['hello 3', 'hello 4', 'hello 5']);
  assert.equal(f2.nextToken, undefined);
  await rejectsWith(c.send(new FilterLogEventsCommand({ logGroupName: group, filterPattern: '{ $.level = "x" }' })), 'InvalidParameterException', /JSON/);
  await rejectsWith(c.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: 'nope' })), 'ResourceNotFoundException', /log stream does not exist/);
  await rejectsWith(c.send(new GetLogEventsCommand({ logGroupName: '/nope', logStreamName: 'x' })), 'ResourceNotFoundException', /log group does not exist/);

  // The AWS CLI reads the same.
  const cli = aws('logs', 'get-log-events', '--log-group-name', group, '--log-stream-name', stream, '--start-from-head');
  assert.equal(cli.status, 0, cli.stderr);
  assert.deepEqual(cli.json().events.map((e: { message: string }) => e.message), expected);
  const cf = aws('logs', 'filter-log-events', '--log-group-name', group, '--filter-pattern', '?WARN ?Retry');
  assert.equal(cf.status, 0, cf.stderr);
  assert.deepEqual(cf.json().events.map((e: { message: string }) => e.message), ['WARN disk low', 'ERROR Retry later']);
});

test('a key scoped to one log group reads it and nothing else', async () => {
  const res = await server.fetch('/skiff/v1/keys', {
    method: 'POST',
    body: JSON.stringify({
      name: 'web-log-reader',
      policy: { Statement: [{ Effect: 'Allow', Action: ['logs:FilterLogEvents', 'logs:GetLogEvents', 'logs:DescribeLogStreams'], Resource: 'arn:aws:logs:*:*:log-group:/ecs/web*' }] },
    }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const key = ((await res.json()) as { accessKey: { accessKeyId: string; secretAccessKey: string } }).accessKey;
  const c = new CloudWatchLogsClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: key, maxAttempts: 1 });
  const r = await c.send(new FilterLogEventsCommand({ logGroupName: '/ecs/web', filterPattern: 'hello' }));
  assert.equal(r.events!.length, 5);
  await c.send(new CreateLogGroupCommand({ logGroupName: '/other' })).then(
    () => assert.fail('CreateLogGroup must be denied'),
    (e: Error) => assert.match(e.message, /not authorized to perform: logs:CreateLogGroup on resource: arn:aws:logs:us-east-1:123456789012:log-group:\/other:\*/),
  );
  await rejectsWith(c.send(new DescribeLogGroupsCommand({})), 'AccessDeniedException');
});

test('groups: prefix and pagination, retention values as AWS allows them, delete', async () => {
  const c = logs();
  for (const n of ['a', 'b', 'c', 'd', 'e']) await c.send(new CreateLogGroupCommand({ logGroupName: `/pg/${n}` }));
  const names: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const r = await c.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/pg/', limit: 2, nextToken: token }));
    names.push(...r.logGroups!.map((g) => g.logGroupName!));
    token = r.nextToken;
    pages++;
  } while (token);
  assert.deepEqual(names, ['/pg/a', '/pg/b', '/pg/c', '/pg/d', '/pg/e']);
  assert.equal(pages, 3);
  const cli = aws('logs', 'describe-log-groups', '--log-group-name-prefix', '/pg/', '--page-size', '2');
  assert.equal(cli.status, 0, cli.stderr);
  assert.equal(cli.json().logGroups.length, 5, 'the CLI follows nextToken');

  await c.send(new PutRetentionPolicyCommand({ logGroupName: '/pg/a', retentionInDays: 14 }));
  const a = (await c.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/pg/a' }))).logGroups![0];
  assert.equal(a.retentionInDays, 14);
  assert.equal(a.arn, 'arn:aws:logs:us-east-1:123456789012:log-group:/pg/a:*');
  await rejectsWith(c.send(new PutRetentionPolicyCommand({ logGroupName: '/pg/a', retentionInDays: 2 })), 'InvalidParameterException', /enum value set: \[1, 3, 5/);
  await rejectsWith(c.send(new PutRetentionPolicyCommand({ logGroupName: '/pg/none', retentionInDays: 1 })), 'ResourceNotFoundException');
  await c.send(new DeleteRetentionPolicyCommand({ logGroupName: '/pg/a' }));
  assert.equal((await c.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/pg/a' }))).logGroups![0].retentionInDays, undefined);
  // Streams by last event time, newest first, two per page.
  const t = Date.now();
  for (const [n, age] of [['s1', 3000], ['s2', 1000], ['s3', 2000]] as const) {
    await c.send(new CreateLogStreamCommand({ logGroupName: '/pg/b', logStreamName: n }));
    await c.send(new PutLogEventsCommand({ logGroupName: '/pg/b', logStreamName: n, logEvents: [{ timestamp: t - age, message: n }] }));
  }
  await rejectsWith(c.send(new CreateLogStreamCommand({ logGroupName: '/pg/b', logStreamName: 's1' })), 'ResourceAlreadyExistsException');
  const order: string[] = [];
  token = undefined;
  do {
    const r: DescribeLogStreamsCommandOutput = await c.send(new DescribeLogStreamsCommand({ logGroupName: '/pg/b', orderBy: 'LastEventTime', descending: true, limit: 2, nextToken: token }));
    order.push(...r.logStreams!.map((s) => s.logStreamName!));
    token = r.nextToken;
  } while (token);
  assert.deepEqual(order, ['s2', 's3', 's1']);
  await rejectsWith(c.send(new DescribeLogStreamsCommand({ logGroupName: '/pg/b', orderBy: 'LastEventTime', logStreamNamePrefix: 's' })), 'InvalidParameterException', /Cannot order by LastEventTime/);
  await rejectsWith(c.send(new CreateLogGroupCommand({ logGroupName: '/pg/tagged', tags: { a: 'b' } })), 'InvalidParameterException', /tags/);

  await c.send(new DeleteLogGroupCommand({ logGroupName: '/pg/e' }));
  await rejectsWith(c.send(new DeleteLogGroupCommand({ logGroupName: '/pg/e' })), 'ResourceNotFoundException', /log group does not exist/);
  await rejectsWith(c.send(new CreateLogGroupCommand({ logGroupName: 'bad name!' })), 'InvalidParameterException', /logGroupName/);
});

test('a missing log group without awslogs-create-group fails the task as ECS reports it; with it the group is made', async () => {
  const { arn } = await runWithLogs('echo never', { 'awslogs-group': '/ecs/missing', 'awslogs-stream-prefix': 'x' });
  const stopped = await waitTaskStatus(server.ecs(), arn, 'STOPPED');
  assert.equal(stopped.stopCode, 'TaskFailedToStart');
  assert.match(
    stopped.stoppedReason!,
    /^ResourceInitializationError: failed to validate logger args: .*ResourceNotFoundException: The specified log group does not exist\./,
  );
  assert.equal(stopped.containers![0].exitCode, undefined, 'the container never ran');

  const made = await runWithLogs('echo made', { 'awslogs-group': '/ecs/made', 'awslogs-stream-prefix': 'p', 'awslogs-create-group': 'true' });
  await waitTaskStatus(server.ecs(), made.arn, 'STOPPED');
  await waitFor('the line in the created group', async () => (await allEvents('/ecs/made', `p/app/${made.id}`)).some((e) => e.message === 'made'));
});

test('aws logs tail --follow shows lines written after it started', async () => {
  const group = '/ecs/tail';
  await logs().send(new CreateLogGroupCommand({ logGroupName: group }));
  const { arn, id } = await runWithLogs('i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.2; done', { 'awslogs-group': group, 'awslogs-stream-prefix': 'svc' });
  const stream = `svc/app/${id}`;
  await waitFor('first ticks shipped', async () => (await allEvents(group, stream)).length >= 3);
  const tail = spawn('/usr/bin/aws', ['--endpoint-url', server.endpoint, 'logs', 'tail', group, '--follow', '--since', '5m', '--format', 'short'], { env: awsEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  tail.stdout.on('data', (d) => (out += d));
  tail.stderr.on('data', (d) => (err += d));
  try {
    // The newest tick stored when tail started; tail must then show a later one (its follow loop polls every 5 s).
    const events = await allEvents(group, stream);
    const startedAt = Number(/tick (\d+)/.exec(events[events.length - 1].message!)![1]);
    const later = await waitFor(
      'tail to print a tick written after it started',
      async () => {
        const ticks = [...out.matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));
        return ticks.some((n) => n > startedAt + 5) ? ticks : undefined;
      },
      40_000,
    ).catch((e) => assert.fail(`${e.message}\ntail stdout:\n${out}\ntail stderr:\n${err}`));
    // Ticks print once each, in order.
    const distinct = [...new Set(later)];
    assert.deepEqual(later, distinct, 'no tick twice');
    assert.deepEqual(later, [...later].sort((a, b) => a - b));
  } finally {
    tail.kill('SIGKILL');
    await server.ecs().send(new StopTaskCommand({ task: arn }));
  }
  await waitTaskStatus(server.ecs(), arn, 'STOPPED');
});

test('retention deletes events older than the policy, periodically', async () => {
  const c = logs();
  const group = '/retention';
  await c.send(new CreateLogGroupCommand({ logGroupName: group }));
  await c.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: 's' }));
  const now = Date.now();
  const day = 86_400_000;
  // Backdated events (a batch may span at most 24 hours, as in CloudWatch), then a fresh one.
  const old = await c.send(
    new PutLogEventsCommand({
      logGroupName: group,
      logStreamName: 's',
      logEvents: [
        { timestamp: now - 3 * day, message: 'three days old' },
        { timestamp: now - 3 * day + 1000, message: 'also three days old' },
      ],
    }),
  );
  assert.equal(old.rejectedLogEventsInfo, undefined);
  await c.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: 's', logEvents: [{ timestamp: now - 1000, message: 'fresh' }] }));
  await rejectsWith(
    c.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: 's', logEvents: [{ timestamp: now - 3 * day, message: 'a' }, { timestamp: now, message: 'b' }] })),
    'InvalidParameterException',
    /24 hours/,
  );
  // Chronological order is required, as in CloudWatch.
  await rejectsWith(
    c.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: 's', logEvents: [{ timestamp: now, message: 'b' }, { timestamp: now - 1, message: 'a' }] })),
    'InvalidParameterException',
    /chronological/,
  );
  assert.equal((await allEvents(group, 's')).length, 3);
  await c.send(new PutRetentionPolicyCommand({ logGroupName: group, retentionInDays: 1 }));
  await waitFor('old events to expire', async () => {
    const msgs = (await allEvents(group, 's')).map((e) => e.message);
    return msgs.length === 1 && msgs[0] === 'fresh';
  }, 10_000);
  // The group's stored bytes went down with them: one event of 5 bytes + 26.
  assert.equal((await c.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: group }))).logGroups![0].storedBytes, 31);
  // Events older than the retention are refused from now on, as CloudWatch reports them.
  const expired = await c.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: 's', logEvents: [{ timestamp: now - day - 3_600_000, message: 'too old' }, { timestamp: now - 3_600_000, message: 'ok' }] }));
  assert.deepEqual(expired.rejectedLogEventsInfo, { expiredLogEventEndIndex: 0 });
});

test('a kill -9 of the server while a task logs neither loses nor duplicates a line', async () => {
  const group = '/ecs/restart';
  await logs().send(new CreateLogGroupCommand({ logGroupName: group }));
  const { arn, id } = await runWithLogs('i=0; while true; do echo "seq $i"; i=$((i+1)); sleep 0.02; done', { 'awslogs-group': group, 'awslogs-stream-prefix': 'r' });
  const stream = `r/app/${id}`;
  await waitFor('lines shipped before the crash', async () => (await allEvents(group, stream)).length >= 20);
  await server.stop('SIGKILL');
  await new Promise((r) => setTimeout(r, 1000)); // the container keeps writing while the server is down
  await server.start();
  await waitFor('lines shipped after the restart', async () => (await allEvents(group, stream)).length >= 150);
  await server.ecs().send(new StopTaskCommand({ task: arn }));
  await waitTaskStatus(server.ecs(), arn, 'STOPPED');

  // The last line in conmon's file is the last the container wrote: the stream must hold seq 0 to it, each exactly once, in order.
  const file = readFileSync(join(runtimeStateDir(server.dataDir), 'logs', `${id}-app.log`), 'utf8');
  const last = Number([...file.matchAll(/ stdout F seq (\d+)$/gm)].pop()![1]);
  assert.ok(last >= 150);
  const shipped = await waitFor('every line shipped', async () => {
    const msgs = (await allEvents(group, stream)).map((e) => e.message!);
    return msgs.length >= last + 1 ? msgs : undefined;
  });
  assert.deepEqual(shipped, Array.from({ length: last + 1 }, (_, i) => `seq ${i}`));
});

test("conmon's log file is capped (--log-size-max) and every line still reaches the stream once", async () => {
  const group = '/ecs/rotation';
  await logs().send(new CreateLogGroupCommand({ logGroupName: group }));
  // 40 rounds of 100 lines of ~60 bytes (~10 KiB of file per 0.1 s): conmon starts its 64 KiB file afresh several times.
  const script = 'r=0; while [ $r -lt 40 ]; do i=0; while [ $i -lt 100 ]; do echo "round $r line $i padding-padding-padding-padding"; i=$((i+1)); done; r=$((r+1)); sleep 0.1; done';
  const { arn, id } = await runWithLogs(script, { 'awslogs-group': group, 'awslogs-stream-prefix': 'rot' });
  await waitTaskStatus(server.ecs(), arn, 'STOPPED', 60_000);
  const fileSize = statSync(join(runtimeStateDir(server.dataDir), 'logs', `${id}-app.log`)).size;
  assert.ok(fileSize <= 65536, `conmon's file is at most 64 KiB (${fileSize})`);
  const expected = Array.from({ length: 4000 }, (_, k) => `round ${Math.floor(k / 100)} line ${k % 100} padding-padding-padding-padding`);
  const shipped = await waitFor('every line shipped', async () => {
    const msgs = (await allEvents(group, `rot/app/${id}`)).map((e) => e.message!);
    return msgs.length >= expected.length ? msgs : undefined;
  });
  assert.equal(shipped.length, expected.length);
  assert.deepEqual(shipped, expected);
});
