import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDb, type Db } from '../store/db.ts';
import { DiskFullError } from '../store/disk-errors.ts';
import { STORE_FIRST_ACTIONS, AuditLog, isReadAction } from './audit.ts';

/** Makes the store refuse to grow (a real SQLITE_FULL) until the returned function is called. */
function fill(db: Db): () => void {
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
  // Then take the room left in the audit table's pages (filler rows, queried apart by action).
  const insert = db.prepare("INSERT INTO audit_log (ts, action, outcome, status) VALUES (?, 'x:Filler', 'Success', 200)");
  for (;;) {
    try {
      insert.run(Date.now());
    } catch {
      break;
    }
  }
  return () => db.pragma('max_page_count = 1073741823');
}

const entry = (action: string, ts = Date.now()) => ({ ts, accessKeyId: 'AKID', principal: 'arn:aws:iam::1:root', action, outcome: 'Success', status: 200 });

test('read actions: Describe, List, Get, BatchGet, Filter; everything else changes something', () => {
  for (const a of ['ecs:DescribeTasks', 'ecs:ListTasks', 'skiff:GetTaskLogs', 'secretsmanager:BatchGetSecretValue', 'logs:FilterLogEvents', 'ec2:DescribeSubnets']) assert.ok(isReadAction(a), a);
  for (const a of ['ecs:RunTask', 'ecs:StopTask', 'skiff:CreateAccessKey', 'ecs:RegisterTaskDefinition', 'ec2:CreateSecurityGroup']) assert.equal(isReadAction(a), false, a);
});

test('a mutating call is admitted once its row is on disk, and refused when it cannot be written (fail closed)', () => {
  const db = openDb(':memory:');
  let full = false;
  const audit = new AuditLog(db, {
    log: () => {},
    gate: (action) => {
      if (full && action !== 'ecs:StopTask') throw new DiskFullError('the disk is full');
    },
  });
  audit.record(entry('ecs:DescribeTasks')); // buffered, made before the RunTask below: listed before it
  const id = audit.begin({ ts: Date.now() + 1, action: 'ecs:RunTask', principal: 'p' });
  assert.equal((db.prepare('SELECT outcome FROM audit_log WHERE id = ?').get(id) as { outcome: string }).outcome, 'Pending', 'committed before the call runs');
  audit.finish(id, 'Success', 200);
  assert.deepEqual(audit.query().map((e) => [e.action, e.outcome, e.status]), [['ecs:RunTask', 'Success', 200], ['ecs:DescribeTasks', 'Success', 200]]);

  full = true;
  assert.throws(() => audit.begin({ ts: Date.now() + 2, action: 'ecs:RunTask' }), DiskFullError);
  audit.begin({ ts: Date.now() + 3, action: 'ecs:StopTask' }); // frees space: the gate lets it use the reserve
  full = false;
  const unfill = fill(db);
  assert.throws(() => audit.begin({ ts: Date.now() + 4, action: 'ecs:RunTask' }), (e: unknown) => (e as { code?: string }).code === 'SQLITE_FULL');
  unfill();
  assert.equal(db.pragma('synchronous', { simple: true }), 2, 'every commit after a store-first admission is durable again (FULL), even after a failed one');
  db.close();
});

test('store-first calls (RunTask, StopTask, ...) ride on their own durable commit; anything acting outside the store (ExecuteCommand) is synced at once', () => {
  assert.ok(STORE_FIRST_ACTIONS.has('ecs:RunTask') && STORE_FIRST_ACTIONS.has('ecs:StopTask'));
  assert.ok(!STORE_FIRST_ACTIONS.has('ecs:ExecuteCommand') && !STORE_FIRST_ACTIONS.has('skiff:CreateAccessKey'));
  const db = openDb(':memory:');
  const modes: number[] = [];
  const audit = new AuditLog(db, { log: () => {} });
  const insert = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    if (sql.startsWith('INSERT INTO audit_log')) modes.push(db.pragma('synchronous', { simple: true }) as number);
    return insert(sql);
  }) as typeof db.prepare;
  audit.begin({ ts: 1, action: 'ecs:RunTask' });
  audit.begin({ ts: 2, action: 'ecs:ExecuteCommand' });
  assert.deepEqual(modes, [1, 2], 'RunTask: NORMAL (1), ExecuteCommand: FULL (2)');
  assert.equal(db.pragma('synchronous', { simple: true }), 2);
  db.close();
});

test('buffered rows survive a full store: kept, retried, said once, written once there is room; never thrown', async () => {
  const db = openDb(':memory:');
  const logs: string[] = [];
  const audit = new AuditLog(db, { log: (m) => logs.push(m), flushMs: 5, retryMs: 20 });
  const unfill = fill(db);
  for (let i = 0; i < 50; i++) audit.record(entry('ecs:DescribeTasks', Date.now() + i));
  audit.flush(); // does not throw
  assert.deepEqual(audit.query({ action: 'ecs:*' }), [], 'reads go on while the rows wait');
  await new Promise((r) => setTimeout(r, 80)); // several retries
  assert.equal(logs.filter((l) => l.includes('cannot write')).length, 1, logs.join('\n'));
  unfill();
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(audit.query({ action: 'ecs:*', limit: 1000 }).length, 50);
  assert.match(logs.at(-1)!, /audit log: writing again/);
  audit.close();
  db.close();
});

test('while the store stays full, the buffer is capped: the oldest rows go, and the log says how many', () => {
  const db = openDb(':memory:');
  const logs: string[] = [];
  const audit = new AuditLog(db, { log: (m) => logs.push(m), maxBuffered: 10, retryMs: 60_000 });
  const unfill = fill(db);
  for (let i = 0; i < 25; i++) audit.record(entry(`ecs:Describe${i}`, Date.now() + i));
  audit.flush();
  unfill();
  audit.flush();
  const rows = audit.query({ action: 'ecs:*', limit: 100 });
  assert.equal(rows.length, 10);
  assert.equal(rows.at(-1)!.action, 'ecs:Describe15', 'the newest ten kept');
  assert.ok(logs.some((l) => /15 row\(s\) were dropped while the disk was full/.test(l)), logs.join('\n'));
  audit.close();
  db.close();
});
