import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coldStartTips, summarise, waterfall } from './coldstart.ts';

const pullDetail = { images: 1, layers: 1, cachedLayers: 0, sizeBytes: 1_200_000, downloadedBytes: 1_200_500, resolveMs: 3.5, downloadMs: 60.1, unpackMs: 40.2 };
const task = (over: Partial<Parameters<typeof waterfall>[0]> = {}) => ({
  id: 'a'.repeat(32),
  family: 'web',
  createdAt: 1000,
  startedAt: 1171,
  timings: [
    { phase: 'network', startedAt: 1005, durationMs: 40.5 },
    { phase: 'image-pull', startedAt: 1005, durationMs: 120.25, detail: pullDetail },
    { phase: 'cgroup', startedAt: 1127, durationMs: 2.1 },
    { phase: 'container-create:app', startedAt: 1130, durationMs: 30 },
    { phase: 'container-start:app', startedAt: 1161, durationMs: 8.2 },
  ],
  ...over,
});

test('the waterfall accounts for every millisecond from createdAt to startedAt, parallel phases counted once', () => {
  const w = waterfall(task());
  assert.equal(w.totalMs, 171);
  const crit = Object.fromEntries(w.rows.filter((r) => !r.partOf).map((r) => [r.phase, r.criticalMs]));
  assert.deepEqual(crit, {
    scheduling: 5,
    network: 40.5,
    'image-pull': 79.75, // runs beside network: only the part after network ended delays the start
    cgroup: 2.1,
    'container-create:app': 30,
    'container-start:app': 8.2,
    'first-healthy': 0,
    overhead: 5.45, // 1.75 + 0.9 + 1 + 1.8 between steps and after the last one
  });
  assert.equal(w.sumCriticalMs, 171);
  assert.equal(w.rows.find((r) => r.phase === 'image-pull')!.durationMs, 120.25);
  assert.equal(w.rows.find((r) => r.phase === 'first-healthy')!.offsetMs, 169.2);
  // The pull's own steps are shown under it, their time counted once (in image-pull).
  const parts = w.rows.filter((r) => r.partOf === 'image-pull');
  assert.deepEqual(parts.map((r) => [r.phase, r.offsetMs, r.durationMs, r.criticalMs]), [
    ['image-pull:resolve', 5, 3.5, 0],
    ['image-pull:download', 8.5, 60.1, 0],
    ['image-pull:unpack', 8.5, 40.2, 0],
  ]);
  assert.equal(parts[1].detail!.downloadedBytes, 1_200_500);
});

test('first-healthy is the measured time from the start to the first HEALTHY, outside the start total', () => {
  const base = task();
  const w = waterfall({ ...base, timings: [...base.timings, { phase: 'first-healthy', startedAt: 1171, durationMs: 1234.5 }] }, [{ container: 'app', intervalSec: 30 }]);
  const row = w.rows.find((r) => r.phase === 'first-healthy')!;
  assert.deepEqual([row.offsetMs, row.durationMs, row.criticalMs], [171, 1234.5, 0]);
  assert.equal(w.rows.filter((r) => r.phase === 'first-healthy').length, 1);
  assert.equal(w.sumCriticalMs, 171, 'the health wait is after startedAt: the start still adds up');
  const waiting = waterfall(task(), [{ container: 'app', intervalSec: 30 }]).rows.find((r) => r.phase === 'first-healthy')!;
  assert.deepEqual([waiting.durationMs, waiting.detail!.note], [0, 'not healthy yet']);
});

test('a task that never started has no total, and says why', () => {
  const w = waterfall(task({ startedAt: undefined }));
  assert.equal(w.totalMs, undefined);
  assert.match(w.note!, /never reached RUNNING/);
});

test('tips come from the measurement and the image', () => {
  const w = waterfall(task());
  const tips = coldStartTips(w, [{ reference: 'r/app:1', layerSizes: [150_000_000, 1000] }], [{ container: 'app', startPeriodSec: 120 }]);
  assert.ok(tips.some((t) => /1 of 1 layer\(s\) were not cached on this host/.test(t)), tips.join('\n'));
  assert.ok(tips.some((t) => /large base layer \(150 MB\)/.test(t)));
  assert.ok(tips.some((t) => /startPeriod of 120 s/.test(t)));
  assert.ok(!tips.some((t) => /image pull is \d+% of the start/.test(t)), 'the pull is 47% of this start: under the 50% threshold');
  const big = waterfall(task({ timings: [{ phase: 'image-pull', startedAt: 1005, durationMs: 100, detail: { ...pullDetail, sizeBytes: 1_500_000_000, layers: 14, cachedLayers: 14, downloadedBytes: 0 } }] }));
  const bigTips = coldStartTips(big);
  assert.ok(bigTips.some((t) => /1500 MB compressed \(over 1000 MB\)/.test(t)), bigTips.join('\n'));
  assert.ok(bigTips.some((t) => /14 layers \(more than 10\)/.test(t)));
  assert.ok(!bigTips.some((t) => /not cached/.test(t)));
  assert.ok(bigTips.some((t) => /image pull is 58% of the start \(100 ms of 171 ms\)/.test(t)));
});

test('a family summary gives p50/p95 per phase', () => {
  const falls = [0, 10, 20, 30].map((extra) => waterfall(task({ startedAt: 1171 + extra })));
  const s = summarise('web', falls);
  assert.equal(s.starts, 4);
  assert.equal(s.totalP50Ms, 181);
  assert.equal(s.totalP95Ms, 201);
  const net = s.phases.find((p) => p.phase === 'network')!;
  assert.equal(net.count, 4);
  assert.equal(net.criticalP95Ms, 40.5);
  assert.equal(s.uncachedStarts, 4);
});
