/** Persistence of clusters. */
import type { Db } from './db.ts';

export interface ClusterRecord {
  name: string;
  arn: string;
  status: 'ACTIVE' | 'INACTIVE';
  createdAt: number;
  settings: { name: string; value: string }[];
  capacityProviders: string[];
  defaultCapacityProviderStrategy: { capacityProvider: string; weight?: number; base?: number }[];
}

export class ClustersRepo {
  constructor(private readonly db: Db) {}

  get(name: string): ClusterRecord | undefined {
    const row = this.db.prepare(`SELECT doc FROM clusters WHERE name = ?`).get(name) as { doc: string } | undefined;
    return row ? (JSON.parse(row.doc) as ClusterRecord) : undefined;
  }

  /** Inserts or replaces (CreateCluster on an INACTIVE name re-activates it, as ECS does). */
  put(c: ClusterRecord): void {
    this.db
      .prepare(
        `INSERT INTO clusters (name, arn, status, created_at, doc) VALUES (@name, @arn, @status, @createdAt, @doc)
         ON CONFLICT(name) DO UPDATE SET arn = excluded.arn, status = excluded.status, created_at = excluded.created_at, doc = excluded.doc`,
      )
      .run({ name: c.name, arn: c.arn, status: c.status, createdAt: c.createdAt, doc: JSON.stringify(c) });
  }

  /** ACTIVE clusters, by name. */
  listActive(): ClusterRecord[] {
    const rows = this.db.prepare(`SELECT doc FROM clusters WHERE status = 'ACTIVE' ORDER BY name`).all() as { doc: string }[];
    return rows.map((r) => JSON.parse(r.doc) as ClusterRecord);
  }
}
