import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDb } from './db.ts';
import { ServicesRepo } from './services-repo.ts';

test('snapshotTasks: the fields a service needs, health derived from essential checked containers, stopped tasks of other deployments left out', () => {
  const db = openDb(':memory:');
  const repo = new ServicesRepo(db);
  const add = (id: string, dep: string, doc: Record<string, unknown>) => {
    db.prepare(
      `INSERT INTO tasks (id, arn, cluster, family, task_definition_arn, desired_status, last_status, created_at, doc) VALUES (?, ?, 'default', 'f', 'td', ?, ?, ?, ?)`,
    ).run(id, `arn:${id}`, doc.desiredStatus, doc.lastStatus, doc.createdAt, JSON.stringify({ id, ...doc }));
    repo.addTask(id, 'svc-1', dep);
  };
  const hc = { command: ['CMD', 'true'], interval: 30, timeout: 5, retries: 3 };
  add('a', 'ecs-svc/1', {
    desiredStatus: 'RUNNING', lastStatus: 'RUNNING', createdAt: 1000, startedAt: 1500, capacityProviderName: 'FARGATE_SPOT',
    containers: [{ name: 'app', essential: true, healthCheck: hc, healthStatus: 'HEALTHY' }, { name: 'side', essential: false, healthCheck: hc, healthStatus: 'UNHEALTHY' }],
  });
  add('b', 'ecs-svc/1', {
    desiredStatus: 'RUNNING', lastStatus: 'PENDING', createdAt: 2000,
    containers: [{ name: 'app', essential: true, healthCheck: hc, healthStatus: 'UNHEALTHY' }],
  });
  add('c', 'ecs-svc/1', { desiredStatus: 'RUNNING', lastStatus: 'RUNNING', createdAt: 3000, containers: [{ name: 'app', essential: true }] });
  add('d', 'ecs-svc/0', {
    desiredStatus: 'STOPPED', lastStatus: 'STOPPED', createdAt: 500, stopCode: 'TaskFailedToStart', stoppedReason: 'CannotPullContainerError: nope',
    containers: [{ name: 'app', essential: true }],
  });
  const byId = (list: ReturnType<ServicesRepo['snapshotTasks']>) => Object.fromEntries(list.map((t) => [t.id, t]));
  const now = byId(repo.snapshotTasks('svc-1'));
  assert.deepEqual(Object.keys(now).sort(), ['a', 'b', 'c'], 'a STOPPED task of another deployment is not in the snapshot');
  assert.deepEqual(now.a, {
    id: 'a', deploymentId: 'ecs-svc/1', desiredStatus: 'RUNNING', lastStatus: 'RUNNING', healthStatus: 'HEALTHY', hasHealthCheck: true,
    capacityProviderName: 'FARGATE_SPOT', createdAt: 1000, startedAt: 1500, stopCode: undefined, stoppedReason: undefined,
  });
  assert.equal(now.b!.healthStatus, 'UNHEALTHY');
  assert.equal(now.c!.healthStatus, 'UNKNOWN');
  assert.equal(now.c!.hasHealthCheck, false);
  const withFailed = byId(repo.snapshotTasks('svc-1', 'ecs-svc/0'));
  assert.equal(withFailed.d!.stopCode, 'TaskFailedToStart', 'the stopped tasks of the deployment being rolled out are included');
  assert.equal(withFailed.d!.stoppedReason, 'CannotPullContainerError: nope');
});
