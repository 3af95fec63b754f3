/**
 * Services end to end, through @aws-sdk/client-ecs against a real `skiff
 * server` running real runc tasks: steady state (and the SDK's
 * services-stable waiter), a killed task replaced, a rolling update, a broken
 * image tripping the circuit breaker and rolling back, an unhealthy container
 * replaced, dependsOn HEALTHY, the base/weight split, a Spot interruption with
 * its warning and replacement, and a server restart mid-deployment.
 * Short scheduler intervals and a 3 s Spot warning via env.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DeleteClusterCommand,
  DeleteServiceCommand,
  DescribeClustersCommand,
  DescribeServicesCommand,
  ListServicesCommand,
  ListTasksCommand,
  PutClusterCapacityProvidersCommand,
  RunTaskCommand,
  StopTaskCommand,
  UpdateServiceCommand,
  waitUntilServicesStable,
  type ContainerDefinition,
  type ECSClient,
  type Service,
  type Task,
} from '@aws-sdk/client-ecs';
import { waitFor, type TestServer } from './support/skiff-server.ts';
import type { TestRegistry } from './support/registry.ts';
import { startBusyboxStack, type BusyboxStack } from './support/stack.ts';
import { rejectsWith } from './support/api-errors.ts';
import { describeService as describeServiceOf, describeTask, registerFamily, taskLogText, waitTaskStatus } from './support/tasks.ts';

let stack: BusyboxStack;
let server: TestServer;
let registry: TestRegistry;
let ecs: ECSClient;
let image: string;

const ENV = { SKIFF_SERVICE_INTERVAL_MS: '200', SKIFF_SPOT_WARNING_MS: '3000' };

before(async () => {
  stack = await startBusyboxStack('test/busybox:svc', { env: ENV });
  ({ server, registry, ecs, image } = stack);
});
after(() => stack?.stop());

const LOOP = ['sh', '-c', 'while true; do sleep 1; done'];
let families = 0;
function register(containers: ContainerDefinition[], family = `svc${++families}`, client = ecs): Promise<string> {
  return registerFamily(client, family, containers.map((c) => ({ image, stopTimeout: 2, ...c })));
}

const describeService = (name: string, client = ecs, cluster?: string): Promise<Service> => describeServiceOf(client, name, cluster);

async function serviceTasks(name: string, desiredStatus: 'RUNNING' | 'STOPPED' = 'RUNNING', client = ecs, cluster?: string): Promise<string[]> {
  return (await client.send(new ListTasksCommand({ cluster, serviceName: name, desiredStatus }))).taskArns ?? [];
}

async function waitStable(name: string, client = ecs, maxWaitTime = 90): Promise<Service> {
  const r = await waitUntilServicesStable({ client, maxWaitTime, minDelay: 1, maxDelay: 2 }, { services: [name] });
  assert.equal(r.state, 'SUCCESS', JSON.stringify(r.reason));
  return describeService(name, client);
}

async function removeService(name: string, client = ecs): Promise<void> {
  await client.send(new DeleteServiceCommand({ service: name, force: true }));
  await waitFor(`service ${name} INACTIVE`, async () => (await describeService(name, client)).status === 'INACTIVE', 60_000);
}

const logsOf = (arn: string): Promise<string> => taskLogText(server, arn);

test('a service reaches a steady state; a killed task is replaced; delete drains it', async () => {
  const td = await register([{ name: 'web', command: LOOP }]);
  const created = await ecs.send(new CreateServiceCommand({ serviceName: 'web', taskDefinition: td, desiredCount: 2 }));
  assert.equal(created.service?.status, 'ACTIVE');
  assert.equal(created.service?.deployments?.[0].status, 'PRIMARY');
  assert.equal(created.service?.deployments?.[0].rolloutState, 'IN_PROGRESS');
  await rejectsWith(ecs.send(new CreateServiceCommand({ serviceName: 'web', taskDefinition: td, desiredCount: 3 })), 'InvalidParameterException');

  const svc = await waitStable('web');
  assert.equal(svc.runningCount, 2);
  assert.equal(svc.pendingCount, 0);
  assert.equal(svc.deployments?.length, 1);
  assert.equal(svc.deployments![0].rolloutState, 'COMPLETED');
  const depId = svc.deployments![0].id!;
  assert.match(depId, /^ecs-svc\/\d{19}$/);
  await waitFor('steady-state event', async () => (await describeService('web')).events?.some((e) => e.message === '(service web) has reached a steady state.'));
  const events = (await describeService('web')).events!.map((e) => e.message!);
  assert.ok(events.some((m) => /^\(service web\) has started 2 tasks: \(task [0-9a-f]{32}\) \(task [0-9a-f]{32}\)\.$/.test(m)), events.join('\n'));

  const arns = await serviceTasks('web');
  assert.equal(arns.length, 2);
  for (const arn of arns) {
    const t = await describeTask(ecs, arn);
    assert.equal(t.startedBy, depId);
    assert.equal(t.group, 'service:web');
    assert.equal(t.lastStatus, 'RUNNING');
  }
  assert.deepEqual((await ecs.send(new ListServicesCommand({}))).serviceArns, [svc.serviceArn]);
  assert.equal((await ecs.send(new DescribeClustersCommand({}))).clusters?.[0].activeServicesCount, 1);
  await rejectsWith(ecs.send(new DeleteClusterCommand({ cluster: 'default' })), 'ClusterContainsServicesException');

  // Kill one task: the service starts a replacement.
  await ecs.send(new StopTaskCommand({ task: arns[0], reason: 'chaos' }));
  await waitTaskStatus(ecs, arns[0], 'STOPPED');
  await waitFor('replacement', async () => {
    const now = await serviceTasks('web');
    return now.length === 2 && !now.includes(arns[0]) ? now : undefined;
  });
  const again = await waitStable('web');
  assert.equal(again.runningCount, 2);

  // Scale in to 1.
  await ecs.send(new UpdateServiceCommand({ service: 'web', desiredCount: 1 }));
  await waitFor('scaled in', async () => (await serviceTasks('web')).length === 1);
  const stoppedArns = await serviceTasks('web', 'STOPPED');
  const scaledIn = (await Promise.all(stoppedArns.map((a) => describeTask(ecs, a)))).filter((t) => t.stopCode === 'ServiceSchedulerInitiated');
  assert.equal(scaledIn.length, 1);
  assert.match(scaledIn[0].stoppedReason!, /^Scaling activity initiated by \(deployment ecs-svc\/\d+\)$/);

  await rejectsWith(ecs.send(new DeleteServiceCommand({ service: 'web' })), 'InvalidParameterException');
  const deleted = await ecs.send(new DeleteServiceCommand({ service: 'web', force: true }));
  assert.equal(deleted.service?.status, 'DRAINING');
  await waitFor('INACTIVE', async () => (await describeService('web')).status === 'INACTIVE', 30_000);
  assert.deepEqual(await serviceTasks('web'), []);
  assert.deepEqual((await ecs.send(new ListServicesCommand({}))).serviceArns, []);
  const missing = await ecs.send(new DescribeServicesCommand({ services: ['nope'] }));
  assert.equal(missing.failures?.[0].reason, 'MISSING');
  await rejectsWith(ecs.send(new UpdateServiceCommand({ service: 'nope', desiredCount: 1 })), 'ServiceNotFoundException');
});

test('a rolling update stays within 100/200 percent and ends on the new task definition', async () => {
  const v1 = await register([{ name: 'app', command: LOOP }], 'roll');
  const v2 = await register([{ name: 'app', command: ['sh', '-c', 'echo v2; while true; do sleep 1; done'] }], 'roll');
  await ecs.send(new CreateServiceCommand({ serviceName: 'roll', taskDefinition: v1, desiredCount: 2 }));
  const before = await waitStable('roll');
  const oldArns = await serviceTasks('roll');
  await ecs.send(new UpdateServiceCommand({ service: 'roll', taskDefinition: v2 }));
  let maxLive = 0;
  let minRunning = Infinity;
  const sampler = (async () => {
    for (;;) {
      const s = await describeService('roll');
      maxLive = Math.max(maxLive, s.runningCount! + s.pendingCount!);
      minRunning = Math.min(minRunning, s.runningCount!);
      if (s.deployments?.length === 1 && s.deployments[0].taskDefinition === v2 && s.deployments[0].rolloutState === 'COMPLETED') return s;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const after = await waitStable('roll');
  const done = await sampler;
  assert.equal(after.taskDefinition, v2);
  assert.notEqual(done.deployments![0].id, before.deployments![0].id);
  assert.ok(maxLive <= 4, `at most 200% live (saw ${maxLive})`);
  assert.ok(minRunning >= 2, `never below 100% running (saw ${minRunning})`);
  for (const arn of oldArns) {
    const t = await describeTask(ecs, arn);
    assert.equal(t.desiredStatus, 'STOPPED');
    assert.equal(t.stopCode, 'ServiceSchedulerInitiated');
  }
  for (const arn of await serviceTasks('roll')) assert.equal((await describeTask(ecs, arn)).taskDefinitionArn, v2);
  await removeService('roll');
});

test('a broken image trips the circuit breaker and the service rolls back to the last COMPLETED deployment', async () => {
  const good = await register([{ name: 'app', command: LOOP }], 'cb');
  const bad = await register([{ name: 'app', image: `${registry.host}/test/does-not-exist:1`, command: LOOP }], 'cb');
  await ecs.send(
    new CreateServiceCommand({
      serviceName: 'cb',
      taskDefinition: good,
      desiredCount: 1,
      deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true }, maximumPercent: 200, minimumHealthyPercent: 100 },
    }),
  );
  const stable = await waitStable('cb');
  const goodDeployment = stable.deployments![0].id;
  const goodTask = (await serviceTasks('cb'))[0];
  await ecs.send(new UpdateServiceCommand({ service: 'cb', taskDefinition: bad }));
  const rolled = await waitFor(
    'rollback',
    async () => {
      const s = await describeService('cb');
      return s.events?.some((e) => e.message?.includes('deployment failed: tasks failed to start.')) && s.taskDefinition === good ? s : undefined;
    },
    90_000,
  );
  const messages = rolled.events!.map((e) => e.message!);
  assert.ok(messages.some((m) => m === `(service cb) rolling back to deployment ${goodDeployment}.`), messages.join('\n'));
  const final = await waitStable('cb');
  assert.equal(final.taskDefinition, good);
  assert.equal(final.deployments![0].id, goodDeployment, 'the last completed deployment is primary again');
  assert.equal(final.deployments![0].rolloutState, 'COMPLETED');
  assert.deepEqual(await serviceTasks('cb'), [goodTask], 'the healthy task was never touched');
  const failed = await Promise.all((await serviceTasks('cb', 'STOPPED')).map((a) => describeTask(ecs, a)));
  assert.ok(failed.filter((t) => t.stopCode === 'TaskFailedToStart' && /^CannotPullContainerError/.test(t.stoppedReason ?? '')).length >= 3);
  await removeService('cb');
});

test('container health: HEALTHY in DescribeTasks, dependsOn HEALTHY, an unhealthy task replaced', async () => {
  // dependsOn HEALTHY: the sidecar starts only once the app's check passes.
  const dep = await register([
    { name: 'app', command: ['sh', '-c', 'sleep 2; touch /tmp/ok; while true; do sleep 1; done'], healthCheck: { command: ['CMD-SHELL', 'test -f /tmp/ok'], interval: 5, retries: 3 } },
    { name: 'side', command: LOOP, dependsOn: [{ containerName: 'app', condition: 'HEALTHY' }] },
  ]);
  const run = (await ecs.send(new RunTaskCommand({ taskDefinition: dep }))).tasks![0];
  const running = await waitTaskStatus(ecs, run.taskArn!, 'RUNNING', 30_000);
  const byName = Object.fromEntries(running.containers!.map((c) => [c.name, c]));
  assert.equal(byName.app.healthStatus, 'HEALTHY');
  assert.equal(running.healthStatus, 'HEALTHY');
  const appStart = (await server.fetch(`/skiff/v1/tasks/${run.taskArn!.split('/').pop()}`).then((r) => r.json())) as { timings: { phase: string; startedAt: number }[] };
  const t0 = appStart.timings.find((p) => p.phase === 'container-start:app')!.startedAt;
  const t1 = appStart.timings.find((p) => p.phase === 'container-start:side')!.startedAt;
  assert.ok(t1 - t0 >= 2000, `side started ${t1 - t0} ms after app: after app became HEALTHY`);
  await ecs.send(new StopTaskCommand({ task: run.taskArn! }));

  // A service task whose check starts failing is replaced.
  const td = await register([
    {
      name: 'app',
      command: ['sh', '-c', 'touch /tmp/ok; sleep 4; rm /tmp/ok; while true; do sleep 1; done'],
      healthCheck: { command: ['CMD', 'test', '-f', '/tmp/ok'], interval: 5, timeout: 2, retries: 1 },
    },
  ]);
  await ecs.send(new CreateServiceCommand({ serviceName: 'sick', taskDefinition: td, desiredCount: 1 }));
  const first = await waitFor('first task HEALTHY', async () => {
    const [arn] = await serviceTasks('sick');
    if (!arn) return undefined;
    const t = await describeTask(ecs, arn);
    return t.healthStatus === 'HEALTHY' ? t : undefined;
  });
  const stopped = await waitTaskStatus(ecs, first.taskArn!, 'STOPPED', 30_000);
  assert.equal(stopped.stopCode, 'ServiceSchedulerInitiated');
  assert.equal(stopped.stoppedReason, 'Task failed container health checks');
  assert.equal(stopped.containers?.[0].healthStatus, 'UNHEALTHY');
  await waitFor('replacement', async () => (await serviceTasks('sick')).some((a) => a !== first.taskArn));
  const events = (await describeService('sick')).events!.map((e) => e.message);
  assert.ok(events.includes(`(service sick) (task ${first.taskArn!.split('/').pop()}) failed container health checks.`), events.join('\n'));
  await removeService('sick');
});

test('capacity providers: base/weight split on RunTask, cluster default strategy, validation', async () => {
  const td = await register([{ name: 'app', command: LOOP }]);
  const out = await ecs.send(
    new RunTaskCommand({
      taskDefinition: td,
      count: 6,
      capacityProviderStrategy: [
        { capacityProvider: 'FARGATE', base: 2, weight: 1 },
        { capacityProvider: 'FARGATE_SPOT', weight: 3 },
      ],
    }),
  );
  const providers = out.tasks!.map((t) => t.capacityProviderName);
  assert.deepEqual(providers.slice(0, 2), ['FARGATE', 'FARGATE']);
  assert.equal(providers.filter((p) => p === 'FARGATE').length, 3, providers.join(','));
  assert.equal(providers.filter((p) => p === 'FARGATE_SPOT').length, 3);
  await rejectsWith(
    ecs.send(new RunTaskCommand({ taskDefinition: td, launchType: 'FARGATE', capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }] })),
    'InvalidParameterException',
  );
  await rejectsWith(
    ecs.send(new RunTaskCommand({ taskDefinition: td, capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 0 }] })),
    'InvalidParameterException',
  );

  await ecs.send(new CreateClusterCommand({ clusterName: 'spotty' }));
  const put = await ecs.send(
    new PutClusterCapacityProvidersCommand({
      cluster: 'spotty',
      capacityProviders: ['FARGATE', 'FARGATE_SPOT'],
      defaultCapacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }],
    }),
  );
  assert.deepEqual(put.cluster?.defaultCapacityProviderStrategy, [{ capacityProvider: 'FARGATE_SPOT', weight: 1, base: 0 }]);
  await rejectsWith(
    ecs.send(new PutClusterCapacityProvidersCommand({ cluster: 'spotty', capacityProviders: ['FARGATE'], defaultCapacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] })),
    'InvalidParameterException',
  );
  const onDefault = (await ecs.send(new RunTaskCommand({ cluster: 'spotty', taskDefinition: td }))).tasks![0];
  assert.equal(onDefault.capacityProviderName, 'FARGATE_SPOT');
  const explicit = (await ecs.send(new RunTaskCommand({ cluster: 'spotty', taskDefinition: td, launchType: 'FARGATE' }))).tasks![0];
  assert.equal(explicit.capacityProviderName, 'FARGATE');

  for (const t of out.tasks!) await ecs.send(new StopTaskCommand({ task: t.taskArn! }));
  for (const t of [onDefault, explicit]) await ecs.send(new StopTaskCommand({ cluster: 'spotty', task: t.taskArn! }));
  for (const t of [...out.tasks!]) await waitTaskStatus(ecs, t.taskArn!, 'STOPPED');
  for (const t of [onDefault, explicit]) {
    await waitFor('stopped', async () => (await describeTask(ecs, t.taskArn!, 'spotty')).lastStatus === 'STOPPED');
  }
});

test('a Spot interruption: SIGTERM with a warning, then SpotInterruption, and the service replaces the task', async () => {
  const td = await register([{ name: 'app', command: ['sh', '-c', "trap 'echo got SIGTERM' TERM; while true; do sleep 1; done"] }]);
  await ecs.send(
    new CreateServiceCommand({ serviceName: 'spot', taskDefinition: td, desiredCount: 1, capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] }),
  );
  await waitStable('spot');
  const [arn] = await serviceTasks('spot');
  assert.equal((await describeTask(ecs, arn)).capacityProviderName, 'FARGATE_SPOT');

  const cli = execFileSync(process.execPath, [resolve('bin/skiff.js'), '--output', 'json', 'spot', 'interrupt', arn], { encoding: 'utf8', env: server.clientEnv() });
  const answered = JSON.parse(cli) as { task: Task };
  assert.equal(answered.task.stopCode, 'SpotInterruption');
  assert.equal(answered.task.desiredStatus, 'STOPPED');
  const interruptedAt = Date.now();

  // The warning: SIGTERM reached the container, which keeps running until the warning ends.
  await waitFor('SIGTERM seen', async () => /got SIGTERM/.test(await logsOf(arn)), 5000);
  const during = await describeTask(ecs, arn);
  assert.notEqual(during.lastStatus, 'STOPPED', 'still running during the warning');
  // The replacement does not wait for the warning to end.
  await waitFor('replacement', async () => (await serviceTasks('spot')).some((a) => a !== arn), 10_000);

  const stopped = await waitTaskStatus(ecs, arn, 'STOPPED', 20_000);
  assert.ok(Date.now() - interruptedAt >= 2500, 'stopped only after the warning period');
  assert.equal(stopped.stopCode, 'SpotInterruption');
  assert.equal(stopped.stoppedReason, 'Your Spot Task was interrupted.');
  const after = await waitStable('spot');
  assert.equal(after.runningCount, 1);
  const [replacement] = await serviceTasks('spot');
  assert.equal((await describeTask(ecs, replacement)).capacityProviderName, 'FARGATE_SPOT');

  // Only Spot capacity is reclaimed.
  const onDemand = (await ecs.send(new RunTaskCommand({ taskDefinition: td, launchType: 'FARGATE' }))).tasks![0];
  const res = await server.fetch(`/skiff/v1/tasks/${onDemand.taskArn!.split('/').pop()}/spot-interruption`, { method: 'POST', body: '{}' });
  assert.equal(res.status, 400);
  await ecs.send(new StopTaskCommand({ task: onDemand.taskArn! }));
  await removeService('spot');
});

test('a server restart during a Spot warning keeps the warning\'s deadline, not a fresh stopTimeout', async () => {
  // The container ignores SIGTERM and has ECS's default 30 s stopTimeout: only the stored 3 s deadline ends it early.
  const td = await register([{ name: 'app', command: ['sh', '-c', "trap '' TERM; while true; do sleep 1; done"] }]);
  const out = await ecs.send(new RunTaskCommand({ taskDefinition: td, capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] }));
  const arn = out.tasks![0]!.taskArn!;
  await waitTaskStatus(ecs, arn, 'RUNNING', 30_000);
  const res = await server.fetch(`/skiff/v1/tasks/${arn.split('/').pop()}/spot-interruption`, { method: 'POST', body: '{}' });
  assert.equal(res.status, 200, await res.text());
  const interruptedAt = Date.now();
  await server.stop('SIGKILL');
  await server.start();
  const stopped = await waitTaskStatus(ecs, arn, 'STOPPED', 25_000);
  const took = Date.now() - interruptedAt;
  assert.ok(took < 15_000, `stopped ${took} ms after the interruption: the 3 s warning held across the restart (30 s stopTimeout not restarted)`);
  assert.equal(stopped.stopCode, 'SpotInterruption');
  assert.equal(stopped.stoppedReason, 'Your Spot Task was interrupted.');
  assert.equal(stopped.containers![0]!.exitCode, 137, 'SIGKILL at the deadline');
});

test('a server restart in the middle of a deployment neither loses nor doubles tasks', async () => {
  const v1 = await register([{ name: 'app', command: LOOP }], 'restart');
  // v2 tasks run at once but become HEALTHY only after ~6 s: the deployment is mid-way for a while.
  const v2 = await register(
    [{ name: 'app', command: ['sh', '-c', 'sleep 4; touch /tmp/ok; while true; do sleep 1; done'], healthCheck: { command: ['CMD-SHELL', 'test -f /tmp/ok'], interval: 5, retries: 3, startPeriod: 10 } }],
    'restart',
  );
  await ecs.send(new CreateServiceCommand({ serviceName: 'rs', taskDefinition: v1, desiredCount: 2 }));
  await waitStable('rs');
  const oldArns = await serviceTasks('rs');
  await ecs.send(new UpdateServiceCommand({ service: 'rs', taskDefinition: v2 }));
  const newArns = await waitFor('both new tasks RUNNING, not yet healthy', async () => {
    const arns = (await serviceTasks('rs')).filter((a) => !oldArns.includes(a));
    if (arns.length !== 2) return undefined;
    const ts = await Promise.all(arns.map((a) => describeTask(ecs, a)));
    return ts.every((t) => t.lastStatus === 'RUNNING') ? arns.sort() : undefined;
  });
  const mid = await describeService('rs');
  assert.equal(mid.deployments?.length, 2, 'mid-deployment');
  await server.stop('SIGKILL');
  await server.start();
  ecs = server.ecs();
  const final = await waitStable('rs');
  assert.equal(final.taskDefinition, v2);
  assert.equal(final.runningCount, 2);
  assert.deepEqual((await serviceTasks('rs')).sort(), newArns, 'the same new tasks, adopted: none lost, none doubled');
  const all = [...(await serviceTasks('rs')), ...(await serviceTasks('rs', 'STOPPED'))];
  assert.equal(all.length, 4, 'two old, two new: nothing started twice');
  for (const arn of oldArns) assert.equal((await describeTask(ecs, arn)).stopCode, 'ServiceSchedulerInitiated');
  await removeService('rs');
});
