import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, PolicyError, validatePolicy, type Policy } from './policy.ts';

const ROLE = (n: string) => `arn:aws:iam::123456789012:role/${n}`;
const ECS = { 'iam:passedtoservice': 'ecs-tasks.amazonaws.com' };

const passTo = (op: string, value: string | string[]): Policy =>
  validatePolicy({ Statement: [{ Effect: 'Allow', Action: 'iam:PassRole', Resource: ROLE('app'), Condition: { [op]: { 'iam:PassedToService': value } } }] });

test('StringEquals on iam:PassedToService: the role may be passed to ECS tasks and nothing else', () => {
  const p = passTo('StringEquals', 'ecs-tasks.amazonaws.com');
  assert.equal(evaluate(p, 'iam:PassRole', ROLE('app'), ECS), 'allow');
  assert.equal(evaluate(p, 'iam:PassRole', ROLE('app'), { 'iam:passedtoservice': 'lambda.amazonaws.com' }), 'implicit-deny');
  assert.equal(evaluate(p, 'iam:PassRole', ROLE('app')), 'implicit-deny', 'a request without the key does not satisfy a positive condition');
  assert.equal(evaluate(p, 'iam:PassRole', ROLE('admin'), ECS), 'implicit-deny', 'the resource still has to match');
  assert.equal(evaluate(p, 'iam:PassRole', ROLE('app'), { 'iam:passedtoservice': 'ECS-TASKS.amazonaws.com' }), 'implicit-deny', 'values are case-sensitive');
  assert.equal(evaluate(passTo('StringEqualsIgnoreCase', 'ECS-TASKS.amazonaws.com'), 'iam:PassRole', ROLE('app'), ECS), 'allow');
});

test('a list of values is an OR; StringLike wildcards; negated operators and IfExists on a missing key', () => {
  assert.equal(evaluate(passTo('StringEquals', ['lambda.amazonaws.com', 'ecs-tasks.amazonaws.com']), 'iam:PassRole', ROLE('app'), ECS), 'allow');
  assert.equal(evaluate(passTo('StringLike', 'ecs*.amazonaws.com'), 'iam:PassRole', ROLE('app'), ECS), 'allow');
  assert.equal(evaluate(passTo('StringLike', 'lambda.*'), 'iam:PassRole', ROLE('app'), ECS), 'implicit-deny');
  assert.equal(evaluate(passTo('StringNotEquals', 'lambda.amazonaws.com'), 'iam:PassRole', ROLE('app'), ECS), 'allow');
  assert.equal(evaluate(passTo('StringNotEquals', 'ecs-tasks.amazonaws.com'), 'iam:PassRole', ROLE('app'), ECS), 'implicit-deny');
  assert.equal(evaluate(passTo('StringNotLike', 'ecs-*'), 'iam:PassRole', ROLE('app')), 'allow', 'a negated operator holds when the key is absent');
  assert.equal(evaluate(passTo('StringEqualsIfExists', 'ecs-tasks.amazonaws.com'), 'iam:PassRole', ROLE('app')), 'allow');
  assert.equal(evaluate(passTo('StringEqualsIfExists', 'ecs-tasks.amazonaws.com'), 'iam:PassRole', ROLE('app'), { 'iam:passedtoservice': 'x' }), 'implicit-deny');
});

test('a Deny with a condition applies only when it holds; condition key names are case-insensitive', () => {
  const p = validatePolicy({
    Statement: [
      { Effect: 'Allow', Action: 'iam:PassRole', Resource: '*' },
      { Effect: 'Deny', Action: 'iam:PassRole', Resource: ROLE('admin'), Condition: { StringEquals: { 'IAM:passedToService': 'ecs-tasks.amazonaws.com' } } },
    ],
  });
  assert.equal(evaluate(p, 'iam:PassRole', ROLE('admin'), ECS), 'explicit-deny');
  assert.equal(evaluate(p, 'iam:PassRole', ROLE('app'), ECS), 'allow');
});

test('conditions Skiff cannot evaluate are refused with what to write instead', () => {
  const bad = (Condition: unknown) => () => validatePolicy({ Statement: [{ Effect: 'Deny', Action: 'iam:PassRole', Resource: '*', Condition }] });
  assert.throws(bad({ IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }), (e: Error) => e instanceof PolicyError && /operator 'IpAddress' is not supported/.test(e.message));
  assert.throws(bad({ StringEquals: { 'aws:PrincipalTag/team': 'x' } }), /condition key 'aws:PrincipalTag\/team' is not supported \(Skiff sets iam:PassedToService\)/);
  assert.throws(bad({ StringEquals: { 'iam:PassedToService': [] } }), /must be a string or a non-empty list of strings/);
  assert.throws(bad({ StringEquals: {} }), /must be an object of condition keys to values/);
  assert.throws(bad('StringEquals'), /Condition must be an object/);
});

test('a stored Condition with an unknown operator fails closed: no Allow, the Deny applies', () => {
  const weird = { Unknown: { 'iam:PassedToService': 'x' } } as never;
  const allow: Policy = { Statement: [{ Effect: 'Allow', Action: 'iam:PassRole', Resource: '*', Condition: weird }] };
  assert.equal(evaluate(allow, 'iam:PassRole', ROLE('app'), ECS), 'implicit-deny');
  const deny: Policy = { Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }, { Effect: 'Deny', Action: 'iam:PassRole', Resource: '*', Condition: weird }] };
  assert.equal(evaluate(deny, 'iam:PassRole', ROLE('app'), ECS), 'explicit-deny');
});
