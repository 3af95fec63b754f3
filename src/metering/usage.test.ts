import { test } from 'node:test';
import assert from 'node:assert/strict';
import Big from 'big.js';
import type { TaskRecord } from '../model/task-record.ts';
import { DEFAULT_PRICE_BOOK, costOf, US_EAST_1_X86 } from './pricing.ts';
import { costReport, isGroupBy, projectMonth, usageCost, usageOf, type UsageRecord } from './usage.ts';

let n = 0;
function task(over: Partial<TaskRecord>): TaskRecord {
  const id = (++n).toString(16).padStart(32, '0');
  return {
    id,
    arn: `arn:aws:ecs:us-east-1:123456789012:task/default/${id}`,
    clusterName: 'default',
    clusterArn: 'arn:aws:ecs:us-east-1:123456789012:cluster/default',
    taskDefinitionArn: 'arn:aws:ecs:us-east-1:123456789012:task-definition/web:1',
    family: 'web',
    revision: 1,
    cpu: 256,
    memory: 512,
    ephemeralStorageGiB: 20,
    cpuArchitecture: 'X86_64',
    containers: [],
    overrides: {},
    launchType: 'FARGATE',
    capacityProviderName: 'FARGATE',
    availabilityZone: 'us-east-1a',
    desiredStatus: 'RUNNING',
    lastStatus: 'RUNNING',
    createdAt: 0,
    network: { attachmentId: 'a', subnetId: 's', vpcId: 'v', ipv4: '10.0.0.2', status: 'ATTACHED' },
    timings: [],
    version: 1,
    ...over,
  };
}
const T0 = Date.UTC(2025, 5, 10, 12, 0, 0); // 2025-06-10T12:00Z
const stopped = (startMs: number, stopMs: number, over: Partial<TaskRecord> = {}) =>
  task({ pullStartedAt: startMs, executionStoppedAt: stopMs, stoppedAt: stopMs + 500, lastStatus: 'STOPPED', desiredStatus: 'STOPPED', ...over });

test('a task that never reached the image pull has no usage', () => {
  assert.equal(usageOf(task({ lastStatus: 'STOPPED' }), T0), undefined);
});

test('a short stopped task is billed the one-minute minimum, from pull start; cost is the billing rule', () => {
  const u = usageOf(stopped(T0, T0 + 10_400), T0 + 3_600_000)!;
  assert.equal(u.running, false);
  assert.equal(u.billedSeconds, 60);
  assert.equal(u.endMs, T0 + 60_000);
  assert.equal(usageCost(u, DEFAULT_PRICE_BOOK), '0.000205708333');
  // 61.2 s -> 62 s
  const v = usageOf(stopped(T0, T0 + 61_200), T0 + 3_600_000)!;
  assert.equal(v.billedSeconds, 62);
  assert.equal(usageCost(v, DEFAULT_PRICE_BOOK), costOf({ cpuUnits: 256, memoryMiB: 512, ephemeralStorageGiB: 20 }, 62, US_EAST_1_X86));
});

test('executionStoppedAt ends the bill, not the later stoppedAt; a record without it falls back to stoppedAt', () => {
  const t = stopped(T0, T0 + 120_000, { stoppedAt: T0 + 180_000 });
  assert.equal(usageOf(t, T0 + 999_999)!.billedSeconds, 120);
  const legacy = task({ pullStartedAt: T0, stoppedAt: T0 + 90_000, lastStatus: 'STOPPED' });
  assert.equal(usageOf(legacy, T0 + 999_999)!.billedSeconds, 90);
});

test('a running task accrues up to now and keeps accruing: the same record read later (after a crash) gives more, never less or double', () => {
  const t = task({ pullStartedAt: T0 });
  const a = usageOf(t, T0 + 30_000)!;
  const b = usageOf(t, T0 + 95_000)!; // e.g. after the server was down 65 s: the containers kept running
  assert.equal(a.running, true);
  assert.equal(a.billedSeconds, 30, 'no minimum while running');
  assert.equal(b.billedSeconds, 95);
  assert.equal(b.endMs - b.startMs, 95_000);
  // Replaying the same facts changes nothing.
  assert.deepEqual(usageOf(t, T0 + 95_000), b);
});

test('cost report: a usage interval split over UTC days adds up exactly to the whole', () => {
  const midnight = Date.UTC(2025, 5, 11);
  // 1 vCPU / 2 GB from 23:59:30 to 00:01:30: 120 s.
  const u = usageOf(stopped(midnight - 30_000, midnight + 90_000, { cpu: 1024, memory: 2048 }), midnight + 1e6)!;
  const r = costReport([u], { from: 0, groupBy: 'day', now: midnight + 1e6 }, DEFAULT_PRICE_BOOK);
  assert.deepEqual(r.lines.map((l) => [l.key, l.seconds]), [['2025-06-10', '30'], ['2025-06-11', '90']]);
  // 0.04937/h: 30 s = 0.000411416666666.. -> 0.000411416667; 90 s = 0.00123425; whole 120 s = 0.001645666666.. -> 0.001645666667
  assert.equal(r.lines[0].cost, '0.000411416667');
  assert.equal(r.lines[1].cost, '0.00123425');
  assert.equal(r.total.cost, '0.001645666667');
  assert.equal(r.total.cost, costOf({ cpuUnits: 1024, memoryMiB: 2048, ephemeralStorageGiB: 20 }, 120, US_EAST_1_X86));
  assert.equal(r.total.vcpuHours, new Big(120).div(3600).round(9).toFixed());
});

test('cost report: usage is clipped to the range', () => {
  const u = usageOf(stopped(T0, T0 + 3_600_000, { cpu: 1024, memory: 2048 }), T0 + 1e8)!;
  const r = costReport([u], { from: T0 + 900_000, to: T0 + 2_700_000, groupBy: 'none', now: T0 + 1e8 }, DEFAULT_PRICE_BOOK);
  assert.equal(r.total.seconds, '1800');
  assert.equal(r.total.cost, '0.024685'); // half of 0.04937
  const none = costReport([u], { from: T0 + 3_600_000, groupBy: 'none', now: T0 + 1e8 }, DEFAULT_PRICE_BOOK);
  assert.equal(none.total.cost, '0');
  assert.equal(none.lines.length, 0);
});

test('cost report by capacity provider shows Spot savings against on-demand', () => {
  const now = T0 + 1e8;
  const us = [
    usageOf(stopped(T0, T0 + 3_600_000, { cpu: 1024, memory: 2048, capacityProviderName: 'FARGATE_SPOT' }), now)!,
    usageOf(stopped(T0, T0 + 3_600_000, { cpu: 1024, memory: 2048 }), now)!,
    usageOf(stopped(T0, T0 + 3_600_000, { cpu: 1024, memory: 2048, cpuArchitecture: 'ARM64', ephemeralStorageGiB: 30 }), now)!,
  ];
  const r = costReport(us, { from: 0, groupBy: 'capacityProvider', now }, DEFAULT_PRICE_BOOK);
  const spot = r.lines.find((l) => l.key === 'FARGATE_SPOT')!;
  assert.equal(spot.cost, '0.014811');
  assert.equal(spot.onDemandCost, '0.04937');
  assert.equal(spot.spotSavings, '0.034559');
  const od = r.lines.find((l) => l.key === 'FARGATE')!;
  // x86 0.04937 + ARM (0.0395 + 10 * 0.000111 = 0.04061) = 0.08998
  assert.equal(od.cost, '0.08998');
  assert.equal(od.spotSavings, '0');
  assert.equal(r.total.cost, '0.104791');
  assert.equal(r.total.spotSavings, '0.034559');
  assert.equal(r.total.extraStorageGbHours, '10');
});

test('cost report groups by service (the group field), family and tag', () => {
  const now = T0 + 1e8;
  const a = stopped(T0, T0 + 60_000, { group: 'service:api', family: 'api' });
  const b = stopped(T0, T0 + 60_000, { group: 'nightly', family: 'batch' });
  const us = [usageOf(a, now)!, usageOf(b, now)!];
  const tags = new Map([[a.arn, [{ key: 'team', value: 'payments' }]]]);
  const tagsOf = (arn: string) => tags.get(arn) ?? [];
  assert.deepEqual(costReport(us, { from: 0, groupBy: 'service', now }, DEFAULT_PRICE_BOOK).lines.map((l) => l.key).sort(), ['(no service)', 'api']);
  assert.deepEqual(costReport(us, { from: 0, groupBy: 'family', now }, DEFAULT_PRICE_BOOK).lines.map((l) => l.key).sort(), ['api', 'batch']);
  const byTag = costReport(us, { from: 0, groupBy: 'tag:team', now }, DEFAULT_PRICE_BOOK, tagsOf);
  assert.deepEqual(byTag.lines.map((l) => [l.key, l.cost]).sort(), [['(untagged)', '0.000205708333'], ['payments', '0.000205708333']]);
  assert.ok(isGroupBy('tag:team') && isGroupBy('day') && !isGroupBy('colour') && !isGroupBy('tag:'));
});

test('the month projection continues the running tasks at their rate to the end of the month', () => {
  const june = Date.UTC(2025, 5, 1);
  const now = Date.UTC(2025, 5, 16); // 360 of June's 720 hours
  const running = usageOf(task({ pullStartedAt: june, cpu: 1024, memory: 2048 }), now)!;
  const mayTask = usageOf(stopped(Date.UTC(2025, 4, 31, 23), Date.UTC(2025, 5, 1, 1), { cpu: 1024, memory: 2048 }), now)!; // 1 h in June
  const p = projectMonth([running, mayTask] as UsageRecord[], now, DEFAULT_PRICE_BOOK);
  assert.equal(p.month, '2025-06');
  assert.equal(p.monthToDate, '17.82257'); // 0.04937 * (360 + 1)
  assert.equal(p.runRatePerHour, '0.04937');
  assert.equal(p.hoursLeft, '360');
  assert.equal(p.projectedMonth, '35.59577'); // 0.04937 * 721
  assert.equal(p.runRatePerMonth, '36.0401'); // 0.04937 * 730
});
