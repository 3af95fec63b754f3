import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLogDb } from './log-db.ts';
import { LogStore } from './log-store.ts';
import { LogShipper } from './shipper.ts';
import { getLogEvents } from './log-reads.ts';

const line = (i: number) => `2026-11-26T10:00:${String(i % 60).padStart(2, '0')}.000000000+00:00 stdout F line ${i} ${'x'.repeat(200)}\n`;

test('log shipping on a full disk: passes fail quietly (said once), the checkpoint stays, nothing is lost or doubled once there is room', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-shipper-disk-'));
  const file = join(dir, 'c.log');
  const store = new LogStore(openLogDb(join(dir, 'logs.db')));
  const logs: string[] = [];
  const shipper = new LogShipper({ store, now: () => 42, intervalMs: 10, taskFinished: () => false, log: (m) => logs.push(m) });
  try {
    store.createGroup('g', 1);
    const g = store.group('g')!;
    store.createStream(g.id, 's', 1);
    store.registerShipment({ runtimeId: 'r1', taskId: 't1', containerName: 'app', groupName: 'g', streamName: 's', file });
    writeFileSync(file, line(0));
    await shipper.pass();
    // The store can grow no more: a real SQLITE_FULL on the next commit.
    store.db.pragma(`max_page_count = ${store.db.pragma('page_count', { simple: true }) as number}`);
    appendFileSync(file, Array.from({ length: 200 }, (_, i) => line(i + 1)).join(''));
    for (let i = 0; i < 5; i++) await shipper.pass();
    assert.equal(logs.length, 1, logs.join('\n'));
    assert.match(logs[0], /log shipping: cannot write \(database or disk is full\)/);

    store.db.pragma('max_page_count = 1073741823');
    await shipper.pass();
    const messages = getLogEvents(store, store.stream(g.id, 's')!, { startFromHead: true, limit: 10_000 }).events.map((e) => Number(e.message.split(' ')[1])).sort((a, b) => a - b);
    assert.deepEqual(messages, Array.from({ length: 201 }, (_, i) => i), 'every line once');
    assert.match(logs.at(-1)!, /log shipping: writing again/);
  } finally {
    await shipper.close();
    store.db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
