/**
 * The PostgreSQL store itself, against a real PostgreSQL 15 in a temp dir:
 * the same schema as SQLite, migrations safe from two processes at once, an
 * outage answered with a clear error and recovered from, and the translation rules.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MIGRATIONS, openDb } from '../db.ts';
import { StoreUnavailableError } from '../store-unavailable.ts';
import { openPgDb } from './open.ts';
import { openRepos } from '../repos.ts';
import { translate } from './translate.ts';
import { startPostgres, type TestPostgres } from '../../../test/support/postgres.ts';

let pg: TestPostgres;
before(async () => {
  pg = await startPostgres();
});
after(() => pg?.stop());

test('the PostgreSQL schema has the tables and columns of the SQLite one, at the same version', () => {
  const lite = openDb(':memory:');
  const want: Record<string, string[]> = {};
  for (const { name } of lite.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as { name: string }[]) {
    want[name] = (lite.prepare(`SELECT name FROM pragma_table_info(?)`).all(name) as { name: string }[]).map((c) => c.name).sort();
  }
  const liteVersion = lite.pragma('user_version', { simple: true });
  lite.close();
  const db = openPgDb(pg.createDatabase());
  try {
    const got: Record<string, string[]> = {};
    const cols = db.prepare(`SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = 'public' AND table_name != 'skiff_schema' AND column_name != 'rowid'`).all() as { t: string; c: string }[];
    for (const { t, c } of cols) (got[t] ??= []).push(c);
    for (const t of Object.keys(got)) got[t].sort();
    assert.deepEqual(got, want, 'a SQLite migration without its PostgreSQL twin in postgres/schema.ts?');
    assert.equal(db.pragma('user_version', { simple: true }), liteVersion);
  } finally {
    db.close();
  }
});

test('two processes migrating one empty database at once: both start, the schema is built once', async () => {
  const url = pg.createDatabase();
  const open = fileURLToPath(new URL('./open.ts', import.meta.url));
  const script = `const { openPgDb } = await import(${JSON.stringify(open)}); const db = openPgDb(process.argv[1]); console.log(db.pragma('user_version', { simple: true })); db.close();`;
  const run = () =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, url], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`migration process exited ${code}: ${err}`))));
    });
  const [a, b] = await Promise.all([run(), run()]);
  assert.equal(a, String(MIGRATIONS.length));
  assert.equal(b, String(MIGRATIONS.length));
  assert.equal(pg.psql(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'tasks'`, url.split('/').pop()).trim(), '1');
});

test('database down: a clear StoreUnavailableError naming it, within the connect timeout; back: the same store works again', async () => {
  const own = await startPostgres();
  try {
    const url = own.createDatabase('outage');
    const db = openPgDb(url, { connectTimeoutMs: 2000 });
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('k', 'v');
    own.halt();
    const t0 = Date.now();
    assert.throws(
      () => db.prepare('SELECT value FROM meta WHERE key = ?').get('k'),
      (e: unknown) => e instanceof StoreUnavailableError && e.message.includes(`127.0.0.1:${own.port}/outage`) && /cannot reach its database/.test(e.message),
    );
    const t1 = Date.now();
    assert.throws(() => db.transaction(() => db.prepare('SELECT 1').get())(), StoreUnavailableError);
    assert.ok(Date.now() - t1 < 100, `the next call within retryAfterMs fails at once (${Date.now() - t1} ms)`);
    assert.ok(Date.now() - t0 < 10_000, `failed fast (${Date.now() - t0} ms)`);
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(db.inTransaction, false);
    own.restart();
    assert.deepEqual(db.prepare('SELECT value FROM meta WHERE key = ?').get('k'), { value: 'v' });
    db.close();
  } finally {
    own.stop();
  }
});

test('translation: parameters, upserts, JSON, NOCASE, LIKE, aliases, generated ids; SQLite-only SQL refused', () => {
  assert.equal(translate(`SELECT doc FROM t WHERE a = ? AND b = '?' AND c = ?`).text, `SELECT doc FROM t WHERE a = $1 AND b = '?' AND c = $2`);
  const named = translate(`UPDATE t SET a = @a, b = @b WHERE id = @id AND a != @a`);
  assert.equal(named.text, `UPDATE t SET a = $1, b = $2 WHERE id = $3 AND a != $1`);
  assert.deepEqual(named.names, ['a', 'b', 'id']);
  assert.equal(translate(`INSERT OR IGNORE INTO x (a) VALUES (?)`).text, `INSERT INTO x (a) VALUES ($1) ON CONFLICT DO NOTHING`);
  assert.equal(translate(`SELECT json_extract(t.doc, '$.a.b') AS aB FROM t`).text, `SELECT (t.doc::jsonb #> '{a,b}') AS "aB" FROM t`);
  assert.equal(translate(`SELECT coalesce(sum(json_extract(doc, '$.cpu')), 0) AS cpu FROM t`).text, `SELECT coalesce(sum((doc::jsonb #>> '{cpu}')::numeric), 0) AS cpu FROM t`);
  assert.equal(translate(`SELECT * FROM roles WHERE name = ? COLLATE NOCASE`).text, `SELECT * FROM roles WHERE lower(name) = lower($1)`);
  assert.equal(translate(`SELECT * FROM s WHERE arn LIKE ? || '-______'`).text, `SELECT * FROM s WHERE arn ILIKE $1::text || '-______'`);
  assert.equal(translate(`INSERT INTO audit_log (ts) VALUES (?)`).text, `INSERT INTO audit_log (ts) VALUES ($1) RETURNING id`);
  assert.match(translate('PRAGMA data_version').text, /skiff_data_version/);
  assert.throws(() => translate(`INSERT OR REPLACE INTO x VALUES (?)`), /SQLite-only/);
  assert.throws(() => translate(`SELECT value FROM json_each(?)`), /SQLite-only/);
  assert.throws(() => translate(`SELECT ? , @a`), /mixes/);
});

test('data_version: another connection writing a task forgets the read cache stamps, this connection writing does not', () => {
  const url = pg.createDatabase();
  const a = openPgDb(url);
  const b = openPgDb(url);
  try {
    const task = (id: string) => ({ id, arn: `arn:${id}`, clusterName: 'default', family: 'f', taskDefinitionArn: 'td', desiredStatus: 'RUNNING', lastStatus: 'PENDING', createdAt: 1, version: 1 }) as never;
    const ra = openRepos(a).tasks;
    const rb = openRepos(b).tasks;
    ra.insert(task('t1'));
    ra.insert(task('t2'));
    ra.docs(['t1', 't2']);
    ra.update('t1', (t) => (t.lastStatus = 'RUNNING'));
    assert.deepEqual([...ra.changeStamps(['t1', 't2']).keys()], ['t1', 't2'], 'own writes keep the stamps');
    rb.update('t2', (t) => (t.lastStatus = 'RUNNING'));
    assert.deepEqual([...ra.changeStamps(['t1', 't2']).keys()], [], "another connection's write forgets them");
    assert.equal(ra.get('t2')!.lastStatus, 'RUNNING');
  } finally {
    a.close();
    b.close();
  }
});
