/**
 * Master key rotation without data loss, and the start-up check that the key
 * file is the one the store is encrypted under.
 *
 * What the master key encrypts: secret versions' data keys, access keys'
 * secrets and task credentials' secrets. Rotation re-wraps those (values stay
 * sealed by their data keys), in this order:
 *
 *   1. write the new key to `master.key.next` (0600, fsync'd);
 *   2. one store transaction: re-wrap everything under the new key and record
 *      the new key's fingerprint in `meta` (committed durably);
 *   3. switch the running server to the new key (same tick as the commit);
 *   4. rename `master.key.next` over `master.key` (and fsync the directory).
 *
 * A crash before 2 commits leaves the old key recorded: `master.key.next` is
 * discarded at the next start. A crash after 2 leaves the new key recorded:
 * the next start finishes step 4. Either way every ciphertext decrypts with the
 * key that ends up in `master.key`. A key file that matches neither is refused
 * at start (rather than silently failing every decryption later).
 */
import { closeSync, existsSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Db } from '../store/db.ts';
import { MasterKey } from '../auth/master-key.ts';
import { SecretStore } from './secret-store.ts';

const META_KEY = 'master_key_fingerprint';

export interface RotationResult {
  fingerprint: string;
  rewrapped: { secretVersions: number; accessKeys: number; taskCredentials: number };
}

const recorded = (db: Db) => (db.prepare('SELECT value FROM meta WHERE key = ?').get(META_KEY) as { value: string } | undefined)?.value;
const record = (db: Db, fp: string) => db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(META_KEY, fp);

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeDurably(file: string, content: string): void {
  const fd = openSync(file, 'w', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  fsyncDir(dirname(file));
}

/**
 * Loads `<dataDir>/master.key` (creating it on a first start), first finishing
 * or discarding an interrupted rotation, and checks it is the key the store
 * records. Throws with what to do when it is not.
 */
export function loadMasterKey(dataDir: string, db: Db, log: (m: string) => void = () => {}): MasterKey {
  const file = join(dataDir, 'master.key');
  const next = `${file}.next`;
  const want = recorded(db);
  if (existsSync(next)) {
    let candidate: MasterKey | undefined;
    try {
      candidate = MasterKey.loadFile(next);
    } catch {
      candidate = undefined; // torn write: the rotation never reached its commit
    }
    if (candidate && want === candidate.fingerprint()) {
      renameSync(next, file);
      fsyncDir(dataDir);
      log('finished an interrupted master key rotation (the store was already re-wrapped)');
    } else {
      unlinkSync(next);
      log('discarded an interrupted master key rotation (the store still uses the current key)');
    }
  }
  const master = MasterKey.loadOrCreate(file);
  if (want === undefined) record(db, master.fingerprint());
  else if (want !== master.fingerprint()) {
    throw new Error(
      `${file} is not the master key this data dir's store is encrypted under (the store expects fingerprint ${want}, the file has ${master.fingerprint()}); restore master.key from the backup taken with this data dir`,
    );
  }
  return master;
}

/** Re-wraps everything under a new master key (see the header for the crash-safe order); `master` switches to it. */
export function rotateMasterKey(dataDir: string, db: Db, master: MasterKey): RotationResult {
  const file = join(dataDir, 'master.key');
  const next = MasterKey.generate();
  writeDurably(`${file}.next`, next.serialize());
  const rewrapped = db.transaction(() => {
    const secretVersions = SecretStore.rewrap(db, master, next);
    const rewrapColumn = (table: string, column: string) => {
      const rows = db.prepare(`SELECT access_key_id, ${column} AS enc FROM ${table}`).all() as { access_key_id: string; enc: string }[];
      const update = db.prepare(`UPDATE ${table} SET ${column} = ? WHERE access_key_id = ?`);
      for (const r of rows) {
        const plain = master.decrypt(r.enc, r.access_key_id);
        update.run(next.encrypt(plain, r.access_key_id), r.access_key_id);
        plain.fill(0);
      }
      return rows.length;
    };
    const accessKeys = rewrapColumn('access_keys', 'secret_enc');
    const taskCredentials = rewrapColumn('task_credentials', 'secret_enc');
    record(db, next.fingerprint());
    return { secretVersions, accessKeys, taskCredentials };
  })();
  master.adopt(next);
  renameSync(`${file}.next`, file);
  fsyncDir(dataDir);
  return { fingerprint: next.fingerprint(), rewrapped };
}
