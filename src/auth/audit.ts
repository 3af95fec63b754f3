/**
 * The audit log: one row per API call (except /healthz) saying who called what
 * on which resource and how it ended. Rows are buffered and written in one
 * transaction every `flushMs` (and on close, and before every read), so
 * auditing costs the request path no disk sync; a crash can lose at most the
 * last interval. Rows older than `retentionDays` are pruned.
 *
 * Never holds request bodies, headers or secrets: only the fields below.
 */
import type { Db } from '../store/db.ts';

export interface AuditEntry {
  ts: number;
  accessKeyId?: string;
  principal?: string;
  sourceIp?: string;
  action: string;
  resource?: string;
  /** `Success` or the error type returned. */
  outcome: string;
  status: number;
}

export interface AuditQuery {
  since?: number;
  until?: number;
  accessKeyId?: string;
  action?: string;
  /** Only calls that failed (outcome not Success). */
  failedOnly?: boolean;
  limit?: number;
}

interface Row {
  id: number;
  ts: number;
  access_key_id: string | null;
  principal: string | null;
  source_ip: string | null;
  action: string;
  resource: string | null;
  outcome: string;
  status: number;
}

export class AuditLog {
  private buffer: AuditEntry[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly opts: { flushMs?: number; retentionDays?: number; now?: () => number } = {},
  ) {}

  record(e: AuditEntry): void {
    this.buffer.push(e);
    if (this.buffer.length >= 1000) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.opts.flushMs ?? 500).unref();
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.buffer.length) return;
    const rows = this.buffer;
    this.buffer = [];
    const insert = this.db.prepare(
      'INSERT INTO audit_log (ts, access_key_id, principal, source_ip, action, resource, outcome, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const now = (this.opts.now ?? Date.now)();
    this.db.transaction(() => {
      for (const e of rows) insert.run(e.ts, e.accessKeyId ?? null, e.principal ?? null, e.sourceIp ?? null, e.action, e.resource ?? null, e.outcome, e.status);
      this.db.prepare('DELETE FROM audit_log WHERE ts < ?').run(now - (this.opts.retentionDays ?? 90) * 86_400_000);
    })();
  }

  /** Newest first. */
  query(q: AuditQuery = {}): (AuditEntry & { id: number })[] {
    this.flush();
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.since !== undefined) (where.push('ts >= ?'), args.push(q.since));
    if (q.until !== undefined) (where.push('ts < ?'), args.push(q.until));
    if (q.accessKeyId) (where.push('access_key_id = ?'), args.push(q.accessKeyId));
    if (q.action) (where.push('action LIKE ?'), args.push(q.action.replace(/\*/g, '%')));
    if (q.failedOnly) where.push("outcome != 'Success'");
    const rows = this.db
      .prepare(`SELECT * FROM audit_log ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`)
      .all(...args, Math.min(Math.max(q.limit ?? 100, 1), 10_000)) as Row[];
    return rows.map((r) => ({
      id: r.id,
      ts: r.ts,
      ...(r.access_key_id ? { accessKeyId: r.access_key_id } : {}),
      ...(r.principal ? { principal: r.principal } : {}),
      ...(r.source_ip ? { sourceIp: r.source_ip } : {}),
      action: r.action,
      ...(r.resource ? { resource: r.resource } : {}),
      outcome: r.outcome,
      status: r.status,
    }));
  }

  close(): void {
    this.flush();
  }
}
