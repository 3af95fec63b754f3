import { test } from 'node:test';
import assert from 'node:assert/strict';
import { orderTasks, safeNext, serviceDayMatrix, serviceRow, taskRow } from './views.ts';
import { sameOriginJson } from './routes.ts';

test('taskRow takes the address from the ENI attachment and converts epoch seconds to ms', () => {
  const row = taskRow({
    taskArn: 'arn:aws:ecs:us-east-1:000000000000:task/default/0123456789abcdef0123456789abcdef',
    clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/default',
    taskDefinitionArn: 'arn:aws:ecs:us-east-1:000000000000:task-definition/web:3',
    lastStatus: 'RUNNING',
    desiredStatus: 'RUNNING',
    healthStatus: 'HEALTHY',
    cpu: '256',
    memory: '512',
    capacityProviderName: 'FARGATE_SPOT',
    group: 'service:web',
    attachments: [{ details: [{ name: 'subnetId', value: 'subnet-1' }, { name: 'privateIPv4Address', value: '10.1.0.5' }] }],
    createdAt: new Date(1_700_000_000_500) as unknown as Date,
  });
  assert.equal(row.id, '0123456789abcdef0123456789abcdef');
  assert.equal(row.family, 'web:3');
  assert.equal(row.ip, '10.1.0.5');
  assert.equal(row.capacityProvider, 'FARGATE_SPOT');
  // The wire has numbers (seconds); the SDK type says Date. The row is in ms.
  const wire = taskRow({ createdAt: 1_700_000_000.5 as unknown as Date });
  assert.equal(wire.createdAt, 1_700_000_000_500);
  assert.equal(wire.ip, undefined);
});

test('serviceRow: newest events first, capped; capacity strategy spelled out', () => {
  const row = serviceRow(
    {
      serviceName: 'web',
      desiredCount: 2,
      runningCount: 1,
      capacityProviderStrategy: [{ capacityProvider: 'FARGATE', base: 1, weight: 1 }, { capacityProvider: 'FARGATE_SPOT', weight: 3 }],
      events: [1, 3, 2].map((n) => ({ createdAt: n as unknown as Date, message: `e${n}` })),
      deployments: [{ id: 'ecs-svc/1', status: 'PRIMARY', rolloutState: 'IN_PROGRESS', desiredCount: 2, runningCount: 1, failedTasks: 0 }],
    },
    2,
  );
  assert.deepEqual(row.events.map((e) => e.message), ['e3', 'e2']);
  assert.equal(row.capacity, 'FARGATE base 1 w1, FARGATE_SPOT w3');
  assert.equal(row.deployments[0].rolloutState, 'IN_PROGRESS');
});

test('orderTasks: live tasks first, newest first; stopped ones capped', () => {
  const r = (id: string, lastStatus: string, createdAt: number) => ({ id, lastStatus, createdAt }) as ReturnType<typeof taskRow>;
  const out = orderTasks([r('s1', 'STOPPED', 5), r('a', 'RUNNING', 1), r('s2', 'STOPPED', 6), r('b', 'PENDING', 2)], 1);
  assert.deepEqual(out.map((x) => x.id), ['b', 'a', 's2']);
});

test('safeNext allows only dashboard paths on this origin', () => {
  assert.equal(safeNext('/dashboard/tasks/abc?cluster=default'), '/dashboard/tasks/abc?cluster=default');
  for (const bad of ['https://evil.example/', '//evil.example', '/dashboard//evil.example', '/skiff/v1/keys', '/dashboardx', 'javascript:alert(1)', undefined]) {
    assert.equal(safeNext(bad), '/dashboard/', String(bad));
  }
});

test('serviceDayMatrix: one row per service, a cell per day it cost something', () => {
  const m = serviceDayMatrix([
    { day: '2026-11-25', lines: [{ key: 'web', cost: '0.01' }] },
    { day: '2026-11-26', lines: [{ key: 'api', cost: '0.02' }, { key: 'web', cost: '0.03' }] },
  ]);
  assert.deepEqual(m.services, ['api', 'web']);
  assert.deepEqual(m.cost, { api: { '2026-11-26': '0.02' }, web: { '2026-11-25': '0.01', '2026-11-26': '0.03' } });
});

test('sameOriginJson refuses form posts and other origins', () => {
  const hdr = (h: Record<string, string>) => ({ headers: { host: 'skiff:8080', ...h } });
  assert.equal(sameOriginJson(hdr({ 'content-type': 'application/json' })), undefined);
  assert.equal(sameOriginJson(hdr({ 'content-type': 'application/json', origin: 'http://skiff:8080', 'sec-fetch-site': 'same-origin' })), undefined);
  assert.match(sameOriginJson(hdr({ 'content-type': 'application/x-www-form-urlencoded' }))!, /JSON/);
  assert.match(sameOriginJson(hdr({ 'content-type': 'application/json', origin: 'http://evil.example' }))!, /not accepted/);
  assert.match(sameOriginJson(hdr({ 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' }))!, /Cross-site/);
});
