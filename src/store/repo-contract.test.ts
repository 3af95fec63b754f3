/**
 * The repository contract (repo-contract.ts) on both stores: the embedded
 * SQLite, and a real PostgreSQL 15 started for this file in a temp dir (one
 * fresh database per test), removed afterwards even when a test fails.
 */
import { after, before, describe } from 'node:test';
import { openDb } from './db.ts';
import { openPgDb } from './postgres/open.ts';
import { repoContract } from './repo-contract.ts';
import { startPostgres, type TestPostgres } from '../../test/support/postgres.ts';

repoContract('sqlite', () => openDb(':memory:'));

describe('postgres', () => {
  let pg: TestPostgres | undefined;
  before(async () => {
    pg = await startPostgres();
  });
  after(() => pg?.stop());
  repoContract('postgres', () => openPgDb(pg!.createDatabase()));
});
