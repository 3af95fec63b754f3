import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_ACCOUNT,
  DEFAULT_REGION,
  clusterArn,
  containerArn,
  newContainerId,
  newTaskId,
  parseArn,
  parseContainerArn,
  parseServiceRef,
  parseTaskDefinitionRef,
  parseTaskRef,
  resolveClusterName,
  serviceArn,
  taskArn,
  taskDefinitionArn,
  tryParseTaskRef,
  validateClusterName,
  validateContainerName,
  validateFamily,
  validateServiceName,
} from './arns.ts';
import { expectApiError } from '../../test/support/api-errors.ts';


const P = `arn:aws:ecs:${DEFAULT_REGION}:${DEFAULT_ACCOUNT}:`;
const ID = '0123456789abcdef0123456789abcdef';
const other = { region: 'eu-west-1', account: '111122223333' };

test('defaults', () => {
  assert.equal(DEFAULT_REGION, 'us-east-1');
  assert.equal(DEFAULT_ACCOUNT, '123456789012');
});

test('builders', () => {
  assert.equal(clusterArn('web'), `${P}cluster/web`);
  assert.equal(taskArn('web', ID), `${P}task/web/${ID}`);
  assert.equal(taskDefinitionArn('api', 3), `${P}task-definition/api:3`);
  assert.equal(containerArn('web', ID, 'c0ffee'), `${P}container/web/${ID}/c0ffee`);
  assert.equal(serviceArn('web', 'front'), `${P}service/web/front`);
  assert.equal(clusterArn('x', other), 'arn:aws:ecs:eu-west-1:111122223333:cluster/x');
  assert.match(newTaskId(), /^[0-9a-f]{32}$/);
  assert.notEqual(newTaskId(), newTaskId());
  assert.match(newContainerId(), /^[0-9a-f-]{36}$/);
});

test('parseArn', () => {
  assert.deepEqual(parseArn(`${P}task-definition/api:3`), {
    partition: 'aws', service: 'ecs', region: 'us-east-1', account: '123456789012', resource: 'task-definition/api:3', resourceType: 'task-definition',
  });
  assert.equal(parseArn('cluster/x'), undefined);
  assert.equal(parseArn('arn:aws:ecs'), undefined);
});

test('resolveClusterName: absent is default; names and ARNs; bad input rejected', () => {
  assert.equal(resolveClusterName(undefined), 'default');
  assert.equal(resolveClusterName(''), 'default');
  assert.equal(resolveClusterName('my_cluster-1'), 'my_cluster-1');
  assert.equal(resolveClusterName(`${P}cluster/prod`), 'prod');
  assert.equal(resolveClusterName('a'.repeat(255)), 'a'.repeat(255));
  expectApiError(() => resolveClusterName('a'.repeat(256)), 'InvalidParameterException', /Up to 255 letters/);
  expectApiError(() => resolveClusterName('my cluster'), 'InvalidParameterException', /Cluster name "my cluster" is not valid/);
  expectApiError(() => resolveClusterName(`${P}service/prod/x`), 'InvalidParameterException', /Cluster ARN .* is not valid/);
  expectApiError(() => resolveClusterName(`${P}cluster/`), 'InvalidParameterException');
  expectApiError(
    () => resolveClusterName('arn:aws:ecs:eu-west-1:111122223333:cluster/prod'),
    'InvalidParameterException',
    /region eu-west-1, account 111122223333; this endpoint serves region us-east-1, account 123456789012/,
  );
  assert.equal(resolveClusterName('arn:aws:ecs:eu-west-1:111122223333:cluster/prod', other), 'prod');
});

test('name validators', () => {
  assert.equal(validateClusterName('abc'), 'abc');
  assert.equal(validateFamily('web-app_2'), 'web-app_2');
  expectApiError(() => validateFamily(''), 'ClientException', /Family is required/);
  expectApiError(() => validateFamily(undefined), 'ClientException', /Family is required/);
  expectApiError(() => validateFamily('web.app'), 'ClientException', /Family contains invalid characters/);
  expectApiError(() => validateFamily('x'.repeat(256)), 'ClientException', /Family contains invalid characters/);
  assert.equal(validateContainerName('app'), 'app');
  expectApiError(() => validateContainerName(''), 'ClientException', /Container.name should not be null or empty/);
  expectApiError(() => validateContainerName('my app'), 'ClientException', /Container.name contains invalid characters/);
  assert.equal(validateServiceName('front'), 'front');
  expectApiError(() => validateServiceName('front/end'), 'InvalidParameterException');
});

test('parseTaskRef: id, new ARN, old ARN', () => {
  assert.deepEqual(parseTaskRef(undefined, ID), { cluster: 'default', taskId: ID, arn: `${P}task/default/${ID}` });
  assert.deepEqual(parseTaskRef('web', ID), { cluster: 'web', taskId: ID, arn: `${P}task/web/${ID}` });
  assert.deepEqual(parseTaskRef(`${P}cluster/web`, `${P}task/web/${ID}`), { cluster: 'web', taskId: ID, arn: `${P}task/web/${ID}` });
  // The ARN names its own cluster: the caller sees the mismatch.
  assert.equal(parseTaskRef('web', `${P}task/other/${ID}`).cluster, 'other');
  // Old format: task/<id>, cluster from context.
  assert.deepEqual(parseTaskRef('web', `${P}task/${ID}`), { cluster: 'web', taskId: ID, arn: `${P}task/web/${ID}` });
  expectApiError(() => parseTaskRef('web', 'nothex'), 'InvalidParameterException', /32-character task id/);
  expectApiError(() => parseTaskRef('web', ''), 'InvalidParameterException');
  expectApiError(() => parseTaskRef('web', `${P}task/web/${ID}/extra`), 'InvalidParameterException');
  expectApiError(() => parseTaskRef('web', `${P}cluster/web`), 'InvalidParameterException');
  assert.equal(tryParseTaskRef('web', 'nope'), undefined);
  assert.equal(tryParseTaskRef('web', ID)?.taskId, ID);
});

test('parseTaskDefinitionRef: family, family:rev, ARN', () => {
  assert.deepEqual(parseTaskDefinitionRef('api'), { family: 'api' });
  assert.deepEqual(parseTaskDefinitionRef('api:12'), { family: 'api', revision: 12 });
  assert.deepEqual(parseTaskDefinitionRef(`${P}task-definition/api:3`), { family: 'api', revision: 3 });
  expectApiError(() => parseTaskDefinitionRef(''), 'ClientException', /TaskDefinition can not be blank/);
  expectApiError(() => parseTaskDefinitionRef(undefined), 'ClientException', /can not be blank/);
  expectApiError(() => parseTaskDefinitionRef('api:latest'), 'ClientException', /Invalid revision number. Number: latest/);
  expectApiError(() => parseTaskDefinitionRef('api:0'), 'ClientException', /Invalid revision number/);
  expectApiError(() => parseTaskDefinitionRef('api:'), 'ClientException', /Invalid revision number/);
  expectApiError(() => parseTaskDefinitionRef('my api'), 'ClientException', /family "my api" is not valid/);
  expectApiError(() => parseTaskDefinitionRef(`${P}task-definition/api`), 'ClientException', /has no revision/);
  expectApiError(() => parseTaskDefinitionRef(`${P}cluster/api`), 'ClientException', /not valid/);
  expectApiError(() => parseTaskDefinitionRef('arn:aws:ecs:eu-west-1:111122223333:task-definition/api:1'), 'ClientException', /this endpoint serves/);
});

test('parseServiceRef and parseContainerArn', () => {
  assert.deepEqual(parseServiceRef(undefined, 'front'), { cluster: 'default', service: 'front', arn: `${P}service/default/front` });
  assert.deepEqual(parseServiceRef('x', `${P}service/web/front`), { cluster: 'web', service: 'front', arn: `${P}service/web/front` });
  assert.deepEqual(parseServiceRef('web', `${P}service/front`), { cluster: 'web', service: 'front', arn: `${P}service/web/front` });
  expectApiError(() => parseServiceRef('web', ''), 'InvalidParameterException');
  expectApiError(() => parseServiceRef('web', 'bad name'), 'InvalidParameterException');
  assert.deepEqual(parseContainerArn(`${P}container/web/${ID}/c0ffee-1`), { cluster: 'web', taskId: ID, containerId: 'c0ffee-1' });
  expectApiError(() => parseContainerArn(`${P}container/web/${ID}`), 'InvalidParameterException');
});

test('parseTaskRef answers from memory for a reference it parsed before, and still refuses bad ones every time', () => {
  const id = 'a'.repeat(32);
  const first = parseTaskRef('c1', id);
  assert.equal(parseTaskRef('c1', id), first, 'the same (frozen) answer');
  assert.ok(Object.isFrozen(first));
  assert.equal(parseTaskRef('c2', id).cluster, 'c2', 'keyed on the cluster too');
  assert.throws(() => parseTaskRef('c1', [id] as unknown as string), /not a valid task id/, 'a non-string that prints like a cached reference is still refused');
  assert.throws(() => parseTaskRef('c1', 'nope'), /not a valid task id/);
  assert.throws(() => parseTaskRef('c1', 'nope'), /not a valid task id/);
});
