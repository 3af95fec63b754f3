import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../api/errors.ts';
import { openDb } from '../store/db.ts';
import { autoscalingProtocol } from './protocol.ts';
import { AutoscalingRepo } from './repo.ts';

function setup() {
  const repo = new AutoscalingRepo(openDb(':memory:'));
  let now = 1_800_000_000_000;
  const ops = autoscalingProtocol(repo, { applyRange: () => undefined, serviceIsActive: (_c, s) => s !== 'gone' }, { region: 'us-east-1', account: '123456789012', now: () => now }).operations;
  const call = (op: string, input: Record<string, unknown>) => ops[op](input) as Record<string, unknown>;
  const code = (op: string, input: Record<string, unknown>) => {
    try {
      call(op, input);
    } catch (e) {
      if (e instanceof ApiError) return e.code;
      throw e;
    }
    return 'ok';
  };
  return { repo, call, code, tick: (ms: number) => (now += ms) };
}

const target = (svc: string) => ({ ServiceNamespace: 'ecs', ResourceId: `service/default/${svc}`, ScalableDimension: 'ecs:service:DesiredCount' });

test('Describe* pages with MaxResults/NextToken; a token from another query is InvalidNextTokenException', () => {
  const { call, code } = setup();
  for (const s of ['a', 'b', 'c']) call('RegisterScalableTarget', { ...target(s), MinCapacity: 0, MaxCapacity: 1 });
  const p1 = call('DescribeScalableTargets', { ServiceNamespace: 'ecs', MaxResults: 2 }) as { ScalableTargets: { ResourceId: string }[]; NextToken: string };
  assert.deepEqual(p1.ScalableTargets.map((t) => t.ResourceId), ['service/default/a', 'service/default/b']);
  const p2 = call('DescribeScalableTargets', { ServiceNamespace: 'ecs', MaxResults: 2, NextToken: p1.NextToken }) as { ScalableTargets: { ResourceId: string }[]; NextToken?: string };
  assert.deepEqual(p2.ScalableTargets.map((t) => t.ResourceId), ['service/default/c']);
  assert.equal(p2.NextToken, undefined);
  assert.equal(code('DescribeScalableTargets', { ServiceNamespace: 'ecs', ResourceIds: ['service/default/a'], NextToken: p1.NextToken }), 'InvalidNextTokenException');
  assert.equal(code('DescribeScalableTargets', { ServiceNamespace: 'ecs', NextToken: 'bogus' }), 'InvalidNextTokenException');
  assert.equal(code('DescribeScalableTargets', { ServiceNamespace: 'ecs', MaxResults: 51 }), 'ValidationException');
  assert.equal(code('DescribeScalingPolicies', { ServiceNamespace: 'ecs', MaxResults: 11 }), 'ValidationException', 'policies page at most 10');
});

test('required fields and types are ValidationException; a deleted service cannot be registered', () => {
  const { code } = setup();
  assert.equal(code('RegisterScalableTarget', { ResourceId: 'service/default/a', ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: 0, MaxCapacity: 1 }), 'ValidationException');
  assert.equal(code('RegisterScalableTarget', { ...target('a'), MinCapacity: '1', MaxCapacity: 2 }), 'ValidationException');
  assert.equal(code('RegisterScalableTarget', { ...target('a'), MinCapacity: -1, MaxCapacity: 2 }), 'ValidationException');
  assert.equal(code('RegisterScalableTarget', { ...target('gone'), MinCapacity: 0, MaxCapacity: 2 }), 'ValidationException');
  assert.equal(code('DescribeScalableTargets', { ServiceNamespace: 'nope' }), 'ValidationException');
});

test('PutScheduledAction: creates, updates only what is given, validates the result', () => {
  const { call, code, repo, tick } = setup();
  call('RegisterScalableTarget', { ...target('a'), MinCapacity: 1, MaxCapacity: 5 });
  const base = { ...target('a'), ScheduledActionName: 'morning' };
  assert.equal(code('PutScheduledAction', { ...base, ScalableTargetAction: { MinCapacity: 2 } }), 'ValidationException', 'a new action needs a Schedule');
  assert.equal(code('PutScheduledAction', { ...base, Schedule: 'rate(1 day)' }), 'ValidationException', 'needs MinCapacity or MaxCapacity');
  assert.equal(code('PutScheduledAction', { ...base, ScheduledActionName: 'a:b', Schedule: 'rate(1 day)', ScalableTargetAction: { MinCapacity: 2 } }), 'ValidationException');
  assert.equal(code('PutScheduledAction', { ...base, Schedule: 'rate(1 day)', StartTime: 200, EndTime: 100, ScalableTargetAction: { MinCapacity: 2 } }), 'ValidationException');
  assert.equal(code('PutScheduledAction', { ...target('b'), ScheduledActionName: 'x', Schedule: 'rate(1 day)', ScalableTargetAction: { MinCapacity: 2 } }), 'ObjectNotFoundException');
  call('PutScheduledAction', { ...base, Schedule: 'cron(0 8 ? * MON-FRI *)', Timezone: 'Europe/Paris', StartTime: 1_800_000_000, ScalableTargetAction: { MinCapacity: 2, MaxCapacity: 4 } });
  const created = repo.scheduledAction('ecs', 'service/default/a', 'ecs:service:DesiredCount', 'morning')!;
  tick(1000);
  call('PutScheduledAction', { ...base, ScalableTargetAction: { MaxCapacity: 6 } });
  const updated = repo.scheduledAction('ecs', 'service/default/a', 'ecs:service:DesiredCount', 'morning')!;
  assert.equal(updated.arn, created.arn);
  assert.deepEqual(
    [updated.schedule, updated.timezone, updated.startTime, updated.minCapacity, updated.maxCapacity],
    ['cron(0 8 ? * MON-FRI *)', 'Europe/Paris', 1_800_000_000_000, 2, 6],
  );
  assert.equal(updated.lastRunFor, 1_800_000_001_000, 'an update runs only for instants after it');
  assert.equal(code('PutScheduledAction', { ...base, ScalableTargetAction: { MaxCapacity: 1 } }), 'ValidationException', 'min 2 > max 1 after the update');
});
