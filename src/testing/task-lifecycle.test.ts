/**
 * The task lifecycle without root, on the FAKE driver, network and images
 * (fake-stack.ts): the real ECS API (@aws-sdk/client-ecs over loopback), store,
 * placement, agent and task runners. What only real runc and namespaces can
 * show (isolation, limits, traffic) stays in the root tests under test/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ListTasksCommand, StopTaskCommand, type Task } from '@aws-sdk/client-ecs';
import { startFakeStack, type FakeStack } from './fake-stack.ts';
import { describeTask, registerFamily, runOne, taskIdOf, waitFor, waitForStatus } from './ecs-helpers.ts';
import { runtimeIdFor } from '../model/runtime-id.ts';

const ms = (d: Date | undefined) => {
  assert.ok(d instanceof Date, 'timestamp present');
  return d.getTime();
};

/**
 * createdAt ≤ pullStartedAt ≤ pullStoppedAt ≤ startedAt ≤ stoppingAt ≤ executionStoppedAt ≤ stoppedAt,
 * each present; connectivityAt between createdAt and startedAt (Skiff attaches the network while it pulls).
 */
function assertTimelineOfARunTask(t: Task): void {
  const order = [t.createdAt, t.pullStartedAt, t.pullStoppedAt, t.startedAt, t.stoppingAt, t.executionStoppedAt, t.stoppedAt].map(ms);
  for (let i = 1; i < order.length; i++) assert.ok(order[i - 1]! <= order[i]!, `timestamps in lifecycle order: ${order.join(' ≤ ')}`);
  assert.ok(ms(t.createdAt) <= ms(t.connectivityAt) && ms(t.connectivityAt) <= ms(t.startedAt), 'connectivityAt between createdAt and startedAt');
}

describe('task lifecycle on fake parts', () => {
  let s: FakeStack;
  before(async () => {
    s = await startFakeStack();
  });
  after(async () => {
    await s?.destroy();
  });

  /** Nothing of the task is left on the (fake) host, and its address is free again. */
  function assertReleased(taskId: string): void {
    assert.deepEqual(s.host.containerIds().filter((id) => id.startsWith(taskId)), [], 'no container left');
    assert.ok(!s.host.tasks.has(taskId), 'no task cgroup left');
    assert.ok(!s.networkState.attached.has(taskId), 'no namespace left');
    assert.ok(!s.ctx.networks.allocatedTaskIds().includes(taskId), 'address released');
  }

  test('RunTask → RUNNING → StopTask → STOPPED, with stop code, reason, exit codes and timestamps in order', async () => {
    const def = await registerFamily(s.ecs, 'life-web', [{ name: 'web', image: 'fake/web:1', essential: true }]);
    const ran = await runOne(s.ecs, def);
    assert.equal(ran.lastStatus, 'PROVISIONING');
    assert.equal(ran.desiredStatus, 'RUNNING');
    const id = taskIdOf(ran.taskArn!);
    const running = await waitForStatus(s.ecs, ran.taskArn!, 'RUNNING');
    assert.equal(running.containers![0]!.lastStatus, 'RUNNING');
    assert.match(running.containers![0]!.imageDigest ?? '', /^sha256:[0-9a-f]{64}$/);
    const runtimeId = runtimeIdFor(id, 'web');
    assert.deepEqual(s.host.containerIds('running'), [runtimeId], 'the container runs on the host');
    const eni = running.attachments![0]!.details!.find((d) => d.name === 'privateIPv4Address')!.value!;
    assert.equal(s.networkState.attached.get(id)?.ipv4, eni, 'the namespace carries the address DescribeTasks reports');

    const stop = await s.ecs.send(new StopTaskCommand({ task: ran.taskArn!, reason: 'Deploy finished' }));
    assert.equal(stop.task!.desiredStatus, 'STOPPED');
    const stopped = await waitForStatus(s.ecs, ran.taskArn!, 'STOPPED');
    assert.equal(stopped.stopCode, 'UserInitiated');
    assert.equal(stopped.stoppedReason, 'Deploy finished');
    assert.equal(stopped.containers![0]!.lastStatus, 'STOPPED');
    assert.equal(stopped.containers![0]!.exitCode, 143, 'ended by SIGTERM');
    assertTimelineOfARunTask(stopped);
    assertReleased(id);
    const listed = await s.ecs.send(new ListTasksCommand({ desiredStatus: 'STOPPED' }));
    assert.ok(listed.taskArns!.includes(ran.taskArn!));
  });

  test('a container that ignores SIGTERM is killed after its stopTimeout (137)', async () => {
    const def = await registerFamily(s.ecs, 'life-stubborn', [
      { name: 'app', image: 'fake/app:1', command: ['trap', 'SIGTERM', 'ignore', 'run'], stopTimeout: 2 },
    ]);
    const ran = await runOne(s.ecs, def);
    await waitForStatus(s.ecs, ran.taskArn!, 'RUNNING');
    const t0 = Date.now();
    await s.ecs.send(new StopTaskCommand({ task: ran.taskArn! }));
    const stopped = await waitForStatus(s.ecs, ran.taskArn!, 'STOPPED', 10_000);
    assert.ok(Date.now() - t0 >= 1900, `stopped after ${Date.now() - t0} ms, not before the 2 s stopTimeout`);
    assert.equal(stopped.containers![0]!.exitCode, 137);
    assert.equal(stopped.stoppedReason, 'Task stopped by user');
  });

  test('an essential container that exits stops the task; a non-essential one does not', async () => {
    const def = await registerFamily(s.ecs, 'life-essential', [
      { name: 'app', image: 'fake/app:1', essential: true },
      { name: 'init', image: 'fake/app:1', essential: false, command: ['echo', 'migrated', 'exit', '0'] },
    ]);
    const ran = await runOne(s.ecs, def);
    const id = taskIdOf(ran.taskArn!);
    await waitFor(
      'the task to run and its non-essential container to exit',
      () => describeTask(s.ecs, ran.taskArn!),
      (t) => t.lastStatus === 'RUNNING' && t.containers!.find((c) => c.name === 'init')?.lastStatus === 'STOPPED',
    );
    await new Promise((r) => setTimeout(r, 100));
    const still = await describeTask(s.ecs, ran.taskArn!);
    assert.equal(still.lastStatus, 'RUNNING', 'a non-essential exit leaves the task running');
    assert.equal(still.containers!.find((c) => c.name === 'init')!.exitCode, 0);

    s.host.exit(runtimeIdFor(id, 'app'), 3);
    const stopped = await waitForStatus(s.ecs, ran.taskArn!, 'STOPPED');
    assert.equal(stopped.stopCode, 'EssentialContainerExited');
    assert.equal(stopped.stoppedReason, 'Essential container in task exited');
    assert.equal(stopped.containers!.find((c) => c.name === 'app')!.exitCode, 3);
    assertTimelineOfARunTask(stopped);
    assertReleased(id);
  });

  test('a container killed for its memory: OutOfMemoryError, exit 137, the task stops', async () => {
    const def = await registerFamily(s.ecs, 'life-oom', [{ name: 'hog', image: 'fake/app:1', command: ['sleep', '30', 'oom'] }]);
    const ran = await runOne(s.ecs, def);
    const stopped = await waitForStatus(s.ecs, ran.taskArn!, 'STOPPED');
    const c = stopped.containers![0]!;
    assert.equal(c.exitCode, 137);
    assert.equal(c.reason, 'OutOfMemoryError: Container killed due to memory usage');
    assert.equal(stopped.stopCode, 'EssentialContainerExited');
    assert.equal(stopped.stoppedReason, 'Essential container in task exited');
    assertReleased(taskIdOf(ran.taskArn!));
  });

  test('start failures: TaskFailedToStart with the reason ECS gives, nothing left behind', async () => {
    s.images.failPull('fake/missing:1', 'fake/missing:1: not found: manifest unknown');
    const cases: { def: string; reason: RegExp; arrange?: (taskId: string) => void }[] = [
      {
        def: await registerFamily(s.ecs, 'life-nopull', [{ name: 'app', image: 'fake/missing:1' }]),
        reason: /^CannotPullContainerError: fake\/missing:1: not found: manifest unknown$/,
      },
      {
        def: await registerFamily(s.ecs, 'life-nocreate', [{ name: 'app', image: 'fake/app:1', command: ['fail-create', 'exec: "/app": no such file or directory'] }]),
        reason: /^CannotCreateContainerError: exec: "\/app": no such file or directory$/,
      },
      {
        def: await registerFamily(s.ecs, 'life-nostart', [{ name: 'app', image: 'fake/app:1' }]),
        reason: /^CannotStartContainerError: .*permission denied/,
      },
    ];
    s.host.failNext('startContainer', 'OCI runtime start failed: permission denied', { match: (id) => id.endsWith('-app') });
    for (const c of cases) {
      const ran = await runOne(s.ecs, c.def);
      const stopped = await waitForStatus(s.ecs, ran.taskArn!, 'STOPPED');
      assert.equal(stopped.stopCode, 'TaskFailedToStart', c.def);
      assert.match(stopped.stoppedReason ?? '', c.reason);
      assert.equal(stopped.startedAt, undefined, 'never started');
      assert.ok(ms(stopped.stoppedAt) >= ms(stopped.createdAt));
      assertReleased(taskIdOf(ran.taskArn!));
    }
  });
});
