import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, resolveServerConfig } from './server-config.ts';

test('every SKIFF_* setting is resolved once into one frozen configuration', () => {
  const c = resolveServerConfig(
    { dataDir: '/tmp/skiff-config-test', host: '127.0.0.2' },
    { SKIFF_SERVICE_MAX_STARTS: '7', SKIFF_LOGS_MAX_BYTES: '2097152', SKIFF_METADATA_PORT: '51679', SKIFF_LB_SYNC_INTERVAL_MS: '100', SKIFF_AUTOSCALING_INTERVAL_MS: '60' },
  );
  assert.equal(c.services.maxStartsPerPass, 7);
  assert.equal(c.logs.totalMaxBytes, 2097152);
  assert.equal(c.metadata.port, 51679);
  assert.deepEqual(c.loadBalancers, { host: '127.0.0.2', deregistrationDelaySeconds: 300, syncIntervalMs: 100 });
  assert.equal(c.autoscaling.intervalMs, 60);
  assert.deepEqual(c.metrics, {});
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.services) && Object.isFrozen(c.logs) && Object.isFrozen(c.loadBalancers));
});

test('problems of every part are reported together, each naming its setting', () => {
  assert.throws(
    () =>
      resolveServerConfig(
        { port: 0 },
        {
          SKIFF_WARM_POOL_SIZE: '-1',
          SKIFF_SERVICE_INTERVAL_MS: 'x',
          SKIFF_LOGS_SHIP_INTERVAL_MS: '1',
          SKIFF_METRICS_TOKEN: 'short',
          SKIFF_METADATA_PORT: '70000',
          SKIFF_LB_SYNC_INTERVAL_MS: '0',
          SKIFF_AUTOSCALING_PERIOD_MS: '1',
          SKIFF_MIN_FREE_MIB: 'lots',
        },
      ),
    (e: Error) => {
      assert.ok(e instanceof ConfigError);
      for (const name of ['--port', 'SKIFF_WARM_POOL_SIZE', 'SKIFF_SERVICE_INTERVAL_MS', 'SKIFF_LOGS_SHIP_INTERVAL_MS', 'metrics token', 'SKIFF_METADATA_PORT', 'SKIFF_LB_SYNC_INTERVAL_MS', 'SKIFF_AUTOSCALING_PERIOD_MS', 'SKIFF_MIN_FREE_MIB']) {
        assert.ok(e.message.includes(name), `${name} missing from:\n${e.message}`);
      }
      assert.equal(e.message.split('\n').length, 9, 'one line per problem');
      return true;
    },
  );
});
