import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveServerConfig, ConfigError } from './server-config.ts';

test('server config: --task-host-port over SKIFF_TASK_HOST_PORTS, none by default, bad values are a ConfigError', () => {
  assert.deepEqual(resolveServerConfig({}, {}).taskHostPorts, []);
  assert.deepEqual(resolveServerConfig({}, { SKIFF_TASK_HOST_PORTS: '5432/tcp,8125/udp' }).taskHostPorts, [
    { port: 5432, protocol: 'tcp' },
    { port: 8125, protocol: 'udp' },
  ]);
  assert.deepEqual(resolveServerConfig({ taskHostPort: ['6379/tcp'] }, { SKIFF_TASK_HOST_PORTS: '5432/tcp' }).taskHostPorts, [{ port: 6379, protocol: 'tcp' }]);
  assert.throws(() => resolveServerConfig({ taskHostPort: ['5432/icmp'] }, {}), (e: Error) => e instanceof ConfigError && /--task-host-port.*"5432\/icmp" is not a host port/.test(e.message));
});
