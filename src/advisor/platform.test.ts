import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_PRICE_BOOK, parsePriceBook } from '../metering/pricing.ts';
import { advise, WorkloadError } from './platform.ts';

const cost = (a: ReturnType<typeof advise>, p: string) => a.options.find((o) => o.platform === p)!;

test('a nightly 30-minute batch job: a task per run beats an idle host; too long for a function', () => {
  const a = advise({ cpu: 1, memoryGB: 2, durationSec: 1800, eventDriven: true, requestsPerSecond: 1 / 86400, costSensitivity: 'high' }, DEFAULT_PRICE_BOOK);
  // 30.4167 runs/month x 1815 s x 0.04937/h = 0.757...
  assert.equal(cost(a, 'serverless-container').monthlyCost, '0.76');
  assert.equal(cost(a, 'function').fits, false);
  assert.match(cost(a, 'function').why[0], /over the 900 s function limit/);
  // t3.medium 0.0416 * 730 + 20 GB * 0.08
  assert.equal(cost(a, 'always-on-host').monthlyCost, '31.97');
  assert.equal(a.recommendation, 'serverless-container');
  assert.ok(a.assumptions.some((x) => /EC2 us-east-1 on-demand/.test(x)) && a.assumptions.some((x) => /Lambda/.test(x)));
});

test('a sporadic short webhook: a function, since a task per event pays the 60 s minimum', () => {
  const a = advise({ cpu: 0.25, memoryGB: 0.5, durationSec: 0.2, eventDriven: true, requestsPerSecond: 0.1, costSensitivity: 'medium' }, DEFAULT_PRICE_BOOK);
  // 262,800 invocations x (0.5 GB x 0.2 s x 0.0000166667 + 0.0000002)
  assert.equal(cost(a, 'function').monthlyCost, '0.49');
  // one always-on 256/512 task: 0.0123425 * 730 (cheaper than 262,800 tasks of 60 s)
  assert.equal(cost(a, 'serverless-container').monthlyCost, '9.01');
  assert.equal(a.recommendation, 'function');
});

test('a steady API with concurrency: always-on container tasks; per-request function pricing adds up', () => {
  const a = advise({ cpu: 1, memoryGB: 2, durationSec: 0.05, eventDriven: false, requestsPerSecond: 200, concurrency: 20, costSensitivity: 'high' }, DEFAULT_PRICE_BOOK);
  assert.equal(cost(a, 'serverless-container').monthlyCost, '36.04'); // 1 task, 0.04937 * 730
  assert.equal(cost(a, 'always-on-host').monthlyCost, '71.68'); // m6i.large 0.096 * 730 + 1.60
  assert.equal(cost(a, 'function').monthlyCost, '981.12'); // 525.6M x (2 GB x 0.05 s x 0.0000166667 + 0.0000002)
  assert.equal(a.recommendation, 'serverless-container');
});

test('prices come from the price table: ARM and operator prices change the container cost', () => {
  const w = { cpu: 1, memoryGB: 2, durationSec: 1, eventDriven: false, requestsPerSecond: 0, costSensitivity: 'high' as const };
  assert.equal(cost(advise({ ...w, architecture: 'ARM64' }, DEFAULT_PRICE_BOOK), 'serverless-container').monthlyCost, '28.84'); // 0.0395 * 730 = 28.835
  const pricey = parsePriceBook({ X86_64: { vcpuHour: '0.08096', gbHour: '0.00889' } });
  assert.equal(cost(advise(w, pricey), 'serverless-container').monthlyCost, '72.08');
  assert.equal(cost(advise(w, DEFAULT_PRICE_BOOK), 'function').fits, false, 'a worker with no requests is not a function');
});

test('a bad description lists every problem', () => {
  assert.throws(() => advise({ cpu: -1, eventDriven: 'yes' as never, costSensitivity: 'extreme' as never }, DEFAULT_PRICE_BOOK), (e: unknown) => {
    assert.ok(e instanceof WorkloadError);
    assert.match(e.message, /cpu \(vCPUs\) must be/);
    assert.match(e.message, /memoryGB must be/);
    assert.match(e.message, /eventDriven must be true or false/);
    assert.match(e.message, /costSensitivity must be low, medium or high/);
    return true;
  });
});
