/** Persistence of scalable targets, policies, scheduled actions and scaling activities (the only SQL of autoscaling). */
import type { Db } from '../store/db.ts';
import type { ActivityRecord, ScalableTargetRecord, ScheduledActionRecord, TargetTrackingPolicyRecord } from './model.ts';

type Row = { doc: string };
const docs = <T>(rows: unknown[]): T[] => (rows as Row[]).map((r) => JSON.parse(r.doc) as T);

/** Which rows of a namespace a Describe call asks for. */
export interface ResourceFilter {
  namespace: string;
  resourceIds?: string[];
  dimension?: string;
}

function where(f: ResourceFilter): { sql: string; params: unknown[] } {
  const parts = ['namespace = ?'];
  const params: unknown[] = [f.namespace];
  if (f.resourceIds?.length) {
    parts.push(`resource_id IN (${f.resourceIds.map(() => '?').join(',')})`);
    params.push(...f.resourceIds);
  }
  if (f.dimension) {
    parts.push('dimension = ?');
    params.push(f.dimension);
  }
  return { sql: parts.join(' AND '), params };
}

/** The two tables whose rows are named within a scalable target. */
type NamedTable = 'autoscaling_policies' | 'autoscaling_scheduled_actions';

export class AutoscalingRepo {
  constructor(private readonly db: Db) {}

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // Scalable targets

  target(namespace: string, resourceId: string, dimension: string): ScalableTargetRecord | undefined {
    const row = this.db.prepare(`SELECT doc FROM autoscaling_targets WHERE namespace = ? AND resource_id = ? AND dimension = ?`).get(namespace, resourceId, dimension) as Row | undefined;
    return row ? (JSON.parse(row.doc) as ScalableTargetRecord) : undefined;
  }

  targets(f: ResourceFilter): ScalableTargetRecord[] {
    const w = where(f);
    return docs(this.db.prepare(`SELECT doc FROM autoscaling_targets WHERE ${w.sql} ORDER BY resource_id, dimension`).all(...w.params));
  }

  allTargets(): ScalableTargetRecord[] {
    return docs(this.db.prepare(`SELECT doc FROM autoscaling_targets ORDER BY resource_id`).all());
  }

  putTarget(t: ScalableTargetRecord): void {
    this.db
      .prepare(
        `INSERT INTO autoscaling_targets (arn, namespace, resource_id, dimension, doc) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (arn) DO UPDATE SET doc = excluded.doc`,
      )
      .run(t.arn, t.namespace, t.resourceId, t.dimension, JSON.stringify(t));
  }

  /** Deletes the target with its policies and scheduled actions (as DeregisterScalableTarget does). */
  deleteTarget(t: ScalableTargetRecord): void {
    this.transaction(() => {
      for (const table of ['autoscaling_policies', 'autoscaling_scheduled_actions', 'autoscaling_targets']) {
        this.db.prepare(`DELETE FROM ${table} WHERE namespace = ? AND resource_id = ? AND dimension = ?`).run(t.namespace, t.resourceId, t.dimension);
      }
    });
  }

  // Scaling policies

  policy(namespace: string, resourceId: string, dimension: string, name: string): TargetTrackingPolicyRecord | undefined {
    return this.named('autoscaling_policies', namespace, resourceId, dimension, name);
  }

  policies(f: ResourceFilter & { names?: string[] }): TargetTrackingPolicyRecord[] {
    return this.allNamed('autoscaling_policies', f);
  }

  putPolicy(p: TargetTrackingPolicyRecord): void {
    this.putNamed('autoscaling_policies', p);
  }

  deletePolicy(arn: string): void {
    this.db.prepare(`DELETE FROM autoscaling_policies WHERE arn = ?`).run(arn);
  }

  // Scheduled actions

  scheduledAction(namespace: string, resourceId: string, dimension: string, name: string): ScheduledActionRecord | undefined {
    return this.named('autoscaling_scheduled_actions', namespace, resourceId, dimension, name);
  }

  scheduledActions(f: ResourceFilter & { names?: string[] }): ScheduledActionRecord[] {
    return this.allNamed('autoscaling_scheduled_actions', f);
  }

  allScheduledActions(): ScheduledActionRecord[] {
    return docs(this.db.prepare(`SELECT doc FROM autoscaling_scheduled_actions ORDER BY resource_id, name`).all());
  }

  putScheduledAction(a: ScheduledActionRecord): void {
    this.putNamed('autoscaling_scheduled_actions', a);
  }

  deleteScheduledAction(arn: string): void {
    this.db.prepare(`DELETE FROM autoscaling_scheduled_actions WHERE arn = ?`).run(arn);
  }

  // Scaling activities

  putActivity(a: ActivityRecord): void {
    this.db
      .prepare(
        `INSERT INTO autoscaling_activities (id, namespace, resource_id, dimension, start_time, doc) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`,
      )
      .run(a.id, a.namespace, a.resourceId, a.dimension, a.startTime, JSON.stringify(a));
  }

  /** Activities, newest first. */
  activities(f: ResourceFilter): ActivityRecord[] {
    const w = where(f);
    return docs(this.db.prepare(`SELECT doc FROM autoscaling_activities WHERE ${w.sql} ORDER BY start_time DESC, rowid DESC`).all(...w.params));
  }

  pruneActivities(before: number): number {
    return this.db.prepare(`DELETE FROM autoscaling_activities WHERE start_time < ?`).run(before).changes;
  }

  /** One named row of a target (a policy or a scheduled action). */
  private named<T>(table: NamedTable, namespace: string, resourceId: string, dimension: string, name: string): T | undefined {
    const row = this.db.prepare(`SELECT doc FROM ${table} WHERE namespace = ? AND resource_id = ? AND dimension = ? AND name = ?`).get(namespace, resourceId, dimension, name) as Row | undefined;
    return row ? (JSON.parse(row.doc) as T) : undefined;
  }

  /** Inserts a named row, or replaces its document when its ARN is already there. */
  private putNamed(table: NamedTable, r: TargetTrackingPolicyRecord | ScheduledActionRecord): void {
    this.db
      .prepare(
        `INSERT INTO ${table} (arn, namespace, resource_id, dimension, name, doc) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (arn) DO UPDATE SET doc = excluded.doc`,
      )
      .run(r.arn, r.namespace, r.resourceId, r.dimension, r.name, JSON.stringify(r));
  }

  /** The named rows the filter (and `names`, when given) selects, by resource and name. */
  private allNamed<T>(table: NamedTable, f: ResourceFilter & { names?: string[] }): T[] {
    const w = where(f);
    let sql = w.sql;
    if (f.names?.length) {
      sql += ` AND name IN (${f.names.map(() => '?').join(',')})`;
      w.params.push(...f.names);
    }
    return docs(this.db.prepare(`SELECT doc FROM ${table} WHERE ${sql} ORDER BY resource_id, name`).all(...w.params));
  }
}
