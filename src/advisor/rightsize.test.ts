import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isValidSize } from '../ecs/sizes.ts';
import { DEFAULT_PRICE_BOOK, ratesFor, US_EAST_1_X86 } from '../metering/pricing.ts';
import { percentile, recommendSize } from './rightsize.ts';

const MiB = 1024 * 1024;
const n = (count: number, f: (i: number) => number) => Array.from({ length: count }, (_, i) => f(i));

test('percentile is nearest-rank', () => {
  assert.equal(percentile(n(100, (i) => i + 1), 95), 95);
  assert.equal(percentile([5], 95), 5);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 100], 95), 19);
});

test('too few samples: says so instead of guessing', () => {
  const r = recommendSize({ current: { cpu: 1024, memory: 2048 }, cpuVcpus: [0.1, 0.1], memoryBytes: [MiB, MiB, MiB], prices: US_EAST_1_X86 });
  assert.equal(r.status, 'insufficient-data');
  assert.match(r.message!, /not enough data: 2 sample\(s\).*at least 12/);
  assert.equal(r.recommended, undefined);
  assert.equal(r.current.monthlyCost, '36.0401'); // 0.04937 * 730
});

test('an idle 1 vCPU / 2 GB task is downsized to 0.25 vCPU / 0.5 GB with the saving in $ and %', () => {
  const r = recommendSize({
    current: { cpu: 1024, memory: 2048 },
    cpuVcpus: n(30, () => 0.001),
    memoryBytes: n(30, () => 2 * MiB),
    prices: US_EAST_1_X86,
  });
  assert.equal(r.status, 'ok');
  assert.deepEqual([r.recommended!.cpu, r.recommended!.memory], [256, 512]);
  assert.equal(r.action, 'downsize');
  assert.equal(r.current.monthlyCost, '36.0401');
  assert.equal(r.recommended!.monthlyCost, '9.010025'); // 0.0123425 * 730
  assert.equal(r.monthlySaving, '27.030075');
  assert.equal(r.savingPercent, '75.0');
  assert.ok(r.notes.some((x) => /smallest Fargate size/.test(x)));
});

test('a CPU-bound task at its limit is sized up so p95 is at most 80%, and the throttling is named', () => {
  const r = recommendSize({
    current: { cpu: 1024, memory: 2048 },
    cpuVcpus: n(30, (i) => 0.99 + (i % 3) * 0.005),
    memoryBytes: n(30, () => 1 * MiB),
    prices: US_EAST_1_X86,
  });
  // need >= 1.0 * 1024 / 0.8 = 1280 units -> 2048 CPU, whose least memory is 4096 MiB
  assert.deepEqual([r.recommended!.cpu, r.recommended!.memory], [2048, 4096]);
  assert.equal(r.action, 'upsize');
  assert.equal(r.recommended!.monthlyCost, '72.0802'); // (2*0.04048 + 4*0.004445) * 730
  assert.equal(r.monthlySaving, '-36.0401');
  assert.ok(r.recommended!.utilisation.cpuP95 <= 0.8);
  assert.ok(r.notes.some((x) => /saturated/.test(x)));
});

test('memory-heavy, CPU-light: memory p95 stays at most 90% and the peak fits; CPU is cut', () => {
  const r = recommendSize({
    current: { cpu: 1024, memory: 8192 },
    cpuVcpus: n(40, () => 0.1),
    memoryBytes: n(40, (i) => (i === 39 ? 3400 : 3000) * MiB),
    prices: US_EAST_1_X86,
  });
  // need memory >= max(3000/0.9 = 3333.3, 3400) -> 4096; CPU >= 128 units; 256 pairs with at most 2048 -> 512/4096
  assert.deepEqual([r.recommended!.cpu, r.recommended!.memory], [512, 4096]);
  assert.ok(r.recommended!.utilisation.memoryP95 <= 0.9);
  assert.equal(r.action, 'downsize');
});

test('a workload in the band keeps its size', () => {
  const r = recommendSize({
    current: { cpu: 512, memory: 1024 },
    cpuVcpus: n(20, () => 0.375), // 75% of 0.5 vCPU
    memoryBytes: n(20, () => 870 * MiB), // 85% of 1024
    prices: US_EAST_1_X86,
  });
  assert.equal(r.action, 'keep');
  assert.equal(r.monthlySaving, '0');
  assert.deepEqual(r.notes, []);
});

test('Spot and ARM tasks are priced at their own rates', () => {
  const input = { current: { cpu: 1024, memory: 2048 }, cpuVcpus: n(20, () => 0), memoryBytes: n(20, () => MiB) };
  const spot = recommendSize({ ...input, prices: ratesFor(DEFAULT_PRICE_BOOK, 'X86_64', 'FARGATE_SPOT') });
  assert.equal(spot.current.monthlyCost, '10.81203'); // 36.0401 * 0.3
  const arm = recommendSize({ ...input, prices: ratesFor(DEFAULT_PRICE_BOOK, 'ARM64', 'FARGATE') });
  assert.equal(arm.current.monthlyCost, '28.835'); // (0.03238 + 2*0.00356) * 730
});

test('beyond the largest size: the largest, with advice to split', () => {
  const r = recommendSize({ current: { cpu: 16384, memory: 32768 }, cpuVcpus: n(20, () => 16), memoryBytes: n(20, () => 1024 * MiB), prices: US_EAST_1_X86 });
  assert.deepEqual([r.recommended!.cpu, r.recommended!.memory], [16384, 122880]);
  assert.ok(r.notes.some((x) => /split the work/.test(x)));
});

test('never an invalid pair, always enough room: 500 random workloads', () => {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let k = 0; k < 500; k++) {
    const peakCpu = rnd() * 12;
    const peakMem = rnd() * 100_000;
    const r = recommendSize({
      current: { cpu: 4096, memory: 16384 },
      cpuVcpus: n(20, () => rnd() * peakCpu),
      memoryBytes: n(20, () => rnd() * peakMem * MiB),
      prices: US_EAST_1_X86,
    });
    const s = r.recommended!;
    assert.ok(isValidSize(s.cpu, s.memory), `${s.cpu}/${s.memory}`);
    assert.ok(s.utilisation.cpuP95 <= 0.8 + 1e-9, `cpu p95 ${s.utilisation.cpuP95}`);
    assert.ok(s.utilisation.memoryP95 <= 0.9 + 1e-9, `memory p95 ${s.utilisation.memoryP95}`);
    assert.ok(s.memory >= r.measured!.memoryMaxMiB - 0.01);
  }
});
