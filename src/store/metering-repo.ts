/**
 * Reads for metering (tasks whose billable time may overlap a range, recent
 * starts of a family) and the task_stats table the stats sampler writes.
 * Metering never writes task records: usage is derived from them.
 */
import type { Db } from './db.ts';
import type { TaskRecord } from '../model/task-record.ts';

export interface StatsSample {
  taskId: string;
  ts: number;
  cluster: string;
  family: string;
  group?: string;
  cpuUnits: number;
  memoryMiB: number;
  /** Cumulative CPU time of the task's cgroup, µs. */
  cpuUsageUs: number;
  /** Average vCPUs used since the previous sample; undefined for a task's first sample. */
  cpuVcpus?: number;
  /** Working set (usage minus inactive file cache). */
  memoryBytes: number;
  rssBytes?: number;
  cacheBytes?: number;
}

interface SampleRow {
  task_id: string;
  ts: number;
  cluster: string;
  family: string;
  grp: string | null;
  cpu_units: number;
  memory_mib: number;
  cpu_usage_us: number;
  cpu_vcpus: number | null;
  memory_bytes: number;
  rss_bytes: number | null;
  cache_bytes: number | null;
}

const fromRow = (r: SampleRow): StatsSample => ({
  taskId: r.task_id,
  ts: r.ts,
  cluster: r.cluster,
  family: r.family,
  ...(r.grp !== null ? { group: r.grp } : {}),
  cpuUnits: r.cpu_units,
  memoryMiB: r.memory_mib,
  cpuUsageUs: r.cpu_usage_us,
  ...(r.cpu_vcpus !== null ? { cpuVcpus: r.cpu_vcpus } : {}),
  memoryBytes: r.memory_bytes,
  ...(r.rss_bytes !== null ? { rssBytes: r.rss_bytes } : {}),
  ...(r.cache_bytes !== null ? { cacheBytes: r.cache_bytes } : {}),
});

/** Slack for a stopped task whose one-minute minimum runs past its stop. */
const MINIMUM_PADDING_MS = 61_000;

export class MeteringRepo {
  private readonly insertStmt;
  private readonly lastStmt;

  constructor(private readonly db: Db) {
    this.insertStmt = db.prepare(
      `INSERT OR IGNORE INTO task_stats (task_id, ts, cluster, family, grp, cpu_units, memory_mib, cpu_usage_us, cpu_vcpus, memory_bytes, rss_bytes, cache_bytes)
       VALUES (@taskId, @ts, @cluster, @family, @group, @cpuUnits, @memoryMiB, @cpuUsageUs, @cpuVcpus, @memoryBytes, @rssBytes, @cacheBytes)`,
    );
    this.lastStmt = db.prepare(`SELECT * FROM task_stats WHERE task_id = ? ORDER BY ts DESC LIMIT 1`);
  }

  /** Tasks whose billable time may fall in [from, to): started before `to`, not stopped before `from`. */
  tasksOverlapping(from: number, to: number | undefined, cluster?: string): TaskRecord[] {
    const where = ['(stopped_at IS NULL OR stopped_at >= @from)'];
    if (to !== undefined) where.push('created_at < @to');
    if (cluster) where.push('cluster = @cluster');
    const rows = this.db
      .prepare(`SELECT doc FROM tasks WHERE ${where.join(' AND ')} ORDER BY created_at, id`)
      .all({ from: from - MINIMUM_PADDING_MS, to, cluster }) as { doc: string }[];
    return rows.map((r) => JSON.parse(r.doc) as TaskRecord);
  }

  /** The most recent tasks of a family (any cluster) that reached RUNNING, newest first. */
  recentStarts(family: string, limit: number, cluster?: string): TaskRecord[] {
    const rows = this.db
      .prepare(
        `SELECT doc FROM tasks WHERE family = @family ${cluster ? 'AND cluster = @cluster' : ''} ORDER BY created_at DESC, id LIMIT @scan`,
      )
      .all({ family, cluster, scan: limit * 4 }) as { doc: string }[];
    return rows
      .map((r) => JSON.parse(r.doc) as TaskRecord)
      .filter((t) => t.startedAt !== undefined)
      .slice(0, limit);
  }

  /** The newest task of a family or group (`service:<name>`), any status. */
  latestTask(q: { family?: string; group?: string }, cluster?: string): TaskRecord | undefined {
    const row = this.db
      .prepare(`SELECT doc FROM tasks WHERE ${q.family !== undefined ? 'family = @family' : 'grp = @group'} ${cluster ? 'AND cluster = @cluster' : ''} ORDER BY created_at DESC, id LIMIT 1`)
      .get({ family: q.family, group: q.group, cluster }) as { doc: string } | undefined;
    return row ? (JSON.parse(row.doc) as TaskRecord) : undefined;
  }

  /** Stores samples in one transaction (one commit for a whole sampling pass, not one per task). */
  insertSamples(samples: StatsSample[]): void {
    this.db.transaction(() => {
      for (const s of samples) this.insertSample(s);
    })();
  }

  private insertSample(s: StatsSample): void {
    this.insertStmt.run({
      taskId: s.taskId,
      ts: s.ts,
      cluster: s.cluster,
      family: s.family,
      group: s.group ?? null,
      cpuUnits: s.cpuUnits,
      memoryMiB: s.memoryMiB,
      cpuUsageUs: Math.round(s.cpuUsageUs),
      cpuVcpus: s.cpuVcpus ?? null,
      memoryBytes: s.memoryBytes,
      rssBytes: s.rssBytes ?? null,
      cacheBytes: s.cacheBytes ?? null,
    });
  }

  lastSample(taskId: string): StatsSample | undefined {
    const r = this.lastStmt.get(taskId) as SampleRow | undefined;
    return r ? fromRow(r) : undefined;
  }

  /** Samples of a family or of a group (`service:<name>`) since `since`, oldest first. */
  samples(q: { family?: string; group?: string; taskId?: string; since: number; cluster?: string }): StatsSample[] {
    const where = ['ts >= @since'];
    if (q.family) where.push('family = @family');
    if (q.group) where.push('grp = @group');
    if (q.taskId) where.push('task_id = @taskId');
    if (q.cluster) where.push('cluster = @cluster');
    const rows = this.db
      .prepare(`SELECT * FROM task_stats WHERE ${where.join(' AND ')} ORDER BY ts, task_id`)
      .all({ since: q.since, family: q.family, group: q.group, taskId: q.taskId, cluster: q.cluster }) as SampleRow[];
    return rows.map(fromRow);
  }

  /** Families with samples since `since`. */
  sampledFamilies(since: number, cluster?: string): string[] {
    const rows = this.db
      .prepare(`SELECT DISTINCT family FROM task_stats WHERE ts >= @since ${cluster ? 'AND cluster = @cluster' : ''} ORDER BY family`)
      .all({ since, cluster }) as { family: string }[];
    return rows.map((r) => r.family);
  }

  /** Deletes samples older than `before`; returns how many. */
  pruneSamples(before: number): number {
    return this.db.prepare(`DELETE FROM task_stats WHERE ts < ?`).run(before).changes;
  }
}
