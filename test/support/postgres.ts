/**
 * A real PostgreSQL 15 (Debian's postgresql-15) for tests, in a temp dir.
 *
 * Contract: `startPostgres()` runs initdb into a fresh temp dir (as the
 * `postgres` user when the test runs as root: initdb refuses root) and starts
 * the server on a free 127.0.0.1 port (and a unix socket in the dir), trust
 * auth, fsync off (a test database; durability is PostgreSQL's business).
 * `url(db)` is `postgres://skiff@127.0.0.1:PORT/db`; `createDatabase()` makes an
 * empty database per test. `stop()` (immediate shutdown, then the dir removed)
 * is idempotent and only stops the server it started; `restart()` brings the
 * same cluster back on the same port (for outage tests). Register `stop` with
 * `after()` so it runs even when a test fails.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './registry.ts';

const BIN = '/usr/lib/postgresql/15/bin';

export interface TestPostgres {
  port: number;
  dir: string;
  /** postgres://skiff@127.0.0.1:PORT/<db> */
  url(db?: string): string;
  /** A new empty database; returns its URL. */
  createDatabase(name?: string): string;
  /** Runs SQL as the superuser (psql), returns its output. */
  psql(sql: string, db?: string): string;
  /** Stops the server (immediate) without removing the data: the database is "down". */
  halt(): void;
  /** Starts it again on the same port. */
  restart(): void;
  stop(): void;
}

let seq = 0;

export async function startPostgres(): Promise<TestPostgres> {
  if (!existsSync(join(BIN, 'initdb'))) throw new Error(`PostgreSQL 15 is not installed (${BIN}); run scripts/setup.sh (Debian package postgresql-15)`);
  const dir = mkdtempSync(join(tmpdir(), 'skiff-pg-'));
  const asRoot = process.getuid?.() === 0;
  const run = (bin: string, args: string[]) =>
    execFileSync(asRoot ? 'runuser' : join(BIN, bin), asRoot ? ['-u', 'postgres', '--', join(BIN, bin), ...args] : args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 }).toString();
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), Number(execFileSync('id', ['-g', 'postgres']).toString().trim()));
  const data = join(dir, 'data');
  const port = await freePort();
  let running = false;
  let stopped = false;
  const start = () => {
    run('pg_ctl', ['-D', data, '-w', '-t', '60', '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -F -c max_connections=50`, 'start']);
    running = true;
  };
  const halt = () => {
    if (!running) return;
    running = false;
    try {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already gone
    }
  };
  try {
    run('initdb', ['-D', data, '-U', 'skiff', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    start();
  } catch (err) {
    halt();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const url = (db = 'postgres') => `postgres://skiff@127.0.0.1:${port}/${db}`;
  const psql = (sql: string, db = 'postgres') =>
    execFileSync(join(BIN, 'psql'), ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', 'skiff', '-d', db, '-c', sql], { timeout: 30_000 }).toString();
  return {
    port,
    dir,
    url,
    psql,
    createDatabase(name = `t${process.pid}_${++seq}`) {
      psql(`CREATE DATABASE ${name}`);
      return url(name);
    },
    halt,
    restart: start,
    stop() {
      if (stopped) return;
      stopped = true;
      halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
