import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDb } from './db.ts';

test('prepare reuses the compiled statement for the same SQL, and compiles a fresh one while the cached one is busy iterating', () => {
  const db = openDb(':memory:');
  db.exec('CREATE TABLE n (v INTEGER)');
  for (let i = 0; i < 3; i++) db.prepare('INSERT INTO n VALUES (?)').run(i);
  const sql = 'SELECT v FROM n ORDER BY v';
  assert.equal(db.prepare(sql), db.prepare(sql));
  const seen: number[][] = [];
  for (const row of db.prepare(sql).iterate() as IterableIterator<{ v: number }>) {
    seen.push((db.prepare(sql).all() as { v: number }[]).map((r) => r.v).concat(row.v)); // same SQL inside the loop: not "busy"
  }
  assert.deepEqual(seen, [[0, 1, 2, 0], [0, 1, 2, 1], [0, 1, 2, 2]]);
  db.close();
});
