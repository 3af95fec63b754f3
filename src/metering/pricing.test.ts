import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  billedSeconds,
  costOf,
  loadPriceBook,
  parsePriceBook,
  PriceBookError,
  ratesFor,
  DEFAULT_PRICE_BOOK,
  US_EAST_1_X86,
  US_EAST_1_ARM,
} from './pricing.ts';

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
  assert.equal(base, '0.0123425');
  assert.equal(more, '0.0134525');
  // 200 GiB for two hours: (0.0123425 + 180 * 0.000111) * 2 = (0.0123425 + 0.01998) * 2 = 0.064645
  assert.equal(costOf({ cpuUnits: 256, memoryMiB: 512, ephemeralStorageGiB: 200 }, 7200, US_EAST_1_X86), '0.064645');
});

test('ARM is billed at the ARM prices', () => {
  const arm = ratesFor(DEFAULT_PRICE_BOOK, 'ARM64', 'FARGATE');
  assert.deepEqual(arm, { ...US_EAST_1_ARM });
  // 0.03238 + 2 * 0.00356 = 0.0395
  assert.equal(costOf({ cpuUnits: 1024, memoryMiB: 2048, ephemeralStorageGiB: 20 }, 3600, arm), '0.0395');
});

test('Spot takes the configured discount (70% by default) off vCPU and memory, not off storage', () => {
  const spot = ratesFor(DEFAULT_PRICE_BOOK, 'X86_64', 'FARGATE_SPOT');
  assert.deepEqual(spot, { vcpuHour: '0.012144', gbHour: '0.0013335', storageGbHour: '0.000111' });
  // 0.04937 * 0.3 = 0.014811
  assert.equal(costOf({ cpuUnits: 1024, memoryMiB: 2048, ephemeralStorageGiB: 20 }, 3600, spot), '0.014811');
  // + 10 GB storage at the full 0.000111
  assert.equal(costOf({ cpuUnits: 1024, memoryMiB: 2048, ephemeralStorageGiB: 30 }, 3600, spot), '0.015921');
  // the one-minute minimum on Spot: 0.0123425 * 0.3 / 60 = 0.00370275 / 60 = 0.0000617125
  assert.equal(costOf({ cpuUnits: 256, memoryMiB: 512, ephemeralStorageGiB: 20 }, billedSeconds(0, 5_000), spot), '0.0000617125');
  // ARM on Spot, 2 vCPU / 4 GB for 90.5 s -> 91 s: (2*0.03238 + 4*0.00356) * 0.3 = 0.0237 per hour; *91/3600 = 0.000599083333...
  const armSpot = ratesFor(DEFAULT_PRICE_BOOK, 'ARM64', 'FARGATE_SPOT');
  assert.equal(costOf({ cpuUnits: 2048, memoryMiB: 4096, ephemeralStorageGiB: 20 }, billedSeconds(0, 90_500), armSpot), '0.000599083333');
});

test('an operator price file replaces prices; fields left out keep the defaults', () => {
  const book = parsePriceBook({ region: 'eu-west-1', X86_64: { vcpuHour: '0.04656' }, spotDiscount: 0.5 });
  assert.equal(book.region, 'eu-west-1');
  assert.equal(book.X86_64.vcpuHour, '0.04656');
  assert.equal(book.X86_64.gbHour, '0.004445');
  assert.equal(book.ARM64.vcpuHour, '0.03238');
  assert.equal(book.spotDiscount, '0.5');
  assert.equal(ratesFor(book, 'X86_64', 'FARGATE_SPOT').vcpuHour, '0.02328');
  assert.ok(Object.isFrozen(book) && Object.isFrozen(book.X86_64));
});

test('a bad price file is refused with every problem listed', () => {
  assert.throws(
    () => parsePriceBook({ X86_64: { vcpuHour: '-1', gbhour: '1' }, spotDiscount: '1', storageGbHour: 'cheap', colour: 'red' }, 'prices.json'),
    (e: unknown) => {
      assert.ok(e instanceof PriceBookError);
      assert.match(e.message, /invalid price table prices\.json/);
      assert.match(e.message, /X86_64\.vcpuHour must be a non-negative decimal/);
      assert.match(e.message, /unknown field "X86_64\.gbhour"/);
      assert.match(e.message, /unknown field "colour"/);
      assert.match(e.message, /storageGbHour must be a non-negative decimal.*"cheap"/);
      assert.match(e.message, /spotDiscount .* must be below 1/);
      assert.equal(e.problems.length, 5);
      return true;
    },
  );
  assert.throws(() => parsePriceBook([]), /must hold a JSON object/);
});

test('loadPriceBook reads a file and names it in errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-prices-'));
  try {
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ ARM64: { vcpuHour: '0.03', gbHour: '0.003' } }));
    assert.equal(loadPriceBook(good).ARM64.gbHour, '0.003');
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ not json');
    assert.throws(() => loadPriceBook(bad), new RegExp(`invalid price table ${bad}:[\\s\\S]*not valid JSON`));
    assert.throws(() => loadPriceBook(join(dir, 'missing.json')), /cannot read it/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
