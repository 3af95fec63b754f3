import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDatabaseSetting } from './database-setting.ts';
import { ConfigError, resolveServerConfig } from './server-config.ts';

test('--database: a postgres URL, its password kept out of what is shown; anything else refused with what to give', () => {
  const problems: string[] = [];
  assert.equal(parseDatabaseSetting(undefined, problems), undefined);
  assert.deepEqual(parseDatabaseSetting('postgres://skiff:s3cret@db.local:5433/skiff', problems), { url: 'postgres://skiff:s3cret@db.local:5433/skiff', display: 'postgres://skiff@db.local:5433/skiff' });
  assert.deepEqual(problems, []);
  parseDatabaseSetting('mysql://x@y/z', problems);
  parseDatabaseSetting('postgres://skiff@127.0.0.1:5432', problems);
  parseDatabaseSetting('not a url', problems);
  assert.equal(problems.length, 3);
  assert.match(problems[0], /only PostgreSQL/);
  assert.match(problems[1], /names no database/);
  assert.match(problems[2], /must be a URL such as postgres:\/\//);
  assert.equal(resolveServerConfig({}, { SKIFF_DATABASE_URL: 'postgres://a@b/c' }).database?.display, 'postgres://a@b/c');
  assert.equal(resolveServerConfig({}, {}).database, undefined, 'default: SQLite in the data dir');
  assert.throws(() => resolveServerConfig({ database: 'sqlite:///x' }, {}), ConfigError);
});
