/**
 * Opening the store on PostgreSQL: connect (in the worker), then bring the
 * schema up to date. Migrations run in one transaction under an advisory lock,
 * so replicas starting together against one database apply each step once: the
 * second waits for the first, then finds the schema current.
 */
import { MIGRATIONS } from '../db.ts';
import { PgDb, schemaVersion, type PgDbOptions } from './pg-db.ts';
import { MIGRATION_LOCK, PG_MIGRATIONS, type PgMigration } from './schema.ts';

/** The PostgreSQL store at `url` (postgres://USER@HOST:PORT/DB), its schema current. */
export function openPgDb(url: string, opts: PgDbOptions = {}): PgDb {
  const db = new PgDb(url, opts);
  try {
    migratePg(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/**
 * Applies the steps of `migrations` the database lacks. READ COMMITTED on
 * purpose: each statement sees what a replica that held the lock before committed.
 */
export function migratePg(db: PgDb, migrations: readonly PgMigration[] = PG_MIGRATIONS, latest = MIGRATIONS.length): number {
  db.query('BEGIN ISOLATION LEVEL READ COMMITTED', []);
  try {
    db.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK.toString()]);
    db.exec('CREATE TABLE IF NOT EXISTS skiff_schema (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)');
    db.query('INSERT INTO skiff_schema (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING', []);
    let version = schemaVersion(db);
    if (version > latest) {
      throw new Error(`the database's schema is version ${version}, newer than this Skiff knows (${latest}): run a Skiff at least as new as the one that last migrated it`);
    }
    for (const m of migrations) {
      if (m.to <= version || m.to > latest) continue;
      db.exec(m.sql);
      version = m.to;
    }
    db.query('UPDATE skiff_schema SET version = $1 WHERE id = 1', [version]);
    db.query('COMMIT', []);
    return version;
  } catch (err) {
    try {
      db.query('ROLLBACK', []);
    } catch {
      // connection gone: nothing was committed
    }
    throw err;
  }
}
