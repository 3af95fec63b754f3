import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TaskRecord } from '../model/task-record.ts';
import { ephemeralLimitBytes, overLimitReason, StorageWatcher } from './storage-watcher.ts';

const MiB = 1024 * 1024;

test('limits and the reason', () => {
  assert.equal(ephemeralLimitBytes(20, 1), 20 * 1024 * MiB);
  assert.equal(ephemeralLimitBytes(20, 0.001), Math.floor(20 * 1024 * MiB * 0.001));
  assert.equal(overLimitReason(25.5 * MiB, 20.48 * MiB), "OutOfEphemeralStorage: the task's writable layers use 26 MiB, over its ephemeral storage limit of 20 MiB");
});

function task(id: string, gib: number, runtimeIds: string[], lastStatus = 'RUNNING'): TaskRecord {
  return { id, ephemeralStorageGiB: gib, lastStatus, desiredStatus: 'RUNNING', containers: runtimeIds.map((runtimeId) => ({ runtimeId })) } as unknown as TaskRecord;
}

test('a sweep stops only running tasks whose layers together exceed the scaled limit, once', async () => {
  const tasks = new Map([
    ['over', task('over', 20, ['over-a', 'over-b'])],
    ['under', task('under', 21, ['under-a'])],
    ['pending', task('pending', 20, ['pending-a'], 'PENDING')],
  ]);
  const use: Record<string, number> = { 'over-a': 12 * MiB, 'over-b': 10 * MiB, 'under-a': 21 * MiB, 'pending-a': 99 * MiB };
  const stops: [string, string, string][] = [];
  const w = new StorageWatcher(
    {
      tasks: { listUnfinished: () => [...tasks.values()], update: (id, mutate) => { mutate(tasks.get(id)!); return tasks.get(id)!; } },
      driver: { writableLayerUsage: async (id) => ({ bytes: use[id], inodes: 1 }) },
      stop: (id, code, reason) => stops.push([id, code, reason]),
      log: () => {},
    },
    { scale: 0.001, intervalMs: 1000 },
  );
  // over: 22 MiB > 20.48 MiB; under: 21 MiB <= 21.5 MiB; pending is not measured.
  assert.deepEqual(await w.sweep(), ['over']);
  assert.equal(stops.length, 1);
  assert.equal(stops[0][1], 'TerminationNotice');
  assert.match(stops[0][2], /use 22 MiB, over its ephemeral storage limit of 20 MiB/);
  const t = tasks.get('over')!;
  assert.equal(t.desiredStatus, 'STOPPED');
  assert.equal(t.stopCode, 'TerminationNotice');
  assert.equal(await w.sweep().then((s) => s.length), 0, 'a task already stopping is left alone');
});
