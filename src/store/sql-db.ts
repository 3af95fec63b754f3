/**
 * What Skiff's code may ask of its database: the part of better-sqlite3's API
 * the repositories use, synchronous. Both stores provide it: the embedded
 * SQLite (better-sqlite3 itself, db.ts) and PostgreSQL (postgres/pg-db.ts, which
 * translates the SQLite dialect in one place). Repositories write SQLite SQL;
 * anything outside this interface is SQLite-only and must not be used by code
 * that runs on both.
 */
import type Database from 'better-sqlite3';

export interface SqlRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface SqlStatement {
  /** `?` parameters positionally, or one object for `@name` parameters. */
  run(...params: unknown[]): SqlRunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  iterate(...params: unknown[]): IterableIterator<unknown>;
}

export interface SqlDb {
  /** Set by the PostgreSQL store; undefined is SQLite. For the rare query each dialect writes its own way. */
  readonly dialect?: 'postgres';
  prepare(sql: string): SqlStatement;
  /** Wraps `fn` in a transaction (a savepoint when one is open); commits on return, rolls back on throw. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  transaction<F extends (...params: any[]) => unknown>(fn: F): Database.Transaction<F>;
  /** Runs SQL text (several statements, no parameters). */
  exec(sql: string): unknown;
  /** Only `synchronous` (commit durability) and `user_version` are portable. */
  pragma(source: string, options?: { simple?: boolean }): unknown;
  readonly inTransaction: boolean;
  close(): unknown;
}
