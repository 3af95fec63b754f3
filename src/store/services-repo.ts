/** Persistence of services and of which service deployment started each task. */
import type { Db } from './db.ts';
import type { TaskRecord } from '../model/task-record.ts';
import type { ServiceRecord, ServiceTask } from '../model/service-record.ts';
import { taskHealth } from '../model/task-health.ts';

type Row = { doc: string };

export class ServicesRepo {
  constructor(private readonly db: Db) {}

  get(id: string): ServiceRecord | undefined {
    const row = this.db.prepare(`SELECT doc FROM services WHERE id = ?`).get(id) as Row | undefined;
    return row ? (JSON.parse(row.doc) as ServiceRecord) : undefined;
  }

  /** The service of that name in the cluster: the live one, else the most recently created INACTIVE one. */
  byName(cluster: string, name: string): ServiceRecord | undefined {
    const row = this.db
      .prepare(`SELECT doc FROM services WHERE cluster = ? AND name = ? ORDER BY status = 'INACTIVE', created_at DESC LIMIT 1`)
      .get(cluster, name) as Row | undefined;
    return row ? (JSON.parse(row.doc) as ServiceRecord) : undefined;
  }

  /** ACTIVE and DRAINING services (of one cluster, or all), by name. */
  listLive(cluster?: string): ServiceRecord[] {
    const rows = (
      cluster
        ? this.db.prepare(`SELECT doc FROM services WHERE cluster = ? AND status != 'INACTIVE' ORDER BY name`).all(cluster)
        : this.db.prepare(`SELECT doc FROM services WHERE status != 'INACTIVE' ORDER BY cluster, name`).all()
    ) as Row[];
    return rows.map((r) => JSON.parse(r.doc) as ServiceRecord);
  }

  insert(s: ServiceRecord): void {
    this.db
      .prepare(`INSERT INTO services (id, arn, cluster, name, status, created_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?)`)
      .run(s.id, s.arn, s.clusterName, s.name, s.status, s.createdAt, JSON.stringify(s));
  }

  /** Writes `s` (its version bumped) if the stored version is still `s.version`; false when someone else wrote first. */
  save(s: ServiceRecord): boolean {
    const next = { ...s, version: s.version + 1 };
    const r = this.db
      .prepare(`UPDATE services SET status = ?, doc = ? WHERE id = ? AND json_extract(doc, '$.version') = ?`)
      .run(next.status, JSON.stringify(next), s.id, s.version);
    if (r.changes === 1) s.version = next.version;
    return r.changes === 1;
  }

  addTask(taskId: string, serviceId: string, deploymentId: string): void {
    this.db.prepare(`INSERT INTO service_tasks (task_id, service_id, deployment_id) VALUES (?, ?, ?)`).run(taskId, serviceId, deploymentId);
  }

  /** The service that started the task, if one did. */
  serviceOfTask(taskId: string): ServiceRecord | undefined {
    const row = this.db
      .prepare(`SELECT v.doc AS doc FROM service_tasks s JOIN services v ON v.id = s.service_id WHERE s.task_id = ?`)
      .get(taskId) as Row | undefined;
    return row ? (JSON.parse(row.doc) as ServiceRecord) : undefined;
  }

  /** Ids of every task the service started (any status). */
  taskIds(serviceId: string): string[] {
    return (this.db.prepare(`SELECT task_id FROM service_tasks WHERE service_id = ?`).all(serviceId) as { task_id: string }[]).map((r) => r.task_id);
  }

  /**
   * The service's tasks as the reconciler sees them: every task not yet
   * STOPPED or still desired RUNNING, plus the stopped tasks of `withStoppedOf`
   * (the primary deployment while it rolls out: its failures).
   */
  snapshotTasks(serviceId: string, withStoppedOf?: string): ServiceTask[] {
    // Only the fields a ServiceTask needs, extracted by SQLite: parsing every task's whole
    // document in JS was most of the cost of a scheduler pass or DescribeServices at 5,000 tasks.
    const rows = this.db
      .prepare(
        `SELECT s.deployment_id AS dep, t.id AS id, t.desired_status AS desiredStatus, t.last_status AS lastStatus, t.created_at AS createdAt,
                json_extract(t.doc, '$.capacityProviderName') AS capacityProviderName, json_extract(t.doc, '$.startedAt') AS startedAt,
                json_extract(t.doc, '$.stopCode') AS stopCode, json_extract(t.doc, '$.stoppedReason') AS stoppedReason,
                ${this.db.dialect === 'postgres' ? PG_CONTAINERS : SQLITE_CONTAINERS} AS containers
           FROM service_tasks s JOIN tasks t ON t.id = s.task_id
          WHERE s.service_id = @id AND (t.last_status != 'STOPPED' OR t.desired_status = 'RUNNING' OR s.deployment_id = @dep)`,
      )
      .all({ id: serviceId, dep: withStoppedOf ?? null }) as SnapshotRow[];
    return rows.map((r) => {
      const containers = (JSON.parse(r.containers) as [number | null, number, string | null][]).map(([essential, checked, healthStatus]) => ({
        essential: essential === 1,
        healthCheck: checked ? {} : undefined,
        healthStatus: healthStatus ?? undefined,
      }));
      const task = { containers } as unknown as Pick<TaskRecord, 'containers'>;
      return {
        id: r.id,
        deploymentId: r.dep,
        desiredStatus: r.desiredStatus,
        lastStatus: r.lastStatus,
        healthStatus: taskHealth(task),
        hasHealthCheck: containers.some((c) => c.essential && c.healthCheck),
        capacityProviderName: r.capacityProviderName ?? undefined,
        createdAt: r.createdAt,
        startedAt: r.startedAt ?? undefined,
        stopCode: r.stopCode ?? undefined,
        stoppedReason: r.stoppedReason ?? undefined,
      } as ServiceTask;
    });
  }

  /** The service's tasks that are not STOPPED yet, as stored (the load balancers' targets come from them). */
  unstoppedTaskRecords(serviceId: string): TaskRecord[] {
    const rows = this.db
      .prepare(`SELECT t.doc AS doc FROM service_tasks s JOIN tasks t ON t.id = s.task_id WHERE s.service_id = ? AND t.last_status != 'STOPPED'`)
      .all(serviceId) as Row[];
    return rows.map((r) => JSON.parse(r.doc) as TaskRecord);
  }

  countLiveInCluster(cluster: string): number {
    return (this.db.prepare(`SELECT count(*) AS n FROM services WHERE cluster = ? AND status != 'INACTIVE'`).get(cluster) as { n: number }).n;
  }
}

interface SnapshotRow {
  dep: string;
  id: string;
  desiredStatus: TaskRecord['desiredStatus'];
  lastStatus: TaskRecord['lastStatus'];
  createdAt: number;
  capacityProviderName: string | null;
  startedAt: number | null;
  stopCode: TaskRecord['stopCode'] | null;
  stoppedReason: string | null;
  /** JSON: [essential, has a health check, healthStatus] per container. */
  containers: string;
}


/** Per container of a task document: [essential (1/0/null), has a health check (1/0), healthStatus]. */
const SQLITE_CONTAINERS = `(SELECT json_group_array(json_array(json_extract(c.value, '$.essential'), json_type(c.value, '$.healthCheck') IS NOT NULL,
                                                    json_extract(c.value, '$.healthStatus')))
                   FROM json_each(t.doc, '$.containers') c)`;
const PG_CONTAINERS = `coalesce((SELECT json_agg(json_build_array(CASE c->'essential' WHEN 'true'::jsonb THEN 1 WHEN 'false'::jsonb THEN 0 END,
                                                    (c->'healthCheck' IS NOT NULL)::int, c->>'healthStatus') ORDER BY o)
                   FROM jsonb_array_elements(t.doc::jsonb->'containers') WITH ORDINALITY AS e(c, o))::text, '[]')`;
