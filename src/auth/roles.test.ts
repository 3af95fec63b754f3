import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDb } from '../store/db.ts';
import { parseRoleArn, RoleStore, RoleStoreError } from './roles.ts';

const POLICY = { Statement: [{ Effect: 'Allow', Action: 'ecs:List*', Resource: '*' }] };

test('role ARNs: account and name, an IAM path ignored', () => {
  assert.deepEqual(parseRoleArn('arn:aws:iam::123456789012:role/app'), { account: '123456789012', name: 'app' });
  assert.deepEqual(parseRoleArn('arn:aws:iam::123456789012:role/service/team/app'), { account: '123456789012', name: 'app' });
  assert.equal(parseRoleArn('arn:aws:iam::123456789012:user/app'), undefined);
  assert.equal(parseRoleArn('app'), undefined);
});

test('create, find by name or ARN, list, delete; bad input says what to fix', () => {
  const roles = new RoleStore(openDb(':memory:'), '123456789012', () => 1000);
  const r = roles.create({ name: 'app', policy: POLICY, description: 'the app' });
  assert.equal(r.arn, 'arn:aws:iam::123456789012:role/app');
  assert.equal(roles.byArn('arn:aws:iam::123456789012:role/app')?.name, 'app');
  assert.equal(roles.byArn('arn:aws:iam::999999999999:role/app'), undefined, 'another account is not this role');
  assert.deepEqual(roles.list().map((x) => x.name), ['app']);
  assert.throws(() => roles.create({ name: 'app', policy: POLICY }), (e: RoleStoreError) => e.kind === 'exists');
  assert.throws(() => roles.create({ name: 'bad name', policy: POLICY }), (e: RoleStoreError) => e.kind === 'invalid' && /1-64 letters/.test(e.message));
  assert.throws(() => roles.create({ name: 'x', policy: { Statement: [{ Effect: 'Maybe', Action: 'ecs:X', Resource: '*' }] } }), /Effect must be Allow or Deny/);
  assert.equal(roles.delete('app').name, 'app');
  assert.throws(() => roles.delete('app'), (e: RoleStoreError) => e.kind === 'not-found');
});
