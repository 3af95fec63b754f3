/**
 * /metrics against a real server and a real task: the exposition parses
 * strictly, the task's CPU, memory, network and storage series exist with the
 * right labels and sensible values, platform counters moved, and the endpoint
 * answers a bearer token or a SigV4 signature and nothing else.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { TEST_ROOT_KEY, waitFor, type TestServer } from './support/skiff-server.ts';
import { startBusyboxStack, type BusyboxStack } from './support/stack.ts';
import { ipOf, registerFamily, runOne, tcpRead, waitTaskStatus } from './support/tasks.ts';
import { signedFetch } from '../src/cli/client.ts';
import { parseExposition, samplesOf, type MetricFamily } from '../src/metrics/text-format.ts';

const TOKEN = 'metrics-test-token-0123456789';
let stack: BusyboxStack;
let server: TestServer;
let image: string;

before(async () => {
  stack = await startBusyboxStack('test/busybox:metrics', { env: { SKIFF_METRICS_TOKEN: TOKEN } });
  ({ server, image } = stack);
});
after(() => stack?.stop());

async function scrape(): Promise<Map<string, MetricFamily>> {
  const res = await fetch(`${server.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

test('a running task has CPU, memory, network and storage series with its labels; platform counters count its start', async () => {
  const ecs = server.ecs();
  await registerFamily(ecs, 'metered', [{
    name: 'app', image, essential: true, stopTimeout: 2,
    // 3 MiB in the writable layer, some CPU, a listener the test talks to, ~8 MiB of memory held by a shell variable.
    command: ['sh', '-c', 'dd if=/dev/zero of=/blob bs=1024 count=3072 2>/dev/null; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; x=$(head -c 8000000 /dev/zero | tr "\\0" a); while true; do echo pong | nc -l -p 7070; done'],
  }]);
  const arn = (await runOne(ecs, 'metered')).taskArn!;
  const id = arn.split('/').pop()!;
  const t = await waitTaskStatus(ecs, arn, 'RUNNING');
  // nc answers one connection at a time: retry until it listens again.
  for (let i = 0; i < 3; i++) await waitFor('the task answering', async () => (await tcpRead(ipOf(t)!, 7070)).trim() === 'pong', 30_000);

  const labels = { task_id: id, cluster: 'default', family: 'metered', service: '' };
  const f = await waitFor('the task writing its blob and holding its memory', async () => {
    const f = await scrape();
    const storage = samplesOf(f, 'skiff_task_storage_writable_bytes', { task_id: id })[0]?.value ?? 0;
    const mem = samplesOf(f, 'skiff_task_memory_working_set_bytes', { task_id: id })[0]?.value ?? 0;
    return storage >= 3 * 1024 * 1024 && mem >= 8_000_000 ? f : undefined;
  }, 30_000);

  const one = (name: string, match: Record<string, string> = { task_id: id }) => {
    const s = samplesOf(f, name, match);
    assert.equal(s.length, 1, `${name}${JSON.stringify(match)}: ${s.length} series`);
    return s[0];
  };
  assert.deepEqual(one('skiff_task_cpu_seconds_total').labels, labels);
  assert.equal(f.get('skiff_task_cpu_seconds_total')!.type, 'counter');
  const cpu = one('skiff_task_cpu_seconds_total').value;
  assert.ok(cpu > 0 && cpu < 60, `cpu ${cpu} s`);
  assert.equal(one('skiff_task_cpu_limit_vcpus').value, 0.25);
  assert.equal(one('skiff_task_memory_limit_bytes').value, 512 * 1024 * 1024);
  const mem = one('skiff_task_memory_working_set_bytes').value;
  assert.ok(mem >= 8_000_000 && mem < 512 * 1024 * 1024, `memory ${mem}`);
  const rx = one('skiff_task_network_receive_bytes_total').value;
  const tx = one('skiff_task_network_transmit_bytes_total').value;
  assert.ok(rx > 0 && tx >= 3 * 'pong\n'.length, `rx ${rx} tx ${tx}`);
  assert.ok(one('skiff_task_network_receive_packets_total').value >= 3);
  const storage = one('skiff_task_storage_writable_bytes').value;
  assert.ok(storage >= 3 * 1024 * 1024 && storage < 16 * 1024 * 1024, `storage ${storage}`);
  assert.equal(one('skiff_task_storage_limit_bytes').value, 20 * 1024 ** 3);

  const c = { task_id: id, container: 'app' };
  assert.deepEqual(one('skiff_container_cpu_seconds_total', c).labels, { ...labels, container: 'app' });
  assert.ok(one('skiff_container_cpu_seconds_total', c).value <= cpu);
  assert.ok(one('skiff_container_memory_working_set_bytes', c).value >= 8_000_000);
  assert.equal(one('skiff_container_storage_writable_bytes', c).value, storage);

  assert.equal(one('skiff_tasks', { cluster: 'default', state: 'RUNNING' }).value, 1);
  assert.equal(one('skiff_task_starts_total', { outcome: 'started' }).value, 1);
  assert.equal(one('skiff_task_start_latency_seconds_count', {}).value, 1);
  const latency = one('skiff_task_start_latency_seconds_sum', {}).value;
  assert.ok(latency > 0 && latency < 30, `start latency ${latency}`);
  assert.equal(one('skiff_image_pulls_total', { outcome: 'success' }).value, 1);
  assert.equal(samplesOf(f, 'skiff_image_cache_hits_total')[0].value, 0, 'the first pull downloaded the image');
  assert.ok(samplesOf(f, 'skiff_image_pull_downloaded_bytes_total')[0].value > 100_000, 'busybox was downloaded');
  assert.ok(one('skiff_api_requests_total', { operation: 'RunTask', error_type: '' }).value >= 1);

  // A second start of the same image is a cache hit; a failing call is counted by its error type.
  const again = await ecs.send(new RunTaskCommand({ taskDefinition: 'metered' }));
  await waitTaskStatus(ecs, again.tasks![0].taskArn!, 'RUNNING');
  await assert.rejects(ecs.send(new RunTaskCommand({ taskDefinition: 'metered', cluster: 'nowhere' })), /ClusterNotFoundException|not found/i);
  const g = await scrape();
  assert.equal(samplesOf(g, 'skiff_image_cache_hits_total')[0].value, 1);
  assert.equal(samplesOf(g, 'skiff_task_starts_total', { outcome: 'started' })[0].value, 2);
  assert.equal(samplesOf(g, 'skiff_api_requests_total', { operation: 'RunTask', error_type: 'ClusterNotFoundException' })[0].value, 1);
  assert.equal(samplesOf(g, 'skiff_tasks', { cluster: 'default', state: 'RUNNING' })[0].value, 2);

  for (const a of [arn, again.tasks![0].taskArn!]) await ecs.send(new StopTaskCommand({ task: a }));
  for (const a of [arn, again.tasks![0].taskArn!]) await waitTaskStatus(ecs, a, 'STOPPED');
  const h = await scrape();
  assert.equal(samplesOf(h, 'skiff_task_cpu_seconds_total', { task_id: id }).length, 0, "a stopped task's series are gone");
  assert.equal(samplesOf(h, 'skiff_task_stops_total', { stop_code: 'UserInitiated' })[0].value, 2);
});

test('/metrics answers the bearer token or a SigV4 signature, and refuses anything else with a reason', async () => {
  const wrong = await fetch(`${server.endpoint}/metrics`, { headers: { authorization: 'Bearer not-the-token-at-all-123' } });
  assert.equal(wrong.status, 403);
  assert.match(((await wrong.json()) as { message: string }).message, /SKIFF_METRICS_TOKEN/);
  const none = await fetch(`${server.endpoint}/metrics`);
  assert.equal(none.status, 403);
  assert.equal(none.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');
  const signed = await signedFetch(new URL(`${server.endpoint}/metrics`), { service: 'skiff', region: 'us-east-1', credentials: TEST_ROOT_KEY });
  assert.equal(signed.status, 200);
  const f = parseExposition(await signed.text());
  assert.ok(f.has('skiff_api_requests_total'));
  // The refusals above were counted under the route, by error type.
  assert.equal(samplesOf(f, 'skiff_api_requests_total', { operation: 'GET /metrics', error_type: 'MissingAuthenticationTokenException' })[0]?.value, 1);
  assert.equal(samplesOf(f, 'skiff_api_requests_total', { operation: 'GET /metrics', error_type: 'UnrecognizedClientException' })[0]?.value, 1);
});
