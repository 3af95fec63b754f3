/**
 * Persistence of task definitions: revisions per family.
 *
 * Status: ACTIVE ──Deregister──▶ INACTIVE ──DeleteTaskDefinitions──▶
 * DELETE_IN_PROGRESS ──no live task or service uses it (purgeDeleted)──▶ DELETED.
 * A DELETED revision is a tombstone (its document dropped, its tags removed):
 * it is not returned by get/list, but keeps its revision number taken, so the
 * family's next revision continues after it as ECS does.
 */
import type { Db } from './db.ts';
import type { TaskDefinition } from '@aws-sdk/client-ecs';

export class TaskDefinitionsRepo {
  constructor(private readonly db: Db) {}

  /** Stores `def` as the next revision of its family inside one transaction; returns the revision. */
  insertNextRevision(family: string, build: (revision: number) => TaskDefinition, registeredAt: number): TaskDefinition {
    return this.db.transaction(() => {
      const row = this.db.prepare(`SELECT max(revision) AS r FROM task_definitions WHERE family = ?`).get(family) as { r: number | null };
      const revision = (row.r ?? 0) + 1;
      const def = build(revision);
      this.db
        .prepare(
          `INSERT INTO task_definitions (family, revision, arn, status, registered_at, doc) VALUES (?, ?, ?, 'ACTIVE', ?, ?)`,
        )
        .run(family, revision, def.taskDefinitionArn, registeredAt, JSON.stringify(def));
      return def;
    })();
  }

  /** A revision in any status but DELETED. */
  get(family: string, revision: number): TaskDefinition | undefined {
    const row = this.db.prepare(`SELECT doc FROM task_definitions WHERE family = ? AND revision = ? AND status != 'DELETED'`).get(family, revision) as
      | { doc: string }
      | undefined;
    return row ? (JSON.parse(row.doc) as TaskDefinition) : undefined;
  }

  /** The latest ACTIVE revision of a family. */
  latestActive(family: string): TaskDefinition | undefined {
    const row = this.db
      .prepare(`SELECT doc FROM task_definitions WHERE family = ? AND status = 'ACTIVE' ORDER BY revision DESC LIMIT 1`)
      .get(family) as { doc: string } | undefined;
    return row ? (JSON.parse(row.doc) as TaskDefinition) : undefined;
  }

  replace(def: TaskDefinition): void {
    this.db
      .prepare(`UPDATE task_definitions SET status = ?, deregistered_at = ?, doc = ? WHERE family = ? AND revision = ?`)
      .run(def.status, def.deregisteredAt ? +def.deregisteredAt : null, JSON.stringify(def), def.family, def.revision);
  }

  /** ARNs in (family, revision) order, optionally filtered. */
  listArns(q: { familyPrefix?: string; status?: string; desc?: boolean }): string[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.familyPrefix) {
      where.push(`family = ?`);
      args.push(q.familyPrefix);
    }
    if (q.status && q.status !== 'ALL') {
      where.push(`status = ?`);
      args.push(q.status);
    } else where.push(`status != 'DELETED'`);
    const sql = `SELECT arn FROM task_definitions ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY family ${q.desc ? 'DESC' : 'ASC'}, revision ${q.desc ? 'DESC' : 'ASC'}`;
    return (this.db.prepare(sql).all(...args) as { arn: string }[]).map((r) => r.arn);
  }

  /**
   * Family names; `status` ACTIVE means families with at least one ACTIVE
   * revision, INACTIVE families with none. A family whose revisions are all
   * DELETED is not listed.
   */
  listFamilies(q: { familyPrefix?: string; status?: string }): string[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.familyPrefix) {
      where.push(`family LIKE ? ESCAPE '\\'`);
      args.push(q.familyPrefix.replace(/[\\%_]/g, (m) => '\\' + m) + '%');
    }
    where.push(`status != 'DELETED'`);
    let sql = `SELECT family FROM task_definitions WHERE ${where.join(' AND ')} GROUP BY family`;
    if (q.status === 'ACTIVE') sql += ` HAVING sum(CASE WHEN status = 'ACTIVE' THEN 1 ELSE 0 END) > 0`;
    else if (q.status === 'INACTIVE') sql += ` HAVING sum(CASE WHEN status = 'ACTIVE' THEN 1 ELSE 0 END) = 0`;
    sql += ` ORDER BY family`;
    return (this.db.prepare(sql).all(...args) as { family: string }[]).map((r) => r.family);
  }

  /**
   * Deletes for good every DELETE_IN_PROGRESS revision that no task still
   * running (not STOPPED) and no service (not INACTIVE, any of its
   * deployments) uses: the row becomes a DELETED tombstone and its tags go.
   * Returns the ARNs deleted; one query, which changes nothing while no
   * revision is being deleted.
   */
  purgeDeleted(): string[] {
    return this.db.transaction(() => {
      const rows = this.db
        .prepare(
          `SELECT td.arn AS arn FROM task_definitions td
           WHERE td.status = 'DELETE_IN_PROGRESS'
             AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.task_definition_arn = td.arn AND t.last_status != 'STOPPED')
             AND NOT EXISTS (SELECT 1 FROM services s WHERE s.status != 'INACTIVE' AND instr(s.doc, '"' || td.arn || '"') > 0)`,
        )
        .all() as { arn: string }[];
      const tombstone = this.db.prepare(`UPDATE task_definitions SET status = 'DELETED', doc = '{}' WHERE arn = ?`);
      const untag = this.db.prepare(`DELETE FROM tags WHERE resource_arn = ?`);
      for (const { arn } of rows) {
        tombstone.run(arn);
        untag.run(arn);
      }
      return rows.map((r) => r.arn);
    })();
  }
}
