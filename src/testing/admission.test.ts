/**
 * Admission control without root, on FAKE parts (fake-stack.ts): the real
 * RunTask, placement and service scheduler on a fake host offering 512 CPU
 * units (two 256-unit tasks). RunTask refuses what does not fit with ECS's
 * failures; a service's task that does not fit waits, counted as pending,
 * and starts on a later pass once a standalone task stops.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateServiceCommand, DeleteServiceCommand, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { startFakeStack, type FakeStack } from './fake-stack.ts';
import { describeService, registerFamily, waitFor, waitForStatus } from './ecs-helpers.ts';

describe('admission control on fake parts', () => {
  let s: FakeStack;
  before(async () => {
    s = await startFakeStack({ admission: { host: 'fake-host', capacity: { cpu: 512, memory: 4096 }, overcommit: 1 } });
  });
  after(async () => {
    await s?.destroy();
  });

  test('RunTask starts what fits; a service waits PROVISIONING-free, pending, until room frees', async () => {
    const def = await registerFamily(s.ecs, 'small', [{ name: 'app', image: 'fake/app:1' }]);
    const run = await s.ecs.send(new RunTaskCommand({ taskDefinition: def, count: 3 }));
    assert.equal(run.tasks?.length, 2);
    assert.deepEqual(run.failures?.map((f) => [f.arn, f.reason]), [['arn:aws:ecs:us-east-1:123456789012:cluster/default', 'RESOURCE:CPU']]);
    const [a, b] = run.tasks!.map((t) => t.taskArn!);
    await waitForStatus(s.ecs, a!, 'RUNNING');
    await s.ecs.send(new StopTaskCommand({ task: a }));
    await waitForStatus(s.ecs, a!, 'STOPPED');

    const svcDef = await registerFamily(s.ecs, 'svc', [{ name: 'app', image: 'fake/app:1' }]);
    await s.ecs.send(new CreateServiceCommand({ serviceName: 'web', taskDefinition: svcDef, desiredCount: 2, launchType: 'FARGATE' }));
    const waiting = await waitFor(
      'one service task RUNNING and one waiting for room',
      () => describeService(s.ecs, 'web'),
      (svc) => svc.runningCount === 1 && (svc.events ?? []).some((e) => e.message === '(service web) was unable to place a task because no container instance met all of its requirements. The closest matching container-instance fake-host has insufficient CPU units available.'),
    );
    assert.equal(waiting.pendingCount, 1);
    assert.equal(waiting.deployments![0]!.pendingCount, 1);
    assert.equal(waiting.deployments![0]!.rolloutState, 'IN_PROGRESS');

    await s.ecs.send(new StopTaskCommand({ task: b }));
    const full = await waitFor('the second service task RUNNING', () => describeService(s.ecs, 'web'), (svc) => svc.runningCount === 2);
    assert.equal(full.pendingCount, 0);
    assert.equal(full.deployments![0]!.pendingCount, 0);
    // The host is full again: another RunTask is refused.
    const refused = await s.ecs.send(new RunTaskCommand({ taskDefinition: def }));
    assert.deepEqual(refused.failures?.map((f) => f.reason), ['RESOURCE:CPU']);
    await s.ecs.send(new DeleteServiceCommand({ service: 'web', force: true }));
  });
});
