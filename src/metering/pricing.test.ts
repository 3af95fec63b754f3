import { test } from 'node:test';
import assert from 'node:assert/strict';
import { billedSeconds, costOf, US_EAST_1_X86 } from './pricing.ts';

test('billing rounds up to the second with a one-minute minimum', () => {
  assert.equal(billedSeconds(0, 1), 60);
  assert.equal(billedSeconds(0, 59_999), 60);
  assert.equal(billedSeconds(0, 60_001), 61);
  assert.equal(billedSeconds(1000, 1000 + 3_600_000), 3600);
});

test('cost of one hour of 1 vCPU / 2 GB is the sum of the hourly prices, exactly', () => {
  // 0.04048 + 2 * 0.004445 = 0.04937
  assert.equal(costOf({ cpuUnits: 1024, memoryMiB: 2048, ephemeralStorageGiB: 20 }, 3600, US_EAST_1_X86), '0.04937');
});

test('cost of the minimum minute of 0.25 vCPU / 0.5 GB is exact decimal arithmetic', () => {
  // (0.25*0.04048 + 0.5*0.004445) / 60 = (0.01012 + 0.0022225) / 60 = 0.0123425/60
  const c = costOf({ cpuUnits: 256, memoryMiB: 512, ephemeralStorageGiB: 20 }, 60, US_EAST_1_X86);
  assert.equal(c, '0.000205708333');
});

test('storage above the included 20 GiB is billed', () => {
  const base = costOf({ cpuUnits: 256, memoryMiB: 512, ephemeralStorageGiB: 20 }, 3600, US_EAST_1_X86);
  const more = costOf({ cpuUnits: 256, memoryMiB: 512, ephemeralStorageGiB: 30 }, 3600, US_EAST_1_X86);
  // 10 GB * 0.000111
  assert.equal((Number(more) - Number(base)).toFixed(6), '0.001110');
});
