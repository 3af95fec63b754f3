/**
 * A full disk never kills the control plane (root, real runc).
 *
 * The data dir is a 128 MiB tmpfs this file mounts itself (unmounted in
 * `after`, even on failure). A task fills it from its writable layer (which
 * lives under the data dir). The server stays up: /healthz 200, reads answer,
 * writes get a clear ServerException naming the full disk (fast, no hang), the
 * filler keeps RUNNING and its stop is recorded from the store reserve; a
 * kill -9 and restart with the disk at 0 bytes free comes up and serves reads;
 * once the filler is stopped, space returns and writes work again without a
 * restart. With the disk low but not full, writes go on and new tasks wait.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmdirSync, statfsSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTasksCommand, ListTasksCommand, RegisterTaskDefinitionCommand, RunTaskCommand, StopTaskCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { waitFor, type TestServer } from './support/skiff-server.ts';
import { startBusyboxStack, type BusyboxStack } from './support/stack.ts';
import { registerFamily, waitTaskStatus } from './support/tasks.ts';
import { run } from '../src/util/exec.ts';

const MiB = 1024 * 1024;
let dataDir = '';
let mounted = false;
let stack: BusyboxStack | undefined;
let server: TestServer;
let image: string;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'skiff-fulldisk-'));
  const m = await run('mount', ['-t', 'tmpfs', '-o', 'size=128m,mode=0700', 'tmpfs', dataDir]);
  assert.equal(m.code, 0, `mount tmpfs: ${m.stderr}`);
  mounted = true;
  stack = await startBusyboxStack('test/busybox:fulldisk', {
    dataDir,
    // The warm pool on, as by default: its refills meet the full disk too.
    env: { SKIFF_STORE_RESERVE_MIB: '16', SKIFF_MIN_FREE_MIB: '48', SKIFF_DISK_CHECK_MS: '200', SKIFF_WARM_POOL_SIZE: '2' },
  });
  ({ server, image } = stack);
});

after(async () => {
  if (process.env.SKIFF_TEST_VERBOSE) console.error(server?.output);
  try {
    await stack?.stop(); // removes the data dir's contents; the mount point itself stays busy until unmounted
  } catch {
    /* rmdir of the mount point: handled below */
  } finally {
    if (mounted) await run('umount', ['-l', dataDir]);
    if (dataDir && existsSync(dataDir)) rmdirSync(dataDir);
  }
});

const freeMiB = () => {
  const s = statfsSync(dataDir);
  return (s.bavail * s.bsize) / MiB;
};

function alive(pid: number | undefined): boolean {
  try {
    return pid !== undefined && process.kill(pid, 0);
  } catch {
    return false;
  }
}

/** Sends `call` and returns its error (asserting it fails within 5 s). */
async function failure(call: () => Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  const t0 = Date.now();
  try {
    await call();
  } catch (e) {
    assert.ok(Date.now() - t0 < 5000, `the refusal took ${Date.now() - t0} ms`);
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode };
  }
  assert.fail('the call succeeded on a full disk');
}

const registerProbe = (ecs: ECSClient, tag: string) =>
  ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'probe',
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: '256',
      memory: '512',
      containerDefinitions: [{ name: 'p', image, command: ['echo', tag] }],
    }),
  );

test('a task filling the data dir disk: the server stays up, refuses writes clearly, records the stop, survives kill -9, recovers by itself', async () => {
  let ecs = server.ecs();
  const reserve = join(dataDir, 'store-reserve');
  assert.equal(statSync(reserve).size, 16 * MiB, 'the store reserve is made at start');

  await registerProbe(ecs, 'before');
  await registerFamily(ecs, 'filler', [{ name: 'dd', image, stopTimeout: 2, command: ['sh', '-c', 'dd if=/dev/zero of=/big bs=1M; sync; sleep 3600'] }]);
  const filler = (await ecs.send(new RunTaskCommand({ taskDefinition: 'filler' }))).tasks![0].taskArn!;
  await waitTaskStatus(ecs, filler, 'RUNNING');

  // The disk fills: the reserve is released and writes are refused with the clear error.
  const refused = await waitFor('RegisterTaskDefinition refused for lack of disk', async () => {
    try {
      await registerProbe(ecs, 'during');
      return undefined;
    } catch (e) {
      return e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    }
  });
  assert.equal(refused.name, 'ServerException');
  assert.equal(refused.$metadata?.httpStatusCode, 500);
  assert.match(refused.message, new RegExp(`the disk holding ${dataDir} is full \\(\\d+ MiB free\\)`));
  assert.match(refused.message, /stop tasks writing to it/);
  assert.ok(!existsSync(reserve), 'the reserve was released');
  assert.ok(alive(server.pid), 'the server is alive');
  assert.equal((await fetch(`${server.endpoint}/healthz`)).status, 200);

  const runRefused = await failure(() => ecs.send(new RunTaskCommand({ taskDefinition: 'probe' })));
  assert.equal(runRefused.name, 'ServerException');
  assert.match(runRefused.message, /disk holding .* is full/);
  const regRefused = await failure(() => registerProbe(ecs, 'still-full'));
  assert.equal(regRefused.name, 'ServerException');

  // Reads keep working; the filler is still running.
  const listed = await ecs.send(new ListTasksCommand({}));
  assert.ok(listed.taskArns!.includes(filler));
  const d = await ecs.send(new DescribeTasksCommand({ tasks: [filler] }));
  assert.equal(d.tasks![0].lastStatus, 'RUNNING');

  // The first run's log: the disk filling said once, background writers' failures said at most once each, no internal error.
  await new Promise((r) => setTimeout(r, 1500)); // a few ticks of every background writer on the full disk
  const firstLog = server.output;
  if (process.env.SKIFF_TEST_VERBOSE) console.error(firstLog);
  assert.equal(firstLog.match(/refusing API writes and new tasks until space returns/g)?.length, 1, firstLog);
  assert.doesNotMatch(firstLog, /internal error|uncaught/i);
  for (const line of new Set(firstLog.match(/^.*cannot write \(/gm) ?? [])) {
    assert.equal(firstLog.split(line).length - 1, 1, `said more than once: ${line}`);
  }

  // kill -9, and restart with the disk at 0 bytes free (a host file takes what the reserve left).
  await server.stop('SIGKILL');
  const hog = join(dataDir, 'hog');
  await run('dd', ['if=/dev/zero', `of=${hog}`, 'bs=1M']);
  assert.ok(freeMiB() < 1, `disk full before the restart (${freeMiB()} MiB free)`);
  const restartedAt = Date.now();
  await server.start();
  ecs = server.ecs();
  assert.ok(alive(server.pid));
  const adopted = await ecs.send(new DescribeTasksCommand({ tasks: [filler] }));
  assert.equal(adopted.tasks![0].lastStatus, 'RUNNING', 'the filler is adopted, still RUNNING');
  assert.ok((await ecs.send(new ListTasksCommand({}))).taskArns!.includes(filler));
  assert.equal((await failure(() => registerProbe(ecs, 'after-restart'))).name, 'ServerException');

  // The operator frees what the host file held (still under the reserve's size: still full) and stops the filler.
  unlinkSync(hog);
  assert.equal((await failure(() => registerProbe(ecs, 'reserve-only'))).name, 'ServerException');
  await ecs.send(new StopTaskCommand({ task: filler, reason: 'filling the disk' }));
  const stopped = await waitTaskStatus(ecs, filler, 'STOPPED');
  assert.equal(stopped.stoppedReason, 'filling the disk');

  // Space returns: the reserve is made again and writes work, without a restart.
  await waitFor('the store reserve made again', async () => existsSync(reserve) && statSync(reserve).size === 16 * MiB);
  const again = await registerProbe(ecs, 'after');
  assert.ok(again.taskDefinition!.revision! >= 2);
  const probe = (await ecs.send(new RunTaskCommand({ taskDefinition: 'probe' }))).tasks![0].taskArn!;
  await waitTaskStatus(ecs, probe, 'STOPPED');

  // Low but not full (40 MiB free: the reserve in place, under SKIFF_MIN_FREE_MIB=48): writes go on, new tasks wait.
  const low = join(dataDir, 'low');
  await run('fallocate', ['-l', `${Math.floor(freeMiB() - 40)}M`, low]);
  await new Promise((r) => setTimeout(r, 500)); // a few disk checks: still not full
  await registerProbe(ecs, 'low');
  const notStarted = await failure(() => ecs.send(new RunTaskCommand({ taskDefinition: 'probe' })));
  assert.equal(notStarted.name, 'ServerException');
  assert.match(notStarted.message, new RegExp(`not starting new tasks: the disk holding ${dataDir} has \\d+ MiB free, under the 48 MiB`));
  unlinkSync(low);
  await waitTaskStatus(ecs, (await ecs.send(new RunTaskCommand({ taskDefinition: 'probe' }))).tasks![0].taskArn!, 'STOPPED');
  assert.ok(alive(server.pid));

  // The audit log: the refused writes are there (kept in memory while the disk was full), the admitted ones too.
  const audit = (await (await server.fetch('/skiff/v1/audit?action=ecs:RegisterTaskDefinition&limit=1000')).json()) as { events: { ts: number; outcome: string; status: number }[] };
  assert.ok(audit.events.some((e) => e.outcome === 'ServerException' && e.status === 500), JSON.stringify(audit.events));
  assert.ok(audit.events.filter((e) => e.outcome === 'Success').length >= 3, JSON.stringify(audit.events));
  // (A call admitted before the kill -9 may read Pending: its outcome was still buffered. See audit.ts.)
  assert.ok(!audit.events.some((e) => e.ts >= restartedAt && e.outcome === 'Pending'), 'every call admitted since the restart has its outcome');
  assert.ok(!/uncaught|SQLITE_FULL.*\n\s+at /i.test(server.output), `no crash trace in the server log:\n${server.output}`);
});
