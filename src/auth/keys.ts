/**
 * Access keys: the principals that may call Skiff's API. Each has an id, a
 * secret (stored encrypted under the master key: SigV4 needs the secret itself,
 * so a hash would not do), a name, a policy and a status. Revoked keys stay in
 * the table (for the audit trail) and never authenticate again.
 *
 * Secrets leave this module only through `secretFor` (for verification) and
 * in the result of `create` (shown once to the caller); they are never logged.
 */
import { isDiskFullError } from '../store/disk-errors.ts';
import { randomBytes } from 'node:crypto';
import type { Db } from '../store/db.ts';
import type { MasterKey } from './master-key.ts';
import { ADMIN_POLICY, validatePolicy, type Policy } from './policy.ts';

export interface AccessKey {
  accessKeyId: string;
  name: string;
  policy: Policy;
  status: 'Active' | 'Revoked';
  isRoot: boolean;
  createdAt: number;
  revokedAt?: number;
  lastUsedAt?: number;
}

interface Row {
  access_key_id: string;
  name: string;
  secret_enc: string;
  policy: string;
  status: 'Active' | 'Revoked';
  is_root: number;
  created_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const KEY_ID_RE = /^[A-Za-z0-9_+=,.@-]{3,128}$/;
const NAME_RE = /^[A-Za-z0-9_+=,.@-]{1,64}$/;

/** `AKIA` + 16 base32 characters, the shape of an AWS access key id. */
export function newAccessKeyId(): string {
  const bytes = randomBytes(16);
  return 'AKIA' + [...bytes].map((b) => BASE32[b & 31]).join('');
}

/** 40 characters, the shape of an AWS secret access key. */
export function newSecretAccessKey(): string {
  return randomBytes(30).toString('base64');
}

export class KeyStoreError extends Error {}

export class KeyStore {
  private readonly lastUsedWritten = new Map<string, number>();
  /**
   * Decrypted secrets and parsed policies by the exact stored text they came from:
   * every request authenticates, and neither AES-GCM nor JSON.parse needs to run
   * again while the row holds the same text (a rotated secret or a new policy is
   * new text, so a change is never missed). Bounded: a cache, not a copy.
   */
  private readonly decrypted = new Map<string, string>();
  private readonly parsedPolicies = new Map<string, Policy>();
  private readonly activeStmt;

  constructor(
    private readonly db: Db,
    private readonly master: MasterKey,
    private readonly now: () => number = Date.now,
  ) {
    this.activeStmt = db.prepare("SELECT * FROM access_keys WHERE access_key_id = ? AND status = 'Active'");
  }

  private toKey(r: Row): AccessKey {
    return {
      accessKeyId: r.access_key_id,
      name: r.name,
      policy: this.policyOf(r.policy),
      status: r.status,
      isRoot: r.is_root === 1,
      createdAt: r.created_at,
      ...(r.revoked_at ? { revokedAt: r.revoked_at } : {}),
      ...(r.last_used_at ? { lastUsedAt: r.last_used_at } : {}),
    };
  }

  get(accessKeyId: string): AccessKey | undefined {
    const r = this.db.prepare('SELECT * FROM access_keys WHERE access_key_id = ?').get(accessKeyId) as Row | undefined;
    return r && this.toKey(r);
  }

  /** The secret of an active key, or undefined (unknown or revoked). */
  secretFor(accessKeyId: string): { key: AccessKey; secret: string } | undefined {
    const r = this.activeStmt.get(accessKeyId) as Row | undefined;
    if (!r) return undefined;
    const cacheKey = `${r.access_key_id}\u0000${r.secret_enc}`;
    let secret = this.decrypted.get(cacheKey);
    if (secret === undefined) {
      secret = this.master.decrypt(r.secret_enc, r.access_key_id).toString('utf8');
      if (this.decrypted.size >= 10_000) this.decrypted.clear();
      this.decrypted.set(cacheKey, secret);
    }
    return { key: this.toKey(r), secret };
  }

  /** The parsed policy, deeply frozen: it is shared by every caller that reads the same text. */
  private policyOf(text: string): Policy {
    let p = this.parsedPolicies.get(text);
    if (!p) {
      p = deepFreeze(JSON.parse(text) as Policy);
      if (this.parsedPolicies.size >= 10_000) this.parsedPolicies.clear();
      this.parsedPolicies.set(text, p);
    }
    return p;
  }

  list(opts: { includeRevoked?: boolean } = {}): AccessKey[] {
    const rows = this.db
      .prepare(`SELECT * FROM access_keys ${opts.includeRevoked ? '' : "WHERE status = 'Active'"} ORDER BY created_at, access_key_id`)
      .all() as Row[];
    return rows.map((r) => this.toKey(r));
  }

  /** Creates a key; the secret is returned here once and never again. */
  create(input: { name?: string; policy?: unknown; accessKeyId?: string; secretAccessKey?: string; isRoot?: boolean }): AccessKey & { secretAccessKey: string } {
    const accessKeyId = input.accessKeyId ?? newAccessKeyId();
    const secret = input.secretAccessKey ?? newSecretAccessKey();
    if (!KEY_ID_RE.test(accessKeyId)) throw new KeyStoreError(`Access key id '${accessKeyId}' must be 3-128 letters, digits or _+=,.@-.`);
    if (secret.length < 8) throw new KeyStoreError('A secret access key must be at least 8 characters.');
    const name = input.name ?? accessKeyId;
    if (!NAME_RE.test(name)) throw new KeyStoreError(`Name '${name}' must be 1-64 letters, digits or _+=,.@-.`);
    const policy = validatePolicy(input.policy ?? ADMIN_POLICY);
    if (this.get(accessKeyId)) throw new KeyStoreError(`Access key ${accessKeyId} already exists.`);
    const createdAt = this.now();
    this.db
      .prepare(
        `INSERT INTO access_keys (access_key_id, name, secret_enc, policy, status, is_root, created_at) VALUES (?, ?, ?, ?, 'Active', ?, ?)`,
      )
      .run(accessKeyId, name, this.master.encrypt(secret, accessKeyId), JSON.stringify(policy), input.isRoot ? 1 : 0, createdAt);
    return { accessKeyId, name, policy, status: 'Active', isRoot: !!input.isRoot, createdAt, secretAccessKey: secret };
  }

  /** Revokes a key; true if it was active. */
  revoke(accessKeyId: string): boolean {
    const r = this.db.prepare("UPDATE access_keys SET status = 'Revoked', revoked_at = ? WHERE access_key_id = ? AND status = 'Active'").run(this.now(), accessKeyId);
    return r.changes > 0;
  }

  /** Records that a key was used (at most once a minute per key, to keep writes off the hot path). */
  touch(accessKeyId: string): void {
    const now = this.now();
    if (now - (this.lastUsedWritten.get(accessKeyId) ?? 0) < 60_000) return;
    this.lastUsedWritten.set(accessKeyId, now);
    try {
      this.db.prepare('UPDATE access_keys SET last_used_at = ? WHERE access_key_id = ?').run(now, accessKeyId);
    } catch (err) {
      if (!isDiskFullError(err)) throw err; // last-used is advisory: a full disk must not fail the call (reads go on)
    }
  }

  /**
   * Makes the operator's root key (SKIFF_ROOT_ACCESS_KEY_ID/SECRET) the one active
   * root key: created or updated in place; any other root key is revoked, so
   * changing the environment retires the old one.
   */
  ensureRoot(accessKeyId: string, secret: string): void {
    this.db.transaction(() => {
      const existing = this.get(accessKeyId);
      if (existing && !existing.isRoot) throw new KeyStoreError(`SKIFF_ROOT_ACCESS_KEY_ID ${accessKeyId} is already an ordinary key; choose another id for the root key.`);
      if (existing) {
        this.db
          .prepare("UPDATE access_keys SET secret_enc = ?, policy = ?, status = 'Active', revoked_at = NULL WHERE access_key_id = ?")
          .run(this.master.encrypt(secret, accessKeyId), JSON.stringify(ADMIN_POLICY), accessKeyId);
      } else {
        this.create({ accessKeyId, secretAccessKey: secret, name: 'root', policy: ADMIN_POLICY, isRoot: true });
      }
      this.db.prepare("UPDATE access_keys SET status = 'Revoked', revoked_at = ? WHERE is_root = 1 AND status = 'Active' AND access_key_id != ?").run(this.now(), accessKeyId);
    })();
  }

  activeRoot(): AccessKey | undefined {
    const r = this.db.prepare("SELECT * FROM access_keys WHERE is_root = 1 AND status = 'Active' ORDER BY created_at DESC LIMIT 1").get() as Row | undefined;
    return r && this.toKey(r);
  }
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}
