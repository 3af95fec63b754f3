/**
 * `npm run bench [-- --install-podman] [--starts 60] [--cold 50] [--quick]`
 *
 * Measures Skiff on this machine, in one run, against a real `skiff server`
 * (TestServer: its own data dir, port, VPC and resource prefix) and a real
 * registry on loopback; prints a table and writes bench/results/<date>.json.
 *
 * How RUNNING is observed: the client polls DescribeTasks every POLL_MS after
 * RunTask returns ("client" latency, which includes up to POLL_MS of polling
 * slack and the API round trips), and the task's own record gives
 * startedAt − createdAt ("server" latency: from the stored RunTask to the
 * moment the last container was started). Both are reported.
 *
 * Everything it starts is removed at the end (server.destroy(), registry.stop(),
 * podman containers and image). Traffic goes only to loopback.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { TestServer, TEST_ROOT_KEY } from '../test/support/skiff-server.ts';
import { startRegistry, type TestRegistry } from '../test/support/registry.ts';
import { buildImage, pushImage, busyboxImageFiles } from '../src/images/oci-build.ts';
import { BenchClient, type WireTask } from './lib/api.ts';
import { summarize, type Summary } from './lib/stats.ts';
import { openLoop } from './lib/load.ts';
import { machineInfo, platformMemory } from './lib/host.ts';
import { installPodman, measurePodman, podmanVersion, type PodmanResult } from './lib/podman.ts';

const POLL_MS = 5;
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const num = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const quick = flag('--quick');
const STARTS = num('--starts', quick ? 15 : 60);
const COLD = num('--cold', quick ? 8 : 50);
const BURST = 100;
const PODMAN_RUNS = num('--podman-runs', quick ? 8 : 30);
const DESCRIBE_RPS = num('--describe-rps', 500);
const DESCRIBE_SECONDS = num('--describe-seconds', quick ? 3 : 10);
const WARM_POOL = num('--warm-pool', 8);

const log = (m: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const SLEEPER = ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'];

function taskDef(family: string, image: string) {
  return {
    family,
    requiresCompatibilities: ['FARGATE'],
    networkMode: 'awsvpc',
    cpu: '256',
    memory: '512',
    containerDefinitions: [{ name: 'app', image, command: SLEEPER, stopTimeout: 10 }],
  };
}

async function describe(api: BenchClient, arns: string[]): Promise<WireTask[]> {
  const out: WireTask[] = [];
  for (let i = 0; i < arns.length; i += 100) {
    const r = await api.call<{ tasks: WireTask[] }>('DescribeTasks', { tasks: arns.slice(i, i + 100) });
    out.push(...r.tasks);
  }
  return out;
}

/** Polls until every task has `status`; throws if one stops on the way to RUNNING. */
async function waitAll(api: BenchClient, arns: string[], status: 'RUNNING' | 'STOPPED', pollMs: number, timeoutMs = 120_000): Promise<WireTask[]> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const ts = await describe(api, arns);
    if (status === 'RUNNING') {
      const dead = ts.find((t) => t.lastStatus === 'STOPPED' || t.lastStatus === 'DEPROVISIONING');
      if (dead) throw new Error(`task ${dead.taskArn} stopped before RUNNING: ${dead.stoppedReason}`);
    }
    if (ts.every((t) => t.lastStatus === status)) return ts;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${arns.length} task(s) to be ${status}`);
    await sleep(pollMs);
  }
}

interface StartSample {
  clientMs: number;
  serverMs: number;
  stopClientMs: number;
  stopServerMs: number;
  phases: Record<string, number>;
}

async function phasesOf(api: BenchClient, arn: string): Promise<Record<string, number>> {
  const id = arn.split('/').pop()!;
  const r = await api.get<{ timings: { phase: string; durationMs: number }[] }>(`/skiff/v1/tasks/${id}`);
  const out: Record<string, number> = {};
  for (const t of r.timings) out[t.phase.replace(/:.*/, '')] = (out[t.phase.replace(/:.*/, '')] ?? 0) + t.durationMs;
  return out;
}

/** One RunTask → RUNNING, then StopTask → STOPPED, timed from the client and from the record. */
async function startStop(api: BenchClient, family: string): Promise<StartSample> {
  const t0 = performance.now();
  const run = await api.call<{ tasks: WireTask[]; failures: unknown[] }>('RunTask', { taskDefinition: family, count: 1 });
  const arn = run.tasks[0]!.taskArn;
  const [running] = await waitAll(api, [arn], 'RUNNING', POLL_MS);
  const clientMs = performance.now() - t0;
  const serverMs = (running!.startedAt! - running!.createdAt!) * 1000;
  const phases = await phasesOf(api, arn);
  const t1 = performance.now();
  await api.call('StopTask', { task: arn, reason: 'bench' });
  const [stopped] = await waitAll(api, [arn], 'STOPPED', POLL_MS);
  const stopClientMs = performance.now() - t1;
  const stopServerMs = (stopped!.stoppedAt! - stopped!.stoppingAt!) * 1000;
  return { clientMs, serverMs, stopClientMs, stopServerMs, phases };
}

function phaseSummary(samples: StartSample[]): Record<string, number> {
  const names = [...new Set(samples.flatMap((s) => Object.keys(s.phases)))];
  return Object.fromEntries(names.map((n) => [n, summarize(samples.map((s) => s.phases[n] ?? 0)).p50]));
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark runs real tasks: run it as root');
  if (flag('--install-podman')) await installPodman(log);
  const runc = execFileSync('runc', ['--version'], { encoding: 'utf8' }).split('\n')[0]!;
  const machine = machineInfo(runc);
  // Other test or benchmark runs on this machine skew every number: say so in the result.
  const otherRuns = testProcesses();
  if (otherRuns > 0) log(`warning: ${otherRuns} test process(es) are using this machine; numbers will be noisy`);
  let busiest = otherRuns;
  const watch = setInterval(() => (busiest = Math.max(busiest, testProcesses())), 1000);
  const loadAtStart = loadavg().map((x) => Math.round(x * 100) / 100);
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryMiB} MiB, kernel ${machine.kernel}`);

  let registry: TestRegistry | undefined;
  let server: TestServer | undefined;
  let api: BenchClient | undefined;
  try {
    registry = await startRegistry({ auth: 'none' });
    const files = busyboxImageFiles();
    const cachedImage = `${registry.host}/bench/busybox:cached`;
    await pushImage(await buildImage({ files, config: { cmd: ['sh'] } }), cachedImage);
    log(`building ${COLD} images with a unique layer each ...`);
    const coldImages: string[] = [];
    for (let i = 0; i < COLD; i++) {
      const ref = `${registry.host}/bench/cold${i}:v1`;
      const img = await buildImage({ files: [...files, { path: '/etc/bench-id', content: randomBytes(16).toString('hex') }], config: { cmd: ['sh'] } });
      await pushImage(img, ref);
      coldImages.push(ref);
    }

    server = new TestServer({ env: { SKIFF_WARM_POOL_SIZE: String(WARM_POOL) } });
    await server.start();
    const bundlesDir = join(server.dataDir, 'runtime', 'bundles');
    api = new BenchClient(server.endpoint, TEST_ROOT_KEY);
    await api.call('RegisterTaskDefinition', taskDef('bench-cached', cachedImage));
    for (let i = 0; i < COLD; i++) await api.call('RegisterTaskDefinition', taskDef(`bench-cold${i}`, coldImages[i]!));

    log('warm-up (pulls the cached image once) ...');
    for (let i = 0; i < 3; i++) await startStop(api, 'bench-cached');
    await sleep(500);
    const idle = platformMemory(server.pid!, bundlesDir);

    log(`cached image: ${STARTS} sequential starts ...`);
    const cached: StartSample[] = [];
    for (let i = 0; i < STARTS; i++) cached.push(await startStop(api, 'bench-cached'));

    log(`image not on the host: ${COLD} sequential starts, one new image each ...`);
    const cold: StartSample[] = [];
    for (let i = 0; i < COLD; i++) cold.push(await startStop(api, `bench-cold${i}`));

    await sleep(500);
    const before = platformMemory(server.pid!, bundlesDir);
    log(`burst: ${BURST} tasks as ${BURST / 10} RunTask calls of count 10 at once ...`);
    const runTaskBurstMs: number[] = [];
    const tb = performance.now();
    const runs = await Promise.all(
      Array.from({ length: BURST / 10 }, async () => {
        const s = performance.now();
        const r = await api!.call<{ tasks: WireTask[] }>('RunTask', { taskDefinition: 'bench-cached', count: 10 });
        runTaskBurstMs.push(performance.now() - s);
        return r.tasks.map((t) => t.taskArn);
      }),
    );
    const burstArns = runs.flat();
    const burstRunning = await waitAll(api, burstArns, 'RUNNING', 10);
    const burstClientMs = performance.now() - tb;
    const burstServerMs =
      (Math.max(...burstRunning.map((t) => t.startedAt!)) - Math.min(...burstRunning.map((t) => t.createdAt!))) * 1000;
    log(`burst: all ${BURST} RUNNING after ${Math.round(burstClientMs)} ms`);
    await sleep(1000);
    const loaded = platformMemory(server.pid!, bundlesDir);

    const describeSweep: Record<string, Awaited<ReturnType<typeof openLoop>>> = {};
    for (const rps of [...new Set([Math.round(DESCRIBE_RPS / 2), DESCRIBE_RPS])]) {
      log(`DescribeTasks (${BURST} tasks) at ${rps} req/s for ${DESCRIBE_SECONDS} s ...`);
      describeSweep[rps] = await openLoop(rps, DESCRIBE_SECONDS, () => api!.callRaw('DescribeTasks', { tasks: burstArns }));
    }
    const describeLoad = describeSweep[DESCRIBE_RPS]!;

    log('RunTask under concurrent load: 10 callers x 5 calls (count 1) ...');
    const runTaskLat: number[] = [];
    const moreArns: string[] = [];
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        for (let i = 0; i < 5; i++) {
          const s = performance.now();
          const r = await api!.call<{ tasks: WireTask[] }>('RunTask', { taskDefinition: 'bench-cached', count: 1 });
          runTaskLat.push(performance.now() - s);
          moreArns.push(r.tasks[0]!.taskArn);
        }
      }),
    );
    await waitAll(api, moreArns, 'RUNNING', 20);

    const all = [...burstArns, ...moreArns];
    log(`stopping all ${all.length} tasks at once ...`);
    const ts = performance.now();
    await Promise.all(all.map((arn) => api!.call('StopTask', { task: arn, reason: 'bench' })));
    await waitAll(api, all, 'STOPPED', 20);
    const stopAllMs = performance.now() - ts;
    await sleep(500);
    const after = platformMemory(server.pid!, bundlesDir);

    let podman: PodmanResult | { skipped: string } = { skipped: 'podman is not installed (run with --install-podman)' };
    if (!flag('--skip-podman') && (await podmanVersion())) {
      log('baseline: podman run ...');
      podman = await measurePodman(cachedImage, PODMAN_RUNS, log);
    }

    const perTaskKiB = (loaded.rssKiB - before.rssKiB) / BURST;
    const result = {
      date: new Date().toISOString(),
      machine,
      method: {
        runningObservedBy: `client: DescribeTasks polled every ${POLL_MS} ms from RunTask's call (includes API round trips and polling slack); server: the task record's startedAt - createdAt`,
        image: 'busybox (Debian busybox-static) built by the benchmark, one layer, ~1 MiB compressed',
        task: '256 CPU units / 512 MiB, awsvpc (own netns, veth, address), one container running `sleep` under a shell that exits on SIGTERM',
        cold: 'each start uses a different image (one unique layer: busybox + a random file) pushed to a docker-registry on 127.0.0.1',
        memory: 'VmRSS (and Pss) of the skiff server process + all conmon processes of its tasks, with N tasks running minus with none, / N',
        podman: 'podman run -d IMAGE sleep 3600 (returns once the container runs), same image pulled from the same registry, runtime runc',
        starts: { cached: STARTS, cold: COLD, burst: BURST },
        server: { warmPoolSize: WARM_POOL, tagCacheTtlMs: 5000, userns: 'on (default 100000:65536)' },
        loadAverageAtStart: loadAtStart,
        otherTestProcessesAtStart: otherRuns,
        otherTestProcessesDuringRun: busiest,
      },
      cachedImage: {
        client: summarize(cached.map((s) => s.clientMs)),
        server: summarize(cached.map((s) => s.serverMs)),
        phasesP50: phaseSummary(cached),
      },
      uncachedImage: {
        client: summarize(cold.map((s) => s.clientMs)),
        server: summarize(cold.map((s) => s.serverMs)),
        phasesP50: phaseSummary(cold),
      },
      burst: {
        tasks: BURST,
        allRunningClientMs: Math.round(burstClientMs),
        allRunningServerMs: Math.round(burstServerMs),
        runTaskCallMs: summarize(runTaskBurstMs),
      },
      stopTask: {
        client: summarize([...cached, ...cold].map((s) => s.stopClientMs)),
        server: summarize([...cached, ...cold].map((s) => s.stopServerMs)),
        allAtOnce: { tasks: all.length, allStoppedMs: Math.round(stopAllMs) },
      },
      memory: {
        idle,
        beforeBurst: before,
        withBurstRunning: loaded,
        afterStopAll: after,
        perTaskRssMiB: Math.round((perTaskKiB / 1024) * 100) / 100,
        perTaskPssMiB: Math.round(((loaded.pssKiB - before.pssKiB) / BURST / 1024) * 100) / 100,
      },
      api: {
        describeTasks100: { targetRps: DESCRIBE_RPS, seconds: DESCRIBE_SECONDS, ...describeLoad },
        describeTasks100Sweep: describeSweep,
        runTaskConcurrent: { callers: 10, calls: runTaskLat.length, latency: summarize(runTaskLat) },
      },
      podman,
    };
    const date = new Date().toISOString().slice(0, 10);
    const out = resolve(import.meta.dirname, 'results', `${date}.json`);
    mkdirSync(resolve(import.meta.dirname, 'results'), { recursive: true });
    writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
    printTable(result);
    log(`wrote ${out}`);
  } finally {
    clearInterval(watch);
    api?.close();
    await server?.destroy().catch((e) => log(`cleanup of the server failed: ${e}`));
    await registry?.stop();
  }
}

/** Test runs (node --test and the test files it runs) on this machine right now. */
function testProcesses(): number {
  return execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => /^\S*node .*(--test|\.test\.ts)/.test(l)).length;
}

function printTable(r: {
  machine: ReturnType<typeof machineInfo>;
  cachedImage: { client: Summary; server: Summary; phasesP50: Record<string, number> };
  uncachedImage: { client: Summary; server: Summary; phasesP50: Record<string, number> };
  burst: { tasks: number; allRunningClientMs: number; allRunningServerMs: number };
  stopTask: { client: Summary; server: Summary; allAtOnce: { tasks: number; allStoppedMs: number } };
  memory: { perTaskRssMiB: number; perTaskPssMiB: number };
  api: { describeTasks100Sweep: Record<string, { latency: Summary; achievedRps: number; errors: number }>; runTaskConcurrent: { latency: Summary } };
  podman: PodmanResult | { skipped: string };
}): void {
  const pct = (s: Summary) => `p50 ${s.p50} / p95 ${s.p95} / p99 ${s.p99} ms`;
  const rows: [string, string][] = [
    ['RunTask → RUNNING, cached image (server)', pct(r.cachedImage.server)],
    ['RunTask → RUNNING, cached image (client)', pct(r.cachedImage.client)],
    ['RunTask → RUNNING, image not on host (server)', pct(r.uncachedImage.server)],
    ['RunTask → RUNNING, image not on host (client)', pct(r.uncachedImage.client)],
    [`${r.burst.tasks} tasks at once → all RUNNING`, `${r.burst.allRunningClientMs} ms (server ${r.burst.allRunningServerMs} ms)`],
    ['StopTask → STOPPED (SIGTERM exits) (server)', pct(r.stopTask.server)],
    ['StopTask → STOPPED (client)', pct(r.stopTask.client)],
    [`stop ${r.stopTask.allAtOnce.tasks} at once → all STOPPED`, `${r.stopTask.allAtOnce.allStoppedMs} ms`],
    ['platform memory per running task', `${r.memory.perTaskRssMiB} MiB RSS (${r.memory.perTaskPssMiB} MiB PSS)`],
    ...Object.entries(r.api.describeTasks100Sweep).map(([rps, d]): [string, string] => [
      `DescribeTasks (100 tasks) at ${rps} req/s (got ${d.achievedRps})`,
      `${pct(d.latency)}, ${d.errors} errors`,
    ]),
    ['RunTask (count 1), 10 concurrent callers', pct(r.api.runTaskConcurrent.latency)],
  ];
  if ('runNoNetwork' in r.podman) {
    rows.push(['podman run -d, --network none', pct(r.podman.runNoNetwork)], ['podman run -d, default network', pct(r.podman.runWithNetwork)]);
  } else rows.push(['podman baseline', r.podman.skipped]);
  const w = Math.max(...rows.map((x) => x[0].length));
  console.log(`\nSkiff benchmark on ${r.machine.cpuModel}, ${r.machine.cores} cores, ${r.machine.memoryMiB} MiB, Linux ${r.machine.kernel}\n`);
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
  console.log(`\ncached-image phases (p50 ms): ${JSON.stringify(r.cachedImage.phasesP50)}`);
  console.log(`uncached-image phases (p50 ms): ${JSON.stringify(r.uncachedImage.phasesP50)}\n`);
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exitCode = 1;
});
