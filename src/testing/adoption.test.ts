/**
 * Adoption after a server restart, without root, on FAKE parts (fake-stack.ts):
 * the server is "killed -9" (its driver, network and images never answer
 * again), the fake host keeps its containers, and a new server over the same
 * store adopts them. The real thing, with runc and conmon, is
 * test/restart.root.test.ts.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { StopTaskCommand } from '@aws-sdk/client-ecs';
import { startFakeStack, type FakeStack } from './fake-stack.ts';
import { describeTask, registerFamily, runOne, taskIdOf, waitFor, waitForStatus } from './ecs-helpers.ts';
import { runtimeIdFor } from '../model/runtime-id.ts';
import { FakeDriver } from '../drivers/fake/index.ts';
import { FakeNetwork } from '../network/fake-network.ts';
import { nthUsable } from '../model/cidr.ts';

const stacks: FakeStack[] = [];
after(async () => {
  for (const s of stacks.reverse()) await s.destroy();
});

test('a restarted server adopts running tasks, sees what exited or vanished while it was down, and starts half-started ones again', async () => {
  const s1 = await startFakeStack();
  stacks.push(s1);
  const web = await registerFamily(s1.ecs, 'adopt-web', [{ name: 'app', image: 'fake/web:1' }]);
  const slow = await registerFamily(s1.ecs, 'adopt-slow', [{ name: 'app', image: 'fake/slow:1' }]);
  const arns: Record<'kept' | 'stopped' | 'exited' | 'lost', string> = {
    kept: (await runOne(s1.ecs, web)).taskArn!,
    stopped: (await runOne(s1.ecs, web)).taskArn!,
    exited: (await runOne(s1.ecs, web)).taskArn!,
    lost: (await runOne(s1.ecs, web)).taskArn!,
  };
  for (const arn of Object.values(arns)) await waitForStatus(s1.ecs, arn, 'RUNNING');
  const release = s1.images.holdPulls('fake/slow:1');
  const starting = (await runOne(s1.ecs, slow)).taskArn!;
  const startingId = taskIdOf(starting);
  await waitFor('the starting task to have its network', async () => s1.networkState.attached.has(startingId), (v) => v);
  const startingNetwork = structuredClone(s1.networkState.attached.get(startingId));
  const container = (name: keyof typeof arns) => runtimeIdFor(taskIdOf(arns[name]), 'app');
  const before = { pid: s1.host.containers.get(container('kept'))!.pid, createdAt: s1.host.containers.get(container('kept'))!.createdAt };

  await s1.crash();
  release(); // the dead server's pull never comes back, whatever the registry does
  s1.host.exit(container('exited'), 5); // exits while no server watches it
  s1.host.lose(container('lost')); // its supervisor and state are gone

  const s2 = await startFakeStack(s1.restartOptions());
  stacks.push(s2);
  assert.ok(s2.logs.some((l) => /recovered 5 task\(s\)/.test(l)), s2.logs.join('\n'));

  const kept = await describeTask(s2.ecs, arns.kept);
  assert.equal(kept.lastStatus, 'RUNNING');
  assert.equal(kept.containers![0]!.lastStatus, 'RUNNING');
  const after = s2.host.containers.get(container('kept'))!;
  assert.deepEqual({ pid: after.pid, createdAt: after.createdAt }, before, 'the same container: nothing was restarted');

  const exited = await waitForStatus(s2.ecs, arns.exited, 'STOPPED');
  assert.equal(exited.stopCode, 'EssentialContainerExited');
  assert.equal(exited.stoppedReason, 'Essential container in task exited');
  assert.equal(exited.containers![0]!.exitCode, 5);

  const lost = await waitForStatus(s2.ecs, arns.lost, 'STOPPED');
  assert.equal(lost.stopCode, 'TerminationNotice');
  assert.match(lost.stoppedReason ?? '', /containers were not found when the Skiff server restarted/);
  assert.match(lost.containers![0]!.reason ?? '', /not found on the host/);

  // Accepted but never RUNNING: started again, in the namespace and with the address it already had.
  const restarted = await waitForStatus(s2.ecs, starting, 'RUNNING');
  assert.equal(restarted.desiredStatus, 'RUNNING');
  assert.ok(s2.logs.some((l) => l.includes(`task ${startingId}: the server restarted while the task was`)), s2.logs.join('\n'));
  assert.deepEqual(s2.networkState.attached.get(startingId), startingNetwork, 'its namespace and address are reused');
  assert.deepEqual(s2.host.containerIds().filter((id) => id.startsWith(startingId)), [runtimeIdFor(startingId, 'app')], 'it runs once');
  assert.equal(s2.images.pulls.filter((r) => r === 'fake/slow:1').length, 2, 'the dead server\'s pull, then the new one');

  // The adopted tasks are watched and stopped by the new server.
  await s2.ecs.send(new StopTaskCommand({ task: arns.stopped, reason: 'after the restart' }));
  const stopped = await waitForStatus(s2.ecs, arns.stopped, 'STOPPED');
  assert.equal(stopped.stoppedReason, 'after the restart');
  assert.equal(stopped.containers![0]!.exitCode, 143);
  s2.host.exit(container('kept'), 0);
  const ended = await waitForStatus(s2.ecs, arns.kept, 'STOPPED');
  assert.equal(ended.stopCode, 'EssentialContainerExited');
  assert.equal(ended.containers![0]!.exitCode, 0);
  await s2.ecs.send(new StopTaskCommand({ task: starting }));
  await waitForStatus(s2.ecs, starting, 'STOPPED');
  assert.deepEqual(s2.host.containerIds(), [], 'nothing is left on the host');
  assert.deepEqual([...s2.networkState.attached.keys()], []);
});

test('a task the server was stopping when it died is finished by the next one, with the stop it was given', async () => {
  const s1 = await startFakeStack();
  stacks.push(s1);
  const def = await registerFamily(s1.ecs, 'adopt-stopping', [{ name: 'app', image: 'fake/web:1', command: ['trap', 'SIGTERM', 'ignore', 'run'], stopTimeout: 2 }]);
  const arn = (await runOne(s1.ecs, def)).taskArn!;
  await waitForStatus(s1.ecs, arn, 'RUNNING');
  await s1.ecs.send(new StopTaskCommand({ task: arn, reason: 'stop before the crash' }));
  await waitForStatus(s1.ecs, arn, 'STOPPING');
  await s1.crash();
  const id = runtimeIdFor(taskIdOf(arn), 'app');
  assert.equal(s1.host.containers.get(id)?.status, 'running', 'the container ignored SIGTERM and still runs');

  const s2 = await startFakeStack(s1.restartOptions());
  stacks.push(s2);
  // The new server signals again, waits the stopTimeout, then kills the container itself.
  const stopped = await waitForStatus(s2.ecs, arn, 'STOPPED', 10_000);
  assert.equal(stopped.stopCode, 'UserInitiated');
  assert.equal(stopped.stoppedReason, 'stop before the crash');
  assert.equal(stopped.containers![0]!.exitCode, 137, 'SIGKILL after the stopTimeout');
  assert.ok(stopped.stoppingAt!.getTime() <= stopped.stoppedAt!.getTime());
  assert.deepEqual(s2.host.containerIds(), []);
});

test('a teardown that failed half-way is finished by the next server; leftovers of STOPPED tasks are swept', async () => {
  const s1 = await startFakeStack();
  stacks.push(s1);
  const def = await registerFamily(s1.ecs, 'adopt-teardown', [{ name: 'app', image: 'fake/web:1' }]);
  const stuck = (await runOne(s1.ecs, def)).taskArn!;
  const done = (await runOne(s1.ecs, def)).taskArn!;
  for (const arn of [stuck, done]) await waitForStatus(s1.ecs, arn, 'RUNNING');
  const stuckId = taskIdOf(stuck);
  s1.host.failNext('destroyContainer', 'device or resource busy', { match: (id) => id.startsWith(stuckId) });
  await s1.ecs.send(new StopTaskCommand({ task: stuck }));
  await waitFor('the runner to give up', async () => s1.logs.some((l) => l.includes(`task ${stuckId}: runner failed`) && l.includes('device or resource busy')), (v) => v);
  assert.equal((await describeTask(s1.ecs, stuck)).lastStatus, 'DEPROVISIONING', 'stuck half-way through its teardown');
  await s1.ecs.send(new StopTaskCommand({ task: done }));
  await waitForStatus(s1.ecs, done, 'STOPPED');
  await s1.crash();
  // What a crash in the middle of a teardown can leave of a task the store already has as STOPPED.
  const doneId = taskIdOf(done);
  const leftover = new FakeDriver(s1.host);
  await leftover.createTask(doneId, { cpuUnits: 256, memoryMiB: 512, pidsLimit: 64 });
  const subnet = [...s1.networkState.bridges.entries()][0]!;
  const att = await new FakeNetwork(s1.networkState).attach(doneId, { id: 'subnet-left', cidr: subnet[1], vpcCidr: '10.0.0.0/16', bridge: subnet[0] }, nthUsable(subnet[1], 200));
  await leftover.createContainer({ ...baseSpec, id: runtimeIdFor(doneId, 'app'), taskId: doneId, netnsPath: att.netnsPath });

  const s2 = await startFakeStack(s1.restartOptions());
  stacks.push(s2);
  // The stopped task's container, cgroup and namespace at least (the adopted teardown may race the sweep to its own).
  const removed = s2.logs.map((l) => /recovered 1 task\(s\) from the store, removed (\d+) leftover\(s\)/.exec(l)?.[1]).find(Boolean);
  assert.ok(Number(removed) >= 3, s2.logs.join('\n'));
  const finished = await waitForStatus(s2.ecs, stuck, 'STOPPED');
  assert.equal(finished.stopCode, 'UserInitiated');
  assert.equal(finished.containers![0]!.exitCode, 143, 'the exit recorded before the crash is kept');
  assert.deepEqual(s2.host.containerIds(), []);
  assert.deepEqual([...s2.host.tasks.keys()], []);
  assert.deepEqual([...s2.networkState.attached.keys()], []);
});

const baseSpec = {
  containerName: 'app',
  layerDirs: ['/fake/layer'],
  args: ['run'],
  env: [],
  cwd: '/',
  uid: 0,
  gid: 0,
  hostname: 'leftover',
  taskLimits: { cpuUnits: 256, memoryMiB: 512 },
};
