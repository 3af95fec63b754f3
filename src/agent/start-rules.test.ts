import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dependencyVerdict, stopWaves } from './start-rules.ts';
import type { ContainerRecord } from '../model/task-record.ts';

const c = (name: string, dependsOn: ContainerRecord['dependsOn'] = [], over: Partial<ContainerRecord> = {}) => ({ name, dependsOn, lastStatus: 'PENDING', ...over }) as ContainerRecord;

test('stopWaves: dependents stop before what they depend on; independent containers stop together', () => {
  const app = c('app', [{ containerName: 'db', condition: 'HEALTHY' }, { containerName: 'proxy', condition: 'START' }]);
  const sidecar = c('sidecar', [{ containerName: 'app', condition: 'START' }]);
  assert.deepEqual(stopWaves([c('db'), c('proxy'), app, sidecar]), [['sidecar'], ['app'], ['db', 'proxy']]);
  assert.deepEqual(stopWaves([c('a'), c('b')]), [['a', 'b']]);
});

test('dependencyVerdict: START, COMPLETE, SUCCESS and HEALTHY conditions', () => {
  const dep = (over: Partial<ContainerRecord>) => new Map([['d', c('d', [], over)]]);
  const on = (condition: ContainerRecord['dependsOn'][number]['condition']) => c('x', [{ containerName: 'd', condition }]);
  assert.equal(dependencyVerdict(on('START'), dep({ lastStatus: 'PENDING' })), 'wait');
  assert.equal(dependencyVerdict(on('START'), dep({ lastStatus: 'RUNNING' })), 'ready');
  assert.equal(dependencyVerdict(on('COMPLETE'), dep({ lastStatus: 'RUNNING' })), 'wait');
  assert.equal(dependencyVerdict(on('SUCCESS'), dep({ lastStatus: 'STOPPED', exitCode: 1 })), 'failed');
  assert.equal(dependencyVerdict(on('SUCCESS'), dep({ lastStatus: 'STOPPED', exitCode: 0 })), 'ready');
  assert.equal(dependencyVerdict(on('HEALTHY'), dep({ lastStatus: 'RUNNING', healthStatus: 'UNHEALTHY' })), 'failed');
  assert.equal(dependencyVerdict(on('HEALTHY'), dep({ lastStatus: 'RUNNING', healthStatus: 'HEALTHY' })), 'ready');
  assert.equal(dependencyVerdict(on('START'), new Map()), 'failed', 'a dependency that does not exist never starts');
});
