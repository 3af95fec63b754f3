/**
 * Metering and insight, end to end: real tasks on a real `skiff server`, driven
 * through @aws-sdk/client-ecs and the skiff CLI.
 *
 *  - usage is derived from durable facts: a kill -9 of the server while a task
 *    runs neither loses the downtime nor counts anything twice, and the final
 *    bill equals the billing rule computed by hand;
 *  - the stats sampler (every 200 ms here) measures a CPU-bound and an idle task
 *    and right-sizing gives them different, valid recommendations;
 *  - the cold-start waterfall adds up to the measured start
 *    (`skiff doctor` is tested in doctor.root.test.ts).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import Big from 'big.js';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  CreateClusterCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  type ECSClient,
  type Task,
} from '@aws-sdk/client-ecs';
import { TestServer, waitFor } from './support/skiff-server.ts';
import { startRegistry, type TestRegistry } from './support/registry.ts';
import { pushBusyboxImage } from './support/images.ts';
import { describeTask } from './support/tasks.ts';
import { isValidSize } from '../src/ecs/sizes.ts';
import { buildImage, busyboxImageFiles, pushImage } from '../src/images/oci-build.ts';
import type { UsageRecord, CostReport } from '../src/metering/usage.ts';
import type { Recommendation } from '../src/advisor/rightsize.ts';
import type { Waterfall } from '../src/advisor/coldstart.ts';

const SKIFF = resolve(import.meta.dirname, '../bin/skiff.js');
/** The key TestServer's ECS client signs with. */
const TEST_KEY = { accessKeyId: 'AKIDSKIFFTEST', secretAccessKey: 'skiff-test-secret' };
const CLUSTER = 'metering';
let server: TestServer;
let registry: TestRegistry;
let ecs: ECSClient;
let image: string;
let dir: string;
/** Tasks started here, stopped in after() whatever happened. */
const started: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-metering-'));
  registry = await startRegistry({ auth: 'none' });
  image = await pushBusyboxImage(registry, 'test/busybox:metering');
  const prices = join(dir, 'prices.json');
  writeFileSync(prices, JSON.stringify({ region: 'us-east-1', spotDiscount: '0.6' }));
  server = new TestServer({ env: { SKIFF_STATS_INTERVAL_MS: '200', SKIFF_PRICES_FILE: prices } });
  await server.start();
  ecs = server.ecs();
  await ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
});
after(async () => {
  try {
    if (server) {
      ecs = server.ecs();
      const live = [];
      for (const arn of started) {
        const t = await describeTask(ecs, arn, CLUSTER).catch(() => undefined);
        if (t && t.lastStatus !== 'STOPPED') live.push(arn);
      }
      for (const arn of live) await ecs.send(new StopTaskCommand({ cluster: CLUSTER, task: arn })).catch(() => {});
      for (const arn of live) await waitStatus(arn, 'STOPPED', 20_000).catch(() => {});
    }
  } finally {
    await server?.destroy();
    await registry?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

async function register(family: string, command: string[], size = { cpu: '256', memory: '512' }, img = image): Promise<void> {
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      family,
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      ...size,
      containerDefinitions: [{ name: 'app', image: img, stopTimeout: 2, command }],
    }),
  );
}

async function run(family: string): Promise<string> {
  const out = await ecs.send(new RunTaskCommand({ cluster: CLUSTER, taskDefinition: family }));
  const arn = out.tasks![0].taskArn!;
  started.push(arn);
  return arn;
}

const waitStatus = (arn: string, status: string, timeoutMs = 30_000) =>
  waitFor(`task ${arn.split('/').pop()} ${status}`, async () => {
    const t = await describeTask(ecs, arn, CLUSTER);
    return t.lastStatus === status ? t : undefined;
  }, timeoutMs);

/** A GET to Skiff's own endpoints, signed (SigV4, service `skiff`) with the test server's key, as the CLI signs it. */
async function signedFetch(path: string): Promise<Response> {
  const url = new URL(server.endpoint + path);
  const query: Record<string, string> = {};
  url.searchParams.forEach((v, k) => (query[k] = v));
  const signer = new SignatureV4({ service: 'skiff', region: 'us-east-1', credentials: TEST_KEY, sha256: Sha256 });
  const signed = await signer.sign({ method: 'GET', protocol: url.protocol, hostname: url.hostname, port: Number(url.port), path: url.pathname, query, headers: { host: url.host } });
  return fetch(url, { headers: signed.headers as Record<string, string> });
}

async function get<T>(path: string): Promise<T> {
  const res = await signedFetch(path);
  const body = await res.text();
  assert.equal(res.status, 200, `${path}: ${body}`);
  return JSON.parse(body) as T;
}

function skiff(...args: string[]) {
  const r = spawnSync(process.execPath, [SKIFF, '--endpoint', server.endpoint, ...args], {
    env: { PATH: process.env.PATH!, HOME: dir, AWS_ACCESS_KEY_ID: TEST_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_KEY.secretAccessKey, AWS_REGION: 'us-east-1' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const usageOfTask = async (arn: string) =>
  (await get<{ usage: (UsageRecord & { cost: string })[] }>(`/skiff/v1/usage?cluster=${CLUSTER}&from=1d`)).usage.find((u) => u.taskArn === arn);
const attr = (t: Task, name: string) => t.attributes?.find((a) => a.name === name)?.value;

test('a task running across a server kill -9 keeps accruing: the downtime is neither lost nor counted twice, and the bill is the billing rule', async () => {
  await register('meter', ['sleep', '3600']);
  const arn = await run('meter');
  await waitStatus(arn, 'RUNNING');

  const before = (await usageOfTask(arn))!;
  assert.equal(before.running, true);
  await server.stop('SIGKILL');
  const downSince = Date.now();
  await new Promise((r) => setTimeout(r, 3000));
  await server.start();
  ecs = server.ecs();
  const downMs = Date.now() - downSince;

  const queryAt = Date.now();
  const afterCrash = (await usageOfTask(arn))!;
  assert.equal(afterCrash.startMs, before.startMs, 'the same durable start');
  assert.equal(afterCrash.running, true, 'adopted, still running');
  const accrued = afterCrash.endMs - afterCrash.startMs;
  assert.ok(accrued >= (before.endMs - before.startMs) + downMs - 50, `the ${downMs} ms of downtime are counted (accrued ${accrued} ms)`);
  assert.ok(accrued <= queryAt + 1000 - afterCrash.startMs, `nothing counted twice: ${accrued} ms accrued, ${queryAt - afterCrash.startMs} ms since the pull started`);

  // Stop it; the bill is the billing rule applied to the durable timestamps.
  await ecs.send(new StopTaskCommand({ cluster: CLUSTER, task: arn }));
  const stopped = await waitStatus(arn, 'STOPPED');
  const final = (await usageOfTask(arn))!;
  const seconds = Number(attr(stopped, 'skiff.billedSeconds'));
  const ms = final.stoppedMs! - final.startMs;
  assert.ok(ms > downMs, 'the run includes the downtime');
  assert.equal(final.billedSeconds, Math.max(60, Math.ceil(ms / 1000)));
  assert.equal(final.billedSeconds, seconds, 'usage and the stored bill agree');
  // 0.25 vCPU x 0.04048 + 0.5 GB x 0.004445 = 0.0123425 per hour.
  const expected = new Big('0.0123425').times(seconds).div(3600).round(12, Big.roundHalfUp).toFixed();
  assert.equal(final.cost, expected);
  assert.equal(attr(stopped, 'skiff.costUSD'), expected);

  // Cost reports are recomputed, never incremented: another crash and restart changes nothing.
  const path = `/skiff/v1/costs?cluster=${CLUSTER}&from=1d&to=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`;
  const byDay = await get<CostReport>(`${path}&groupBy=day`);
  const byFamily = await get<CostReport>(`${path}&groupBy=family`);
  assert.equal(byFamily.lines.find((l) => l.key === 'meter')!.cost, expected);
  assert.equal(
    byDay.lines.reduce((s, l) => s.plus(l.seconds), new Big(0)).toFixed(),
    byFamily.total.seconds,
    'day buckets add up to the whole',
  );
  await server.stop('SIGKILL');
  await server.start();
  ecs = server.ecs();
  const again = await get<CostReport>(`${path}&groupBy=family`);
  assert.deepEqual(again.lines, byFamily.lines, 'a replay after restart gives the same lines');
  const cp = await get<CostReport>(`${path}&groupBy=capacityProvider`);
  assert.deepEqual(cp.lines.map((l) => [l.key, l.spotSavings]), [['FARGATE', '0']]);

  // The CLI shows the same numbers.
  const cli = skiff('--output', 'json', 'cost', '--cluster', CLUSTER, '--from', '1d', '--group-by', 'family');
  assert.equal(cli.status, 0, cli.stderr);
  const report = JSON.parse(cli.stdout) as CostReport;
  assert.equal(report.lines.find((l) => l.key === 'meter')!.cost, expected);
  assert.match(report.projection.month, /^\d{4}-\d{2}$/);
  const table = skiff('cost', '--cluster', CLUSTER, '--from', '1d', '--group-by', 'day');
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, /^DAY\s+COST\s+ON-DEMAND\s+SPOT SAVED/);
  assert.match(table.stdout, /^TOTAL\s+\$0\.\d{6}/m);
  assert.match(table.stdout, /at that rate the month ends at \$/);
});

test('the price table comes from the operator file; bad cost queries get errors that say what to fix', async () => {
  const p = await get<{ prices: { spotDiscount: string; X86_64: { vcpuHour: string } }; source: string }>('/skiff/v1/prices');
  assert.equal(p.prices.spotDiscount, '0.6');
  assert.equal(p.prices.X86_64.vcpuHour, '0.04048');
  assert.match(p.source, /prices\.json$/);
  for (const [q, re] of [
    ['groupBy=colour', /groupBy 'colour' is not known/],
    ['from=yesterday', /from 'yesterday' is not a time/],
    ['from=2025-06-02&to=2025-06-01', /must be after from/],
  ] as const) {
    const res = await signedFetch(`/skiff/v1/costs?${q}`);
    assert.equal(res.status, 400);
    const body = (await res.json()) as { __type: string; message: string };
    assert.equal(body.__type, 'InvalidParameterException');
    assert.match(body.message, re);
  }
});

test('a bad price file stops the server before it starts, naming every problem', () => {
  const bad = join(dir, 'bad-prices.json');
  writeFileSync(bad, JSON.stringify({ X86_64: { vcpuHour: 'free' }, spotDiscount: 2 }));
  const r = spawnSync(process.execPath, [SKIFF, 'server', '--data-dir', join(dir, 'never'), '--port', '1', '--prices', bad], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /invalid price table .*bad-prices\.json/);
  assert.match(r.stderr, /X86_64\.vcpuHour must be a non-negative decimal/);
  assert.match(r.stderr, /spotDiscount .* must be below 1/);
});

test('a CPU-bound and an idle task get different, valid right-sizing recommendations', async () => {
  await register('busy', ['sh', '-c', 'while :; do :; done'], { cpu: '1024', memory: '2048' });
  await register('idle', ['sleep', '3600'], { cpu: '1024', memory: '2048' });
  const busy = await run('busy');
  const idle = await run('idle');
  await waitStatus(busy, 'RUNNING');
  await waitStatus(idle, 'RUNNING');

  const tooFew = await get<{ results: { recommendation: Recommendation }[] }>('/skiff/v1/rightsize?family=idle&minSamples=100000');
  assert.equal(tooFew.results[0].recommendation.status, 'insufficient-data');
  assert.match(tooFew.results[0].recommendation.message!, /not enough data/);
  const never = await get<{ results: { recommendation: Recommendation }[] }>('/skiff/v1/rightsize?family=never-ran');
  assert.match(never.results[0].recommendation.message!, /has run: nothing measured/);

  const recommend = (family: string) =>
    waitFor(`${family}: 25 samples`, async () => {
      const r = await get<{ results: { recommendation: Recommendation }[] }>(`/skiff/v1/rightsize?family=${family}`);
      const rec = r.results[0].recommendation;
      return rec.status === 'ok' && rec.samples.cpu >= 25 ? rec : undefined;
    }, 30_000);
  const [b, i] = [await recommend('busy'), await recommend('idle')];

  assert.ok(b.measured!.cpuP95Vcpus > 0.8, `the busy loop uses its whole vCPU (p95 ${b.measured!.cpuP95Vcpus})`);
  assert.ok(i.measured!.cpuP95Vcpus < 0.05, `the idle task uses next to no CPU (p95 ${i.measured!.cpuP95Vcpus})`);
  assert.ok(i.measured!.memoryMaxMiB > 0, 'memory is measured');
  for (const r of [b, i]) assert.ok(isValidSize(r.recommended!.cpu, r.recommended!.memory), `${r.recommended!.cpu}/${r.recommended!.memory} is a Fargate size`);
  assert.ok(b.recommended!.cpu > 1024, `busy needs more CPU (got ${b.recommended!.cpu})`);
  assert.equal(b.action, 'upsize');
  assert.ok(b.notes.some((n) => /saturated/.test(n)));
  assert.deepEqual([i.recommended!.cpu, i.recommended!.memory], [256, 512]);
  assert.equal(i.action, 'downsize');
  // 1 vCPU / 2 GB = 0.04937/h and 0.25 vCPU / 0.5 GB = 0.0123425/h, for 730 h.
  assert.equal(i.current.monthlyCost, '36.0401');
  assert.equal(i.recommended!.monthlyCost, '9.010025');
  assert.equal(i.monthlySaving, '27.030075');
  assert.equal(i.savingPercent, '75.0');

  const taskStats = await get<{ samples: { cpuVcpus?: number; memoryBytes: number }[] }>(`/skiff/v1/tasks/${busy.split('/').pop()}/stats`);
  assert.ok(taskStats.samples.length >= 25);

  const table = skiff('rightsize', '--family', 'idle');
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, /family idle.*1024\/2048\s+\$36\.04\s+256\/512 \(downsize\)\s+\$9\.01\s+\$27\.03 \(75\.0%\)/);
  const json = JSON.parse(skiff('--output', 'json', 'rightsize', '--family', 'busy').stdout) as { results: { recommendation: Recommendation }[] };
  assert.equal(json.results[0].recommendation.action, 'upsize');

  for (const arn of [busy, idle]) await ecs.send(new StopTaskCommand({ cluster: CLUSTER, task: arn }));
  for (const arn of [busy, idle]) await waitStatus(arn, 'STOPPED');
});

test('the cold-start waterfall adds up to the measured start; tips name the uncached layers; a family summary has p50/p95', async () => {
  // The busybox layer (already cached on this host) plus a layer of its own: the
  // first start downloads that one layer, the second finds both cached.
  const fresh = `${registry.host}/test/coldstart:1`;
  const built = await buildImage({
    layers: [busyboxImageFiles(), [{ path: '/app/build-id', content: `${randomBytes(16).toString('hex')}\n` }]],
    config: { cmd: ['sh'] },
  });
  await pushImage(built, fresh, { credentials: registry.credentials });
  await register('cold', ['sleep', '30'], undefined, fresh);
  const first = await run('cold');
  const t = await waitStatus(first, 'RUNNING');

  const { waterfall: w, tips } = await get<{ waterfall: Waterfall; tips: string[] }>(`/skiff/v1/tasks/${first.split('/').pop()}/coldstart`);
  const phases = w.rows.map((r) => r.phase);
  for (const p of ['scheduling', 'network', 'image-pull', 'image-pull:resolve', 'image-pull:download', 'image-pull:unpack', 'cgroup', 'container-create:app', 'container-start:app', 'first-healthy', 'overhead']) {
    assert.ok(phases.includes(p), `phase ${p} in ${phases.join(', ')}`);
  }
  const measured = t.startedAt!.getTime() - t.createdAt!.getTime();
  assert.ok(Math.abs(w.totalMs! - measured) <= 1, `total ${w.totalMs} ms is the measured start ${measured} ms`);
  const sum = w.rows.reduce((s, r) => s + r.criticalMs, 0);
  assert.ok(Math.abs(sum - w.totalMs!) < 0.01, `the phases add up: ${sum} vs ${w.totalMs}`);
  // Overhead is computed as what is left; check it against the measured steps themselves: the
  // start minus the time before the first step minus the union of the steps' own intervals.
  const steps = w.rows
    .filter((r) => !r.partOf && !['scheduling', 'overhead', 'first-healthy'].includes(r.phase))
    .map((r) => [Math.min(r.offsetMs, w.totalMs!), Math.min(r.offsetMs + r.durationMs, w.totalMs!)] as const)
    .sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let end = steps[0][0];
  for (const [a, b] of steps) {
    covered += Math.max(0, b - Math.max(a, end));
    end = Math.max(end, b);
  }
  const row = (p: string) => w.rows.find((r) => r.phase === p)!;
  assert.ok(Math.abs(row('scheduling').criticalMs - steps[0][0]) < 0.01, 'scheduling is the time before the first step');
  assert.ok(Math.abs(row('overhead').criticalMs - (w.totalMs! - steps[0][0] - covered)) < 0.01, `overhead ${row('overhead').criticalMs} is the time no step covered`);
  assert.ok(row('overhead').criticalMs < w.totalMs! / 2, `overhead (${row('overhead').criticalMs} ms) is not most of the start (${w.totalMs} ms)`);
  assert.ok(w.rows.every((r) => r.criticalMs >= 0 && r.criticalMs <= r.durationMs + 1e-9 || r.phase === 'overhead' || r.phase === 'scheduling'));
  const pull = w.rows.find((r) => r.phase === 'image-pull')!;
  assert.ok(Number(pull.detail!.downloadedBytes) > 0, 'the first pull downloaded the layer');
  assert.equal(pull.detail!.layers, 2);
  assert.ok(Number(pull.detail!.cachedLayers) < 2, 'its own layer was not cached');
  assert.ok(tips.some((x) => /[12] of 2 layer\(s\) were not cached on this host/.test(x)), tips.join('\n'));

  const second = await run('cold');
  await waitStatus(second, 'RUNNING');
  const again = await get<{ waterfall: Waterfall; tips: string[] }>(`/skiff/v1/tasks/${second.split('/').pop()}/coldstart`);
  const pull2 = again.waterfall.rows.find((r) => r.phase === 'image-pull')!.detail!;
  assert.equal(pull2.cachedLayers, pull2.layers, 'the second start found every layer cached');
  assert.ok(!again.tips.some((x) => /not cached on this host/.test(x)));

  const fam = await get<{ summary: { starts: number; totalP50Ms: number; totalP95Ms: number; phases: { phase: string; count: number }[]; uncachedStarts: number }; tips: string[] }>(
    '/skiff/v1/coldstart?family=cold',
  );
  assert.equal(fam.summary.starts, 2);
  assert.ok(fam.summary.totalP95Ms >= fam.summary.totalP50Ms);
  assert.equal(fam.summary.phases.find((p) => p.phase === 'image-pull')!.count, 2);
  assert.equal(fam.summary.uncachedStarts, 1);

  const cli = skiff('coldstart', first);
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, /^PHASE\s+AT MS\s+TOOK MS\s+ADDS MS/);
  assert.match(cli.stdout, /^image-pull\s/m);
  assert.match(cli.stdout, /started in [\d.]+ ms \(createdAt → startedAt\)/);
  assert.match(cli.stdout, /^tip: .*not cached/m);
  const famCli = skiff('coldstart', '--family', 'cold');
  assert.equal(famCli.status, 0, famCli.stderr);
  assert.match(famCli.stdout, /^TOTAL\s+2\s/m);

  for (const arn of [first, second]) await ecs.send(new StopTaskCommand({ cluster: CLUSTER, task: arn }));
  for (const arn of [first, second]) await waitStatus(arn, 'STOPPED');
});

test('first-healthy is measured: from the start to the first passing health check', async () => {
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'checked',
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: '256',
      memory: '512',
      containerDefinitions: [{ name: 'app', image, stopTimeout: 2, command: ['sleep', '60'], healthCheck: { command: ['CMD-SHELL', 'true'], interval: 5, timeout: 2, retries: 1 } }],
    }),
  );
  const arn = await run('checked');
  const t = await waitFor('task HEALTHY', async () => {
    const x = await describeTask(ecs, arn, CLUSTER);
    return x.healthStatus === 'HEALTHY' ? x : undefined;
  }, 30_000);
  const { waterfall: w } = await get<{ waterfall: Waterfall }>(`/skiff/v1/tasks/${arn.split('/').pop()}/coldstart`);
  const row = w.rows.find((r) => r.phase === 'first-healthy')!;
  // The first probe runs one second after the container starts; the verdict is stored right after it.
  assert.ok(row.durationMs >= 900 && row.durationMs < 15_000, `first-healthy took ${row.durationMs} ms`);
  assert.equal(row.criticalMs, 0, 'after startedAt: not part of the start');
  assert.ok(Math.abs(row.offsetMs - (t.startedAt!.getTime() - t.createdAt!.getTime())) <= 1, 'it begins at the start');
  assert.equal(row.detail!.healthCheck, true);
  await ecs.send(new StopTaskCommand({ cluster: CLUSTER, task: arn }));
  await waitStatus(arn, 'STOPPED');
});

test('skiff advise compares the three platforms with prices from the server', () => {
  const r = skiff('--output', 'json', 'advise', '--cpu', '1', '--memory', '2', '--duration', '1800', '--event-driven', '--rps', String(1 / 86400), '--cost-sensitivity', 'high');
  assert.equal(r.status, 0, r.stderr);
  const a = JSON.parse(r.stdout) as { recommendation: string; fargatePricesFrom: string; options: { platform: string; fits: boolean; monthlyCost?: string }[]; assumptions: string[] };
  assert.equal(a.recommendation, 'serverless-container');
  assert.match(a.fargatePricesFrom, /the Skiff server \(.*prices\.json\)/);
  assert.equal(a.options.find((o) => o.platform === 'serverless-container')!.monthlyCost, '0.76');
  assert.equal(a.options.find((o) => o.platform === 'function')!.fits, false);
  assert.ok(a.assumptions.length >= 3);
  const table = skiff('advise', '--cpu', '0.25', '--memory', '0.5', '--duration', '0.2', '--event-driven', '--rps', '0.1');
  assert.match(table.stdout, /^function ◀\s+yes\s+\$0\.49/m);
  assert.match(table.stdout, /^assumptions/m);
  const bad = skiff('advise', '--cpu', 'lots');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--cpu must be a number/);
});
