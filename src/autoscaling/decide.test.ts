import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clampToRange, datapoints, decide, lastPeriodEnd, type DecisionInput, type PolicyView, type UsageSample } from './decide.ts';
import { MetricType } from './model.ts';

const policy = (datapoints: (number | undefined)[], over: Partial<PolicyView> = {}): PolicyView => ({
  name: 'cpu50',
  targetValue: 50,
  scaleOutCooldown: 60,
  scaleInCooldown: 120,
  disableScaleIn: false,
  alarmHigh: 'TargetTracking-service/c/s-AlarmHigh-1',
  alarmLow: 'TargetTracking-service/c/s-AlarmLow-2',
  datapoints,
  ...over,
});

/** The action, or the reason for none. */
const why = (d: ReturnType<typeof decide>) => (d.action === 'none' ? d.reason : d.action);

const input = (over: Partial<DecisionInput>): DecisionInput => ({
  now: 1_000_000,
  current: 2,
  min: 1,
  max: 10,
  deploymentInProgress: false,
  scaleOutSuspended: false,
  scaleInSuspended: false,
  scaleOutDatapoints: 3,
  scaleInDatapoints: 5,
  policies: [],
  ...over,
});

test('datapoints: CPU is Σ used / Σ reserved per period, each task averaged over its samples; no sample is a missing datapoint', () => {
  const s = (taskId: string, ts: number, cpuVcpus: number | undefined, cpuUnits = 256): UsageSample => ({ taskId, ts, cpuUnits, memoryMiB: 512, cpuVcpus, memoryBytes: 256 * 1024 * 1024 });
  const samples = [
    s('a', 1000, 0.25), s('a', 1500, 0.25), s('b', 1200, 0), // period [1000, 2000): a 100 %, b 0 % → 50 %
    s('a', 2100, undefined), s('a', 2500, 0.125), // period [2000, 3000): first sample has no rate; 50 %
    // period [3000, 4000): nothing
  ];
  assert.deepEqual(datapoints(samples, MetricType.cpu, { periodMs: 1000, end: 4000, count: 3 }), [50, 50, undefined]);
  assert.deepEqual(datapoints(samples, MetricType.memory, { periodMs: 1000, end: 3000, count: 2 }), [50, 50]);
  // Different sizes: 512 units at 100 % and 256 at 0 % → 512 / 768.
  const mixed = [s('a', 10, 0.5, 512), s('b', 20, 0, 256)];
  assert.equal(Math.round(datapoints(mixed, MetricType.cpu, { periodMs: 100, end: 100, count: 1 })[0]!), 67);
  assert.equal(lastPeriodEnd(12_345, 1000), 12_000);
});

test('scale out: ceil(current × metric / target) once the last N datapoints are above the target, clamped to max', () => {
  assert.deepEqual(decide(input({ policies: [policy([10, 90, 90, 90])] })), { action: 'scale-out', to: 4, policy: 'cpu50', alarm: 'TargetTracking-service/c/s-AlarmHigh-1', metric: 90 });
  assert.equal(decide(input({ policies: [policy([90, 40, 90, 90])] })).action, 'none', 'one datapoint at or below target: no alarm');
  assert.equal(decide(input({ policies: [policy([90, 90, undefined, 90])] })).action, 'none', 'a missing datapoint: no alarm');
  assert.deepEqual(decide(input({ max: 3, policies: [policy([99, 99, 99])] })), { action: 'scale-out', to: 3, policy: 'cpu50', alarm: 'TargetTracking-service/c/s-AlarmHigh-1', metric: 99 });
  assert.deepEqual(decide(input({ current: 3, max: 3, policies: [policy([99, 99, 99])] })), {
    action: 'none',
    reason: 'AlreadyAtMaxCapacity',
    policy: 'cpu50',
    alarm: 'TargetTracking-service/c/s-AlarmHigh-1',
    to: 6,
  });
  // Just above target still adds one task.
  const just = decide(input({ current: 10, max: 20, policies: [policy([50.5, 50.5, 50.5])] }));
  assert.equal(just.action === 'scale-out' && just.to, 11);
});

test('scale-out cooldown: no scale-out until it has passed since the last one; scale-in cooldown does not block scale-out', () => {
  const p = [policy([90, 90, 90])];
  assert.equal(why(decide(input({ policies: p, lastScaleOutAt: 1_000_000 - 59_000 }))), 'ScaleOutCooldown');
  assert.equal(decide(input({ policies: p, lastScaleOutAt: 1_000_000 - 60_000 })).action, 'scale-out');
  assert.equal(decide(input({ policies: p, lastScaleInAt: 1_000_000 - 1000 })).action, 'scale-out');
});

test('scale in: the last M datapoints below 90 % of the target, clamped to min; cooldown, deployments and DisableScaleIn stop it', () => {
  const low = [10, 10, 10, 10, 10];
  assert.deepEqual(decide(input({ current: 4, policies: [policy(low)] })), { action: 'scale-in', to: 1, policy: 'cpu50', alarm: 'TargetTracking-service/c/s-AlarmLow-2', metric: 10 });
  assert.equal(decide(input({ current: 4, min: 2, policies: [policy(low)] })).action === 'scale-in' && 2, 2);
  assert.equal(decide(input({ current: 4, policies: [policy([46, 46, 46, 46, 46])] })).action, 'none', '46 is above 90 % of 50');
  assert.equal(decide(input({ current: 4, policies: [policy([44, 44, 44, 44, 44])] })).action, 'scale-in', 'below 45 scales in by at least one');
  assert.equal(why(decide(input({ current: 4, policies: [policy([50, 10, 10, 10, 10])] }))), 'NoAlarm');
  assert.equal(why(decide(input({ current: 1, policies: [policy(low)] }))), 'AlreadyAtMinCapacity');
  assert.equal(why(decide(input({ current: 4, deploymentInProgress: true, policies: [policy(low)] }))), 'DeploymentInProgress');
  assert.equal(why(decide(input({ current: 4, lastScaleInAt: 1_000_000 - 119_000, policies: [policy(low)] }))), 'ScaleInCooldown');
  assert.equal(decide(input({ current: 4, lastScaleInAt: 1_000_000 - 120_000, policies: [policy(low)] })).action, 'scale-in');
  assert.equal(why(decide(input({ current: 4, policies: [policy(low, { disableScaleIn: true })] }))), 'NoAlarm');
  assert.equal(why(decide(input({ current: 4, scaleInSuspended: true, policies: [policy(low)] }))), 'ScaleInSuspended');
});

test('a deployment in progress does not stop a scale-out', () => {
  assert.equal(decide(input({ deploymentInProgress: true, policies: [policy([90, 90, 90])] })).action, 'scale-out');
});

test('several policies: any may scale out (the largest wins); scale in only when every policy that may scale in agrees', () => {
  const cpuHigh = policy([90, 90, 90], { name: 'cpu' });
  const memLow = policy([5, 5, 5, 5, 5], { name: 'mem' });
  const out = decide(input({ policies: [memLow, cpuHigh] }));
  assert.equal(out.action === 'scale-out' && out.policy, 'cpu');
  const cpuMid = policy([40, 40, 40, 40, 40], { name: 'cpu' }); // wants 2 → no change from 2? current 4: ceil(4×40/50)=4 → at least one less = 3
  const r = decide(input({ current: 4, policies: [memLow, cpuMid] }));
  assert.equal(r.action === 'scale-in' && r.to, 3, 'the more cautious policy decides how far');
  const cpuOk = policy([48, 48, 48, 48, 48], { name: 'cpu' });
  assert.equal(why(decide(input({ current: 4, policies: [memLow, cpuOk] }))), 'NoAlarm');
  // A policy with scale-in disabled does not veto the others.
  const r2 = decide(input({ current: 4, policies: [memLow, policy([48, 48, 48, 48, 48], { name: 'cpu', disableScaleIn: true })] }));
  assert.equal(r2.action, 'scale-in');
});

test('clampToRange: a new minimum or maximum moves the desired count into range', () => {
  assert.deepEqual(clampToRange(1, 2, 5), { to: 2, cause: 'minimum' });
  assert.deepEqual(clampToRange(7, 2, 5), { to: 5, cause: 'maximum' });
  assert.equal(clampToRange(3, 2, 5), undefined);
});
