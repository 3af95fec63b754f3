import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openDb } from '../store/db.ts';
import { MasterKey } from '../auth/master-key.ts';
import { TaskCredentialStore } from './task-credentials.ts';

const ROLE = 'arn:aws:iam::123456789012:role/app';

test('a set is reused until half its lifetime, then a new one is issued; old sets stay valid until they expire', () => {
  let now = 1_000_000;
  const db = openDb(':memory:');
  const store = new TaskCredentialStore(db, MasterKey.fromBytes(randomBytes(32)), { ttlMs: 10_000, now: () => now });
  const a = store.current('t1', ROLE);
  assert.match(a.accessKeyId, /^ASIA[A-Z2-7]{16}$/);
  assert.equal(a.expiresAt, now + 10_000);
  now += 4_000;
  assert.equal(store.current('t1', ROLE).accessKeyId, a.accessKeyId);
  now += 2_000;
  const b = store.current('t1', ROLE);
  assert.notEqual(b.accessKeyId, a.accessKeyId);
  assert.ok(b.expiresAt > a.expiresAt);

  const found = store.lookup(a.accessKeyId)!;
  assert.equal(found.secret, a.secretAccessKey);
  assert.equal(found.taskId, 't1');
  assert.ok(found.tokenMatches(a.token));
  assert.ok(!found.tokenMatches(b.token));
  assert.ok(!found.tokenMatches(undefined));

  const rows = JSON.stringify(db.prepare('SELECT * FROM task_credentials').all());
  for (const c of [a, b]) {
    assert.ok(!rows.includes(c.secretAccessKey), 'secret stored encrypted');
    assert.ok(!rows.includes(c.token), 'token stored as a hash');
  }
  store.revokeTask('t1');
  assert.equal(store.lookup(a.accessKeyId), undefined);
  assert.equal(store.lookup('AKIAIOSFODNN7EXAMPLE'), undefined);
});
