/**
 * Admission control end to end, through @aws-sdk/client-ecs against a real
 * `skiff server` running real runc tasks. The server's --overcommit and
 * --reserved-memory are set from this machine's size so that the host offers
 * about 2816 CPU units and 5632 MiB whatever the machine: two 1 vCPU / 2 GiB
 * tasks fit, a third does not.
 *
 *  - RunTask count 3 → 2 tasks + a RESOURCE:CPU failure; a memory-bound task →
 *    RESOURCE:MEMORY; a 16 vCPU / 120 GiB task → refused, nothing stored;
 *  - 10 parallel RunTasks for the last room → exactly one wins;
 *  - a service of 3 where 2 fit → 2 RUNNING, ECS's "unable to place" event,
 *    pendingCount 1; a standalone task stopped → the third starts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpus, totalmem } from 'node:os';
import { CreateServiceCommand, DeleteServiceCommand, ListTasksCommand, RunTaskCommand, StopTaskCommand, type ContainerDefinition, type ECSClient } from '@aws-sdk/client-ecs';
import { waitFor, type TestServer } from './support/skiff-server.ts';
import { startBusyboxStack, type BusyboxStack } from './support/stack.ts';
import { describeService, registerFamily, waitServiceRunning, waitTaskStatus } from './support/tasks.ts';

const RATIO = 2.75 / cpus().length; // → floor(cores × 1024 × RATIO) = 2816 CPU units
const MEMORY_MIB = Math.round(5632 / RATIO); // offered before overcommit → ≈ 5632 MiB after
const RESERVED_MIB = Math.floor(totalmem() / 2 ** 20) - MEMORY_MIB;

let stack: BusyboxStack;
let server: TestServer;
let ecs: ECSClient;
let image: string;

before(async () => {
  stack = await startBusyboxStack('test/busybox:admission', {
    env: { SKIFF_SERVICE_INTERVAL_MS: '200' },
    args: ['--overcommit', String(RATIO), '--reserved-memory', String(RESERVED_MIB)],
  });
  ({ server, ecs, image } = stack);
});
after(() => stack?.stop());

const LOOP = ['sh', '-c', 'while true; do sleep 1; done'];
const containers = (): ContainerDefinition[] => [{ name: 'app', image, command: LOOP, stopTimeout: 2 }];
const family = (name: string, cpu: string, memory: string) => registerFamily(ecs, name, containers(), { cpu, memory });
const CLUSTER_ARN = 'arn:aws:ecs:us-east-1:123456789012:cluster/default';

async function stopAndWait(arn: string): Promise<void> {
  await ecs.send(new StopTaskCommand({ task: arn, reason: 'admission test' }));
  await waitTaskStatus(ecs, arn, 'STOPPED', 120_000);
}

const taskCount = async (family?: string) =>
  ((await ecs.send(new ListTasksCommand({ family, desiredStatus: 'RUNNING' }))).taskArns?.length ?? 0) +
  ((await ecs.send(new ListTasksCommand({ family, desiredStatus: 'STOPPED' }))).taskArns?.length ?? 0);

test('RunTask starts what fits and refuses the rest as ECS does; a service waits for room and starts when it frees', async () => {
  // 1. Count 3 where 2 fit: two tasks, one RESOURCE:CPU failure naming the cluster.
  const big = await family('one-vcpu', '1024', '2048');
  const three = await ecs.send(new RunTaskCommand({ taskDefinition: big, count: 3 }));
  assert.equal(three.tasks?.length, 2, JSON.stringify(three.failures));
  assert.equal(three.failures?.length, 1);
  assert.equal(three.failures![0].reason, 'RESOURCE:CPU');
  assert.equal(three.failures![0].arn, CLUSTER_ARN);
  assert.match(three.failures![0].detail ?? '', /insufficient CPU units available.*--overcommit/);
  const [a, b] = three.tasks!.map((t) => t.taskArn!);
  await waitTaskStatus(ecs, a!, 'RUNNING', 120_000);
  await waitTaskStatus(ecs, b!, 'RUNNING', 120_000);

  // 2. Memory-bound: 256 more CPU units would fit, 2 GiB more memory does not.
  const memHeavy = await family('mem-heavy', '256', '2048');
  const mem = await ecs.send(new RunTaskCommand({ taskDefinition: memHeavy }));
  assert.deepEqual(mem.tasks, []);
  assert.deepEqual(mem.failures?.map((f) => f.reason), ['RESOURCE:MEMORY']);

  // 3. The task (16 vCPU / 120 GiB): refused, nothing stored, so nothing to bill.
  const huge = await family('huge', '16384', '122880');
  const refused = await ecs.send(new RunTaskCommand({ taskDefinition: huge, count: 2 }));
  assert.deepEqual(refused.tasks, []);
  assert.deepEqual(refused.failures?.map((f) => f.reason), ['RESOURCE:CPU', 'RESOURCE:CPU']);
  assert.equal(await taskCount('huge'), 0);
  assert.equal(await taskCount('mem-heavy'), 0);

  // 4. Ten RunTasks at once for the last room (512 units): exactly one wins.
  const half = await family('half-vcpu', '512', '1024');
  const race = await Promise.all(Array.from({ length: 10 }, () => ecs.send(new RunTaskCommand({ taskDefinition: half }))));
  const winners = race.flatMap((r) => r.tasks ?? []);
  assert.equal(winners.length, 1, JSON.stringify(race.map((r) => r.failures)));
  assert.equal(race.flatMap((r) => r.failures ?? []).filter((f) => f.reason === 'RESOURCE:CPU').length, 9);
  const w = winners[0]!.taskArn!;
  assert.equal(await taskCount(), 3);

  // 5. Free one 1 vCPU task: 1536 units held, room for two 512-unit service tasks, not three.
  await stopAndWait(b!);
  const svcDef = await family('svc-half', '512', '1024');
  await ecs.send(new CreateServiceCommand({ serviceName: 'crowded', taskDefinition: svcDef, desiredCount: 3 }));
  await waitServiceRunning(ecs, 'crowded', 2, 120_000);
  const waiting = await waitFor(
    'the service event saying a task could not be placed',
    async () => {
      const s = await describeService(ecs, 'crowded');
      return s.events?.some((e) => /^\(service crowded\) was unable to place a task because no container instance met all of its requirements\. The closest matching container-instance .+ has insufficient CPU units available\.$/.test(e.message ?? '')) ? s : undefined;
    },
    30_000,
  );
  assert.equal(waiting.runningCount, 2);
  assert.equal(waiting.pendingCount, 1);
  assert.equal(waiting.deployments?.[0].pendingCount, 1);
  assert.equal(waiting.deployments?.[0].rolloutState, 'IN_PROGRESS');
  // Still waiting a few passes later (it is retried, not dropped).
  await new Promise((r) => setTimeout(r, 1000));
  const later = await describeService(ecs, 'crowded');
  assert.equal(later.runningCount, 2);
  assert.equal(later.pendingCount, 1);

  // 6. Stop the standalone winner: the service's third task starts.
  await stopAndWait(w);
  const full = await waitServiceRunning(ecs, 'crowded', 3, 120_000);
  assert.equal(full.pendingCount, 0);
  assert.equal(full.deployments?.[0].pendingCount, 0);

  await ecs.send(new DeleteServiceCommand({ service: 'crowded', force: true }));
  await stopAndWait(a!);
});
