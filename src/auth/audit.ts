/**
 * The audit log: one row per API call (except /healthz) saying who called what
 * on which resource and how it ended. Rows older than `retentionDays` are pruned.
 *
 * What it promises:
 *   - A call that changes something (any action but Describe*, List*, Get*,
 *     BatchGet*, Filter*) is admitted only once its row is committed durably
 *     (`begin`, before the handler runs): no change without its audit row. If
 *     the row cannot be written — the disk is full (`gate` refuses, or the
 *     insert fails) — the call is refused, not run (fail closed). Its outcome
 *     and status are filled in after the answer, buffered like read rows; a
 *     crash in between leaves the row with outcome `Pending`.
 *   - Reads and refused calls (denied, malformed) are buffered and written in
 *     one transaction every `flushMs` (and on close, and before every audit
 *     read): a crash can lose the last interval of those.
 *   - A buffered write that fails for lack of disk is kept (up to `maxBuffered`
 *     rows, the oldest dropped beyond that, and said so in the log) and tried
 *     again every `retryMs`; it never throws out of the timer.
 *
 * Never holds request bodies, headers or secrets: only the fields below.
 */
import { withoutDiskWait, type Db } from '../store/db.ts';
import { WriteFailureNotice } from '../store/disk-errors.ts';

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
  /** What the call asked for where the action alone does not say (ExecuteCommand: its command). Never secrets. */
  detail?: string;
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
  detail?: string | null;
}

/** Whether an action (`ecs:RunTask`, `skiff:GetTaskLogs` ...) only reads. */
export function isReadAction(action: string): boolean {
  const op = action.slice(action.indexOf(':') + 1);
  return /^(Describe|List|Get|BatchGet|Filter)/.test(op);
}

/**
 * Calls whose first effect is a durable commit to this same store (RunTask and
 * StartTask store their tasks, StopTask the desired status, services and task
 * definitions their records) before anything acts on it. Their audit row may
 * ride on that commit's fsync (AuditLog.begin). Anything that acts outside the
 * store first (ExecuteCommand, host and key operations) is not here.
 */
export const STORE_FIRST_ACTIONS: ReadonlySet<string> = new Set([
  'ecs:RunTask',
  'ecs:StartTask',
  'ecs:StopTask',
  'ecs:CreateService',
  'ecs:UpdateService',
  'ecs:RegisterTaskDefinition',
]);

export interface AuditOptions {
  flushMs?: number;
  retentionDays?: number;
  now?: () => number;
  log?: (msg: string) => void;
  /** Called before a mutating call is admitted; throws to refuse it (the disk guard: the disk is full). */
  gate?: (action: string) => void;
  /** Delay before a failed flush is tried again (default 5 s). */
  retryMs?: number;
  /** Rows kept in memory while flushes fail (default 10,000). */
  maxBuffered?: number;
}

type Pending = { kind: 'row'; e: AuditEntry } | { kind: 'finish'; id: number; outcome: string; status: number };

export class AuditLog {
  private buffer: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private dropped = 0;
  private readonly notice: WriteFailureNotice;

  constructor(
    private readonly db: Db,
    private readonly opts: AuditOptions = {},
  ) {
    this.notice = new WriteFailureNotice('audit log', opts.log ?? ((m) => console.error(m)));
  }

  /** A buffered row (reads, refused calls). */
  record(e: AuditEntry): void {
    this.push({ kind: 'row', e });
  }

  /**
   * Admits a mutating call: its row (outcome `Pending`) is committed before this
   * returns — durably (fsync), or for the actions of STORE_FIRST_ACTIONS into
   * the write-ahead log only, as the call's own durable commit, which comes
   * before it acts, syncs it too (WAL frames are synced in order; one fsync per
   * call instead of two). Throws — and the call must be refused — when the gate
   * refuses or the row cannot be written (a full disk refuses either way).
   */
  begin(e: Omit<AuditEntry, 'outcome' | 'status'>): number {
    this.opts.gate?.(e.action);
    // The buffered rows go first, in the same transaction: ids keep the order calls were made in.
    const rows = this.take();
    const commit = () =>
      this.db.transaction(() => {
        this.writeRows(rows);
        return Number(this.insertStmt().run(e.ts, e.accessKeyId ?? null, e.principal ?? null, e.sourceIp ?? null, e.action, e.resource ?? null, 'Pending', 0, e.detail ?? null).lastInsertRowid);
      })();
    try {
      const id = STORE_FIRST_ACTIONS.has(e.action) ? withoutDiskWait(this.db, commit) : commit();
      this.written();
      return id;
    } catch (err) {
      this.putBack(rows);
      throw err;
    }
  }

  /** The outcome of a call admitted by `begin` (buffered). */
  finish(id: number, outcome: string, status: number): void {
    this.push({ kind: 'finish', id, outcome, status });
  }

  private push(p: Pending): void {
    this.buffer.push(p);
    const max = this.opts.maxBuffered ?? 10_000;
    if (this.buffer.length > max) {
      this.dropped += this.buffer.length - max;
      this.buffer.splice(0, this.buffer.length - max);
    }
    if (this.buffer.length >= 1000 && !this.notice.down) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.opts.flushMs ?? 500).unref();
  }

  /** Writes the buffered rows; on failure keeps them and tries again later. Never throws. */
  flush(): void {
    const rows = this.take();
    if (!rows.length) return;
    const now = (this.opts.now ?? Date.now)();
    try {
      this.db.transaction(() => {
        this.writeRows(rows);
        this.db.prepare('DELETE FROM audit_log WHERE ts < ?').run(now - (this.opts.retentionDays ?? 90) * 86_400_000);
      })();
      this.written();
    } catch (err) {
      if (!this.notice.failed(err)) (this.opts.log ?? console.error)(`audit log: writing ${rows.length} row(s) failed: ${err instanceof Error ? err.message : String(err)}`);
      this.putBack(rows);
    }
  }

  /** Empties the buffer (and its timer) into the caller's hands. */
  private take(): Pending[] {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const rows = this.buffer;
    this.buffer = [];
    return rows;
  }

  /** Rows whose write failed go back in front, within the cap; tried again in `retryMs`. */
  private putBack(rows: Pending[]): void {
    if (!rows.length) return;
    this.buffer = rows.concat(this.buffer);
    const max = this.opts.maxBuffered ?? 10_000;
    if (this.buffer.length > max) this.dropped += this.buffer.splice(0, this.buffer.length - max).length;
    this.timer ??= setTimeout(() => this.flush(), this.opts.retryMs ?? 5000).unref();
  }

  private insertStmt() {
    return this.db.prepare('INSERT INTO audit_log (ts, access_key_id, principal, source_ip, action, resource, outcome, status, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  }

  /** Inside a transaction. */
  private writeRows(rows: Pending[]): void {
    if (!rows.length) return;
    const insert = this.insertStmt();
    const finish = this.db.prepare('UPDATE audit_log SET outcome = ?, status = ? WHERE id = ?');
    for (const p of rows) {
      if (p.kind === 'finish') finish.run(p.outcome, p.status, p.id);
      else insert.run(p.e.ts, p.e.accessKeyId ?? null, p.e.principal ?? null, p.e.sourceIp ?? null, p.e.action, p.e.resource ?? null, p.e.outcome, p.e.status, p.e.detail ?? null);
    }
  }

  private written(): void {
    this.notice.succeeded();
    if (!this.dropped) return;
    (this.opts.log ?? console.error)(`audit log: ${this.dropped} row(s) were dropped while the disk was full`);
    this.dropped = 0;
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
      ...(r.detail ? { detail: r.detail } : {}),
    }));
  }

  close(): void {
    this.flush();
  }
}
