/**
 * The embedded store: one SQLite file (better-sqlite3) inside the data dir.
 *
 * Contract: every state change is committed here before Skiff acts on it, so a
 * crash at any point leaves a record that a restart can reconcile. WAL mode with
 * synchronous=FULL: a committed transaction survives power loss.
 *
 * Tables keep the columns Skiff queries on and a `doc` column holding the rest
 * of the record as JSON. Repositories (one module per table group) are the only
 * code that writes SQL.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type Db = Database.Database;

const MIGRATIONS: string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

  CREATE TABLE clusters (
    name TEXT PRIMARY KEY,
    arn TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,            -- ACTIVE | INACTIVE
    created_at INTEGER NOT NULL,     -- epoch ms
    doc TEXT NOT NULL                -- settings, configuration, capacity providers ...
  );

  CREATE TABLE task_definitions (
    family TEXT NOT NULL,
    revision INTEGER NOT NULL,
    arn TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,            -- ACTIVE | INACTIVE
    registered_at INTEGER NOT NULL,
    deregistered_at INTEGER,
    doc TEXT NOT NULL,               -- the ECS TaskDefinition shape, normalised
    PRIMARY KEY (family, revision)
  );

  CREATE TABLE tags (
    resource_arn TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (resource_arn, key)
  );

  CREATE TABLE tasks (
    id TEXT PRIMARY KEY,             -- 32 hex
    arn TEXT NOT NULL UNIQUE,
    cluster TEXT NOT NULL,           -- cluster name
    family TEXT NOT NULL,
    task_definition_arn TEXT NOT NULL,
    started_by TEXT,
    grp TEXT,
    desired_status TEXT NOT NULL,    -- RUNNING | STOPPED
    last_status TEXT NOT NULL,       -- PROVISIONING .. STOPPED
    created_at INTEGER NOT NULL,     -- epoch ms
    stopped_at INTEGER,              -- epoch ms, once STOPPED
    doc TEXT NOT NULL                -- TaskRecord (see agent/task-record.ts)
  );
  CREATE INDEX tasks_by_cluster ON tasks (cluster, desired_status, last_status);
  CREATE INDEX tasks_by_family ON tasks (cluster, family);

  CREATE TABLE client_tokens (
    cluster TEXT NOT NULL,
    token TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    task_ids TEXT NOT NULL,          -- JSON array of task ids
    created_at INTEGER NOT NULL,
    PRIMARY KEY (cluster, token)
  );

  CREATE TABLE vpcs (
    id TEXT PRIMARY KEY,
    cidr TEXT NOT NULL,
    is_default INTEGER NOT NULL,
    doc TEXT NOT NULL
  );

  CREATE TABLE subnets (
    id TEXT PRIMARY KEY,
    vpc_id TEXT NOT NULL REFERENCES vpcs(id),
    cidr TEXT NOT NULL,
    availability_zone TEXT NOT NULL,
    is_default INTEGER NOT NULL,
    bridge TEXT NOT NULL UNIQUE,     -- host bridge name for this subnet
    doc TEXT NOT NULL
  );

  CREATE TABLE ip_allocations (
    subnet_id TEXT NOT NULL REFERENCES subnets(id),
    ip TEXT NOT NULL,
    task_id TEXT NOT NULL,
    PRIMARY KEY (subnet_id, ip)
  );
  CREATE UNIQUE INDEX ip_allocations_by_task ON ip_allocations (task_id);
  `,
];

/** Opens (creating if needed) the store at `file` and brings its schema up to date. */
export function openDb(file: string): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
