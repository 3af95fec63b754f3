/**
 * The log store's repository: the only code writing SQL to `logs.db`.
 *
 * Events are ordered within a stream and across a group by (timestamp, id); the
 * id is the insertion order, so events with the same timestamp keep the order
 * they were written in. Every read that pages takes a `Key` (an event's
 * position) and is a keyset query on an index, so a page costs the same at the
 * start and at the end of a large stream.
 *
 * Byte counts follow CloudWatch: an event counts its UTF-8 message plus 26 bytes.
 */
import type { LogDb } from './log-db.ts';

export const EVENT_OVERHEAD_BYTES = 26;
export const eventBytes = (message: string) => Buffer.byteLength(message, 'utf8') + EVENT_OVERHEAD_BYTES;

/** An event's position: (timestamp, id). */
export interface Key {
  ts: number;
  id: number;
}

export interface GroupRow {
  id: number;
  name: string;
  createdAt: number;
  retentionDays: number | null;
  storedBytes: number;
}

export interface StreamRow {
  id: number;
  groupId: number;
  name: string;
  createdAt: number;
  firstEventTs: number | null;
  lastEventTs: number | null;
  lastIngestionAt: number | null;
  storedBytes: number;
}

export interface EventRow {
  id: number;
  streamId: number;
  ts: number;
  ingestedAt: number;
  message: string;
}

export interface NewEvent {
  ts: number;
  message: string;
}

export interface ShipmentRow {
  runtimeId: string;
  taskId: string;
  containerName: string;
  groupName: string;
  streamName: string;
  file: string;
  inode: number | null;
  offset: number;
  pending: string | null;
  done: boolean;
}

const GROUP_COLS = `g.id, g.name, g.created_at AS createdAt, g.retention_days AS retentionDays,
  (SELECT COALESCE(SUM(s.stored_bytes), 0) FROM log_streams s WHERE s.group_id = g.id) AS storedBytes`;
const STREAM_COLS = `id, group_id AS groupId, name, created_at AS createdAt, first_event_ts AS firstEventTs,
  last_event_ts AS lastEventTs, last_ingestion_at AS lastIngestionAt, stored_bytes AS storedBytes`;
const EVENT_COLS = 'id, stream_id AS streamId, ts, ingested_at AS ingestedAt, message';
const SHIPMENT_COLS = `runtime_id AS runtimeId, task_id AS taskId, container_name AS containerName, group_name AS groupName,
  stream_name AS streamName, file, inode, offset, pending, done`;

/** A bound larger than any event key. */
export const END_KEY: Key = { ts: Number.MAX_SAFE_INTEGER, id: Number.MAX_SAFE_INTEGER };
/** A bound smaller than any event key (timestamps are ≥ 0, ids ≥ 1). */
export const START_KEY: Key = { ts: -1, id: 0 };

export class LogStore {
  constructor(readonly db: LogDb) {}

  // ------------------------------------------------------------ groups

  /** Creates the group; false if it exists. */
  createGroup(name: string, now: number): boolean {
    return this.db.prepare('INSERT OR IGNORE INTO log_groups (name, created_at) VALUES (?, ?)').run(name, now).changes === 1;
  }

  group(name: string): GroupRow | undefined {
    return this.db.prepare(`SELECT ${GROUP_COLS} FROM log_groups g WHERE g.name = ?`).get(name) as GroupRow | undefined;
  }

  /** Groups by name after `afterName`, optionally by name prefix or case-sensitive substring. */
  listGroups(q: { prefix?: string; substring?: string; afterName?: string; limit: number }): GroupRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.prefix) {
      where.push('substr(g.name, 1, ?) = ?');
      args.push(q.prefix.length, q.prefix);
    }
    if (q.substring) {
      where.push('instr(g.name, ?) > 0');
      args.push(q.substring);
    }
    if (q.afterName !== undefined) {
      where.push('g.name > ?');
      args.push(q.afterName);
    }
    const sql = `SELECT ${GROUP_COLS} FROM log_groups g ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY g.name LIMIT ?`;
    return this.db.prepare(sql).all(...args, q.limit) as GroupRow[];
  }

  /** Deletes the group, its streams and events; false if there was none. */
  deleteGroup(name: string): boolean {
    return this.db.transaction(() => {
      const g = this.group(name);
      if (!g) return false;
      this.db.prepare('DELETE FROM log_events WHERE group_id = ?').run(g.id);
      this.db.prepare('DELETE FROM log_streams WHERE group_id = ?').run(g.id);
      this.db.prepare('DELETE FROM log_groups WHERE id = ?').run(g.id);
      return true;
    })();
  }

  /** Sets (or with null removes) the group's retention; false if there is no such group. */
  setRetention(name: string, days: number | null): boolean {
    return this.db.prepare('UPDATE log_groups SET retention_days = ? WHERE name = ?').run(days, name).changes === 1;
  }

  // ------------------------------------------------------------ streams

  /** Creates the stream; false if it exists. */
  createStream(groupId: number, name: string, now: number): boolean {
    return this.db.prepare('INSERT OR IGNORE INTO log_streams (group_id, name, created_at) VALUES (?, ?, ?)').run(groupId, name, now).changes === 1;
  }

  stream(groupId: number, name: string): StreamRow | undefined {
    return this.db.prepare(`SELECT ${STREAM_COLS} FROM log_streams WHERE group_id = ? AND name = ?`).get(groupId, name) as StreamRow | undefined;
  }

  streamsNamed(groupId: number, names: string[]): StreamRow[] {
    if (names.length === 0) return [];
    return this.db
      .prepare(`SELECT ${STREAM_COLS} FROM log_streams WHERE group_id = ? AND name IN (${names.map(() => '?').join(',')})`)
      .all(groupId, ...names) as StreamRow[];
  }

  streamsWithPrefix(groupId: number, prefix: string): StreamRow[] {
    return this.db
      .prepare(`SELECT ${STREAM_COLS} FROM log_streams WHERE group_id = ? AND substr(name, 1, ?) = ? ORDER BY name`)
      .all(groupId, prefix.length, prefix) as StreamRow[];
  }

  /**
   * A page of a group's streams. By name: after `after.name` (before, descending).
   * By last event time: keyset on (last_event_ts, name), streams without events first.
   */
  listStreams(
    groupId: number,
    q: { prefix?: string; orderBy: 'LogStreamName' | 'LastEventTime'; descending: boolean; after?: { name: string; lastEventTs?: number | null }; limit: number },
  ): StreamRow[] {
    const where = ['group_id = ?'];
    const args: unknown[] = [groupId];
    const cmp = q.descending ? '<' : '>';
    const dir = q.descending ? 'DESC' : 'ASC';
    if (q.prefix) {
      where.push('substr(name, 1, ?) = ?');
      args.push(q.prefix.length, q.prefix);
    }
    let order: string;
    if (q.orderBy === 'LogStreamName') {
      if (q.after) {
        where.push(`name ${cmp} ?`);
        args.push(q.after.name);
      }
      order = `name ${dir}`;
    } else {
      // NULL (no events yet) sorts as -1, before every real timestamp.
      if (q.after) {
        where.push(`(COALESCE(last_event_ts, -1), name) ${cmp} (?, ?)`);
        args.push(q.after.lastEventTs ?? -1, q.after.name);
      }
      order = `COALESCE(last_event_ts, -1) ${dir}, name ${dir}`;
    }
    return this.db.prepare(`SELECT ${STREAM_COLS} FROM log_streams WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ?`).all(...args, q.limit) as StreamRow[];
  }

  /** Deletes the stream and its events; false if there was none. */
  deleteStream(groupId: number, name: string): boolean {
    return this.db.transaction(() => {
      const s = this.stream(groupId, name);
      if (!s) return false;
      this.db.prepare('DELETE FROM log_events WHERE stream_id = ?').run(s.id);
      this.db.prepare('DELETE FROM log_streams WHERE id = ?').run(s.id);
      return true;
    })();
  }

  // ------------------------------------------------------------ events

  /** Appends events to a stream and updates its counters (call inside a transaction for atomic batches). */
  append(stream: Pick<StreamRow, 'id' | 'groupId'>, events: NewEvent[], now: number): void {
    if (events.length === 0) return;
    const insert = this.db.prepare('INSERT INTO log_events (group_id, stream_id, ts, ingested_at, message) VALUES (?, ?, ?, ?, ?)');
    let bytes = 0;
    let first = Number.MAX_SAFE_INTEGER;
    let last = -1;
    for (const e of events) {
      insert.run(stream.groupId, stream.id, e.ts, now, e.message);
      bytes += eventBytes(e.message);
      first = Math.min(first, e.ts);
      last = Math.max(last, e.ts);
    }
    this.db
      .prepare(
        `UPDATE log_streams SET stored_bytes = stored_bytes + ?, last_ingestion_at = ?,
           first_event_ts = MIN(COALESCE(first_event_ts, ?), ?), last_event_ts = MAX(COALESCE(last_event_ts, ?), ?)
         WHERE id = ?`,
      )
      .run(bytes, now, first, first, last, last, stream.id);
  }

  /**
   * Events of one stream in [startTime, endTime), ascending. `after`: the first
   * `limit` events after that key; `before`: the last `limit` events before it.
   * Stops early once `maxBytes` of events are collected (at least one event).
   */
  readStream(streamId: number, q: { after?: Key; before?: Key; startTime?: number; endTime?: number; limit: number; maxBytes: number }): EventRow[] {
    const backward = q.before !== undefined;
    const k = q.before ?? q.after ?? START_KEY;
    const rows = this.db
      .prepare(
        `SELECT ${EVENT_COLS} FROM log_events
         WHERE stream_id = ? AND (ts, id) ${backward ? '<' : '>'} (?, ?) AND ts >= ? AND ts < ?
         ORDER BY ts ${backward ? 'DESC' : 'ASC'}, id ${backward ? 'DESC' : 'ASC'} LIMIT ?`,
      )
      .iterate(streamId, k.ts, k.id, q.startTime ?? -1, q.endTime ?? Number.MAX_SAFE_INTEGER, q.limit) as IterableIterator<EventRow>;
    const out: EventRow[] = [];
    let bytes = 0;
    for (const r of rows) {
      bytes += eventBytes(r.message);
      if (out.length > 0 && bytes > q.maxBytes) break;
      out.push(r);
    }
    if (backward) out.reverse();
    return out;
  }

  /** Up to `limit` events of a group after `after`, by (ts, id), within [startTime, endTime], optionally of some streams only. */
  scanGroup(groupId: number, q: { after: Key; startTime?: number; endTime?: number; streamIds?: number[]; limit: number }): EventRow[] {
    const streams = q.streamIds ? `AND stream_id IN (${q.streamIds.map(() => '?').join(',') || 'NULL'})` : '';
    return this.db
      .prepare(
        `SELECT ${EVENT_COLS} FROM log_events
         WHERE group_id = ? AND (ts, id) > (?, ?) AND ts >= ? AND ts <= ? ${streams}
         ORDER BY ts, id LIMIT ?`,
      )
      .all(groupId, q.after.ts, q.after.id, q.startTime ?? -1, q.endTime ?? Number.MAX_SAFE_INTEGER, ...(q.streamIds ?? []), q.limit) as EventRow[];
  }

  streamNames(ids: number[]): Map<number, string> {
    if (ids.length === 0) return new Map();
    const rows = this.db.prepare(`SELECT id, name FROM log_streams WHERE id IN (${ids.map(() => '?').join(',')})`).all(...ids) as { id: number; name: string }[];
    return new Map(rows.map((r) => [r.id, r.name]));
  }

  // ------------------------------------------------------------ expiry and size caps

  /** Deletes the events of `streamId` with ts < cutoff; returns how many. */
  private deleteOlderThan(streamId: number, cutoff: number): number {
    const gone = this.db
      .prepare(`SELECT COUNT(*) AS n, COALESCE(SUM(length(CAST(message AS BLOB)) + ${EVENT_OVERHEAD_BYTES}), 0) AS bytes FROM log_events WHERE stream_id = ? AND ts < ?`)
      .get(streamId, cutoff) as { n: number; bytes: number };
    if (gone.n === 0) return 0;
    this.db.prepare('DELETE FROM log_events WHERE stream_id = ? AND ts < ?').run(streamId, cutoff);
    this.db.prepare('UPDATE log_streams SET stored_bytes = MAX(0, stored_bytes - ?) WHERE id = ?').run(gone.bytes, streamId);
    return gone.n;
  }

  /** Deletes the oldest events of a stream, by (ts, id), until at most `keepBytes` remain; returns how many. */
  private trimStream(streamId: number, keepBytes: number): number {
    const s = this.db.prepare('SELECT stored_bytes AS bytes FROM log_streams WHERE id = ?').get(streamId) as { bytes: number } | undefined;
    if (!s || s.bytes <= keepBytes) return 0;
    let excess = s.bytes - keepBytes;
    let freed = 0;
    let last: Key | undefined;
    let n = 0;
    const rows = this.db
      .prepare(`SELECT id, ts, length(CAST(message AS BLOB)) + ${EVENT_OVERHEAD_BYTES} AS bytes FROM log_events WHERE stream_id = ? ORDER BY ts, id`)
      .iterate(streamId) as IterableIterator<{ id: number; ts: number; bytes: number }>;
    for (const r of rows) {
      if (excess <= 0) break;
      excess -= r.bytes;
      freed += r.bytes;
      last = { ts: r.ts, id: r.id };
      n++;
    }
    if (!last) return 0;
    this.db.prepare('DELETE FROM log_events WHERE stream_id = ? AND (ts, id) <= (?, ?)').run(streamId, last.ts, last.id);
    this.db.prepare('UPDATE log_streams SET stored_bytes = MAX(0, stored_bytes - ?) WHERE id = ?').run(freed, streamId);
    return n;
  }

  /**
   * One enforcement pass: events older than their group's retention go; then
   * streams above `streamMaxBytes` lose their oldest events; then, while the
   * whole store is above `totalMaxBytes`, the stream holding the oldest event
   * loses its oldest quarter. Finished shipments are forgotten. Returns the
   * number of events deleted.
   */
  enforceLimits(now: number, limits: { streamMaxBytes: number; totalMaxBytes: number }): number {
    let deleted = 0;
    this.db.transaction(() => {
      const retained = this.db
        .prepare('SELECT s.id AS streamId, g.retention_days AS days FROM log_streams s JOIN log_groups g ON g.id = s.group_id WHERE g.retention_days IS NOT NULL')
        .all() as { streamId: number; days: number }[];
      for (const r of retained) deleted += this.deleteOlderThan(r.streamId, now - r.days * 86_400_000);
      const big = this.db.prepare('SELECT id FROM log_streams WHERE stored_bytes > ?').all(limits.streamMaxBytes) as { id: number }[];
      for (const s of big) deleted += this.trimStream(s.id, limits.streamMaxBytes);
    })();
    for (let guard = 0; guard < 10_000 && this.totalBytes() > limits.totalMaxBytes; guard++) {
      const oldest = this.db.prepare('SELECT stream_id AS streamId FROM log_events ORDER BY id LIMIT 1').get() as { streamId: number } | undefined;
      if (!oldest) break;
      const excess = this.totalBytes() - limits.totalMaxBytes;
      const s = this.db.prepare('SELECT stored_bytes AS bytes FROM log_streams WHERE id = ?').get(oldest.streamId) as { bytes: number };
      const keep = Math.max(0, Math.min(s.bytes - excess, Math.floor((s.bytes * 3) / 4)));
      deleted += this.db.transaction(() => this.trimStream(oldest.streamId, keep))();
    }
    // Finished shipments are not read again (each container's runtime id is used once).
    this.db.prepare('DELETE FROM log_shipments WHERE done = 1').run();
    if (deleted > 0) this.db.pragma('incremental_vacuum');
    return deleted;
  }

  totalBytes(): number {
    return (this.db.prepare('SELECT COALESCE(SUM(stored_bytes), 0) AS b FROM log_streams').get() as { b: number }).b;
  }

  // ------------------------------------------------------------ shipments

  /** Records that a container's output goes to a stream (idempotent: a second call changes nothing). */
  registerShipment(s: Pick<ShipmentRow, 'runtimeId' | 'taskId' | 'containerName' | 'groupName' | 'streamName' | 'file'>): void {
    this.db
      .prepare('INSERT OR IGNORE INTO log_shipments (runtime_id, task_id, container_name, group_name, stream_name, file) VALUES (?, ?, ?, ?, ?, ?)')
      .run(s.runtimeId, s.taskId, s.containerName, s.groupName, s.streamName, s.file);
  }

  activeShipments(): ShipmentRow[] {
    return (this.db.prepare(`SELECT ${SHIPMENT_COLS} FROM log_shipments WHERE done = 0`).all() as (Omit<ShipmentRow, 'done'> & { done: number })[]).map((r) => ({ ...r, done: r.done === 1 }));
  }

  shipment(runtimeId: string): ShipmentRow | undefined {
    const r = this.db.prepare(`SELECT ${SHIPMENT_COLS} FROM log_shipments WHERE runtime_id = ?`).get(runtimeId) as (Omit<ShipmentRow, 'done'> & { done: number }) | undefined;
    return r && { ...r, done: r.done === 1 };
  }

  /** Moves a shipment's checkpoint (call in the same transaction as the `append` of the events read up to it). */
  checkpoint(runtimeId: string, c: { inode: number | null; offset: number; pending: string | null; done?: boolean }): void {
    this.db
      .prepare('UPDATE log_shipments SET inode = ?, offset = ?, pending = ?, done = ? WHERE runtime_id = ?')
      .run(c.inode, c.offset, c.pending, c.done ? 1 : 0, runtimeId);
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}
