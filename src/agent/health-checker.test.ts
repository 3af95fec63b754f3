import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HealthChecker, probeCommand } from './health-checker.ts';
import { taskHealth, type HealthStatus } from '../model/task-health.ts';
import type { ContainerRecord } from '../model/task-record.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function container(over: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    name: 'app', runtimeId: 'rt-app', arn: 'arn', image: 'img', essential: true, environment: [], cpu: 0, stopTimeoutSec: 2, dependsOn: [], lastStatus: 'RUNNING',
    healthCheck: { command: ['CMD-SHELL', 'true'], interval: 0.02, timeout: 1, retries: 2 },
    ...over,
  };
}

test('CMD runs the arguments, CMD-SHELL goes through /bin/sh -c', () => {
  assert.deepEqual(probeCommand(['CMD', 'test', '-f', '/ok']), ['test', '-f', '/ok']);
  assert.deepEqual(probeCommand(['CMD-SHELL', 'curl -f http://localhost/ || exit 1']), ['/bin/sh', '-c', 'curl -f http://localhost/ || exit 1']);
});

test('a pass makes the container HEALTHY; `retries` consecutive failures make it UNHEALTHY; probing stops with stopAll', async () => {
  let exitCode = 0;
  let probes = 0;
  const seen: HealthStatus[] = [];
  const checker = new HealthChecker({
    exec: async (id, args, timeoutMs) => {
      assert.equal(id, 'rt-app');
      assert.deepEqual(args, ['/bin/sh', '-c', 'true']);
      assert.equal(timeoutMs, 1000);
      probes++;
      return { exitCode };
    },
    running: () => true,
    record: (_name, s) => seen.push(s),
    log: () => {},
  });
  checker.watch(container());
  await sleep(80);
  assert.deepEqual(seen, ['HEALTHY']);
  exitCode = 1;
  await sleep(120);
  assert.deepEqual(seen, ['HEALTHY', 'UNHEALTHY']);
  checker.stopAll();
  const n = probes;
  await sleep(60);
  assert.equal(probes, n, 'no probe after stopAll');
});

test('failures within the start period do not count; a probe that throws is a failure', async () => {
  const seen: HealthStatus[] = [];
  const checker = new HealthChecker({
    exec: async () => {
      throw new Error('cannot exec');
    },
    running: () => true,
    record: (_n, s) => seen.push(s),
    log: () => {},
  });
  checker.watch(container({ healthCheck: { command: ['CMD', 'x'], interval: 0.01, timeout: 1, retries: 1, startPeriod: 0.15 } }));
  await sleep(100);
  assert.deepEqual(seen, [], 'inside the start period');
  await sleep(150);
  assert.deepEqual(seen, ['UNHEALTHY']);
  checker.stopAll();
});

test('task health follows its essential containers', () => {
  const hc = { command: ['CMD', 'x'], interval: 5, timeout: 2, retries: 1 };
  assert.equal(taskHealth({ containers: [container({ healthCheck: undefined })] }), 'UNKNOWN');
  assert.equal(taskHealth({ containers: [container({ healthCheck: hc, healthStatus: 'HEALTHY' }), container({ name: 'b', healthCheck: hc })] }), 'UNKNOWN');
  assert.equal(taskHealth({ containers: [container({ healthCheck: hc, healthStatus: 'HEALTHY' })] }), 'HEALTHY');
  assert.equal(taskHealth({ containers: [container({ healthCheck: hc, healthStatus: 'HEALTHY' }), container({ name: 'b', healthCheck: hc, healthStatus: 'UNHEALTHY' })] }), 'UNHEALTHY');
  assert.equal(
    taskHealth({ containers: [container({ healthCheck: hc, healthStatus: 'HEALTHY' }), container({ name: 'b', essential: false, healthCheck: hc, healthStatus: 'UNHEALTHY' })] }),
    'HEALTHY',
    'a non-essential container does not decide',
  );
});
