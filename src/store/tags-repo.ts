/** Persistence of resource tags, keyed by resource ARN. */
import type { Db } from './db.ts';

export interface Tag {
  key: string;
  value: string;
}

export class TagsRepo {
  constructor(private readonly db: Db) {}

  list(arn: string): Tag[] {
    return this.db.prepare(`SELECT key, value FROM tags WHERE resource_arn = ? ORDER BY key`).all(arn) as Tag[];
  }

  /** Adds or overwrites tags (TagResource semantics). */
  put(arn: string, tags: Tag[]): void {
    const stmt = this.db.prepare(
      `INSERT INTO tags (resource_arn, key, value) VALUES (?, ?, ?) ON CONFLICT(resource_arn, key) DO UPDATE SET value = excluded.value`,
    );
    this.db.transaction(() => tags.forEach((t) => stmt.run(arn, t.key, t.value)))();
  }

  remove(arn: string, keys: string[]): void {
    const stmt = this.db.prepare(`DELETE FROM tags WHERE resource_arn = ? AND key = ?`);
    this.db.transaction(() => keys.forEach((k) => stmt.run(arn, k)))();
  }

  count(arn: string): number {
    return (this.db.prepare(`SELECT count(*) AS n FROM tags WHERE resource_arn = ?`).get(arn) as { n: number }).n;
  }
}
