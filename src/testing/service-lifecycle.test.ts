/**
 * Services without root, on FAKE parts (fake-stack.ts): the real service
 * scheduler (reconcile → applier), placement, agent and task runners keep the
 * desired count when tasks fail, and the deployment circuit breaker fails a
 * rollout whose tasks do not start, rolling back when asked.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateServiceCommand, ListTasksCommand, UpdateServiceCommand, type Service } from '@aws-sdk/client-ecs';
import { startFakeStack, type FakeStack } from './fake-stack.ts';
import { describeService, describeTask, registerFamily, taskIdOf, waitFor } from './ecs-helpers.ts';
import { runtimeIdFor } from '../model/runtime-id.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const events = (svc: Service) => (svc.events ?? []).map((e) => e.message!);

describe('services on fake parts', () => {
  let s: FakeStack;
  before(async () => {
    s = await startFakeStack();
  });
  after(async () => {
    await s?.destroy();
  });

  const listTasks = async (serviceName: string, desiredStatus: 'RUNNING' | 'STOPPED') =>
    (await s.ecs.send(new ListTasksCommand({ serviceName, desiredStatus }))).taskArns ?? [];

  /** Waits until the service is steady at `count` RUNNING tasks and its primary deployment COMPLETED. */
  const waitSteady = (name: string, count: number) =>
    waitFor(
      `service ${name} steady at ${count}`,
      () => describeService(s.ecs, name),
      (svc) => svc.runningCount === count && svc.deployments?.length === 1 && svc.deployments[0]!.rolloutState === 'COMPLETED' && events(svc).some((e) => e.endsWith('has reached a steady state.')),
      10_000,
    );

  test('a service replaces a task whose essential container exits, back to its desired count', async () => {
    const def = await registerFamily(s.ecs, 'svc-web', [{ name: 'app', image: 'fake/web:1' }]);
    await s.ecs.send(new CreateServiceCommand({ serviceName: 'web', taskDefinition: def, desiredCount: 2, launchType: 'FARGATE' }));
    const steady = await waitSteady('web', 2);
    const first = await listTasks('web', 'RUNNING');
    assert.equal(first.length, 2);
    const task = await describeTask(s.ecs, first[0]!);
    assert.equal(task.startedBy, steady.deployments![0]!.id);
    assert.equal(task.group, 'service:web');

    s.host.exit(runtimeIdFor(taskIdOf(first[0]!), 'app'), 1);
    const replaced = await waitFor(
      'a replacement task',
      async () => ({ running: await listTasks('web', 'RUNNING'), failed: await describeTask(s.ecs, first[0]!) }),
      (v) => v.failed.lastStatus === 'STOPPED' && v.running.length === 2 && !v.running.includes(first[0]!),
      10_000,
    );
    assert.equal(replaced.failed.stopCode, 'EssentialContainerExited');
    assert.equal(replaced.failed.containers![0]!.exitCode, 1);
    assert.ok(replaced.running.includes(first[1]!), 'the healthy task was left alone');
    await waitFor('both tasks RUNNING', () => describeService(s.ecs, 'web'), (svc) => svc.runningCount === 2 && svc.pendingCount === 0);
  });

  test('circuit breaker without rollback: a rollout whose tasks fail to start ends FAILED and starts no more', async () => {
    const def = await registerFamily(s.ecs, 'svc-broken', [{ name: 'app', image: 'fake/app:1', command: ['fail-create', 'exec: "/app": no such file or directory'] }]);
    await s.ecs.send(
      new CreateServiceCommand({
        serviceName: 'broken',
        taskDefinition: def,
        desiredCount: 2,
        launchType: 'FARGATE',
        deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: false } },
      }),
    );
    const failed = await waitFor('the rollout to fail', () => describeService(s.ecs, 'broken'), (svc) => svc.deployments?.[0]?.rolloutState === 'FAILED', 10_000);
    const dep = failed.deployments![0]!;
    assert.equal(dep.rolloutStateReason, 'ECS deployment circuit breaker: tasks failed to start.');
    assert.ok(dep.failedTasks! >= 3, `failedTasks ${dep.failedTasks} reached the threshold (3 for desiredCount 2)`);
    assert.ok(events(failed).some((e) => e === `(service broken) (deployment ${dep.id}) deployment failed: tasks failed to start.`), events(failed).join('\n'));

    // Frozen: once every started task is STOPPED, no new one is started.
    await waitFor('its tasks to stop', () => listTasks('broken', 'RUNNING'), (l) => l.length === 0);
    const stoppedBefore = await listTasks('broken', 'STOPPED');
    await sleep(300); // six scheduler passes
    assert.deepEqual((await listTasks('broken', 'STOPPED')).sort(), stoppedBefore.sort(), 'no task started after the circuit breaker tripped');
    for (const arn of stoppedBefore) {
      const t = await describeTask(s.ecs, arn);
      assert.equal(t.stopCode, 'TaskFailedToStart');
      assert.equal(t.stoppedReason, 'CannotCreateContainerError: exec: "/app": no such file or directory');
    }
  });

  test('circuit breaker with rollback: a failed update returns to the last completed deployment; its tasks keep running', async () => {
    const good = await registerFamily(s.ecs, 'svc-api', [{ name: 'app', image: 'fake/api:1' }]);
    await s.ecs.send(
      new CreateServiceCommand({
        serviceName: 'api',
        taskDefinition: good,
        desiredCount: 2,
        launchType: 'FARGATE',
        deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true } },
      }),
    );
    const v1 = await waitSteady('api', 2);
    const v1Tasks = await listTasks('api', 'RUNNING');
    s.images.failPull('fake/api:2', 'fake/api:2: not found: manifest unknown');
    const bad = await registerFamily(s.ecs, 'svc-api', [{ name: 'app', image: 'fake/api:2' }]);
    await s.ecs.send(new UpdateServiceCommand({ service: 'api', taskDefinition: bad }));

    const back = await waitFor(
      'the rollback to complete',
      () => describeService(s.ecs, 'api'),
      (svc) => svc.taskDefinition === good && svc.deployments?.length === 1 && svc.deployments[0]!.rolloutState === 'COMPLETED' && svc.runningCount === 2,
      10_000,
    );
    const msgs = events(back);
    assert.ok(msgs.some((m) => /deployment failed: tasks failed to start\.$/.test(m)), msgs.join('\n'));
    assert.ok(msgs.some((m) => m === `(service api) rolling back to deployment ${v1.deployments![0]!.id}.`), msgs.join('\n'));
    assert.equal(back.deployments![0]!.taskDefinition, good);
    assert.deepEqual((await listTasks('api', 'RUNNING')).sort(), [...v1Tasks].sort(), 'the tasks of the good deployment kept running throughout');
    const failedStarts = (await listTasks('api', 'STOPPED')).map((arn) => describeTask(s.ecs, arn));
    for (const t of await Promise.all(failedStarts)) {
      assert.equal(t.taskDefinitionArn, bad);
      assert.equal(t.stopCode, 'TaskFailedToStart');
      assert.match(t.stoppedReason!, /^CannotPullContainerError: fake\/api:2: not found/);
    }
    assert.ok(failedStarts.length >= 3, `${failedStarts.length} failed starts tripped the breaker`);
  });

  test('tasks failing their container health checks are replaced, and count for the circuit breaker', async () => {
    const def = await registerFamily(s.ecs, 'svc-sick', [
      { name: 'app', image: 'fake/app:1', healthCheck: { command: ['CMD', 'echo', 'not ready', 'exit', '1'], interval: 5, timeout: 2, retries: 1 } },
    ]);
    await s.ecs.send(
      new CreateServiceCommand({
        serviceName: 'sick',
        taskDefinition: def,
        desiredCount: 2,
        launchType: 'FARGATE',
        deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: false } },
      }),
    );
    const failed = await waitFor('the rollout to fail', () => describeService(s.ecs, 'sick'), (svc) => svc.deployments?.[0]?.rolloutState === 'FAILED', 15_000);
    assert.ok(failed.deployments![0]!.failedTasks! >= 3);
    const stopped = await Promise.all((await listTasks('sick', 'STOPPED')).map((arn) => describeTask(s.ecs, arn)));
    const replaced = stopped.filter((t) => t.stoppedReason === 'Task failed container health checks');
    assert.ok(replaced.length >= 3, `${replaced.length} tasks replaced for failing health checks`);
    const latest = await describeService(s.ecs, 'sick'); // events of replacements after the breaker tripped too
    for (const t of replaced) {
      assert.equal(t.stopCode, 'ServiceSchedulerInitiated');
      assert.equal(t.containers![0]!.healthStatus, 'UNHEALTHY');
      assert.ok(events(latest).includes(`(service sick) (task ${taskIdOf(t.taskArn!)}) failed container health checks.`), events(latest).join('\n'));
    }
  });
});
