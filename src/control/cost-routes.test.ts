import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { openDb } from '../store/db.ts';
import { TasksRepo } from '../store/tasks-repo.ts';
import { TagsRepo } from '../store/tags-repo.ts';
import { TaskDefinitionsRepo } from '../store/task-definitions-repo.ts';
import type { TaskRecord } from '../model/task-record.ts';
import { DEFAULT_PRICE_BOOK } from '../metering/pricing.ts';
import type { CostReport } from '../metering/usage.ts';
import { MeteringRepo } from '../store/metering-repo.ts';
import { costRoutes, parseTime } from './cost-routes.ts';

const NOW = Date.UTC(2025, 5, 16, 12);

test('times: ISO dates and times, now, and durations ago; anything else says what to write', () => {
  assert.equal(parseTime('2025-06-01', 'from', NOW), Date.UTC(2025, 5, 1));
  assert.equal(parseTime('2025-06-01T06:30:00Z', 'from', NOW), Date.UTC(2025, 5, 1, 6, 30));
  assert.equal(parseTime('now', 'to', NOW), NOW);
  assert.equal(parseTime('24h', 'from', NOW), NOW - 86_400_000);
  assert.equal(parseTime('7d', 'from', NOW), NOW - 7 * 86_400_000);
  assert.equal(parseTime(undefined, 'from', NOW), undefined);
  assert.throws(() => parseTime('last tuesday', 'from', NOW), /from 'last tuesday' is not a time: use an ISO date/);
});

function task(id: string, over: Partial<TaskRecord>): TaskRecord {
  return {
    id, arn: `arn:aws:ecs:us-east-1:123456789012:task/default/${id}`, clusterName: 'default', clusterArn: 'c', taskDefinitionArn: 'td', family: 'web', revision: 1,
    cpu: 1024, memory: 2048, ephemeralStorageGiB: 20, cpuArchitecture: 'X86_64', containers: [], overrides: {}, launchType: 'FARGATE',
    capacityProviderName: 'FARGATE', availabilityZone: 'a', desiredStatus: 'RUNNING', lastStatus: 'RUNNING', createdAt: NOW - 7_200_000,
    network: { attachmentId: 'x', subnetId: 's', vpcId: 'v', ipv4: '10.0.0.2', status: 'ATTACHED' }, timings: [], version: 1, ...over,
  };
}

test('GET /skiff/v1/costs reports stored tasks, running ones accrued to now, grouped as asked', async () => {
  const db = openDb(':memory:');
  const tasks = new TasksRepo(db);
  const tags = new TagsRepo(db);
  const a = task('a'.repeat(32), { pullStartedAt: NOW - 3_600_000 }); // running for an hour
  const b = task('b'.repeat(32), { pullStartedAt: NOW - 7_200_000, executionStoppedAt: NOW - 5_400_000, stoppedAt: NOW - 5_400_000, lastStatus: 'STOPPED', desiredStatus: 'STOPPED', capacityProviderName: 'FARGATE_SPOT', family: 'batch' });
  const old = task('c'.repeat(32), { createdAt: NOW - 90 * 86_400_000, pullStartedAt: NOW - 90 * 86_400_000, executionStoppedAt: NOW - 89 * 86_400_000, stoppedAt: NOW - 89 * 86_400_000, lastStatus: 'STOPPED' });
  for (const t of [a, b, old]) tasks.insert(t);
  tags.put(a.arn, [{ key: 'team', value: 'web' }]);
  const deps = { tasks, tags, taskDefinitions: new TaskDefinitionsRepo(db), metering: new MeteringRepo(db), clock: { now: () => NOW } };
  const app = Fastify();
  costRoutes(app, deps, { prices: DEFAULT_PRICE_BOOK, pricesSource: 'defaults', imagesRoot: '/nonexistent' });

  const res = await app.inject({ method: 'GET', url: '/skiff/v1/costs?groupBy=capacityProvider' });
  assert.equal(res.statusCode, 200, res.body);
  const r = res.json() as CostReport;
  // a: 1 h of 0.04937 on demand; b: 0.5 h on Spot = 0.024685 * 0.3 = 0.0074055. The 90-day-old task is outside this month.
  assert.deepEqual(r.lines.map((l) => [l.key, l.cost, l.spotSavings]), [['FARGATE', '0.04937', '0'], ['FARGATE_SPOT', '0.0074055', '0.0172795']]);
  assert.equal(r.total.cost, '0.0567755');
  assert.equal(r.projection.runRatePerHour, '0.04937');
  const byTag = (await app.inject({ method: 'GET', url: '/skiff/v1/costs?groupBy=tag:team&from=2025-06-16T11:30:00Z' })).json() as CostReport;
  assert.deepEqual(byTag.lines.map((l) => [l.key, l.cost]), [['web', '0.024685']]);
  const bad = await app.inject({ method: 'GET', url: '/skiff/v1/costs?groupBy=colour' });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().__type, 'InvalidParameterException');
  const usage = (await app.inject({ method: 'GET', url: '/skiff/v1/usage?from=90d' })).json() as { usage: { taskId: string; billedSeconds: number; cost: string }[] };
  assert.deepEqual(usage.usage.map((u) => u.billedSeconds).sort((x, y) => x - y), [1800, 3600, 86400]);
  await app.close();
  db.close();
});
