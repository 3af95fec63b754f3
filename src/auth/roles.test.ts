import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDb } from '../store/db.ts';
import { evaluate } from './policy.ts';
import { ECS_TASKS_TRUST_POLICY, parseRoleArn, RoleStore, RoleStoreError, SKIFF_INLINE_POLICY } from './roles.ts';

const POLICY = { Statement: [{ Effect: 'Allow', Action: 'ecs:List*', Resource: '*' }] };
const ACCOUNT = '123456789012';
const kind = (k: RoleStoreError['kind'], re?: RegExp) => (e: unknown) => e instanceof RoleStoreError && e.kind === k && (!re || re.test(e.message));

test('role ARNs: account and name, an IAM path ignored', () => {
  assert.deepEqual(parseRoleArn('arn:aws:iam::123456789012:role/app'), { account: '123456789012', name: 'app' });
  assert.deepEqual(parseRoleArn('arn:aws:iam::123456789012:role/service/team/app'), { account: '123456789012', name: 'app' });
  assert.equal(parseRoleArn('arn:aws:iam::123456789012:user/app'), undefined);
  assert.equal(parseRoleArn('app'), undefined);
});

test("Skiff's view: create, find by name or ARN, list, delete; bad input says what to fix", () => {
  const roles = new RoleStore(openDb(':memory:'), ACCOUNT, () => 1000);
  const r = roles.create({ name: 'app', policy: POLICY, description: 'the app' });
  assert.equal(r.arn, 'arn:aws:iam::123456789012:role/app');
  assert.match(r.roleId, /^AROA[A-Z2-7]{17}$/);
  assert.equal(r.trustPolicy, ECS_TASKS_TRUST_POLICY);
  assert.deepEqual(roles.inlinePolicies('app').map((p) => p.name), [SKIFF_INLINE_POLICY]);
  assert.equal(roles.byArn('arn:aws:iam::123456789012:role/app')?.name, 'app');
  assert.equal(roles.byArn('arn:aws:iam::999999999999:role/app'), undefined, 'another account is not this role');
  assert.deepEqual(roles.list().map((x) => x.name), ['app']);
  assert.throws(() => roles.create({ name: 'app', policy: POLICY }), kind('exists'));
  assert.throws(() => roles.create({ name: 'APP', policy: POLICY }), kind('exists'), 'names are unique regardless of case');
  assert.throws(() => roles.create({ name: 'bad name', policy: POLICY }), kind('invalid', /1-64 letters/));
  assert.throws(() => roles.create({ name: 'x', policy: { Statement: [{ Effect: 'Maybe', Action: 'ecs:X', Resource: '*' }] } }), /Effect must be Allow or Deny/);
  assert.equal(roles.get('x'), undefined, 'a refused create leaves nothing behind');
  roles.putInlinePolicy('app', 'extra', JSON.stringify(POLICY));
  assert.equal(roles.delete('app').name, 'app', "Skiff's delete takes the role's policies with it");
  assert.throws(() => roles.delete('app'), kind('not-found'));
  assert.deepEqual(roles.inlinePolicies('app'), []);
});

test('the effective policy is the union of inline and attached policies, read at every lookup', () => {
  const roles = new RoleStore(openDb(':memory:'), ACCOUNT);
  roles.createRole({ name: 'svc', trustPolicy: ECS_TASKS_TRUST_POLICY, path: '/team/' });
  assert.equal(roles.get('svc')!.arn, 'arn:aws:iam::123456789012:role/team/svc');
  const allows = (action: string) => evaluate(roles.byArn('arn:aws:iam::123456789012:role/team/svc')!.policy, action, '*');
  assert.equal(allows('ecs:ListClusters'), 'implicit-deny', 'a role without policies may do nothing');
  roles.putInlinePolicy('svc', 'list', JSON.stringify(POLICY));
  assert.equal(allows('ecs:ListClusters'), 'allow');
  const deny = roles.createPolicy({ name: 'no-list', document: JSON.stringify({ Statement: [{ Effect: 'Deny', Action: 'ecs:ListClusters', Resource: '*' }] }) });
  assert.equal(deny.arn, 'arn:aws:iam::123456789012:policy/no-list');
  assert.match(deny.policyId, /^ANPA[A-Z2-7]{17}$/);
  roles.attach('svc', deny.arn);
  roles.attach('svc', deny.arn); // idempotent
  assert.equal(roles.getPolicy(deny.arn)!.attachmentCount, 1);
  assert.equal(allows('ecs:ListClusters'), 'explicit-deny');
  assert.equal(allows('ecs:ListServices'), 'allow');
  roles.detach('svc', deny.arn);
  assert.equal(allows('ecs:ListClusters'), 'allow');
  roles.putInlinePolicy('svc', 'list', JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'ecs:Describe*', Resource: '*' }] }));
  assert.equal(allows('ecs:ListClusters'), 'implicit-deny', 'a policy put again replaces the old one');
});

test("IAM's rules: DeleteConflict, NoSuchEntity, EntityAlreadyExists, MalformedPolicyDocument", () => {
  const roles = new RoleStore(openDb(':memory:'), ACCOUNT);
  assert.throws(() => roles.createRole({ name: 'r', trustPolicy: '{not json' }), kind('malformed', /Syntax errors/));
  assert.throws(() => roles.createRole({ name: 'r', trustPolicy: JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole' }] }) }), kind('malformed', /Principal/));
  assert.throws(() => roles.createRole({ name: 'r', trustPolicy: ECS_TASKS_TRUST_POLICY, path: 'no-slash' }), kind('invalid', /path/));
  roles.createRole({ name: 'r', trustPolicy: ECS_TASKS_TRUST_POLICY });
  assert.throws(() => roles.createRole({ name: 'r', trustPolicy: ECS_TASKS_TRUST_POLICY }), kind('exists', /Role with name r already exists/));
  assert.throws(() => roles.putInlinePolicy('r', 'p', JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'ecs:X' }] })), kind('malformed', /Resource/));
  assert.throws(() => roles.putInlinePolicy('nobody', 'p', JSON.stringify(POLICY)), kind('not-found', /The role with name nobody cannot be found/));
  roles.putInlinePolicy('r', 'p', JSON.stringify(POLICY));
  assert.throws(() => roles.deleteRole('r'), kind('conflict', /must delete policies first/));
  roles.deleteInlinePolicy('r', 'p');
  assert.throws(() => roles.getInlinePolicy('r', 'p'), kind('not-found', /role policy with name p/));
  const m = roles.createPolicy({ name: 'm', document: JSON.stringify(POLICY) });
  assert.throws(() => roles.createPolicy({ name: 'M', document: JSON.stringify(POLICY) }), kind('exists', /Duplicate names/));
  roles.attach('r', m.arn);
  assert.throws(() => roles.deleteRole('r'), kind('conflict', /must detach all policies first/));
  assert.throws(() => roles.deletePolicy(m.arn), kind('conflict', /attached to entities/));
  assert.throws(() => roles.attach('r', 'arn:aws:iam::aws:policy/ReadOnlyAccess'), kind('not-found', /does not exist or is not attachable/));
  assert.throws(() => roles.detach('r', 'arn:aws:iam::123456789012:policy/other'), kind('not-found'));
  roles.detach('r', m.arn);
  assert.equal(roles.deletePolicy(m.arn).name, 'm');
  assert.equal(roles.deleteRole('r').name, 'r');
  assert.throws(() => roles.deleteRole('r'), kind('not-found'));
});

test('a store from before IAM roles keeps its roles: each policy becomes the inline policy skiff-policy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-roles-'));
  try {
    const file = join(dir, 'skiff.db');
    const latest = openDb(':memory:').pragma('user_version', { simple: true }) as number;
    const old = new Database(file);
    // The roles table as the identity migration made it; the IAM migration, the audit detail column, the egress and the EFS migrations are the latest four.
    old.exec('CREATE TABLE roles (name TEXT PRIMARY KEY, arn TEXT NOT NULL UNIQUE, description TEXT, policy TEXT NOT NULL, created_at INTEGER NOT NULL)');
    old.exec('CREATE TABLE audit_log (id INTEGER PRIMARY KEY)');
    old.exec('CREATE TABLE subnets (id TEXT PRIMARY KEY, is_default INTEGER NOT NULL)'); // what the egress migration alters
    old.prepare('INSERT INTO roles VALUES (?, ?, ?, ?, ?)').run('exec', `arn:aws:iam::${ACCOUNT}:role/exec`, 'old role', JSON.stringify(POLICY), 42);
    old.pragma(`user_version = ${latest - 4}`);
    old.close();
    const db = openDb(file);
    const roles = new RoleStore(db, ACCOUNT);
    const r = roles.get('exec')!;
    assert.equal(r.arn, `arn:aws:iam::${ACCOUNT}:role/exec`);
    assert.equal(r.description, 'old role');
    assert.equal(r.createdAt, 42);
    assert.match(r.roleId, /^AROA[0-9A-F]{17}$/);
    assert.deepEqual(JSON.parse(r.trustPolicy), JSON.parse(ECS_TASKS_TRUST_POLICY));
    assert.deepEqual(roles.inlinePolicies('exec'), [{ name: SKIFF_INLINE_POLICY, document: JSON.stringify(POLICY) }]);
    assert.equal(evaluate(r.policy, 'ecs:ListTasks', '*'), 'allow');
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
