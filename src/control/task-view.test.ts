import { test } from 'node:test';
import assert from 'node:assert/strict';
import { overridesView } from './task-view.ts';
import { missingServiceArn } from './services.ts';

const containers = [{ name: 'app' }, { name: 'side' }] as Parameters<typeof overridesView>[0]['containers'];

test('overridesView lists every container by name, in task definition order, with its overrides', () => {
  assert.deepEqual(overridesView({ containers, overrides: {} }), { inferenceAcceleratorOverrides: [], containerOverrides: [{ name: 'app' }, { name: 'side' }] });
  const given = { cpu: '512', containerOverrides: [{ name: 'side', command: ['x'] }] };
  assert.deepEqual(overridesView({ containers, overrides: given }), {
    inferenceAcceleratorOverrides: [],
    cpu: '512',
    containerOverrides: [{ name: 'app' }, { name: 'side', command: ['x'] }],
  });
});

test('missingServiceArn: a name becomes service/NAME (no cluster), an ARN stays as sent', () => {
  const arns = { region: 'eu-west-1', account: '123456789012' };
  assert.equal(missingServiceArn('web', arns), 'arn:aws:ecs:eu-west-1:123456789012:service/web');
  assert.equal(missingServiceArn('arn:aws:ecs:eu-west-1:123456789012:service/c/web', arns), 'arn:aws:ecs:eu-west-1:123456789012:service/c/web');
});
