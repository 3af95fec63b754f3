import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveServerConfig } from './server-config.ts';

test('--bandwidth-scale: 1 by default; the flag over SKIFF_BANDWIDTH_SCALE; out of 0.001..10 refused with the fix', () => {
  assert.equal(resolveServerConfig({}, {}).bandwidth.scale, 1);
  assert.equal(resolveServerConfig({}, { SKIFF_BANDWIDTH_SCALE: '0.1' }).bandwidth.scale, 0.1);
  assert.equal(resolveServerConfig({ bandwidthScale: '0.02' }, { SKIFF_BANDWIDTH_SCALE: '0.1' }).bandwidth.scale, 0.02);
  for (const bad of ['0', '-1', '11', 'fast']) {
    assert.throws(() => resolveServerConfig({ bandwidthScale: bad }, {}), /--bandwidth-scale \/ SKIFF_BANDWIDTH_SCALE must be a number from 0\.001 to 10, e\.g\. 0\.1/);
  }
});
