import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interruptionProbability } from './spot.ts';

test('interruption probability: a Poisson rate per Spot task-hour', () => {
  assert.equal(interruptionProbability(0, 1000), 0);
  assert.equal(interruptionProbability(1, 0), 0);
  assert.ok(Math.abs(interruptionProbability(1, 3_600_000) - (1 - Math.exp(-1))) < 1e-12);
  assert.ok(interruptionProbability(3600, 1000) > 0.63 && interruptionProbability(3600, 1000) < 0.64, 'one per second on average');
});
