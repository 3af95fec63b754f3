import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ContainerStatus,
  DesiredStatus,
  StopCode,
  TASK_STATUS_ORDER,
  TaskStatus,
  canChangeDesiredStatus,
  canContainerTransition,
  canTransition,
  hasReached,
  isStopping,
  isTaskStatus,
  isTerminal,
  nextStatuses,
  taskStatusRank,
} from './task-status.ts';

test('the order is the ECS lifecycle', () => {
  assert.deepEqual(TASK_STATUS_ORDER, ['PROVISIONING', 'PENDING', 'ACTIVATING', 'RUNNING', 'DEACTIVATING', 'STOPPING', 'DEPROVISIONING', 'STOPPED']);
  assert.deepEqual(Object.values(TaskStatus), TASK_STATUS_ORDER);
  TASK_STATUS_ORDER.forEach((s, i) => assert.equal(taskStatusRank(s), i));
});

test('walk the table: every pair, forward only, skipping allowed', () => {
  let allowed = 0;
  for (const from of TASK_STATUS_ORDER) {
    for (const to of TASK_STATUS_ORDER) {
      const expected = TASK_STATUS_ORDER.indexOf(to) > TASK_STATUS_ORDER.indexOf(from);
      assert.equal(canTransition(from, to), expected, `${from} -> ${to}`);
      if (expected) allowed++;
    }
    assert.deepEqual(nextStatuses(from), TASK_STATUS_ORDER.filter((to) => canTransition(from, to)));
  }
  assert.equal(allowed, (8 * 7) / 2);
});

test('the paths ECS tasks take are valid', () => {
  const happy = TASK_STATUS_ORDER;
  for (let i = 1; i < happy.length; i++) assert.ok(canTransition(happy[i - 1], happy[i]));
  // Failed to start while pending: straight to stopping/stopped.
  assert.ok(canTransition('PENDING', 'STOPPED'));
  assert.ok(canTransition('PROVISIONING', 'DEPROVISIONING'));
  assert.ok(canTransition('ACTIVATING', 'STOPPING'));
  // Never backwards, never in place.
  assert.ok(!canTransition('RUNNING', 'PENDING'));
  assert.ok(!canTransition('STOPPED', 'RUNNING'));
  assert.ok(!canTransition('RUNNING', 'RUNNING'));
  assert.deepEqual(nextStatuses('STOPPED'), []);
});

test('reached/terminal/stopping are comparisons', () => {
  assert.ok(hasReached('RUNNING', 'RUNNING'));
  assert.ok(hasReached('STOPPING', 'RUNNING'));
  assert.ok(!hasReached('ACTIVATING', 'RUNNING'));
  assert.ok(isTerminal('STOPPED') && !isTerminal('DEPROVISIONING'));
  assert.ok(isStopping('DEACTIVATING') && isStopping('STOPPED') && !isStopping('RUNNING'));
  assert.ok(isTaskStatus('PENDING') && !isTaskStatus('pending') && !isTaskStatus(3));
  assert.throws(() => taskStatusRank('NOPE' as TaskStatus));
});

test('container and desired statuses', () => {
  assert.deepEqual(Object.values(ContainerStatus), ['PENDING', 'RUNNING', 'STOPPED']);
  assert.ok(canContainerTransition('PENDING', 'RUNNING'));
  assert.ok(canContainerTransition('PENDING', 'STOPPED'));
  assert.ok(canContainerTransition('RUNNING', 'STOPPED'));
  assert.ok(!canContainerTransition('STOPPED', 'RUNNING'));
  assert.ok(!canContainerTransition('RUNNING', 'PENDING'));
  assert.ok(canChangeDesiredStatus(DesiredStatus.RUNNING, DesiredStatus.STOPPED));
  assert.ok(!canChangeDesiredStatus(DesiredStatus.STOPPED, DesiredStatus.RUNNING));
});

test('stop codes', () => {
  assert.deepEqual(Object.values(StopCode).sort(), [
    'EssentialContainerExited', 'ServiceSchedulerInitiated', 'SpotInterruption', 'TaskFailedToStart', 'TerminationNotice', 'UserInitiated',
  ]);
});
