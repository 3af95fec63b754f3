import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FARGATE_CPU_VALUES,
  FARGATE_SIZES,
  allValidSizes,
  cheapestSizeAtLeast,
  isValidSize,
  memoryValuesFor,
  parseCpu,
  parseMemory,
  validateTaskSize,
} from './sizes.ts';
import { expectApiError } from '../../test/support/api-errors.ts';


/** The table exactly as the DESIGN reference facts give it. */
const EXPECTED: Record<number, number[]> = {
  256: [512, 1024, 2048],
  512: steps(1024, 4096, 1024),
  1024: steps(2048, 8192, 1024),
  2048: steps(4096, 16384, 1024),
  4096: steps(8192, 30720, 1024),
  8192: steps(16384, 61440, 4096),
  16384: steps(32768, 122880, 8192),
};
function steps(a: number, b: number, s: number): number[] {
  const out = [];
  for (let m = a; m <= b; m += s) out.push(m);
  return out;
}

test('the table matches the reference facts, 74 pairs', () => {
  assert.deepEqual([...FARGATE_CPU_VALUES], [256, 512, 1024, 2048, 4096, 8192, 16384]);
  for (const row of FARGATE_SIZES) assert.deepEqual([...row.memory], EXPECTED[row.cpu], `cpu ${row.cpu}`);
  const all = allValidSizes();
  assert.equal(all.length, 3 + 4 + 7 + 13 + 23 + 12 + 12);
  assert.deepEqual(all[0], { cpu: 256, memory: 512 });
  assert.deepEqual(all[all.length - 1], { cpu: 16384, memory: 122880 });
});

test('every valid pair is accepted, as numbers and as strings', () => {
  let n = 0;
  for (const [cpuText, mems] of Object.entries(EXPECTED)) {
    const cpu = Number(cpuText);
    for (const memory of mems) {
      assert.deepEqual(validateTaskSize(cpu, memory), { cpu, memory });
      assert.deepEqual(validateTaskSize(String(cpu), String(memory)), { cpu, memory });
      assert.deepEqual(validateTaskSize(`${cpu / 1024} vCPU`, `${memory / 1024}GB`), { cpu, memory });
      assert.ok(isValidSize(cpu, memory));
      n++;
    }
  }
  assert.equal(n, 74);
});

test('every other memory value (512 MiB grid) is rejected for every CPU, and unknown CPUs are rejected', () => {
  for (const cpu of [128, 300, 768, 1536, 3072, 6144, 12288, 32768, ...FARGATE_CPU_VALUES]) {
    const valid = new Set(EXPECTED[cpu] ?? []);
    for (let memory = 512; memory <= 131072; memory += 512) {
      if (valid.has(memory)) continue;
      assert.equal(isValidSize(cpu, memory), false, `${cpu}/${memory}`);
      expectApiError(() => validateTaskSize(cpu, memory), 'ClientException', /No Fargate configuration exists for given values/);
    }
  }
});

test('invalid pairs around each boundary are ClientException listing what would be valid', () => {
  const cases: [number, number, RegExp][] = [
    [256, 4096, /For 256 CPU units, memory must be one of 512, 1024, 2048 MiB\./],
    [256, 256, /one of 512, 1024, 2048 MiB/],
    [256, 1536, /one of 512, 1024, 2048 MiB/],
    [256, 3072, /one of 512, 1024, 2048 MiB/],
    [512, 512, /For 512 CPU units, memory must be one of 1024, 2048, 3072, 4096 MiB/],
    [512, 5120, /1024, 2048, 3072, 4096 MiB/],
    [1024, 1024, /For 1024 CPU units, memory must be one of 2048, 3072, 4096, 5120, 6144, 7168, 8192 MiB/],
    [1024, 9216, /2048, 3072, 4096, 5120, 6144, 7168, 8192 MiB/],
    [2048, 3072, /For 2048 CPU units, memory must be 4096 to 16384 MiB in steps of 1024 MiB/],
    [2048, 17408, /4096 to 16384 MiB/],
    [4096, 7168, /For 4096 CPU units, memory must be 8192 to 30720 MiB in steps of 1024 MiB/],
    [4096, 31744, /8192 to 30720 MiB/],
    [8192, 12288, /For 8192 CPU units, memory must be 16384 to 61440 MiB in steps of 4096 MiB/],
    [8192, 18432, /16384 to 61440 MiB in steps of 4096/],
    [8192, 17408, /16384 to 61440 MiB in steps of 4096/],
    [8192, 65536, /16384 to 61440/],
    [16384, 24576, /For 16384 CPU units, memory must be 32768 to 122880 MiB in steps of 8192 MiB/],
    [16384, 36864, /32768 to 122880 MiB in steps of 8192/],
    [16384, 33792, /32768 to 122880 MiB in steps of 8192/],
    [16384, 131072, /32768 to 122880/],
  ];
  for (const [cpu, memory, re] of cases) {
    const e = expectApiError(() => validateTaskSize(cpu, memory), 'ClientException', re);
    assert.match(e.message, new RegExp(`^No Fargate configuration exists for given values: ${cpu} CPU, ${memory} memory\\.`));
  }
  // On-step values inside the big rows are valid (8192: 16384 + 4096; 16384: 32768 + 8192).
  assert.deepEqual(validateTaskSize(8192, 20480), { cpu: 8192, memory: 20480 });
  assert.deepEqual(validateTaskSize(16384, 40960), { cpu: 16384, memory: 40960 });
  // A hint for keeping the memory when some CPU supports it.
  expectApiError(() => validateTaskSize(256, 4096), 'ClientException', /To keep 4096 MiB of memory, use CPU 512 or 1024 or 2048\./);
  // Unknown CPU: list the CPU values.
  expectApiError(() => validateTaskSize(384, 1024), 'ClientException', /CPU must be one of 256, 512, 1024, 2048, 4096, 8192, 16384 units/);
});

test('parseCpu accepts units and vCPU strings', () => {
  assert.equal(parseCpu(256), 256);
  assert.equal(parseCpu('256'), 256);
  assert.equal(parseCpu(' 1024 '), 1024);
  assert.equal(parseCpu('1 vCPU'), 1024);
  assert.equal(parseCpu('0.25 vcpu'), 256);
  assert.equal(parseCpu('.5 vCPU'), 512);
  assert.equal(parseCpu('2vCPU'), 2048);
  assert.equal(parseCpu('16 VCPU'), 16384);
  for (const bad of ['', 'abc', '-256', '0', '1.1 vCPU', '256.5', '1 cpu', '1 vCPU extra']) {
    expectApiError(() => parseCpu(bad), 'ClientException', /Invalid 'cpu' setting for task.*1 vCPU = 1024 units/);
  }
  expectApiError(() => parseCpu(0), 'ClientException');
  expectApiError(() => parseCpu(1.5), 'ClientException');
});

test('parseMemory accepts MiB and GB strings (1 GB = 1024 MiB)', () => {
  assert.equal(parseMemory(512), 512);
  assert.equal(parseMemory('512'), 512);
  assert.equal(parseMemory('512 MiB'), 512);
  assert.equal(parseMemory('1GB'), 1024);
  assert.equal(parseMemory('2 GB'), 2048);
  assert.equal(parseMemory('0.5GB'), 512);
  assert.equal(parseMemory('30 gb'), 30720);
  assert.equal(parseMemory('1 GiB'), 1024);
  for (const bad of ['', '1TB', '0.3GB', 'lots', '-1', '1.5']) {
    expectApiError(() => parseMemory(bad), 'ClientException', /Invalid 'memory' setting for task.*1 GB = 1024 MiB/);
  }
});

test('validateTaskSize normalises string forms', () => {
  assert.deepEqual(validateTaskSize('1 vCPU', '2GB'), { cpu: 1024, memory: 2048 });
  assert.deepEqual(validateTaskSize('.25 vCPU', '0.5GB'), { cpu: 256, memory: 512 });
  assert.deepEqual(validateTaskSize('8 vCPU', '60 GB'), { cpu: 8192, memory: 61440 });
});

test('memoryValuesFor', () => {
  assert.deepEqual(memoryValuesFor(256), [512, 1024, 2048]);
  assert.equal(memoryValuesFor(300), undefined);
});

test('cheapestSizeAtLeast picks the cheapest covering size', () => {
  assert.deepEqual(cheapestSizeAtLeast(0, 0), { cpu: 256, memory: 512 });
  assert.deepEqual(cheapestSizeAtLeast(300, 600), { cpu: 512, memory: 1024 });
  assert.deepEqual(cheapestSizeAtLeast(256, 3000), { cpu: 512, memory: 3072 });
  assert.deepEqual(cheapestSizeAtLeast(4096, 31000), { cpu: 8192, memory: 32768 });
  assert.deepEqual(cheapestSizeAtLeast(1024, 2048), { cpu: 1024, memory: 2048 });
  assert.equal(cheapestSizeAtLeast(16384, 122881), undefined);
  assert.equal(cheapestSizeAtLeast(20000, 1024), undefined);
  // Every answer is valid and covers the need.
  for (const [c, m] of [[100, 100], [700, 5000], [2000, 20000], [9000, 70000]]) {
    const s = cheapestSizeAtLeast(c, m)!;
    assert.ok(isValidSize(s.cpu, s.memory) && s.cpu >= c && s.memory >= m);
  }
});
