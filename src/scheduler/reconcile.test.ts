import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reconcile, countsAsFailure, type ReconcileInput } from './reconcile.ts';
import { DEPLOYMENT_TRANSITIONS, HEALTH_CHECK_FAILED_REASON, circuitBreakerThreshold, type DeploymentRecord, type ServiceRecord, type ServiceTask } from '../model/service-record.ts';

function deployment(id: string, over: Partial<DeploymentRecord> = {}): DeploymentRecord {
  return { id, status: 'PRIMARY', taskDefinitionArn: `td:${id}`, rolloutState: 'IN_PROGRESS', rolloutStateReason: '', failedTasks: 0, createdAt: 0, updatedAt: 0, ...over };
}

function service(over: Partial<ServiceRecord> = {}): ServiceRecord {
  return {
    id: 's1', arn: 'arn:svc', name: 'web', clusterName: 'default', clusterArn: 'arn:c', status: 'ACTIVE', desiredCount: 2, taskDefinitionArn: 'td:d1',
    deploymentConfiguration: { maximumPercent: 200, minimumHealthyPercent: 100, deploymentCircuitBreaker: { enable: true, rollback: true } },
    healthCheckGracePeriodSeconds: 0, propagateTags: 'NONE', enableECSManagedTags: false, platformVersion: 'LATEST', createdAt: 0,
    deployments: [deployment('d1')], events: [], steady: false, version: 1, ...over,
  };
}

let seq = 0;
function task(deploymentId: string, over: Partial<ServiceTask> = {}): ServiceTask {
  return { id: `t${++seq}`, deploymentId, desiredStatus: 'RUNNING', lastStatus: 'RUNNING', healthStatus: 'UNKNOWN', hasHealthCheck: false, capacityProviderName: 'FARGATE', createdAt: 10 + seq, ...over };
}

function run(svc: ServiceRecord, tasks: ServiceTask[], over: Partial<ReconcileInput> = {}) {
  let n = 0;
  return reconcile({ service: svc, tasks, now: 1000, bootAt: 0, maxStartsPerPass: 100, newId: () => `e${++n}`, newDeploymentId: () => `ecs-svc/new${++n}`, ...over });
}

const count = (p: ReturnType<typeof run>) => p.start.reduce((s, r) => s + r.capacityProviders.length, 0);

test('a new service starts desiredCount tasks, then completes and reports a steady state once', () => {
  const p1 = run(service(), []);
  assert.equal(count(p1), 2);
  assert.equal(p1.service.deployments[0].rolloutState, 'IN_PROGRESS');
  const tasks = [task('d1'), task('d1')];
  const p2 = run(p1.service, tasks);
  assert.equal(count(p2), 0);
  assert.equal(p2.service.deployments[0].rolloutState, 'COMPLETED');
  assert.deepEqual(p2.service.events.map((e) => e.message), ['(service web) has reached a steady state.', '(service web) (deployment d1) deployment completed.']);
  const p3 = run(p2.service, tasks);
  assert.equal(p3.changed, false, 'nothing to do, nothing written');
});

test('the plan is a pure function of the snapshot', () => {
  const svc = service();
  const tasks = [task('d1', { lastStatus: 'PENDING' })];
  assert.deepEqual(run(svc, tasks), run(svc, tasks));
  assert.equal(svc.events.length, 0, 'the input is not modified');
});

test('a stopped task is replaced; a pending task is not doubled', () => {
  const svc = service({ deployments: [deployment('d1', { rolloutState: 'COMPLETED', completedAt: 5 })], steady: true });
  const p = run(svc, [task('d1'), task('d1', { desiredStatus: 'STOPPED', lastStatus: 'STOPPED', stopCode: 'EssentialContainerExited' })]);
  assert.equal(count(p), 1);
  assert.equal(p.service.steady, false);
  assert.equal(count(run(svc, [task('d1'), task('d1', { lastStatus: 'PROVISIONING' })])), 0);
});

test('rolling update within 100/200: new tasks first, old drained only as new become healthy', () => {
  const svc = service({ deployments: [deployment('d2'), deployment('d1', { status: 'ACTIVE', rolloutState: 'COMPLETED', completedAt: 5 })] });
  const old = [task('d1'), task('d1')];
  const p1 = run(svc, old);
  assert.equal(count(p1), 2, 'maximumPercent 200 allows all new tasks at once');
  assert.equal(p1.stop.length, 0, 'minimumHealthyPercent 100 keeps the old ones');
  const fresh = [task('d2'), task('d2', { lastStatus: 'PENDING' })];
  const p2 = run(svc, [...old, ...fresh]);
  assert.equal(p2.stop.length, 1, 'one new task healthy: one old task may stop');
  assert.match(p2.stop[0].reason, /^Scaling activity initiated by \(deployment d2\)$/);
  const p3 = run(svc, [...old.map((t) => ({ ...t, desiredStatus: 'STOPPED' as const })), task('d2'), task('d2')]);
  assert.equal(p3.service.deployments.find((d) => d.id === 'd1')?.status, 'INACTIVE');
  assert.equal(p3.service.deployments[0].rolloutState, 'COMPLETED');
});

test('minimumHealthyPercent 50 / maximumPercent 100: old tasks make room first', () => {
  const svc = service({
    desiredCount: 4,
    deploymentConfiguration: { maximumPercent: 100, minimumHealthyPercent: 50, deploymentCircuitBreaker: { enable: false, rollback: false } },
    deployments: [deployment('d2'), deployment('d1', { status: 'ACTIVE', rolloutState: 'COMPLETED', completedAt: 5 })],
  });
  const p = run(svc, [task('d1'), task('d1'), task('d1'), task('d1')]);
  assert.equal(p.stop.length, 2, 'down to the healthy minimum');
  assert.equal(count(p), 2, 'the stopped ones make room at once');
  const p2 = run(svc, [task('d1'), task('d1'), task('d2', { lastStatus: 'PENDING' }), task('d2', { lastStatus: 'PENDING' })]);
  assert.equal(count(p2) + p2.stop.length, 0, 'nothing more until the new tasks are healthy');
});

test('circuit breaker: threshold failures mark FAILED and roll back to the last COMPLETED deployment', () => {
  assert.equal(circuitBreakerThreshold(1), 3);
  assert.equal(circuitBreakerThreshold(10), 5);
  assert.equal(circuitBreakerThreshold(1000), 200);
  const svc = service({ desiredCount: 1, deployments: [deployment('d2'), deployment('d1', { status: 'ACTIVE', rolloutState: 'COMPLETED', completedAt: 5 })] });
  const failed = (n: number) => Array.from({ length: n }, () => task('d2', { desiredStatus: 'STOPPED', lastStatus: 'STOPPED', stopCode: 'TaskFailedToStart' as const }));
  const p1 = run(svc, [task('d1'), ...failed(2)]);
  assert.equal(p1.service.deployments[0].failedTasks, 2);
  assert.equal(p1.service.deployments[0].rolloutState, 'IN_PROGRESS');
  const p2 = run(svc, [task('d1'), ...failed(3), task('d2', { lastStatus: 'PENDING' })]);
  const [primary, ...rest] = p2.service.deployments;
  assert.equal(primary.id, 'd1');
  assert.equal(primary.status, 'PRIMARY');
  assert.equal(p2.service.taskDefinitionArn, 'td:d1');
  const failedDep = rest.find((d) => d.id === 'd2')!;
  assert.equal(failedDep.rolloutState, 'FAILED');
  assert.equal(p2.stop.length, 1, 'the failed deployment’s pending task is stopped');
  assert.equal(failedDep.status, 'INACTIVE', 'no live task left in it');
  assert.ok(p2.service.events.some((e) => e.message === '(service web) (deployment d2) deployment failed: tasks failed to start.'));
  const p3 = run(p2.service, [task('d1')]);
  assert.equal(p3.service.deployments[0].rolloutState, 'COMPLETED');
  assert.equal(p3.service.deployments.filter((d) => d.status !== 'INACTIVE').length, 1);
});

test('circuit breaker without rollback holds the failed deployment; with no completed deployment nothing to return to', () => {
  const svc = service({ desiredCount: 1, deploymentConfiguration: { maximumPercent: 200, minimumHealthyPercent: 100, deploymentCircuitBreaker: { enable: true, rollback: false } } });
  const failed = Array.from({ length: 3 }, () => task('d1', { desiredStatus: 'STOPPED', lastStatus: 'STOPPED', stopCode: 'EssentialContainerExited' as const }));
  const p = run(svc, failed);
  assert.equal(p.service.deployments[0].rolloutState, 'FAILED');
  assert.equal(count(p), 0, 'a FAILED deployment starts nothing more');
});

test('tasks cut off by a server restart are not failures', () => {
  const t = task('d1', { desiredStatus: 'STOPPED', lastStatus: 'STOPPED', stopCode: 'TaskFailedToStart', createdAt: 50 });
  assert.equal(countsAsFailure(t, 100), false);
  assert.equal(countsAsFailure(t, 10), true);
  assert.equal(countsAsFailure({ ...t, stopCode: 'ServiceSchedulerInitiated', stoppedReason: 'Scaling activity' }, 0), false);
  assert.equal(countsAsFailure({ ...t, stopCode: 'ServiceSchedulerInitiated', stoppedReason: HEALTH_CHECK_FAILED_REASON }, 0), true);
});

test('an unhealthy task is replaced after the grace period; health-checked tasks count only when HEALTHY', () => {
  const svc = service({ desiredCount: 1, healthCheckGracePeriodSeconds: 10, deployments: [deployment('d1', { rolloutState: 'COMPLETED', completedAt: 1 })] });
  const sick = task('d1', { hasHealthCheck: true, healthStatus: 'UNHEALTHY', startedAt: 995 });
  assert.equal(run(svc, [sick]).stop.length, 0, 'within the grace period');
  const p = run(svc, [{ ...sick, startedAt: -10_000 }]);
  assert.deepEqual(p.stop, [{ taskId: sick.id, reason: HEALTH_CHECK_FAILED_REASON }]);
  assert.equal(count(p), 1, 'replacement started in the same pass');
  assert.ok(p.service.events[0].message.endsWith('failed container health checks.'));
  const fresh = service({ desiredCount: 1 });
  const p2 = run(fresh, [task('d1', { hasHealthCheck: true, healthStatus: 'UNKNOWN' })]);
  assert.equal(p2.service.deployments[0].rolloutState, 'IN_PROGRESS', 'not healthy yet: not completed');
});

test('scale-in stops pending tasks first, then the newest', () => {
  const svc = service({ desiredCount: 1, deployments: [deployment('d1', { rolloutState: 'COMPLETED', completedAt: 1 })] });
  const a = task('d1', { createdAt: 1 });
  const b = task('d1', { createdAt: 2 });
  const c = task('d1', { createdAt: 3, lastStatus: 'PENDING' });
  assert.deepEqual(run(svc, [a, b, c]).stop.map((s) => s.taskId), [c.id, b.id]);
});

test('a draining service stops everything, then becomes INACTIVE', () => {
  const svc = service({ status: 'DRAINING', desiredCount: 0 });
  const p = run(svc, [task('d1'), task('d1')]);
  assert.equal(p.stop.length, 2);
  assert.equal(p.service.status, 'DRAINING');
  const p2 = run(p.service, []);
  assert.equal(p2.service.status, 'INACTIVE');
});

test('replacements keep the capacity provider split', () => {
  const strategy = [
    { capacityProvider: 'FARGATE' as const, base: 1, weight: 1 },
    { capacityProvider: 'FARGATE_SPOT' as const, base: 0, weight: 3 },
  ];
  const svc = service({ desiredCount: 9, deployments: [deployment('d1', { capacityProviderStrategy: strategy })] });
  const p = run(svc, []);
  const tally = p.start[0].capacityProviders.reduce<Record<string, number>>((m, x) => ((m[x] = (m[x] ?? 0) + 1), m), {});
  assert.deepEqual(tally, { FARGATE: 3, FARGATE_SPOT: 6 });
  const running = [...Array(3)].map(() => task('d1')).concat([...Array(5)].map(() => task('d1', { capacityProviderName: 'FARGATE_SPOT' })));
  assert.deepEqual(run(svc, running).start[0].capacityProviders, ['FARGATE_SPOT']);
});

test('deployment transitions table: INACTIVE is final', () => {
  for (const [from, tos] of Object.entries(DEPLOYMENT_TRANSITIONS)) for (const to of tos) assert.notEqual(from, to);
  assert.deepEqual(DEPLOYMENT_TRANSITIONS.INACTIVE, []);
});

test('target group health: INITIAL does not count as healthy; UNHEALTHY is replaced after the grace period', () => {
  const steady = service({ deployments: [deployment('d1', { rolloutState: 'COMPLETED', completedAt: 5 })], steady: true, healthCheckGracePeriodSeconds: 2 });
  const tg = '(target-group arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1)';
  // Within the grace period (started at 0, now 1000 ms < 2000 ms): kept.
  const sick = task('d1', { loadBalancerHealth: 'UNHEALTHY', unhealthyIn: tg, startedAt: 0 });
  const ok = task('d1', { loadBalancerHealth: 'HEALTHY', startedAt: 0 });
  assert.deepEqual(run(steady, [sick, ok]).stop, []);
  // After it: stopped with ECS's reason, replaced.
  const p = run(steady, [sick, ok], { now: 2500 });
  assert.deepEqual(p.stop, [{ taskId: sick.id, reason: `Task failed ELB health checks in ${tg}` }]);
  assert.equal(count(p), 1, 'a replacement starts');
  assert.ok(countsAsFailure({ ...sick, desiredStatus: 'STOPPED', stopCode: 'ServiceSchedulerInitiated', stoppedReason: p.stop[0].reason }, 0));
  // A new deployment completes only once its tasks are HEALTHY in the target group.
  const fresh = service();
  assert.equal(run(fresh, [task('d1', { loadBalancerHealth: 'INITIAL' }), task('d1', { loadBalancerHealth: 'HEALTHY' })]).service.deployments[0].rolloutState, 'IN_PROGRESS');
  assert.equal(run(fresh, [task('d1', { loadBalancerHealth: 'HEALTHY' }), task('d1', { loadBalancerHealth: 'HEALTHY' })]).service.deployments[0].rolloutState, 'COMPLETED');
});

test('target group health: old tasks not checked yet (INITIAL, after a restart) are not stopped as unhealthy', () => {
  const svc = service({ desiredCount: 1, deployments: [deployment('d2'), deployment('d1', { status: 'ACTIVE', rolloutState: 'COMPLETED', completedAt: 5 })] });
  const old = task('d1', { loadBalancerHealth: 'INITIAL' });
  const fresh = task('d2', { loadBalancerHealth: 'INITIAL' });
  assert.deepEqual(run(svc, [old, fresh]).stop, [], 'the old task keeps serving until the new one is healthy');
  assert.deepEqual(run(svc, [old, { ...fresh, loadBalancerHealth: 'HEALTHY' }]).stop.map((s) => s.taskId), [old.id]);
});
