import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLogDb } from './log-db.ts';
import { LogStore } from './log-store.ts';
import { LogShipper } from './shipper.ts';
import { getLogEvents } from './log-reads.ts';

const line = (i: number, tag: 'F' | 'P' = 'F', text = `line ${i}`, stream = 'stdout') =>
  `2026-11-26T10:00:${String(i % 60).padStart(2, '0')}.${String(i).padStart(3, '0')}000000+00:00 ${stream} ${tag} ${text}\n`;

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-shipper-'));
  const file = join(dir, 'c.log');
  const dbFile = join(dir, 'logs.db');
  const state = { finished: false };
  const open = () => {
    const store = new LogStore(openLogDb(dbFile));
    const shipper = new LogShipper({ store, now: () => 42, intervalMs: 10, taskFinished: () => state.finished, log: () => {} });
    return { store, shipper };
  };
  const first = open();
  first.store.createGroup('g', 1);
  const g = first.store.group('g')!;
  first.store.createStream(g.id, 's', 1);
  first.store.registerShipment({ runtimeId: 'r1', taskId: 't1', containerName: 'app', groupName: 'g', streamName: 's', file });
  const messages = (store: LogStore) => getLogEvents(store, store.stream(g.id, 's')!, { startFromHead: true, limit: 10_000 }).events.map((e) => e.message);
  return { dir, file, dbFile, state, open, first, messages, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('ships whole lines with their timestamps, resumes after a restart without loss or duplicates', async () => {
  const t = setup();
  try {
    writeFileSync(t.file, line(0) + line(1) + line(2, 'P', 'part-a '));
    await t.first.shipper.pass();
    assert.deepEqual(t.messages(t.first.store), ['line 0', 'line 1']);
    const ev = getLogEvents(t.first.store, t.first.store.stream(t.first.store.group('g')!.id, 's')!, { startFromHead: true, limit: 1 }).events[0];
    assert.equal(ev.timestamp, Date.parse('2026-11-26T10:00:00.000Z'));
    await t.first.shipper.close();
    t.first.store.db.close();

    // Restart: the pending partial record is remembered, nothing is read twice.
    appendFileSync(t.file, line(2, 'F', 'part-b') + line(3).slice(0, 20)); // and half a record being written
    const second = t.open();
    await second.shipper.pass();
    assert.deepEqual(t.messages(second.store), ['line 0', 'line 1', 'part-a part-b']);
    appendFileSync(t.file, line(3).slice(20) + line(4, 'F', '', 'stderr') + line(5, 'F', 'to stderr', 'stderr'));
    await second.shipper.pass();
    assert.deepEqual(t.messages(second.store), ['line 0', 'line 1', 'part-a part-b', 'line 3', 'to stderr'], 'empty lines are skipped');
    assert.equal(second.store.shipment('r1')!.done, false);

    // A file replaced by conmon (--log-size-max): the old file is finished first, then the new one is read.
    appendFileSync(t.file, line(6));
    writeFileSync(t.file + '.tmp', line(7));
    renameSync(t.file + '.tmp', t.file);
    await second.shipper.pass();
    assert.deepEqual(t.messages(second.store).slice(-2), ['line 6', 'line 7']);

    // The task stops: the last partial line is flushed and the shipment is done.
    appendFileSync(t.file, line(8, 'P', 'no newline at exit'));
    t.state.finished = true;
    await second.shipper.pass();
    assert.deepEqual(t.messages(second.store).slice(-1), ['no newline at exit']);
    assert.equal(second.store.shipment('r1')!.done, true);
    assert.equal(second.store.activeShipments().length, 0);
    await second.shipper.close();
    second.store.db.close();
  } finally {
    t.cleanup();
  }
});

test('a shipment whose file never appeared ends when its task has stopped; a deleted group drops lines', async () => {
  const t = setup();
  try {
    await t.first.shipper.pass();
    assert.equal(t.first.store.shipment('r1')!.done, false);
    writeFileSync(t.file, line(0));
    t.first.store.deleteGroup('g');
    await t.first.shipper.pass();
    assert.equal(t.first.store.shipment('r1')!.offset, Buffer.byteLength(line(0)), 'the line is consumed (dropped)');
    rmSync(t.file);
    t.state.finished = true;
    await t.first.shipper.close();
    const again = t.open();
    await again.shipper.pass();
    assert.equal(again.store.shipment('r1')!.done, true);
    await again.shipper.close();
    again.store.db.close();
  } finally {
    t.cleanup();
  }
});
