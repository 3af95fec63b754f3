/**
 * Temporary credentials for tasks with a task role, as the ECS credentials
 * endpoint hands them out: an access key id (`ASIA...`), a secret, a session
 * token and an expiry. A call signed with them acts as
 * `arn:aws:sts::<account>:assumed-role/<role>/<taskId>` with exactly the role's
 * policy (read at each call).
 *
 * Refresh: the endpoint returns the newest set and issues a new one once the
 * newest has used up half its lifetime, so a client that refreshes before
 * expiry always gets a set with at least half a lifetime left. Older sets stay
 * valid until their own expiry. A stopped task's sets are deleted.
 *
 * Stored: the secret encrypted under the master key (SigV4 needs the secret
 * itself), the token as a SHA-256 hash (it is only compared).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../store/db.ts';
import type { MasterKey } from '../auth/master-key.ts';
import { DEFAULT_CREDENTIALS_TTL_MS } from '../config/sections.ts';

export interface IssuedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  token: string;
  expiresAt: number;
  roleArn: string;
}

export interface SessionLookup {
  taskId: string;
  roleArn: string;
  secret: string;
  expiresAt: number;
  /** True if `token` is this session's token. */
  tokenMatches(token: string | undefined): boolean;
}

interface Row {
  access_key_id: string;
  task_id: string;
  role_arn: string;
  secret_enc: string;
  token_hash: string;
  issued_at: number;
  expires_at: number;
}

/** ECS hands out task role credentials valid for about 6 hours. */
export { DEFAULT_CREDENTIALS_TTL_MS };
/** Expired sets are kept this long (an expired key gets ExpiredTokenException, not "unknown key"). */
const KEEP_EXPIRED_MS = 3_600_000;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export class TaskCredentialStore {
  private readonly sessionTokens = new Map<string, string>();

  constructor(
    private readonly db: Db,
    private readonly master: MasterKey,
    private readonly opts: { ttlMs?: number; now?: () => number } = {},
  ) {}

  private get ttl(): number {
    return this.opts.ttlMs ?? DEFAULT_CREDENTIALS_TTL_MS;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** The task's newest set, issuing a new one when none has more than half its lifetime left. */
  current(taskId: string, roleArn: string): IssuedCredentials {
    const now = this.now();
    const newest = this.db
      .prepare('SELECT * FROM task_credentials WHERE task_id = ? AND role_arn = ? ORDER BY expires_at DESC LIMIT 1')
      .get(taskId, roleArn) as Row | undefined;
    if (newest && newest.expires_at - now > this.ttl / 2) {
      const token = this.sessionTokens.get(newest.access_key_id);
      if (token) return this.toIssued(newest, token);
      // The token is not kept on disk (only its hash): after a restart a new set is issued.
    }
    return this.issue(taskId, roleArn, now);
  }

  private issue(taskId: string, roleArn: string, now: number): IssuedCredentials {
    const accessKeyId = 'ASIA' + [...randomBytes(16)].map((b) => BASE32[b & 31]).join('');
    const secret = randomBytes(30).toString('base64');
    const token = 'IQoJb3JpZ2luX2Vj' + randomBytes(96).toString('base64');
    const expiresAt = now + this.ttl;
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM task_credentials WHERE expires_at < ?').run(now - KEEP_EXPIRED_MS);
      this.db
        .prepare('INSERT INTO task_credentials (access_key_id, task_id, role_arn, secret_enc, token_hash, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(accessKeyId, taskId, roleArn, this.master.encrypt(secret, accessKeyId), sha256(token).toString('hex'), now, expiresAt);
    })();
    this.sessionTokens.set(accessKeyId, token);
    return { accessKeyId, secretAccessKey: secret, token, expiresAt, roleArn };
  }

  private toIssued(r: Row, token: string): IssuedCredentials {
    return { accessKeyId: r.access_key_id, secretAccessKey: this.master.decrypt(r.secret_enc, r.access_key_id).toString('utf8'), token, expiresAt: r.expires_at, roleArn: r.role_arn };
  }

  /** A session by its access key id (expired ones included: the caller decides), for SigV4 verification. */
  lookup(accessKeyId: string): SessionLookup | undefined {
    if (!accessKeyId.startsWith('ASIA')) return undefined;
    const r = this.db.prepare('SELECT * FROM task_credentials WHERE access_key_id = ?').get(accessKeyId) as Row | undefined;
    if (!r) return undefined;
    const want = Buffer.from(r.token_hash, 'hex');
    return {
      taskId: r.task_id,
      roleArn: r.role_arn,
      secret: this.master.decrypt(r.secret_enc, r.access_key_id).toString('utf8'),
      expiresAt: r.expires_at,
      tokenMatches: (token) => token !== undefined && timingSafeEqual(sha256(token), want),
    };
  }

  /** Deletes every set of a task (it stopped). */
  revokeTask(taskId: string): void {
    const ids = this.db.prepare('SELECT access_key_id FROM task_credentials WHERE task_id = ?').all(taskId) as { access_key_id: string }[];
    this.db.prepare('DELETE FROM task_credentials WHERE task_id = ?').run(taskId);
    for (const { access_key_id } of ids) this.sessionTokens.delete(access_key_id);
  }
}
