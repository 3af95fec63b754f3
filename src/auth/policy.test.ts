import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_POLICY, evaluate, evaluateAll, PolicyError, READ_ONLY_POLICY, validatePolicy, type Policy } from './policy.ts';

const CLUSTER = (n: string) => `arn:aws:ecs:us-east-1:123456789012:cluster/${n}`;
const TASK = (c: string, id: string) => `arn:aws:ecs:us-east-1:123456789012:task/${c}/${id}`;

test('no statement matches: implicit deny', () => {
  const p: Policy = { Statement: [{ Effect: 'Allow', Action: 'ecs:ListClusters', Resource: '*' }] };
  assert.equal(evaluate(p, 'ecs:RunTask', '*'), 'implicit-deny');
  assert.equal(evaluate(p, 'ecs:ListClusters', '*'), 'allow');
});

test('action wildcards: * and ?, case-insensitive', () => {
  const p: Policy = { Statement: [{ Effect: 'Allow', Action: ['ecs:Describe*', 'ecs:List?asks'], Resource: '*' }] };
  assert.equal(evaluate(p, 'ecs:DescribeTasks', CLUSTER('a')), 'allow');
  assert.equal(evaluate(p, 'ecs:describeclusters', CLUSTER('a')), 'allow');
  assert.equal(evaluate(p, 'ecs:ListTasks', '*'), 'allow');
  assert.equal(evaluate(p, 'ecs:ListClusters', '*'), 'implicit-deny');
  assert.equal(evaluate(p, 'skiff:DescribeTasks', '*'), 'implicit-deny', 'the service prefix is part of the action');
  assert.equal(evaluate(ADMIN_POLICY, 'skiff:CreateAccessKey', '*'), 'allow');
});

test('resource wildcards are case-sensitive and anchored', () => {
  const p: Policy = { Statement: [{ Effect: 'Allow', Action: 'ecs:*', Resource: ['arn:aws:ecs:*:*:cluster/prod-*', 'arn:aws:ecs:*:*:task/prod-*/*'] }] };
  assert.equal(evaluate(p, 'ecs:DescribeClusters', CLUSTER('prod-eu')), 'allow');
  assert.equal(evaluate(p, 'ecs:DescribeClusters', CLUSTER('Prod-eu')), 'implicit-deny');
  assert.equal(evaluate(p, 'ecs:DescribeClusters', CLUSTER('staging')), 'implicit-deny');
  assert.equal(evaluate(p, 'ecs:StopTask', TASK('prod-eu', 'abc')), 'allow');
  assert.equal(evaluate(p, 'ecs:StopTask', TASK('dev', 'abc')), 'implicit-deny');
  assert.equal(evaluate(p, 'ecs:DescribeClusters', CLUSTER('prod-eu') + 'x'.repeat(0)), 'allow');
  assert.equal(evaluate(p, 'ecs:DescribeClusters', 'xx' + CLUSTER('prod-eu')), 'implicit-deny', 'anchored at the start');
});

test('explicit deny wins over any allow, in any order', () => {
  const p: Policy = {
    Statement: [
      { Effect: 'Deny', Action: 'ecs:StopTask', Resource: TASK('prod', '*') },
      { Effect: 'Allow', Action: '*', Resource: '*' },
    ],
  };
  assert.equal(evaluate(p, 'ecs:StopTask', TASK('prod', 'x')), 'explicit-deny');
  assert.equal(evaluate(p, 'ecs:StopTask', TASK('dev', 'x')), 'allow');
  assert.equal(evaluate({ Statement: [...p.Statement].reverse() }, 'ecs:StopTask', TASK('prod', 'x')), 'explicit-deny');
});

test('NotAction and NotResource', () => {
  const p: Policy = {
    Statement: [
      { Effect: 'Allow', NotAction: 'skiff:*', Resource: '*' },
      { Effect: 'Deny', Action: 'ecs:*', NotResource: 'arn:aws:ecs:*:*:cluster/sandbox' },
    ],
  };
  assert.equal(evaluate(p, 'skiff:GetCosts', '*'), 'implicit-deny');
  assert.equal(evaluate(p, 'ecs:DeleteCluster', CLUSTER('sandbox')), 'allow');
  assert.equal(evaluate(p, 'ecs:DeleteCluster', CLUSTER('prod')), 'explicit-deny');
});

test('several resources: every one must be allowed; a deny on any one decides', () => {
  const p: Policy = {
    Statement: [
      { Effect: 'Allow', Action: 'ecs:DescribeTasks', Resource: TASK('dev', '*') },
      { Effect: 'Deny', Action: '*', Resource: TASK('dev', 'secret') },
    ],
  };
  assert.deepEqual(evaluateAll(p, 'ecs:DescribeTasks', [TASK('dev', 'a'), TASK('dev', 'b')]), { decision: 'allow', resource: TASK('dev', 'a') });
  assert.deepEqual(evaluateAll(p, 'ecs:DescribeTasks', [TASK('dev', 'a'), TASK('prod', 'b')]), { decision: 'implicit-deny', resource: TASK('prod', 'b') });
  assert.deepEqual(evaluateAll(p, 'ecs:DescribeTasks', [TASK('prod', 'b'), TASK('dev', 'secret')]), { decision: 'explicit-deny', resource: TASK('dev', 'secret') });
  assert.equal(evaluateAll(p, 'ecs:DescribeTasks', []).resource, '*');
});

test('the read-only preset reads but does not change or see keys', () => {
  assert.equal(evaluate(READ_ONLY_POLICY, 'ecs:DescribeTasks', '*'), 'allow');
  assert.equal(evaluate(READ_ONLY_POLICY, 'skiff:GetCosts', '*'), 'allow');
  assert.equal(evaluate(READ_ONLY_POLICY, 'ecs:RunTask', '*'), 'implicit-deny');
  assert.equal(evaluate(READ_ONLY_POLICY, 'skiff:ListAccessKeys', '*'), 'explicit-deny');
});

test('the read-only preset reads logs, security groups, autoscaling and secret metadata, but no secret value and changes nothing', () => {
  const group = 'arn:aws:logs:us-east-1:123456789012:log-group:/web';
  for (const [action, resource] of [
    ['logs:DescribeLogGroups', group], ['logs:DescribeLogStreams', group], ['logs:GetLogEvents', `${group}:log-stream:app/web/1`], ['logs:FilterLogEvents', group],
    ['ec2:DescribeSecurityGroups', '*'], ['ec2:DescribeSubnets', '*'],
    ['application-autoscaling:DescribeScalableTargets', '*'], ['application-autoscaling:DescribeScalingPolicies', '*'],
    ['secretsmanager:DescribeSecret', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf'],
    ['skiff:GetRole', 'arn:aws:iam::123456789012:role/web'],
  ]) assert.equal(evaluate(READ_ONLY_POLICY, action, resource), 'allow', action);
  for (const action of ['secretsmanager:GetSecretValue', 'logs:CreateLogGroup', 'logs:PutLogEvents', 'ec2:AuthorizeSecurityGroupIngress', 'application-autoscaling:RegisterScalableTarget']) {
    assert.notEqual(evaluate(READ_ONLY_POLICY, action, '*'), 'allow', action);
  }
});

test('validation reports every problem and accepts a single Statement object', () => {
  assert.throws(() => validatePolicy('x'), PolicyError);
  assert.throws(() => validatePolicy({ Statement: [] }), PolicyError);
  try {
    validatePolicy({ Statement: [{ Effect: 'allow', Action: 'RunTask', Resource: 'cluster/x', Principal: '*' }] });
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof PolicyError);
    assert.match(e.message, /Effect must be Allow or Deny/);
    assert.match(e.message, /action 'RunTask' must look like service:Operation/);
    assert.match(e.message, /resource 'cluster\/x' must be \* or an ARN/);
    assert.match(e.message, /Principal is not supported/);
  }
  const p = validatePolicy({ Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 'ecs:*', Resource: '*' } });
  assert.equal(p.Statement.length, 1);
});
