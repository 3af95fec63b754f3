import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskRecord } from '../model/task-record.ts';
import { PlatformMetrics } from './platform-metrics.ts';
import { parseExposition, samplesOf } from './text-format.ts';
import { externalTotals, parseNetDev } from './task-resources.ts';
import { InstrumentedImageStore } from './observers.ts';
import type { PulledImage } from '../images/images.ts';

function task(over: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: 'a'.repeat(32), arn: 'arn', clusterName: 'default', clusterArn: 'c', taskDefinitionArn: 'td', family: 'web', revision: 1,
    cpu: 512, memory: 1024, ephemeralStorageGiB: 20, cpuArchitecture: 'X86_64', containers: [], overrides: {}, group: 'service:api',
    launchType: 'FARGATE', capacityProviderName: 'FARGATE', availabilityZone: 'a', desiredStatus: 'RUNNING', lastStatus: 'PENDING', createdAt: 10_000,
    network: { attachmentId: 'x', subnetId: 's', vpcId: 'v', ipv4: '10.0.0.2', status: 'ATTACHED' }, timings: [], version: 1, ...over,
  };
}

test('/proc/net/dev text becomes counters per interface; totals leave loopback out', () => {
  const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0
  eth0:    5000      40    1    2    0     0          0         0     3000      30    0    3    0     0       0          0
`;
  const m = parseNetDev(text);
  assert.deepEqual(m.get('eth0'), { rxBytes: 5000, rxPackets: 40, rxErrors: 1, rxDropped: 2, txBytes: 3000, txPackets: 30, txErrors: 0, txDropped: 3 });
  assert.equal(externalTotals(m).rxBytes, 5000);
});

test('task transitions, pulls and requests become counters and histograms in a valid exposition', async () => {
  const m = new PlatformMetrics(5_000);
  m.observeTask(task({ lastStatus: 'PENDING' }));
  m.observeTask(task({ lastStatus: 'RUNNING', startedAt: 10_250 }));
  m.observeTask(task({ lastStatus: 'RUNNING', startedAt: 10_250 })); // an update that is not a transition
  m.observeTask(task({ id: 'b'.repeat(32), lastStatus: 'RUNNING', createdAt: 1000, startedAt: 2000 })); // adopted: started before `since`
  m.observeTask(task({ id: 'c'.repeat(32), lastStatus: 'STOPPED', stopCode: 'TaskFailedToStart', stoppedAt: 11_000 }));
  m.observePull({ outcome: 'success', cacheHit: true, downloadedBytes: 0, seconds: 0.001 });
  m.observePull({ outcome: 'success', cacheHit: false, downloadedBytes: 4096, seconds: 0.2 });
  m.observeRequest({ operation: 'RunTask', status: 200, seconds: 0.01 });
  m.observeRequest({ operation: 'RunTask', errorType: 'ClientException', status: 400, seconds: 0.002 });
  const t = task({ lastStatus: 'RUNNING', containers: [] });
  m.setTasks([t, task({ id: 'd'.repeat(32), clusterName: 'prod' })], [
    { task: t, usage: { cpuUsageUs: 1_500_000, workingSetBytes: 2048, rssBytes: 1024, cacheBytes: 0 }, network: { rxBytes: 10, txBytes: 20, rxPackets: 1, txPackets: 2, rxErrors: 0, txErrors: 0, rxDropped: 0, txDropped: 0 },
      containers: [{ name: 'app', usage: { cpuUsageUs: 1_000_000, workingSetBytes: 1000, rssBytes: 500, cacheBytes: 0 }, writableLayerBytes: 8192 }] },
  ]);
  const f = parseExposition(await m.text());
  assert.deepEqual(samplesOf(f, 'skiff_task_starts_total').map((s) => [s.labels.outcome, s.value]).sort(), [['failed', 1], ['started', 1]]);
  assert.equal(samplesOf(f, 'skiff_task_start_latency_seconds_count')[0].value, 1);
  assert.equal(samplesOf(f, 'skiff_task_start_latency_seconds_sum')[0].value, 0.25);
  assert.equal(samplesOf(f, 'skiff_task_stops_total', { stop_code: 'TaskFailedToStart' })[0].value, 1);
  assert.equal(samplesOf(f, 'skiff_image_pulls_total', { outcome: 'success' })[0].value, 2);
  assert.equal(samplesOf(f, 'skiff_image_cache_hits_total')[0].value, 1);
  assert.equal(samplesOf(f, 'skiff_image_pull_downloaded_bytes_total')[0].value, 4096);
  assert.equal(samplesOf(f, 'skiff_api_requests_total', { operation: 'RunTask', error_type: 'ClientException' })[0].value, 1);
  assert.equal(samplesOf(f, 'skiff_api_requests_total', { operation: 'RunTask', error_type: '' })[0].value, 1);
  assert.equal(samplesOf(f, 'skiff_tasks', { cluster: 'default', state: 'RUNNING' })[0].value, 1);
  assert.equal(samplesOf(f, 'skiff_tasks', { cluster: 'prod', state: 'PENDING' })[0].value, 1);
  assert.equal(samplesOf(f, 'skiff_tasks', { cluster: 'prod', state: 'RUNNING' })[0].value, 0);
  const labels = { task_id: t.id, cluster: 'default', family: 'web', service: 'api' };
  assert.deepEqual(samplesOf(f, 'skiff_task_cpu_seconds_total')[0].labels, labels);
  assert.equal(samplesOf(f, 'skiff_task_cpu_seconds_total')[0].value, 1.5);
  assert.equal(f.get('skiff_task_cpu_seconds_total')!.type, 'counter');
  assert.equal(samplesOf(f, 'skiff_task_memory_limit_bytes')[0].value, 1024 ** 3);
  assert.equal(samplesOf(f, 'skiff_task_network_transmit_bytes_total')[0].value, 20);
  assert.equal(samplesOf(f, 'skiff_container_storage_writable_bytes', { container: 'app' })[0].value, 8192);
  assert.equal(samplesOf(f, 'skiff_task_storage_writable_bytes')[0].value, 8192);

  // A scrape after the task stopped drops its series.
  m.setTasks([], []);
  const g = parseExposition(await m.text());
  assert.equal(samplesOf(g, 'skiff_task_cpu_seconds_total').length, 0);
  assert.equal(samplesOf(g, 'skiff_tasks', { cluster: 'default', state: 'RUNNING' })[0].value, 0);
});

test('the strict parser refuses what Prometheus would refuse', () => {
  assert.throws(() => parseExposition('x 1\n'), /no # TYPE/);
  assert.throws(() => parseExposition('# TYPE x gauge\nx{a="1} 1\n'), /unterminated|expected/);
  assert.throws(() => parseExposition('# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2\n'), /repeated/);
  assert.throws(() => parseExposition('# TYPE x gauge\nx one\n'), /bad value/);
  assert.throws(() => parseExposition('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'), /cumulative/);
  assert.throws(() => parseExposition('# TYPE x gauge\nx 1'), /newline/);
  const ok = parseExposition('# HELP x a "help"\n# TYPE x gauge\nx{a="q\\"\\\\\\n"} 1.5e3 123\n');
  assert.deepEqual(samplesOf(ok, 'x')[0], { name: 'x', labels: { a: 'q"\\\n' }, value: 1500 });
});

test('the instrumented image store reports pulls, cache hits and progress in flight', async () => {
  const seen: unknown[] = [];
  let release!: () => void;
  const inner = {
    pull: async (_ref: string, opts: { onProgress?: (p: { downloadedBytes: number; totalBytes: number }) => void } = {}) => {
      opts.onProgress?.({ downloadedBytes: 100, totalBytes: 400 });
      await new Promise<void>((r) => (release = r));
      return { downloadedBytes: 400, cachedLayers: 0, layerCount: 1 } as PulledImage;
    },
  };
  const store = new InstrumentedImageStore(inner, (p) => seen.push(p), () => 42);
  const pulling = store.pull('r/x:1');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(store.inFlight(), [{ reference: 'r/x:1', startedAt: 42, downloadedBytes: 100, totalBytes: 400 }]);
  release();
  await pulling;
  assert.deepEqual(store.inFlight(), []);
  assert.equal((seen[0] as { cacheHit: boolean }).cacheHit, false);
});
