import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, resolveServerConfig } from './server-config.ts';

test('--overcommit / --reserved-memory: defaults 1.0 and 512 MiB; flags over the environment; bad values say what to give', () => {
  const base = resolveServerConfig({}, {});
  assert.equal(base.overcommit, 1);
  assert.equal(base.reservedMemoryMiB, 512);
  const set = resolveServerConfig({ overcommit: '2.5' }, { SKIFF_OVERCOMMIT: '4', SKIFF_RESERVED_MEMORY_MIB: '2048' });
  assert.equal(set.overcommit, 2.5);
  assert.equal(set.reservedMemoryMiB, 2048);
  for (const bad of ['0', '-1', 'lots', '101', '']) {
    assert.throws(() => resolveServerConfig({ overcommit: bad }, {}), (e: Error) => e instanceof ConfigError && /--overcommit \/ SKIFF_OVERCOMMIT must be a ratio from 0.1 to 100/.test(e.message), bad);
  }
  assert.throws(() => resolveServerConfig({}, { SKIFF_RESERVED_MEMORY_MIB: '1.5' }), /--reserved-memory \/ SKIFF_RESERVED_MEMORY_MIB must be a whole number of MiB/);
});
