import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTargetEligible, targetsOf } from './targets.ts';
import type { ContainerRecord, TaskRecord } from '../model/task-record.ts';

type T = Pick<TaskRecord, 'id' | 'desiredStatus' | 'lastStatus' | 'containers' | 'network'>;
const c = (over: Partial<ContainerRecord> = {}) => ({ essential: true, ...over }) as ContainerRecord;
const task = (id: string, over: Partial<T> = {}): T => ({
  id,
  desiredStatus: 'RUNNING',
  lastStatus: 'RUNNING',
  containers: [c()],
  network: { ipv4: `10.0.0.${id.length}` } as TaskRecord['network'],
  ...over,
});
const hc = { command: ['CMD', 'true'], interval: 5, timeout: 2, retries: 1 };

test('RUNNING and desired RUNNING without a health check: a target', () => {
  assert.equal(isTargetEligible(task('a')), true);
  assert.equal(isTargetEligible(task('a', { lastStatus: 'PENDING' })), false, 'not yet running');
  assert.equal(isTargetEligible(task('a', { desiredStatus: 'STOPPED' })), false, 'being stopped: drained');
  assert.equal(isTargetEligible(task('a', { lastStatus: 'DEACTIVATING' })), false);
});

test('with a container health check only HEALTHY counts; non-essential checks do not', () => {
  assert.equal(isTargetEligible(task('a', { containers: [c({ healthCheck: hc })] })), false, 'UNKNOWN');
  assert.equal(isTargetEligible(task('a', { containers: [c({ healthCheck: hc, healthStatus: 'UNHEALTHY' })] })), false);
  assert.equal(isTargetEligible(task('a', { containers: [c({ healthCheck: hc, healthStatus: 'HEALTHY' })] })), true);
  assert.equal(isTargetEligible(task('a', { containers: [c(), c({ essential: false, healthCheck: hc, healthStatus: 'UNHEALTHY' })] })), true);
});

test('targets carry the task address and the entry container port, in a stable order', () => {
  assert.deepEqual(targetsOf([task('bb'), task('a'), task('ccc', { lastStatus: 'PENDING' })], 8080), [
    { id: 'a', host: '10.0.0.1', port: 8080 },
    { id: 'bb', host: '10.0.0.2', port: 8080 },
  ]);
});
