/**
 * The secret store: Secrets Manager-style secrets with versions and staging
 * labels, encrypted at rest by envelope encryption. Each version gets a fresh
 * 256-bit data key; the value is sealed with AES-256-GCM under that key with the
 * secret's ARN and version id as associated data, and the data key is wrapped by
 * the master key (bound to the same ARN and version). Rotating the master key
 * re-wraps data keys only (`rewrap`); values are never re-encrypted or exposed.
 *
 * Values leave this module only through `getValue`; nothing here logs them.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import type { Db } from '../store/db.ts';
import type { MasterKey } from '../auth/master-key.ts';

export interface SecretMeta {
  arn: string;
  name: string;
  description?: string;
  createdAt: number;
  changedAt: number;
  deletedAt?: number;
  versions: { versionId: string; stages: string[]; createdAt: number }[];
}

export interface SecretValue {
  arn: string;
  name: string;
  versionId: string;
  stages: string[];
  createdAt: number;
  string?: string;
  binary?: Buffer;
}

interface SecretRow {
  arn: string;
  name: string;
  description: string | null;
  created_at: number;
  changed_at: number;
  deleted_at: number | null;
}
interface VersionRow {
  secret_arn: string;
  version_id: string;
  stages: string;
  wrapped_key: string;
  ciphertext: string;
  kind: 'string' | 'binary';
  created_at: number;
}

const seal = (key: Buffer, plaintext: Buffer, aad: string): string => {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const data = Buffer.concat([c.update(plaintext), c.final()]);
  return ['v1', iv.toString('base64'), c.getAuthTag().toString('base64'), data.toString('base64')].join('.');
};
const open = (key: Buffer, sealed: string, aad: string): Buffer => {
  const [v, iv, tag, data] = sealed.split('.');
  if (v !== 'v1') throw new Error('unknown ciphertext format');
  const d = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
  d.setAAD(Buffer.from(aad, 'utf8'));
  d.setAuthTag(Buffer.from(tag, 'base64'));
  return Buffer.concat([d.update(Buffer.from(data, 'base64')), d.final()]);
};

const aadOf = (arn: string, versionId: string) => `${arn}\n${versionId}`;

export class SecretStore {
  constructor(
    private readonly db: Db,
    private readonly master: MasterKey,
    private readonly now: () => number = Date.now,
  ) {}

  /** By name or ARN (a partial ARN without the random suffix matches too). */
  find(idOrArn: string): SecretRow | undefined {
    const row = idOrArn.startsWith('arn:')
      ? ((this.db.prepare('SELECT * FROM secrets WHERE arn = ?').get(idOrArn) ??
          this.db.prepare("SELECT * FROM secrets WHERE arn LIKE ? || '-______'").get(idOrArn)) as SecretRow | undefined)
      : (this.db.prepare('SELECT * FROM secrets WHERE name = ?').get(idOrArn) as SecretRow | undefined);
    return row;
  }

  create(arn: string, name: string, description: string | undefined, value: { string?: string; binary?: Buffer }, versionId: string = randomUUID()): SecretValue {
    const t = this.now();
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO secrets (arn, name, description, created_at, changed_at) VALUES (?, ?, ?, ?, ?)').run(arn, name, description ?? null, t, t);
      this.insertVersion(arn, versionId, value, ['AWSCURRENT'], t);
    })();
    return { arn, name, versionId, stages: ['AWSCURRENT'], createdAt: t, ...value };
  }

  /** A new AWSCURRENT version; the old current one becomes AWSPREVIOUS. Idempotent for a repeated versionId. */
  put(arn: string, value: { string?: string; binary?: Buffer }, versionId: string = randomUUID()): { versionId: string; stages: string[] } {
    const t = this.now();
    const existing = this.db.prepare('SELECT * FROM secret_versions WHERE secret_arn = ? AND version_id = ?').get(arn, versionId) as VersionRow | undefined;
    if (existing) return { versionId, stages: JSON.parse(existing.stages) as string[] };
    this.db.transaction(() => {
      for (const v of this.db.prepare('SELECT * FROM secret_versions WHERE secret_arn = ?').all(arn) as VersionRow[]) {
        const stages = (JSON.parse(v.stages) as string[]).filter((s) => s !== 'AWSPREVIOUS');
        const next = stages.includes('AWSCURRENT') ? [...stages.filter((s) => s !== 'AWSCURRENT'), 'AWSPREVIOUS'] : stages;
        this.db.prepare('UPDATE secret_versions SET stages = ? WHERE secret_arn = ? AND version_id = ?').run(JSON.stringify(next), arn, v.version_id);
      }
      this.insertVersion(arn, versionId, value, ['AWSCURRENT'], t);
      this.db.prepare('UPDATE secrets SET changed_at = ? WHERE arn = ?').run(t, arn);
    })();
    return { versionId, stages: ['AWSCURRENT'] };
  }

  private insertVersion(arn: string, versionId: string, value: { string?: string; binary?: Buffer }, stages: string[], t: number): void {
    const dataKey = randomBytes(32);
    const plaintext = value.binary ?? Buffer.from(value.string ?? '', 'utf8');
    const aad = aadOf(arn, versionId);
    this.db
      .prepare('INSERT INTO secret_versions (secret_arn, version_id, stages, wrapped_key, ciphertext, kind, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(arn, versionId, JSON.stringify(stages), this.master.encrypt(dataKey, aad), seal(dataKey, plaintext, aad), value.binary ? 'binary' : 'string', t);
    dataKey.fill(0);
  }

  /** The value of a version (by id), or of the version holding `stage` (default AWSCURRENT). */
  getValue(arn: string, opts: { versionId?: string; stage?: string } = {}): SecretValue | undefined {
    const secret = this.db.prepare('SELECT * FROM secrets WHERE arn = ?').get(arn) as SecretRow | undefined;
    if (!secret) return undefined;
    const versions = this.db.prepare('SELECT * FROM secret_versions WHERE secret_arn = ?').all(arn) as VersionRow[];
    const stage = opts.stage ?? (opts.versionId ? undefined : 'AWSCURRENT');
    const v = versions.find((x) => (!opts.versionId || x.version_id === opts.versionId) && (!stage || (JSON.parse(x.stages) as string[]).includes(stage)));
    if (!v) return undefined;
    const aad = aadOf(arn, v.version_id);
    const dataKey = this.master.decrypt(v.wrapped_key, aad);
    const plain = open(dataKey, v.ciphertext, aad);
    dataKey.fill(0);
    return {
      arn,
      name: secret.name,
      versionId: v.version_id,
      stages: JSON.parse(v.stages) as string[],
      createdAt: v.created_at,
      ...(v.kind === 'binary' ? { binary: plain } : { string: plain.toString('utf8') }),
    };
  }

  describe(arn: string): SecretMeta | undefined {
    const s = this.db.prepare('SELECT * FROM secrets WHERE arn = ?').get(arn) as SecretRow | undefined;
    if (!s) return undefined;
    const versions = (this.db.prepare('SELECT version_id, stages, created_at FROM secret_versions WHERE secret_arn = ? ORDER BY created_at').all(arn) as VersionRow[]).map((v) => ({
      versionId: v.version_id,
      stages: JSON.parse(v.stages) as string[],
      createdAt: v.created_at,
    }));
    return {
      arn: s.arn,
      name: s.name,
      ...(s.description ? { description: s.description } : {}),
      createdAt: s.created_at,
      changedAt: s.changed_at,
      ...(s.deleted_at ? { deletedAt: s.deleted_at } : {}),
      versions,
    };
  }

  list(includeDeleted = false): SecretMeta[] {
    const rows = this.db.prepare(`SELECT arn FROM secrets ${includeDeleted ? '' : 'WHERE deleted_at IS NULL'} ORDER BY name`).all() as { arn: string }[];
    return rows.map((r) => this.describe(r.arn)!);
  }

  scheduleDeletion(arn: string, at: number): void {
    this.db.prepare('UPDATE secrets SET deleted_at = ? WHERE arn = ?').run(at, arn);
  }

  deleteNow(arn: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM secret_versions WHERE secret_arn = ?').run(arn);
      this.db.prepare('DELETE FROM secrets WHERE arn = ?').run(arn);
    })();
  }

  /** Removes secrets whose recovery window has passed. */
  purgeDue(): number {
    const due = this.db.prepare('SELECT arn FROM secrets WHERE deleted_at IS NOT NULL AND deleted_at <= ?').all(this.now()) as { arn: string }[];
    for (const d of due) this.deleteNow(d.arn);
    return due.length;
  }

  /**
   * Master key rotation: unwraps every data key with `from` and wraps it with `to`,
   * in one transaction. Values are not touched (they stay sealed by their data keys).
   */
  static rewrap(db: Db, from: MasterKey, to: MasterKey): number {
    const rows = db.prepare('SELECT secret_arn, version_id, wrapped_key FROM secret_versions').all() as VersionRow[];
    db.transaction(() => {
      for (const r of rows) {
        const aad = aadOf(r.secret_arn, r.version_id);
        const key = from.decrypt(r.wrapped_key, aad);
        db.prepare('UPDATE secret_versions SET wrapped_key = ? WHERE secret_arn = ? AND version_id = ?').run(to.encrypt(key, aad), r.secret_arn, r.version_id);
        key.fill(0);
      }
    })();
    return rows.length;
  }
}
