import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interruptionProbability } from './spot.ts';
import { serviceSettingsFromEnv } from './settings.ts';

test('interruption probability: a Poisson rate per Spot task-hour', () => {
  assert.equal(interruptionProbability(0, 1000), 0);
  assert.equal(interruptionProbability(1, 0), 0);
  assert.ok(Math.abs(interruptionProbability(1, 3_600_000) - (1 - Math.exp(-1))) < 1e-12);
  assert.ok(interruptionProbability(3600, 1000) > 0.63 && interruptionProbability(3600, 1000) < 0.64, 'one per second on average');
});

test('service settings from the environment: defaults, values, all problems at once', () => {
  assert.deepEqual(serviceSettingsFromEnv({}), { intervalMs: 1000, maxStartsPerPass: 50, spotWarningMs: 120_000, spotInterruptionRatePerHour: 0 });
  assert.equal(serviceSettingsFromEnv({ SKIFF_SPOT_WARNING_MS: '3000' }).spotWarningMs, 3000);
  assert.throws(() => serviceSettingsFromEnv({ SKIFF_SERVICE_INTERVAL_MS: 'x', SKIFF_SPOT_INTERRUPTION_RATE: '-1' }), /SKIFF_SERVICE_INTERVAL_MS[\s\S]*SKIFF_SPOT_INTERRUPTION_RATE/);
});
