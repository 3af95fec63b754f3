/**
 * Persistence of task records. Read-modify-write through `update` is atomic in
 * this process (better-sqlite3 is synchronous), so the API (desired status) and
 * the task's runner (known status) never lose each other's writes.
 */
import { withoutDiskWait, type Db } from './db.ts';
import type { TaskRecord } from '../model/task-record.ts';

interface Row {
  doc: string;
}

export interface TaskQuery {
  cluster: string;
  family?: string;
  startedBy?: string;
  desiredStatus?: 'RUNNING' | 'STOPPED';
  /** Only tasks not yet STOPPED (last_status). */
  activeOnly?: boolean;
}

export class TasksRepo {
  private readonly insertStmt;
  private readonly updateStmt;
  private readonly getStmt;
  private readonly dataVersionStmt;
  /** See changeStamps. */
  private readonly stamps = new Map<string, number>();
  private stampSeq = 0;
  /** Each task's CPU units and MiB (see reserved). */
  private readonly sizes = new Map<string, { cpu: number; memory: number }>();
  private readonly unfinishedIdsStmt;
  private dataVersion = -1;

  constructor(private readonly db: Db) {
    this.insertStmt = db.prepare(
      `INSERT INTO tasks (id, arn, cluster, family, task_definition_arn, started_by, grp, desired_status, last_status, created_at, stopped_at, doc)
       VALUES (@id, @arn, @cluster, @family, @taskDefinitionArn, @startedBy, @group, @desiredStatus, @lastStatus, @createdAt, @stoppedAt, @doc)`,
    );
    this.updateStmt = db.prepare(
      `UPDATE tasks SET desired_status = @desiredStatus, last_status = @lastStatus, stopped_at = @stoppedAt, doc = @doc WHERE id = @id`,
    );
    this.getStmt = db.prepare(`SELECT doc FROM tasks WHERE id = ?`);
    this.dataVersionStmt = db.prepare(`PRAGMA data_version`);
    this.unfinishedIdsStmt = db.prepare(`SELECT id FROM tasks WHERE last_status != 'STOPPED'`);
  }

  insert(task: TaskRecord): void {
    this.insertStmt.run(this.params(task));
    this.stamps.set(task.id, ++this.stampSeq);
  }

  /**
   * Change stamps for read caches: a number that changes whenever the task's
   * stored document changes, for the tasks whose document this repository has
   * written or read through `docs` since it started (undefined: unknown, read
   * it). Writes by any other connection to the database (`PRAGMA data_version`)
   * forget every stamp.
   */
  changeStamps(ids: string[]): Map<string, number> {
    const dv = this.dataVersionStmt.get() as { data_version: number };
    if (dv.data_version !== this.dataVersion) {
      this.dataVersion = dv.data_version;
      this.stamps.clear();
    }
    const out = new Map<string, number>();
    for (const id of ids) {
      const s = this.stamps.get(id);
      if (s !== undefined) out.set(id, s);
    }
    return out;
  }

  get(id: string): TaskRecord | undefined {
    const row = this.getStmt.get(id) as Row | undefined;
    return row ? (JSON.parse(row.doc) as TaskRecord) : undefined;
  }

  /**
   * Applies `mutate` to the stored record and writes it back; returns the new record.
   *
   * `durable: false` commits without waiting for the disk (synchronous=NORMAL for
   * this one commit): a power loss may lose it, but never a durable commit made
   * before it, and the next durable commit makes it durable too (WAL frames are
   * synced in order). Only for facts nothing acts on and recovery does not need
   * (progress statuses and timings of a start; see TaskRunner).
   */
  update(id: string, mutate: (t: TaskRecord) => void, opts: { durable?: boolean } = {}): TaskRecord {
    const tx = () =>
      this.db.transaction(() => {
        const task = this.get(id);
        if (!task) throw new Error(`task ${id} is not in the store`);
        mutate(task);
        task.version += 1;
        this.updateStmt.run(this.params(task));
        this.stamps.set(id, ++this.stampSeq);
        return task;
      })();
    return opts.durable === false ? withoutDiskWait(this.db, tx) : tx();
  }

  /** The stored JSON documents of the given tasks (those that exist), in one query, with their change stamps. */
  docs(ids: string[]): Map<string, { doc: string; stamp: number }> {
    const out = new Map<string, { doc: string; stamp: number }>();
    if (ids.length === 0) return out;
    this.changeStamps([]); // notice other connections' writes before stamping what is read now
    const rows = this.db.prepare(`SELECT id, doc FROM tasks WHERE id IN (${ids.map(() => '?').join(',')})`).all(...ids) as { id: string; doc: string }[];
    for (const r of rows) {
      let stamp = this.stamps.get(r.id);
      if (stamp === undefined) this.stamps.set(r.id, (stamp = ++this.stampSeq));
      out.set(r.id, { doc: r.doc, stamp });
    }
    return out;
  }

  /** Tasks of a cluster, newest first. */
  list(q: TaskQuery): TaskRecord[] {
    return (this.select('doc', q) as Row[]).map((r) => JSON.parse(r.doc) as TaskRecord);
  }

  /** Ids and ARNs of the tasks `list` would return, without reading their documents (ListTasks). */
  listRefs(q: TaskQuery): { id: string; arn: string }[] {
    return this.select('id, arn', q) as { id: string; arn: string }[];
  }

  private select(columns: string, q: TaskQuery): unknown[] {
    const where = ['cluster = @cluster'];
    if (q.family) where.push('family = @family');
    if (q.startedBy) where.push('started_by = @startedBy');
    if (q.desiredStatus) where.push('desired_status = @desiredStatus');
    if (q.activeOnly) where.push(`last_status != 'STOPPED'`);
    return this.db
      .prepare(`SELECT ${columns} FROM tasks WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id`)
      .all({ cluster: q.cluster, family: q.family, startedBy: q.startedBy, desiredStatus: q.desiredStatus });
  }

  /** Every task on this host that is not STOPPED (for recovery). */
  listUnfinished(): TaskRecord[] {
    const rows = this.db.prepare(`SELECT doc FROM tasks WHERE last_status != 'STOPPED'`).all() as Row[];
    return rows.map((r) => JSON.parse(r.doc) as TaskRecord);
  }

  /** CPU units and MiB held by the tasks on this host that are not STOPPED (admission control; read inside the placing transaction). */
  reserved(): { cpu: number; memory: number } {
    // A task's size never changes once stored: remembered per id, so a RunTask does not parse every running
    // task's document again (the admission check runs on every placement); only new ids are read.
    const ids = (this.unfinishedIdsStmt.all() as { id: string }[]).map((r) => r.id);
    const misses = ids.filter((id) => !this.sizes.has(id));
    if (misses.length) {
      if (this.sizes.size + misses.length > 100_000) this.sizes.clear();
      const rows = this.db
        .prepare(`SELECT id, json_extract(doc, '$.cpu') AS cpu, json_extract(doc, '$.memory') AS memory FROM tasks WHERE id IN (${misses.map(() => '?').join(',')})`)
        .all(...misses) as { id: string; cpu: number | null; memory: number | null }[];
      for (const r of rows) this.sizes.set(r.id, { cpu: r.cpu ?? 0, memory: r.memory ?? 0 });
    }
    let cpu = 0;
    let memory = 0;
    for (const id of ids) {
      const sz = this.sizes.get(id);
      if (sz) {
        cpu += sz.cpu;
        memory += sz.memory;
      }
    }
    return { cpu, memory };
  }

  countActiveInCluster(cluster: string): number {
    const row = this.db
      .prepare(`SELECT count(*) AS n FROM tasks WHERE cluster = ? AND last_status != 'STOPPED'`)
      .get(cluster) as { n: number };
    return row.n;
  }

  private params(t: TaskRecord) {
    return {
      id: t.id,
      arn: t.arn,
      cluster: t.clusterName,
      family: t.family,
      taskDefinitionArn: t.taskDefinitionArn,
      startedBy: t.startedBy ?? null,
      group: t.group ?? null,
      desiredStatus: t.desiredStatus,
      lastStatus: t.lastStatus,
      createdAt: t.createdAt,
      stoppedAt: t.stoppedAt ?? null,
      doc: JSON.stringify(t),
    };
  }
}
