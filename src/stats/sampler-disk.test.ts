import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TasksRepo } from '../store/tasks-repo.ts';
import type { MeteringRepo, StatsSample } from '../store/metering-repo.ts';
import type { TaskRecord } from '../model/task-record.ts';
import { StatsSampler } from './sampler.ts';

test('the sampler survives a full disk: its loop goes on, says it once, and says when it writes again', async () => {
  const running = { id: 'a'.repeat(32), lastStatus: 'RUNNING', clusterName: 'default', family: 'web', cpu: 256, memory: 512 } as TaskRecord;
  const tasks = { listUnfinished: () => [running] } as unknown as TasksRepo;
  let failing = true;
  const stored: StatsSample[] = [];
  const metering = {
    lastSample: () => undefined,
    insertSamples: (s: StatsSample[]) => {
      if (failing) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      stored.push(...s);
    },
    pruneSamples: () => {},
  } as unknown as MeteringRepo;
  const logs: string[] = [];
  const sampler = new StatsSampler({
    tasks, metering, clock: { now: () => Date.now() }, intervalMs: 5, log: (m) => logs.push(m),
    readUsage: async () => ({ cpuUsageUs: 1, workingSetBytes: 1, rssBytes: 1, cacheBytes: 0 }),
  });
  sampler.start();
  try {
    await new Promise((r) => setTimeout(r, 80)); // many ticks on the full disk
    assert.deepEqual(logs, ['stats sampler: cannot write (database or disk is full); retrying quietly until the disk takes writes again']);
    failing = false;
    await new Promise((r) => setTimeout(r, 40));
    assert.ok(stored.length > 0, 'samples are stored again without a restart');
    assert.deepEqual(logs.slice(1), ['stats sampler: writing again']);
  } finally {
    await sampler.stop();
  }
});
