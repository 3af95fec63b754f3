import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../store/db.ts';
import { MasterKey } from '../auth/master-key.ts';
import { KeyStore } from '../auth/keys.ts';
import { TaskCredentialStore } from '../metadata/task-credentials.ts';
import { SecretStore } from './secret-store.ts';
import { loadMasterKey, rotateMasterKey } from './master-key-rotation.ts';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-AbCdEf';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-rotate-'));
  const db = openDb(join(dir, 'skiff.db'));
  const master = loadMasterKey(dir, db);
  const secrets = new SecretStore(db, master);
  secrets.create(ARN, 'app/db', undefined, { string: 'v1-value' }, 'v1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
  secrets.put(ARN, { string: 'v2-value' }, 'v2-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb');
  const keys = new KeyStore(db, master);
  const key = keys.create({ name: 'ci' });
  const creds = new TaskCredentialStore(db, master).current('t1', 'arn:aws:iam::123456789012:role/app');
  return { dir, db, master, secrets, keys, key, creds, cleanup: () => (db.close(), rmSync(dir, { recursive: true, force: true })) };
}

/** Everything the master key protects still reads back with `master`. */
function assertReadable(db: ReturnType<typeof openDb>, master: MasterKey, s: ReturnType<typeof setup>) {
  const secrets = new SecretStore(db, master);
  assert.equal(secrets.getValue(ARN)?.string, 'v2-value');
  assert.equal(secrets.getValue(ARN, { stage: 'AWSPREVIOUS' })?.string, 'v1-value');
  assert.equal(new KeyStore(db, master).secretFor(s.key.accessKeyId)?.secret, s.key.secretAccessKey);
  assert.equal(new TaskCredentialStore(db, master).lookup(s.creds.accessKeyId)?.secret, s.creds.secretAccessKey);
}

test('rotation re-wraps secrets, access keys and task credentials; the running key switches; a restart loads the new key', () => {
  const s = setup();
  try {
    const oldFile = readFileSync(join(s.dir, 'master.key'), 'utf8');
    const before = (s.db.prepare('SELECT wrapped_key, ciphertext FROM secret_versions').all() as { wrapped_key: string; ciphertext: string }[]);
    const r = rotateMasterKey(s.dir, s.db, s.master);
    assert.deepEqual(r.rewrapped, { secretVersions: 2, accessKeys: 1, taskCredentials: 1 });
    assert.notEqual(readFileSync(join(s.dir, 'master.key'), 'utf8'), oldFile);
    assert.equal(statSync(join(s.dir, 'master.key')).mode & 0o777, 0o600);
    assert.ok(!existsSync(join(s.dir, 'master.key.next')));
    const after = s.db.prepare('SELECT wrapped_key, ciphertext FROM secret_versions').all() as { wrapped_key: string; ciphertext: string }[];
    assert.deepEqual(after.map((x) => x.ciphertext), before.map((x) => x.ciphertext), 'values are not re-encrypted');
    assert.notDeepEqual(after.map((x) => x.wrapped_key), before.map((x) => x.wrapped_key), 'data keys are re-wrapped');
    assertReadable(s.db, s.master, s); // the running server's key object switched
    assertReadable(s.db, loadMasterKey(s.dir, s.db), s); // as a restart would load it
    assert.throws(() => new SecretStore(s.db, MasterKey.fromBytes(Buffer.from(oldFile.trim(), 'base64'))).getValue(ARN), 'the old key no longer opens anything');
  } finally {
    s.cleanup();
  }
});

test('a crash before the commit: the next start discards master.key.next and keeps the old key', () => {
  const s = setup();
  try {
    const oldFile = readFileSync(join(s.dir, 'master.key'), 'utf8');
    writeFileSync(join(s.dir, 'master.key.next'), MasterKey.generate().serialize(), { mode: 0o600 }); // step 1 done, nothing committed
    const loaded = loadMasterKey(s.dir, s.db);
    assert.ok(!existsSync(join(s.dir, 'master.key.next')));
    assert.equal(readFileSync(join(s.dir, 'master.key'), 'utf8'), oldFile);
    assertReadable(s.db, loaded, s);
    writeFileSync(join(s.dir, 'master.key.next'), 'torn'); // a torn write of step 1
    assertReadable(s.db, loadMasterKey(s.dir, s.db), s);
  } finally {
    s.cleanup();
  }
});

test('a crash after the commit, before the rename: the next start finishes the rotation', () => {
  const s = setup();
  try {
    const oldKey = join(s.dir, 'master.key.before');
    copyFileSync(join(s.dir, 'master.key'), oldKey);
    rotateMasterKey(s.dir, s.db, s.master);
    // Put the pre-rename state back: the new key only in master.key.next, the old one in master.key.
    copyFileSync(join(s.dir, 'master.key'), join(s.dir, 'master.key.next'));
    copyFileSync(oldKey, join(s.dir, 'master.key'));
    const loaded = loadMasterKey(s.dir, s.db);
    assert.ok(!existsSync(join(s.dir, 'master.key.next')));
    assertReadable(s.db, loaded, s);
  } finally {
    s.cleanup();
  }
});

test('a key file that is not the store key is refused with what to do', () => {
  const s = setup();
  try {
    writeFileSync(join(s.dir, 'master.key'), MasterKey.generate().serialize());
    assert.throws(() => loadMasterKey(s.dir, s.db), /is not the master key this data dir's store is encrypted under .* restore master.key from the backup/);
  } finally {
    s.cleanup();
  }
});
