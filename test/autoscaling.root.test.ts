/**
 * Service autoscaling end to end, through @aws-sdk/client-application-auto-scaling
 * (and /usr/bin/aws, and the skiff CLI) against a real `skiff server` running
 * real runc tasks whose CPU use is read from their cgroups: a busy loop scales
 * the service out (cooldown respected, clamped to max), scale-in waits while a
 * deployment is in progress, an idle service scales in to its minimum, a
 * scheduled at() action (also in another time zone) changes min/max and the
 * desired count follows, validation errors carry AWS's error types, and
 * everything survives a server restart.
 *
 * Test-sized alarms via env: 2 s datapoints, 2 above target to scale out, 3
 * below 90 % of it to scale in; stats sampled every 500 ms.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { resolve } from 'node:path';
import {
  ApplicationAutoScalingClient,
  DeleteScalingPolicyCommand,
  DeleteScheduledActionCommand,
  DeregisterScalableTargetCommand,
  DescribeScalableTargetsCommand,
  DescribeScalingActivitiesCommand,
  DescribeScalingPoliciesCommand,
  DescribeScheduledActionsCommand,
  PutScalingPolicyCommand,
  PutScheduledActionCommand,
  RegisterScalableTargetCommand,
  type ScalingActivity,
} from '@aws-sdk/client-application-auto-scaling';
import { CreateServiceCommand, UpdateServiceCommand, type ContainerDefinition, type ECSClient, type Service } from '@aws-sdk/client-ecs';
import { TEST_ROOT_KEY, waitFor, type TestServer } from './support/skiff-server.ts';
import { startBusyboxStack, type BusyboxStack } from './support/stack.ts';
import { rejectsWith } from './support/api-errors.ts';
import { describeService, registerFamily, waitServiceRunning } from './support/tasks.ts';

const run = promisify(execFile);
const SKIFF = resolve(import.meta.dirname, '../bin/skiff.js');
const ENV = {
  SKIFF_SERVICE_INTERVAL_MS: '200',
  SKIFF_STATS_INTERVAL_MS: '500',
  SKIFF_AUTOSCALING_INTERVAL_MS: '250',
  SKIFF_AUTOSCALING_PERIOD_MS: '2000',
  SKIFF_AUTOSCALING_SCALE_OUT_DATAPOINTS: '2',
  SKIFF_AUTOSCALING_SCALE_IN_DATAPOINTS: '3',
};
const DIM = 'ecs:service:DesiredCount' as const;

let stack: BusyboxStack;
let server: TestServer;
let ecs: ECSClient;
let aas: ApplicationAutoScalingClient;
let image: string;

before(async () => {
  stack = await startBusyboxStack('test/busybox:autoscaling', { env: ENV });
  ({ server, ecs, image } = stack);
  aas = client();
});
after(() => stack?.stop());

function client(): ApplicationAutoScalingClient {
  return new ApplicationAutoScalingClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: TEST_ROOT_KEY, maxAttempts: 1 });
}


let families = 0;
function register(container: ContainerDefinition): Promise<string> {
  return registerFamily(ecs, `as${++families}`, [{ name: 'app', image, stopTimeout: 2, ...container }]);
}

const service = (name: string): Promise<Service> => describeService(ecs, name);

async function activities(resourceId: string): Promise<ScalingActivity[]> {
  return (await aas.send(new DescribeScalingActivitiesCommand({ ServiceNamespace: 'ecs', ResourceId: resourceId }))).ScalingActivities ?? [];
}

/** Not scaled activities: an alarm fired and nothing changed (newest first). */
async function notScaled(resourceId: string): Promise<ScalingActivity[]> {
  const all = (await aas.send(new DescribeScalingActivitiesCommand({ ServiceNamespace: 'ecs', ResourceId: resourceId, IncludeNotScaledActivities: true }))).ScalingActivities ?? [];
  return all.filter((a) => a.NotScaledReasons?.length);
}

const IDLE = ['sh', '-c', 'while true; do sleep 1; done'];
const BURN = ['sh', '-c', 'while :; do :; done'];

test('the API validates like AWS: resource ids, namespaces, min > max, unknown targets, policies and scheduled actions', async () => {
  const td = await register({ command: IDLE });
  await ecs.send(new CreateServiceCommand({ serviceName: 'api', taskDefinition: td, desiredCount: 0 }));
  const id = { ServiceNamespace: 'ecs' as const, ScalableDimension: DIM };
  const rid = 'service/default/api';

  await rejectsWith(aas.send(new RegisterScalableTargetCommand({ ...id, ResourceId: 'api', MinCapacity: 0, MaxCapacity: 2 })), 'ValidationException', /service\/<cluster-name>\/<service-name>/);
  await rejectsWith(aas.send(new RegisterScalableTargetCommand({ ...id, ResourceId: 'service/default', MinCapacity: 0, MaxCapacity: 2 })), 'ValidationException');
  await rejectsWith(aas.send(new RegisterScalableTargetCommand({ ...id, ServiceNamespace: 'dynamodb', ResourceId: 'table/t', MinCapacity: 0, MaxCapacity: 2 })), 'ValidationException');
  await rejectsWith(aas.send(new RegisterScalableTargetCommand({ ...id, ScalableDimension: 'ecs:service:Nope' as typeof DIM, ResourceId: rid, MinCapacity: 0, MaxCapacity: 2 })), 'ValidationException');
  await rejectsWith(aas.send(new RegisterScalableTargetCommand({ ...id, ResourceId: 'service/default/nope', MinCapacity: 0, MaxCapacity: 2 })), 'ValidationException', /ECS service doesn't exist/);
  await rejectsWith(aas.send(new RegisterScalableTargetCommand({ ...id, ResourceId: rid, MinCapacity: 1 })), 'ValidationException', /MaxCapacity/);
  await rejectsWith(aas.send(new RegisterScalableTargetCommand({ ...id, ResourceId: rid, MinCapacity: 3, MaxCapacity: 2 })), 'ValidationException', /Minimum capacity cannot be greater than maximum capacity/);
  assert.equal((await aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs' }))).ScalableTargets?.length, 0, 'nothing half-made');

  const reg = await aas.send(new RegisterScalableTargetCommand({ ...id, ResourceId: rid, MinCapacity: 0, MaxCapacity: 2 }));
  assert.match(reg.ScalableTargetARN!, /^arn:aws:application-autoscaling:us-east-1:\d{12}:scalable-target\/[0-9a-f]+$/);
  const [t] = (await aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs', ResourceIds: [rid] }))).ScalableTargets!;
  assert.equal(t.MinCapacity, 0);
  assert.equal(t.MaxCapacity, 2);
  assert.ok(t.CreationTime instanceof Date && Math.abs(t.CreationTime.getTime() - Date.now()) < 60_000);
  assert.deepEqual(t.SuspendedState, { DynamicScalingInSuspended: false, DynamicScalingOutSuspended: false, ScheduledScalingSuspended: false });
  // Updating min alone keeps max; still min ≤ max.
  await aas.send(new RegisterScalableTargetCommand({ ...id, ResourceId: rid, MinCapacity: 1 }));
  await rejectsWith(aas.send(new RegisterScalableTargetCommand({ ...id, ResourceId: rid, MinCapacity: 5 })), 'ValidationException');
  const raised = (await aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs', ResourceIds: [rid] }))).ScalableTargets![0];
  assert.deepEqual([raised.MinCapacity, raised.MaxCapacity, raised.ScalableTargetARN], [1, 2, reg.ScalableTargetARN]);
  // A minimum above the desired count moves the service up (and says why).
  await waitFor('api desiredCount 1', async () => (await service('api')).desiredCount === 1, 10_000);
  const [moved] = await activities(rid);
  assert.equal(moved.Description, 'Setting desired count to 1.');
  assert.equal(moved.Cause, 'minimum capacity was set to 1');
  assert.equal(moved.StatusCode, 'Successful');

  const tt = (over: Record<string, unknown> = {}) => ({
    TargetValue: 50,
    PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' as const },
    ...over,
  });
  await rejectsWith(
    aas.send(new PutScalingPolicyCommand({ ...id, ResourceId: 'service/default/other', PolicyName: 'p', PolicyType: 'TargetTrackingScaling', TargetTrackingScalingPolicyConfiguration: tt() })),
    'ObjectNotFoundException',
  );
  await rejectsWith(
    aas.send(new PutScalingPolicyCommand({ ...id, ResourceId: rid, PolicyName: 'p', PolicyType: 'TargetTrackingScaling', TargetTrackingScalingPolicyConfiguration: tt({ PredefinedMetricSpecification: { PredefinedMetricType: 'ALBRequestCountPerTarget' } }) })),
    'ValidationException',
  );
  await rejectsWith(aas.send(new PutScalingPolicyCommand({ ...id, ResourceId: rid, PolicyName: 'p', PolicyType: 'StepScaling' })), 'ValidationException');
  await rejectsWith(aas.send(new PutScalingPolicyCommand({ ...id, ResourceId: rid, PolicyName: 'p', PolicyType: 'TargetTrackingScaling', TargetTrackingScalingPolicyConfiguration: tt({ ScaleInCooldown: -1 }) })), 'ValidationException');

  const put = await aas.send(new PutScalingPolicyCommand({ ...id, ResourceId: rid, PolicyName: 'cpu50', PolicyType: 'TargetTrackingScaling', TargetTrackingScalingPolicyConfiguration: tt() }));
  assert.match(put.PolicyARN!, /^arn:aws:autoscaling:us-east-1:\d{12}:scalingPolicy:[0-9a-f-]{36}:resource\/ecs\/service\/default\/api:policyName\/cpu50$/);
  assert.deepEqual(put.Alarms!.map((a) => a.AlarmName!.replace(/[0-9a-f-]{36}$/, 'UUID')), ['TargetTracking-service/default/api-AlarmHigh-UUID', 'TargetTracking-service/default/api-AlarmLow-UUID']);
  const [p] = (await aas.send(new DescribeScalingPoliciesCommand({ ServiceNamespace: 'ecs', ResourceId: rid }))).ScalingPolicies!;
  assert.equal(p.PolicyType, 'TargetTrackingScaling');
  assert.deepEqual(p.TargetTrackingScalingPolicyConfiguration, { ...tt(), ScaleOutCooldown: 300, ScaleInCooldown: 300, DisableScaleIn: false }, 'AWS defaults: 300 s cooldowns');
  // Put again: the same policy updated; scale-in disabled drops the low alarm.
  const again = await aas.send(new PutScalingPolicyCommand({ ...id, ResourceId: rid, PolicyName: 'cpu50', PolicyType: 'TargetTrackingScaling', TargetTrackingScalingPolicyConfiguration: tt({ DisableScaleIn: true }) }));
  assert.equal(again.PolicyARN, put.PolicyARN);
  assert.equal(again.Alarms!.length, 1);
  await rejectsWith(aas.send(new DeleteScalingPolicyCommand({ ...id, ResourceId: rid, PolicyName: 'nope' })), 'ObjectNotFoundException', /policy name: nope/);

  await rejectsWith(aas.send(new PutScheduledActionCommand({ ...id, ResourceId: rid, ScheduledActionName: 's', Schedule: 'cron(0 9 * * MON *)', ScalableTargetAction: { MinCapacity: 1 } })), 'ValidationException', /\?/);
  await rejectsWith(aas.send(new PutScheduledActionCommand({ ...id, ResourceId: rid, ScheduledActionName: 's', Schedule: 'rate(5 minutes)', Timezone: 'Mars/Olympus', ScalableTargetAction: { MinCapacity: 1 } })), 'ValidationException');
  await rejectsWith(aas.send(new PutScheduledActionCommand({ ...id, ResourceId: rid, ScheduledActionName: 's', Schedule: 'rate(5 minutes)', ScalableTargetAction: { MinCapacity: 3, MaxCapacity: 1 } })), 'ValidationException');
  await aas.send(new PutScheduledActionCommand({ ...id, ResourceId: rid, ScheduledActionName: 'nightly', Schedule: 'cron(0 22 ? * MON-FRI *)', Timezone: 'Europe/Berlin', ScalableTargetAction: { MinCapacity: 0, MaxCapacity: 1 } }));
  const [s] = (await aas.send(new DescribeScheduledActionsCommand({ ServiceNamespace: 'ecs', ResourceId: rid }))).ScheduledActions!;
  assert.equal(s.Schedule, 'cron(0 22 ? * MON-FRI *)');
  assert.equal(s.Timezone, 'Europe/Berlin');
  assert.deepEqual(s.ScalableTargetAction, { MinCapacity: 0, MaxCapacity: 1 });
  assert.match(s.ScheduledActionARN!, /:scheduledAction:[0-9a-f-]{36}:resource\/ecs\/service\/default\/api:scheduledActionName\/nightly$/);
  await rejectsWith(aas.send(new DeleteScheduledActionCommand({ ...id, ResourceId: rid, ScheduledActionName: 'nope' })), 'ObjectNotFoundException');
  await rejectsWith(aas.send(new DescribeScalingActivitiesCommand({ ServiceNamespace: 'ecs', ScalableDimension: DIM })), 'ValidationException', /resource ID/);
  await rejectsWith(aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs', NextToken: 'bogus' })), 'InvalidNextTokenException');

  // The AWS CLI, signed with the root test key, reads the same target; its errors carry the same types.
  const env = server.clientEnv();
  const cli = await run('/usr/bin/aws', ['application-autoscaling', 'describe-scalable-targets', '--service-namespace', 'ecs', '--endpoint-url', server.endpoint], { env });
  const fromCli = JSON.parse(cli.stdout) as { ScalableTargets: { ResourceId: string; MinCapacity: number; MaxCapacity: number }[] };
  assert.deepEqual(fromCli.ScalableTargets.map((x) => [x.ResourceId, x.MinCapacity, x.MaxCapacity]), [[rid, 1, 2]]);
  await assert.rejects(
    run('/usr/bin/aws', ['application-autoscaling', 'register-scalable-target', '--service-namespace', 'ecs', '--scalable-dimension', DIM, '--resource-id', rid, '--min-capacity', '4', '--max-capacity', '3', '--endpoint-url', server.endpoint], { env }),
    (e: Error & { stderr: string }) => /ValidationException/.test(e.stderr) && /Minimum capacity cannot be greater/.test(e.stderr),
  );

  // The skiff CLI: a table for people, JSON for scripts.
  const table = (await run(process.execPath, [SKIFF, 'autoscaling', 'targets'], { env })).stdout;
  assert.match(table, /^RESOURCE\s+MIN\s+MAX\s+SUSPENDED\s+CREATED/);
  assert.match(table, /service\/default\/api\s+1\s+2\s+no\s+\d{4}-/);
  const policies = JSON.parse((await run(process.execPath, [SKIFF, '--output', 'json', 'autoscaling', 'policies', 'api'], { env })).stdout);
  assert.equal(policies.ScalingPolicies[0].PolicyName, 'cpu50');
  await run(process.execPath, [SKIFF, 'autoscaling', 'schedule', 'api', 'weekend', '--schedule', 'cron(0 6 ? * SAT *)', '--max', '1'], { env });
  await assert.rejects(run(process.execPath, [SKIFF, 'autoscaling', 'schedule', 'api', 'bad', '--schedule', 'rate(5 weeks)', '--max', '1'], { env }), (e: Error & { stderr: string }) => /ValidationException: Schedule is not valid/.test(e.stderr));
  const schedules = (await run(process.execPath, [SKIFF, 'autoscaling', 'schedules'], { env })).stdout;
  assert.match(schedules, /nightly\s+cron\(0 22 \? \* MON-FRI \*\)\s+Europe\/Berlin\s+0\s+1/);
  assert.match(schedules, /weekend\s+cron\(0 6 \? \* SAT \*\)\s+UTC\s+-\s+1/);
  await run(process.execPath, [SKIFF, 'autoscaling', 'set', 'api', '--max', '4'], { env });
  assert.equal((await aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs', ResourceIds: [rid] }))).ScalableTargets![0].MaxCapacity, 4);
  await assert.rejects(run(process.execPath, [SKIFF, 'autoscaling', 'set', 'api', '--min', '9'], { env }), (e: Error & { stderr: string }) => /ValidationException: Minimum capacity/.test(e.stderr));
  const acts = (await run(process.execPath, [SKIFF, 'autoscaling', 'activities', 'api'], { env })).stdout;
  assert.match(acts, /Successful\s+Setting desired count to 1\.\s+minimum capacity was set to 1/);

  // IAM: a key allowed only application-autoscaling:Describe* reads but cannot change a target.
  const res = await server.fetch('/skiff/v1/keys', {
    method: 'POST',
    body: JSON.stringify({ name: 'as-viewer', policy: { Statement: [{ Effect: 'Allow', Action: 'application-autoscaling:Describe*', Resource: '*' }] } }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const { accessKey } = (await res.json()) as { accessKey: { accessKeyId: string; secretAccessKey: string } };
  const viewer = new ApplicationAutoScalingClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: accessKey, maxAttempts: 1 });
  assert.equal((await viewer.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs' }))).ScalableTargets?.length, 1);
  await rejectsWith(
    viewer.send(new RegisterScalableTargetCommand({ ...id, ResourceId: rid, MaxCapacity: 9 })),
    'AccessDeniedException',
    /not authorized to perform: application-autoscaling:RegisterScalableTarget on resource: arn:aws:application-autoscaling:/,
  );

  // `skiff autoscaling track` puts a target tracking policy.
  await run(process.execPath, [SKIFF, 'autoscaling', 'track', 'api', '--memory', '70', '--scale-in-cooldown', '60'], { env });
  const mem = (await aas.send(new DescribeScalingPoliciesCommand({ ServiceNamespace: 'ecs', ResourceId: rid, PolicyNames: ['memory70-target-tracking'] }))).ScalingPolicies![0];
  assert.deepEqual(mem.TargetTrackingScalingPolicyConfiguration, {
    TargetValue: 70,
    PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageMemoryUtilization' },
    ScaleOutCooldown: 300,
    ScaleInCooldown: 60,
    DisableScaleIn: false,
  });

  // Deregistering (`skiff autoscaling unset`) removes the target with its policies and scheduled actions.
  await run(process.execPath, [SKIFF, 'autoscaling', 'unset', 'api'], { env });
  assert.equal((await aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs' }))).ScalableTargets?.length, 0);
  assert.equal((await aas.send(new DescribeScalingPoliciesCommand({ ServiceNamespace: 'ecs' }))).ScalingPolicies?.length, 0);
  assert.equal((await aas.send(new DescribeScheduledActionsCommand({ ServiceNamespace: 'ecs' }))).ScheduledActions?.length, 0);
  await rejectsWith(aas.send(new DeregisterScalableTargetCommand({ ...id, ResourceId: rid })), 'ObjectNotFoundException');
  await ecs.send(new UpdateServiceCommand({ service: 'api', desiredCount: 0 }));
});

test('CPU target tracking: a busy loop scales out (cooldown, max); scale-in waits for a deployment; idle scales in to min; at() actions set min/max', async () => {
  const burn = await register({ command: BURN });
  const idle = await register({ command: IDLE });
  // Never healthy and never unhealthy (failures inside the start period do not count): its deployment stays IN_PROGRESS.
  const neverReady = await register({ command: IDLE, healthCheck: { command: ['CMD-SHELL', 'exit 1'], interval: 5, retries: 3, startPeriod: 300 } });
  await ecs.send(new CreateServiceCommand({ serviceName: 'cpu', taskDefinition: burn, desiredCount: 1 }));
  const rid = 'service/default/cpu';
  const id = { ServiceNamespace: 'ecs' as const, ScalableDimension: DIM, ResourceId: rid };
  await aas.send(new RegisterScalableTargetCommand({ ...id, MinCapacity: 1, MaxCapacity: 2 }));
  const scaleOutCooldown = 8;
  const policy = (disableScaleIn: boolean) =>
    aas.send(
      new PutScalingPolicyCommand({
        ...id,
        PolicyName: 'cpu40',
        PolicyType: 'TargetTrackingScaling',
        TargetTrackingScalingPolicyConfiguration: {
          TargetValue: 40,
          PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' },
          ScaleOutCooldown: scaleOutCooldown,
          ScaleInCooldown: 2,
          // Scale-out only while the tasks burn: on a busy host their share can sag, which must not read as "scale in".
          DisableScaleIn: disableScaleIn,
        },
      }),
    );
  await policy(true);

  // 1. A task burning its 0.25 vCPU is far above 40 %: 1 → 2 (max). Raising max at once lets it go on,
  // but only once the scale-out cooldown since the first scale-out has passed.
  await waitFor('cpu desiredCount 2', async () => (await service('cpu')).desiredCount === 2, 90_000);
  await aas.send(new RegisterScalableTargetCommand({ ...id, MaxCapacity: 3 }));
  await waitFor('cpu desiredCount 3', async () => (await service('cpu')).desiredCount === 3, 90_000);
  const outs = (await activities(rid)).reverse();
  assert.deepEqual(outs.map((a) => a.Description), ['Setting desired count to 2.', 'Setting desired count to 3.']);
  for (const a of outs) {
    assert.match(a.Cause!, /^monitor alarm TargetTracking-service\/default\/cpu-AlarmHigh-[0-9a-f-]{36} in state ALARM triggered policy cpu40$/);
    assert.equal(a.StatusCode, 'Successful');
    assert.equal(a.StatusMessage, `Successfully set desired count to ${a.Description!.match(/\d+/)![0]}. Change successfully fulfilled by ecs.`);
  }
  const gap = outs[1].StartTime!.getTime() - outs[0].StartTime!.getTime();
  assert.ok(gap >= scaleOutCooldown * 1000, `second scale-out ${gap} ms after the first, inside the ${scaleOutCooldown} s cooldown`);
  await waitServiceRunning(ecs, 'cpu', 3);
  // Clamped to max: the high alarm fires again with all three burning, and is recorded as not scaled.
  const [atMax] = await waitFor('a not scaled activity at max', async () => (await notScaled(rid)).length > 0 && notScaled(rid), 60_000);
  assert.equal((await service('cpu')).desiredCount, 3);
  assert.equal((await activities(rid)).length, 2);
  assert.equal(atMax.StatusCode, 'Failed');
  assert.match(atMax.Cause!, /AlarmHigh-.* in state ALARM triggered policy cpu40$/);
  assert.deepEqual(atMax.NotScaledReasons, [{ Code: 'AlreadyAtMaxCapacity', MaxCapacity: 3, CurrentCapacity: 3 }]);
  await policy(false);

  // 2. A deployment that never completes replaces the burning tasks with idle ones: no scale-in while it runs.
  await ecs.send(new UpdateServiceCommand({ service: 'cpu', taskDefinition: neverReady, deploymentConfiguration: { minimumHealthyPercent: 0, maximumPercent: 100 } }));
  await waitFor(
    'the idle deployment RUNNING alone',
    async () => {
      const s = await service('cpu');
      return s.deployments?.length === 1 && s.deployments[0].runningCount === 3 && s.runningCount === 3;
    },
    60_000,
  );
  // Enough whole idle periods for the low alarm (3 × 2 s), the scale-in cooldown and slack.
  await new Promise((r) => setTimeout(r, 14_000));
  const during = await service('cpu');
  assert.equal(during.deployments![0].rolloutState, 'IN_PROGRESS');
  assert.equal(during.desiredCount, 3, 'scale-in is paused while a deployment is in progress');
  assert.equal((await activities(rid)).length, 2);
  const [paused] = await notScaled(rid);
  assert.deepEqual(paused.NotScaledReasons, [{ Code: 'TargetServicePutResourceAsUnscalable', CurrentCapacity: 3 }], 'the low alarm fired and was held back');
  assert.match(paused.StatusMessage!, /deployment of the service is in progress/);
  const explained = (await run(process.execPath, [SKIFF, 'autoscaling', 'activities', 'cpu', '--not-scaled'], { env: server.clientEnv() })).stdout;
  assert.match(explained, /Failed\s+Attempting to scale due to alarm triggered\s+monitor alarm \S+AlarmLow\S+ in state ALARM triggered policy cpu40\s+TargetServicePutResourceAsUnscalable/);

  // 3. A deployment that completes: then the idle service scales in to its minimum.
  const deployedAt = Date.now();
  await ecs.send(new UpdateServiceCommand({ service: 'cpu', taskDefinition: idle }));
  await waitFor('cpu desiredCount 1', async () => (await service('cpu')).desiredCount === 1, 60_000);
  const [scaleIn] = await activities(rid);
  assert.equal(scaleIn.Description, 'Setting desired count to 1.');
  assert.match(scaleIn.Cause!, /^monitor alarm TargetTracking-service\/default\/cpu-AlarmLow-[0-9a-f-]{36} in state ALARM triggered policy cpu40$/);
  assert.ok(scaleIn.StartTime!.getTime() > deployedAt);
  const after = await service('cpu');
  assert.equal(after.deployments?.[0].rolloutState, 'COMPLETED');
  await waitServiceRunning(ecs, 'cpu', 1);

  // 4. Scheduled scaling: at() a few seconds ahead raises min to 2; the desired count follows and target tracking stays above it.
  const at = (ms: number, tz = 'UTC') => {
    const w = new Intl.DateTimeFormat('sv-SE', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(new Date(Date.now() + ms));
    return `at(${w.replace(' ', 'T')})`;
  };
  await aas.send(new PutScheduledActionCommand({ ...id, ScheduledActionName: 'busy-hours', Schedule: at(3000), ScalableTargetAction: { MinCapacity: 2, MaxCapacity: 2 } }));
  await waitFor('cpu desiredCount 2 (scheduled)', async () => (await service('cpu')).desiredCount === 2, 20_000);
  const [raised] = (await aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs', ResourceIds: [rid] }))).ScalableTargets!;
  assert.deepEqual([raised.MinCapacity, raised.MaxCapacity], [2, 2]);
  const [follow, set] = await activities(rid);
  assert.equal(set.Description, 'Setting min capacity to 2 and max capacity to 2');
  assert.equal(set.Cause, 'scheduled action name busy-hours was triggered');
  assert.equal(set.StatusCode, 'Successful');
  assert.equal(follow.Description, 'Setting desired count to 2.');
  assert.equal(follow.Cause, 'minimum capacity was set to 2');
  // The same kind of action with wall-clock time in Tokyo (UTC+9) lowers min again; the idle service then scales in to it.
  await aas.send(new PutScheduledActionCommand({ ...id, ScheduledActionName: 'quiet', Schedule: at(3000, 'Asia/Tokyo'), Timezone: 'Asia/Tokyo', ScalableTargetAction: { MinCapacity: 1, MaxCapacity: 3 } }));
  await waitFor('min back to 1 (Tokyo time)', async () => (await aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs', ResourceIds: [rid] }))).ScalableTargets![0].MinCapacity === 1, 20_000);
  await waitFor('cpu scaled in to 1 again', async () => (await service('cpu')).desiredCount === 1, 30_000);
  assert.match((await activities(rid))[0].Cause!, /AlarmLow/);

  // 5. Everything survives a restart.
  const before = {
    targets: (await aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs' }))).ScalableTargets,
    policies: (await aas.send(new DescribeScalingPoliciesCommand({ ServiceNamespace: 'ecs' }))).ScalingPolicies,
    actions: (await aas.send(new DescribeScheduledActionsCommand({ ServiceNamespace: 'ecs' }))).ScheduledActions,
    activities: await activities(rid),
  };
  await server.stop();
  await server.start();
  aas = client();
  ecs = server.ecs();
  assert.deepEqual((await aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs' }))).ScalableTargets, before.targets);
  assert.deepEqual((await aas.send(new DescribeScalingPoliciesCommand({ ServiceNamespace: 'ecs' }))).ScalingPolicies, before.policies);
  assert.deepEqual((await aas.send(new DescribeScheduledActionsCommand({ ServiceNamespace: 'ecs' }))).ScheduledActions, before.actions);
  // The at() actions already ran: a restart does not run them again.
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(await activities(rid), before.activities);
});
