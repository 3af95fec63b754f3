import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDb } from '../store/db.ts';
import { MasterKey } from './master-key.ts';
import { KeyStore } from './keys.ts';

test('secretFor follows the stored row: a new secret, a new policy and a revocation take effect at once (the caches key on the stored text)', () => {
  const db = openDb(':memory:');
  const keys = new KeyStore(db, MasterKey.generate());
  keys.ensureRoot('AKIAROOTROOTROOT0001', 'first-secret-0001');
  assert.equal(keys.secretFor('AKIAROOTROOTROOT0001')?.secret, 'first-secret-0001');
  assert.equal(keys.secretFor('AKIAROOTROOTROOT0001')?.secret, 'first-secret-0001', 'answered again (from the cache)');
  keys.ensureRoot('AKIAROOTROOTROOT0001', 'second-secret-0002');
  assert.equal(keys.secretFor('AKIAROOTROOTROOT0001')?.secret, 'second-secret-0002');

  const k = keys.create({ name: 'reader', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecs:Describe*', Resource: '*' }] } });
  const policy = keys.secretFor(k.accessKeyId)!.key.policy;
  assert.equal(policy.Statement[0]!.Action, 'ecs:Describe*');
  assert.throws(() => ((policy.Statement[0] as { Action: string }).Action = 'ecs:*'), TypeError, 'a shared parsed policy cannot be changed by a caller');
  assert.equal(keys.secretFor(k.accessKeyId)!.key.policy.Statement[0]!.Action, 'ecs:Describe*');
  assert.ok(keys.revoke(k.accessKeyId));
  assert.equal(keys.secretFor(k.accessKeyId), undefined, 'revoked: never authenticates again');
  db.close();
});
