/**
 * The store on PostgreSQL, synchronous to its callers like better-sqlite3 (sql-db.ts).
 *
 * Design: the `pg` client lives in a worker thread (pg-worker.mjs) holding one
 * connection; each statement is posted to it and the calling thread blocks on a
 * SharedArrayBuffer (Atomics.wait) until the answer is on the message port (the
 * synckit technique). Every caller stays synchronous, and what made a SQLite
 * read-modify-write atomic in this process still does: one statement at a time,
 * one transaction at a time. Transactions are SERIALIZABLE (SQLite's guarantee),
 * nested ones savepoints. SQL is translated once per text (translate.ts).
 *
 * Faults: the database unreachable (refused, reset, timed out) is a
 * StoreUnavailableError naming the database; nothing waits longer than the
 * connect and statement timeouts; the next statement connects again, so the
 * store recovers by itself when the database returns.
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import type { SqlDb, SqlRunResult, SqlStatement } from '../sql-db.ts';
import { StoreUnavailableError } from '../store-unavailable.ts';
import { translate, type Translated } from './translate.ts';

export interface PgDbOptions {
  /** After the database was found unreachable, fail at once for this long before trying again (ms, default 1000). */
  retryAfterMs?: number;
  /** How long connecting may take (ms). */
  connectTimeoutMs?: number;
  /** How long one statement may run (ms). */
  statementTimeoutMs?: number;
}

interface Answer {
  id: number;
  ok: boolean;
  rows?: Record<string, unknown>[];
  rowCount?: number;
  error?: { message: string; code?: string; detail?: string; connection?: boolean };
}

/** `postgres://user:secret@host:5432/db` → `postgres://user@host:5432/db` (for messages). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    return u.toString();
  } catch {
    return 'the configured PostgreSQL database';
  }
}

export class PgDb implements SqlDb {
  readonly dialect = 'postgres' as const;
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private readonly waitMs: number;
  private readonly name: string;
  private readonly translations = new Map<string, Translated>();
  private seq = 0;
  private depth = 0;
  private closed = false;
  /** `PRAGMA synchronous`: FULL (2) waits for the commit to be durable, NORMAL (1) does not (synchronous_commit). */
  private sync = 2;
  private appliedSync = 2;
  /** After a failed connection, statements fail at once until then (ms): a dead database must not stall the event loop call after call. */
  private downUntil = 0;
  private lastFailure = '';
  private readonly retryAfterMs: number;

  constructor(url: string, opts: PgDbOptions = {}) {
    const connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
    const statementTimeoutMs = opts.statementTimeoutMs ?? 30_000;
    this.waitMs = connectTimeoutMs + statementTimeoutMs + 5000;
    this.retryAfterMs = opts.retryAfterMs ?? 1000;
    this.name = redactUrl(url);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(new URL('./pg-worker.mjs', import.meta.url), {
      workerData: { port: port2, flag: this.flag, url, connectTimeoutMs, statementTimeoutMs },
      transferList: [port2],
      execArgv: [], // plain JavaScript: no loader flags (nor the parent's -e script)
    });
    this.worker.unref();
    this.port.unref();
  }

  get inTransaction(): boolean {
    return this.depth > 0;
  }

  prepare(sql: string): SqlStatement {
    let t = this.translations.get(sql);
    if (!t) {
      t = translate(sql);
      if (this.translations.size >= 2000) this.translations.clear();
      this.translations.set(sql, t);
    }
    return new PgStatement(this, t);
  }

  exec(sql: string): this {
    this.call({ op: 'exec', sql }, sql);
    return this;
  }

  /** Runs translated SQL; `params` already bound. */
  query(sql: string, params: unknown[], name?: string): { rows: Record<string, unknown>[]; rowCount: number } {
    if (this.sync !== this.appliedSync && this.depth === 0) {
      this.call({ op: 'query', sql: `SET synchronous_commit = ${this.sync === 2 ? 'on' : 'off'}`, params: [] }, 'SET synchronous_commit');
      this.appliedSync = this.sync;
    }
    const a = this.call({ op: 'query', sql, params, name }, sql);
    return { rows: a.rows ?? [], rowCount: a.rowCount ?? 0 };
  }

  transaction<F extends (...params: never[]) => unknown>(fn: F): Database.Transaction<F> {
    const run = (...args: Parameters<F>): ReturnType<F> => {
      const outer = this.depth === 0;
      const savepoint = `s${this.depth}`;
      this.query(outer ? 'BEGIN ISOLATION LEVEL SERIALIZABLE' : `SAVEPOINT ${savepoint}`, []);
      this.depth++;
      let result: ReturnType<F>;
      try {
        result = fn(...args) as ReturnType<F>;
      } catch (err) {
        this.depth--;
        try {
          this.query(outer ? 'ROLLBACK' : `ROLLBACK TO SAVEPOINT ${savepoint}`, []);
        } catch {
          // the connection is gone: the server rolled back already
        }
        throw err;
      }
      this.depth--;
      if (outer) {
        try {
          this.query('COMMIT', []);
        } catch (err) {
          try {
            this.query('ROLLBACK', []);
          } catch {
            // as above
          }
          throw err;
        }
      } else this.query(`RELEASE SAVEPOINT ${savepoint}`, []);
      return result;
    };
    return Object.assign(run, { default: run, deferred: run, immediate: run, exclusive: run }) as unknown as Database.Transaction<F>;
  }

  pragma(source: string, options: { simple?: boolean } = {}): unknown {
    const set = /^\s*synchronous\s*=\s*(\w+)\s*$/i.exec(source);
    if (set) {
      const mode = set[1].toUpperCase();
      this.sync = mode === 'FULL' || mode === 'EXTRA' || mode === '2' || mode === '3' ? 2 : 1;
      return [];
    }
    if (/^\s*synchronous\s*$/i.test(source)) return options.simple ? this.sync : [{ synchronous: this.sync }];
    if (/^\s*user_version\s*$/i.test(source)) {
      const v = schemaVersion(this);
      return options.simple ? v : [{ user_version: v }];
    }
    throw new Error(`PRAGMA ${source} is SQLite-only: the PostgreSQL store has no equivalent`);
  }

  close(): void {
    if (this.closed) return;
    try {
      this.call({ op: 'close' }, 'close', 2000);
    } catch {
      // closing anyway
    }
    this.closed = true;
    void this.worker.terminate();
    this.port.close();
  }

  private call(req: Record<string, unknown>, sql: string, waitMs = this.waitMs): Answer {
    if (this.closed) throw new Error('the PostgreSQL store is closed');
    if (req.op !== 'close' && Date.now() < this.downUntil && !/^\s*ROLLBACK/i.test(sql)) throw new StoreUnavailableError(this.name, this.lastFailure);
    const id = ++this.seq;
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage({ ...req, id });
    const deadline = Date.now() + waitMs;
    for (;;) {
      const m = receiveMessageOnPort(this.port);
      if (m) {
        const a = m.message as Answer;
        if (a.id !== id) continue; // the late answer of a request that timed out
        if (a.ok) return a;
        throw this.failure(a.error!, sql);
      }
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(this.flag, 0, 0, left) === 'timed-out') {
        throw this.unavailable(`no answer within ${Math.round(waitMs / 1000)} s`);
      }
      Atomics.store(this.flag, 0, 0);
    }
  }

  private unavailable(reason: string): StoreUnavailableError {
    this.downUntil = Date.now() + this.retryAfterMs;
    this.lastFailure = reason;
    return new StoreUnavailableError(this.name, reason);
  }

  private failure(e: NonNullable<Answer['error']>, sql: string): Error {
    if (e.connection || e.code === 'SKIFF_DB_UNAVAILABLE' || e.code === '57P01' || e.code === '57P03') return this.unavailable(e.message);
    return Object.assign(new Error(`${e.message} (PostgreSQL ${e.code ?? 'error'}${e.detail ? `: ${e.detail}` : ''}) in: ${sql.trim().slice(0, 300)}`), { code: `PG_${e.code ?? 'ERROR'}` });
  }
}

class PgStatement implements SqlStatement {
  constructor(
    private readonly db: PgDb,
    private readonly t: Translated,
  ) {}

  run(...params: unknown[]): SqlRunResult {
    const r = this.db.query(this.t.text, this.bind(params), this.t.name);
    const id = this.t.returning ? r.rows[0]?.[this.t.returning] : undefined;
    return { changes: r.rowCount, lastInsertRowid: typeof id === 'number' ? id : 0 };
  }

  get(...params: unknown[]): unknown {
    return this.db.query(this.t.text, this.bind(params), this.t.name).rows[0];
  }

  all(...params: unknown[]): unknown[] {
    return this.db.query(this.t.text, this.bind(params), this.t.name).rows;
  }

  iterate(...params: unknown[]): IterableIterator<unknown> {
    return this.all(...params)[Symbol.iterator]();
  }

  private bind(params: unknown[]): unknown[] {
    if (this.t.names) {
      const o = (params[0] ?? {}) as Record<string, unknown>;
      return this.t.names.map((n) => value(o[n]));
    }
    const flat = params.length === 1 && Array.isArray(params[0]) ? (params[0] as unknown[]) : params;
    return flat.map(value);
  }
}

function value(v: unknown): unknown {
  if (v === undefined) return null;
  if (typeof v === 'bigint') return v.toString();
  return v;
}

/** The schema version recorded in the database (0: none yet). */
export function schemaVersion(db: PgDb): number {
  const exists = db.query(`SELECT to_regclass('skiff_schema') IS NOT NULL AS ok`, []).rows[0]?.ok;
  if (!exists) return 0;
  return Number(db.query('SELECT version FROM skiff_schema WHERE id = 1', []).rows[0]?.version ?? 0);
}
