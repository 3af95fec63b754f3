/**
 * The log store's own SQLite file, `<data>/logs.db`, beside the state store.
 *
 * Why a separate file rather than tables in `skiff.db`: log events are the one
 * high-volume, append-and-expire data Skiff keeps. Apart, their writes never
 * wait behind (or hold up) the state store's write lock and fsyncs, deleting
 * expired events does not bloat the state file (this file uses incremental
 * auto-vacuum and gives freed pages back), and an operator can move or drop the
 * logs without touching task state.
 *
 * Durability: WAL with synchronous=NORMAL. A power cut may lose the last
 * committed batches, but never splits one: each batch of shipped lines commits
 * together with the file offset it was read up to (log_shipments), so after a
 * restart the shipper re-reads exactly what was lost — no line lost, none doubled
 * (as long as conmon's file still holds it).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type LogDb = Database.Database;

const MIGRATIONS: string[] = [
  // 1: log groups, streams, events, and where each container's shipping stands.
  `
  CREATE TABLE log_groups (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,       -- epoch ms
    retention_days INTEGER             -- NULL: never expire
  );

  CREATE TABLE log_streams (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    first_event_ts INTEGER,
    last_event_ts INTEGER,
    last_ingestion_at INTEGER,
    stored_bytes INTEGER NOT NULL DEFAULT 0,   -- sum over its events of UTF-8 message bytes + 26 (CloudWatch's count)
    UNIQUE (group_id, name)
  );
  CREATE INDEX log_streams_by_last_event ON log_streams (group_id, last_event_ts);

  -- AUTOINCREMENT: an id is never reused after deletes, so event ids and tokens stay unambiguous.
  CREATE TABLE log_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id INTEGER NOT NULL,
    stream_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,               -- the event's timestamp, epoch ms
    ingested_at INTEGER NOT NULL,
    message TEXT NOT NULL
  );
  CREATE INDEX log_events_by_stream ON log_events (stream_id, ts, id);
  CREATE INDEX log_events_by_group ON log_events (group_id, ts, id);

  -- One row per container whose output goes to a log stream (awslogs driver).
  CREATE TABLE log_shipments (
    runtime_id TEXT PRIMARY KEY,       -- the driver's container id; its conmon log file
    task_id TEXT NOT NULL,
    container_name TEXT NOT NULL,
    group_name TEXT NOT NULL,
    stream_name TEXT NOT NULL,
    file TEXT NOT NULL,
    inode INTEGER,                     -- the file (conmon replaces it when it reaches --log-size-max)
    offset INTEGER NOT NULL DEFAULT 0, -- bytes of that file already shipped (always at a line end)
    pending TEXT,                      -- JSON: partial (P) records read but not yet ended by an F record
    done INTEGER NOT NULL DEFAULT 0    -- 1 once the container is gone and its file fully shipped
  );
  CREATE INDEX log_shipments_active ON log_shipments (done);
  `,
];

export function openLogDb(file: string): LogDb {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  // Must precede the first table: later it only takes effect after a VACUUM.
  db.pragma('auto_vacuum = INCREMENTAL');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  const version = db.pragma('user_version', { simple: true }) as number;
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return db;
}
