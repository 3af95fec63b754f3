import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalRoleArn, ECS_TASKS_SERVICE, ecsPassedRoles, type EcsPassRoleDeps, type TaskRoles } from './ecs-pass-role.ts';

const ACCOUNT = '123456789012';
const ROLE = (n: string) => `arn:aws:iam::${ACCOUNT}:role/${n}`;
const defs: Record<string, TaskRoles[]> = {
  // revision 1 has no roles, 2 has both, 3 only a task role (the latest ACTIVE)
  web: [{}, { taskRoleArn: ROLE('admin'), executionRoleArn: ROLE('exec') }, { taskRoleArn: ROLE('app') }],
};
const deps: EcsPassRoleDeps = {
  arns: { region: 'us-east-1', account: ACCOUNT },
  taskDefinitionRoles: (family, revision) => {
    const revs = defs[family];
    return revs?.[(revision ?? revs.length) - 1];
  },
};
const roles = (op: string, input: Record<string, unknown>) => ecsPassedRoles(op, input, deps).map((r) => r.roleArn);

test('RegisterTaskDefinition passes the roles it names', () => {
  assert.deepEqual(roles('RegisterTaskDefinition', { family: 'x', taskRoleArn: ROLE('admin'), executionRoleArn: ROLE('exec') }), [ROLE('admin'), ROLE('exec')]);
  assert.deepEqual(roles('RegisterTaskDefinition', { family: 'x', taskRoleArn: ROLE('same'), executionRoleArn: ROLE('same') }), [ROLE('same')], 'once each');
  assert.deepEqual(roles('RegisterTaskDefinition', { family: 'x', taskRoleArn: '' }), [], 'an empty role is no role');
  assert.deepEqual(ecsPassedRoles('RegisterTaskDefinition', { taskRoleArn: ROLE('a') }, deps), [{ roleArn: ROLE('a'), service: ECS_TASKS_SERVICE }]);
});

test("RunTask and StartTask pass the task definition's roles, overrides replacing them", () => {
  for (const op of ['RunTask', 'StartTask']) {
    assert.deepEqual(roles(op, { taskDefinition: 'web:2' }), [ROLE('admin'), ROLE('exec')]);
    assert.deepEqual(roles(op, { taskDefinition: 'web' }), [ROLE('app')], 'the latest ACTIVE revision');
    assert.deepEqual(roles(op, { taskDefinition: `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/web:2` }), [ROLE('admin'), ROLE('exec')]);
    assert.deepEqual(roles(op, { taskDefinition: 'web:1' }), []);
    assert.deepEqual(roles(op, { taskDefinition: 'web:1', overrides: { taskRoleArn: ROLE('admin') } }), [ROLE('admin')], 'the attack: a role-less definition plus overrides.taskRoleArn');
    assert.deepEqual(roles(op, { taskDefinition: 'web:2', overrides: { taskRoleArn: ROLE('app'), executionRoleArn: ROLE('exec2') } }), [ROLE('app'), ROLE('exec2')]);
    assert.deepEqual(roles(op, { taskDefinition: 'web:1', overrides: { executionRoleArn: ROLE('exec') } }), [ROLE('exec')]);
  }
  assert.deepEqual(roles('RunTask', { taskDefinition: 'nope' }), [], 'unknown definition: the operation fails on its own');
  assert.deepEqual(roles('RunTask', { taskDefinition: 'bad name!' }), []);
  assert.deepEqual(roles('RunTask', { taskDefinition: 'nope', overrides: { taskRoleArn: ROLE('admin') } }), [ROLE('admin')]);
});

test('CreateService passes its definition\'s roles; UpdateService those of a new definition only', () => {
  assert.deepEqual(roles('CreateService', { serviceName: 's', taskDefinition: 'web:2' }), [ROLE('admin'), ROLE('exec')]);
  assert.deepEqual(roles('UpdateService', { service: 's', taskDefinition: 'web:2' }), [ROLE('admin'), ROLE('exec')]);
  assert.deepEqual(roles('UpdateService', { service: 's', desiredCount: 3 }), []);
});

test('other operations pass no role', () => {
  for (const op of ['DescribeTasks', 'StopTask', 'ListTasks', 'DeleteService', 'DescribeTaskDefinition']) {
    assert.deepEqual(roles(op, { taskDefinition: 'web:2', taskRoleArn: ROLE('admin'), overrides: { taskRoleArn: ROLE('admin') } }), [], op);
  }
});

test('a role ARN with an IAM path is checked as the role it reaches', () => {
  assert.equal(canonicalRoleArn(`arn:aws:iam::${ACCOUNT}:role/team/admin`), ROLE('admin'));
  assert.equal(canonicalRoleArn(`arn:aws:iam::${ACCOUNT}:role/a/b/admin`), ROLE('admin'));
  assert.equal(canonicalRoleArn('admin'), 'admin', 'not a role ARN: as given');
  assert.deepEqual(roles('RunTask', { taskDefinition: 'web:1', overrides: { taskRoleArn: `arn:aws:iam::${ACCOUNT}:role/team/admin` } }), [ROLE('admin')]);
  assert.deepEqual(roles('RegisterTaskDefinition', { taskRoleArn: `arn:aws:iam::${ACCOUNT}:role/x/admin`, executionRoleArn: ROLE('admin') }), [ROLE('admin')]);
});
