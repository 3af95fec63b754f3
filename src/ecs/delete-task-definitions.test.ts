import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TaskDefinition } from '@aws-sdk/client-ecs';
import { MISSING_REASON, STILL_ACTIVE_REASON, planDeleteTaskDefinitions, validateDeleteTaskDefinitions } from './delete-task-definitions.ts';
import { expectApiError } from '../../test/support/api-errors.ts';

const ARNS = { region: 'us-east-1', account: '123456789012', partition: 'aws' };
const ARN = (fr: string) => `arn:aws:ecs:us-east-1:123456789012:task-definition/${fr}`;

test('the request: 1 to 10 references, each with a revision, as family:revision or ARN; duplicates count once', () => {
  assert.deepEqual(validateDeleteTaskDefinitions({ taskDefinitions: ['web:1', ARN('web:2'), 'web:1'] }, ARNS), [
    { ref: 'web:1', family: 'web', revision: 1 },
    { ref: ARN('web:2'), family: 'web', revision: 2 },
  ]);
  expectApiError(() => validateDeleteTaskDefinitions({}, ARNS), 'InvalidParameterException', /taskDefinitions must list 1 to 10/);
  expectApiError(() => validateDeleteTaskDefinitions({ taskDefinitions: [] }, ARNS), 'InvalidParameterException', /1 to 10/);
  const eleven = Array.from({ length: 11 }, (_, i) => `web:${i + 1}`);
  expectApiError(() => validateDeleteTaskDefinitions({ taskDefinitions: eleven }, ARNS), 'InvalidParameterException', /at most 10 items; 11 given/);
  assert.equal(validateDeleteTaskDefinitions({ taskDefinitions: eleven.slice(0, 10) }, ARNS).length, 10);
  expectApiError(() => validateDeleteTaskDefinitions({ taskDefinitions: ['web'] }, ARNS), 'ClientException', /'web' has no revision/);
  expectApiError(() => validateDeleteTaskDefinitions({ taskDefinitions: [7] }, ARNS), 'InvalidParameterException', /list of strings/);
  expectApiError(() => validateDeleteTaskDefinitions({ taskDefinitions: ['web:0'] }, ARNS), 'ClientException', /Invalid revision number/);
  expectApiError(
    () => validateDeleteTaskDefinitions({ taskDefinitions: ['arn:aws:ecs:eu-west-1:123456789012:task-definition/web:1'] }, ARNS),
    'ClientException',
    /this endpoint serves region us-east-1/,
  );
});

test('INACTIVE revisions turn DELETE_IN_PROGRESS; ACTIVE and missing ones are failures; a repeat answers the revision unchanged', () => {
  const stored: Record<string, TaskDefinition> = {
    'web:1': { family: 'web', revision: 1, status: 'INACTIVE', taskDefinitionArn: ARN('web:1') },
    'web:2': { family: 'web', revision: 2, status: 'ACTIVE', taskDefinitionArn: ARN('web:2') },
    'web:3': { family: 'web', revision: 3, status: 'DELETE_IN_PROGRESS', taskDefinitionArn: ARN('web:3'), deleteRequestedAt: 5 as never },
  };
  const refs = validateDeleteTaskDefinitions({ taskDefinitions: ['web:1', 'web:2', 'web:3', 'web:9'] }, ARNS);
  const plan = planDeleteTaskDefinitions(refs, (f, r) => stored[`${f}:${r}`], 1000, ARNS);
  assert.deepEqual(plan.changed, [{ ...stored['web:1'], status: 'DELETE_IN_PROGRESS', deleteRequestedAt: 1000 }]);
  assert.deepEqual(
    plan.taskDefinitions.map((d) => [d.revision, d.status, d.deleteRequestedAt]),
    [
      [1, 'DELETE_IN_PROGRESS', 1000],
      [3, 'DELETE_IN_PROGRESS', 5],
    ],
  );
  assert.deepEqual(plan.failures, [
    { arn: ARN('web:2'), reason: STILL_ACTIVE_REASON },
    { arn: ARN('web:9'), reason: MISSING_REASON },
  ]);
  assert.equal(stored['web:1'].status, 'INACTIVE', 'the stored revision is not modified by planning');
});
