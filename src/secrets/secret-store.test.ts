import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openDb } from '../store/db.ts';
import { MasterKey } from '../auth/master-key.ts';
import { SecretStore } from './secret-store.ts';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-AbCdEf';

function setup() {
  const db = openDb(':memory:');
  const master = MasterKey.fromBytes(randomBytes(32));
  return { db, master, store: new SecretStore(db, master) };
}

test('values are sealed per version and never stored in clear', () => {
  const { db, store } = setup();
  store.create(ARN, 'app/db', 'the db password', { string: 'hunter2-very-secret' }, 'v1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
  const rows = db.prepare('SELECT * FROM secret_versions').all() as Record<string, unknown>[];
  assert.equal(rows.length, 1);
  assert.ok(!JSON.stringify(rows).includes('hunter2'));
  assert.equal(store.getValue(ARN)?.string, 'hunter2-very-secret');
  assert.equal(store.find('app/db')?.arn, ARN);
  assert.equal(store.find('arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db')?.arn, ARN, 'a partial ARN finds it');
});

test('versions and staging labels: AWSCURRENT moves, the old one becomes AWSPREVIOUS; a repeated token is idempotent', () => {
  const { store } = setup();
  store.create(ARN, 'app/db', undefined, { string: 'one' }, 'v1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
  store.put(ARN, { string: 'two' }, 'v2-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb');
  assert.deepEqual(store.put(ARN, { string: 'ignored' }, 'v2-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'), { versionId: 'v2-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', stages: ['AWSCURRENT'] });
  store.put(ARN, { binary: Buffer.from([0, 1, 2]) }, 'v3-ccccccccccccccccccccccccccccccccc');
  assert.deepEqual(store.getValue(ARN)?.binary, Buffer.from([0, 1, 2]));
  assert.equal(store.getValue(ARN, { stage: 'AWSPREVIOUS' })?.string, 'two');
  assert.equal(store.getValue(ARN, { versionId: 'v1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' })?.string, 'one');
  const stages = Object.fromEntries(store.describe(ARN)!.versions.map((v) => [v.versionId.slice(0, 2), v.stages]));
  assert.deepEqual(stages, { v1: [], v2: ['AWSPREVIOUS'], v3: ['AWSCURRENT'] });
});

test('a ciphertext moved to another version or secret does not decrypt (ARN and version are associated data)', () => {
  const { db, store } = setup();
  store.create(ARN, 'app/db', undefined, { string: 'one' }, 'v1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
  store.put(ARN, { string: 'two' }, 'v2-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb');
  const v1 = db.prepare("SELECT wrapped_key, ciphertext FROM secret_versions WHERE version_id LIKE 'v1%'").get() as { wrapped_key: string; ciphertext: string };
  db.prepare("UPDATE secret_versions SET wrapped_key = ?, ciphertext = ? WHERE version_id LIKE 'v2%'").run(v1.wrapped_key, v1.ciphertext);
  assert.throws(() => store.getValue(ARN));
});

test('master key rotation re-wraps data keys only: values survive, the old key no longer opens them', () => {
  const { db, master, store } = setup();
  store.create(ARN, 'app/db', undefined, { string: 'keep me' });
  const sealedBefore = (db.prepare('SELECT ciphertext FROM secret_versions').get() as { ciphertext: string }).ciphertext;
  const next = MasterKey.fromBytes(randomBytes(32));
  assert.equal(SecretStore.rewrap(db, master, next), 1);
  assert.equal((db.prepare('SELECT ciphertext FROM secret_versions').get() as { ciphertext: string }).ciphertext, sealedBefore, 'values are not re-encrypted');
  assert.equal(new SecretStore(db, next).getValue(ARN)?.string, 'keep me');
  assert.throws(() => new SecretStore(db, master).getValue(ARN));
});

test('scheduled deletion is purged when due; forced deletion is immediate', () => {
  const db = openDb(':memory:');
  let t = 1_000;
  const store = new SecretStore(db, MasterKey.fromBytes(randomBytes(32)), () => t);
  store.create(ARN, 'app/db', undefined, { string: 'x' });
  store.scheduleDeletion(ARN, 5_000);
  assert.equal(store.purgeDue(), 0);
  assert.equal(store.list().length, 0, 'hidden from the listing');
  assert.equal(store.list(true).length, 1);
  t = 5_000;
  assert.equal(store.purgeDue(), 1);
  assert.equal(store.find('app/db'), undefined);
});
