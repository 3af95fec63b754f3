/**
 * Isolation, side by side: every runtime the server has (runc, gvisor, and
 * microvm once registered) measured in one run on one machine, through the
 * ECS API of one real `skiff server` (a TestServer: its own data dir, port,
 * VPC and resource prefix). Each runtime is picked per task definition with the
 * tag `skiff:isolation`; a runtime this host lacks is reported with the
 * InvalidParameterException RunTask gives, not measured.
 *
 * Per runtime:
 *   start    RunTask → RUNNING, N sequential starts of a cached busybox image:
 *            p50/p99 as the client sees it and as the task record says (startedAt − createdAt)
 *   syscall  mean cost of one getppid(2) over a 100,000-call loop (a static C probe)
 *   network  task-to-task TCP throughput: 64 MiB from one task to another with busybox nc
 *   memory   platform memory of an idle task (sleep): the task cgroup's memory usage,
 *            and the PSS of every process in it plus its conmon
 *
 * Run as root: npm run bench:isolation [-- --starts 20]. Writes bench/results/isolation-<date>.json.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { TestServer, TEST_ROOT_KEY } from '../test/support/skiff-server.ts';
import { startRegistry, type TestRegistry } from '../test/support/registry.ts';
import { buildProbes } from '../test/support/probes.ts';
import { buildImage, pushImage, busyboxImageFiles } from '../src/images/oci-build.ts';
import { BenchClient, ApiError, type WireTask } from './lib/api.ts';
import { summarize, type Summary } from './lib/stats.ts';
import { machineInfo, memoryOf } from './lib/host.ts';

const RUNTIMES = ['runc', 'gvisor', 'microvm'];
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const STARTS = arg('--starts', 15);
const IDLE_TASKS = arg('--idle', 3);
const NET_MIB = arg('--net-mib', 512); // enough for /proc/uptime's 10 ms ticks to resolve runc's rate
const log = (m: string) => console.error(`[bench:isolation] ${m}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface RuntimeResult {
  runtime: string;
  available: boolean;
  why?: string;
  platform?: string;
  startClientMs?: Summary;
  startServerMs?: Summary;
  syscallNs?: number;
  taskToTaskMiBps?: number;
  memoryPerTask?: { cgroupMiB: number; pssMiB: number };
}

async function describe(api: BenchClient, arns: string[]): Promise<WireTask[]> {
  return (await api.call<{ tasks: WireTask[] }>('DescribeTasks', { tasks: arns })).tasks;
}

async function waitStatus(api: BenchClient, arns: string[], status: string, timeoutMs = 180_000): Promise<WireTask[]> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const ts = await describe(api, arns);
    if (status === 'RUNNING') {
      const dead = ts.find((t) => t.lastStatus === 'STOPPED');
      if (dead) throw new Error(`task stopped before RUNNING: ${dead.stoppedReason}`);
    }
    if (ts.every((t) => t.lastStatus === status)) return ts;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${status}`);
    await sleep(status === 'RUNNING' ? 10 : 100);
  }
}

/** The task's log text once it holds `want` (logs reach the store every 500 ms: a STOPPED task's last lines may lag); '' after 10 s. */
async function logsOf(api: BenchClient, arn: string, want: RegExp): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const text = await api.getText(`/skiff/v1/tasks/${arn.split('/').pop()}/logs`);
    const lines = text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { message: string }).message).join('\n');
    if (want.test(lines)) return lines;
    await sleep(100);
  }
  return '';
}

async function register(api: BenchClient, family: string, runtime: string, image: string, command: string[]): Promise<void> {
  await api.call('RegisterTaskDefinition', {
    family, requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc', cpu: '1024', memory: '2048',
    containerDefinitions: [{ name: 'app', image, essential: true, command, stopTimeout: 2 }],
    tags: [{ key: 'skiff:isolation', value: runtime }],
  });
}

async function runOne(api: BenchClient, family: string): Promise<WireTask> {
  return (await api.call<{ tasks: WireTask[] }>('RunTask', { taskDefinition: family })).tasks[0]!;
}

async function stopAll(api: BenchClient, arns: string[]): Promise<void> {
  await Promise.all(arns.map((task) => api.call('StopTask', { task, reason: 'bench' })));
  await waitStatus(api, arns, 'STOPPED');
}

/** Memory of one idle task: its cgroup's usage, and PSS of its processes plus their conmon. */
function taskMemory(prefix: string, taskId: string): { cgroupBytes: number; pssKiB: number } {
  const dir = join('/sys/fs/cgroup/memory', prefix, taskId);
  const cgroupBytes = Number(readFileSync(join(dir, 'memory.usage_in_bytes'), 'utf8'));
  const pids = new Set<number>();
  const walk = (d: string) => {
    for (const p of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) pids.add(Number(p));
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
  };
  walk(dir);
  // conmon, each container's supervisor, lives in its own cgroup (.conmon/<id>): count it too.
  const supervisors = join('/sys/fs/cgroup/memory', prefix, '.conmon');
  try {
    for (const e of readdirSync(supervisors)) if (e.startsWith(taskId)) walk(join(supervisors, e));
  } catch { /* none */ }
  let pssKiB = 0;
  for (const pid of pids) pssKiB += memoryOf(pid).pssKiB;
  return { cgroupBytes, pssKiB };
}

async function measure(api: BenchClient, server: TestServer, runtime: string, image: string): Promise<RuntimeResult> {
  const fam = (what: string) => `iso-${runtime}-${what}`;
  await register(api, fam('sleep'), runtime, image, ['sleep', '3600']);
  let first: WireTask;
  try {
    first = await runOne(api, fam('sleep'));
  } catch (e) {
    if (e instanceof ApiError) return { runtime, available: false, why: e.message };
    throw e;
  }
  const platform = first.attributes?.find((a) => a.name === 'skiff.isolationPlatform')?.value;
  await waitStatus(api, [first.taskArn], 'RUNNING'); // warm-up: pulls and unpacks the image once
  await stopAll(api, [first.taskArn]);

  log(`${runtime}: ${STARTS} sequential starts ...`);
  const client: number[] = [];
  const serverSide: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const t0 = performance.now();
    const t = await runOne(api, fam('sleep'));
    const [running] = await waitStatus(api, [t.taskArn], 'RUNNING');
    client.push(performance.now() - t0);
    serverSide.push((running!.startedAt! - running!.createdAt!) * 1000);
    await stopAll(api, [t.taskArn]);
  }

  log(`${runtime}: syscall loop ...`);
  await register(api, fam('syscalls'), runtime, image, ['probe-syscalls', '100000']);
  const sys = await runOne(api, fam('syscalls'));
  await waitStatus(api, [sys.taskArn], 'STOPPED');
  const syscallNs = Number(/ns_per_call=([\d.]+)/.exec(await logsOf(api, sys.taskArn, /ns_per_call=/))?.[1]);

  log(`${runtime}: task-to-task throughput (${NET_MIB} MiB) ...`);
  await register(api, fam('sink'), runtime, image, ['sh', '-c', 'nc -l -p 5001 > /dev/null; echo sink-done']);
  const sink = await runOne(api, fam('sink'));
  const [sinkRunning] = await waitStatus(api, [sink.taskArn], 'RUNNING');
  const sinkIp = sinkRunning!.attachments?.[0]?.details?.find((d) => d.name === 'privateIPv4Address')?.value;
  await sleep(500);
  await register(api, fam('source'), runtime, image, ['sh', '-c', `a=$(cut -d' ' -f1 /proc/uptime); dd if=/dev/zero bs=65536 count=${NET_MIB * 16} 2>/dev/null | nc ${sinkIp} 5001; b=$(cut -d' ' -f1 /proc/uptime); echo "elapsed_s=$a $b"`]);
  const source = await runOne(api, fam('source'));
  await waitStatus(api, [source.taskArn], 'STOPPED');
  // busybox date has no %N: /proc/uptime (10 ms resolution) times the transfer.
  const m = /elapsed_s=([\d.]+) ([\d.]+)/.exec(await logsOf(api, source.taskArn, /elapsed_s=/));
  const elapsedS = m ? Number(m[2]) - Number(m[1]) : NaN;
  const taskToTaskMiBps = elapsedS > 0 ? Math.round((NET_MIB / elapsedS) * 10) / 10 : NaN;
  await stopAll(api, [sink.taskArn]).catch(() => {});

  log(`${runtime}: memory of ${IDLE_TASKS} idle tasks ...`);
  const idle = await Promise.all(Array.from({ length: IDLE_TASKS }, () => runOne(api, fam('sleep'))));
  await waitStatus(api, idle.map((t) => t.taskArn), 'RUNNING');
  await sleep(2000);
  const mems = idle.map((t) => taskMemory(server.prefix, t.taskArn.split('/').pop()!));
  await stopAll(api, idle.map((t) => t.taskArn));
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    runtime,
    available: true,
    ...(platform ? { platform } : {}),
    startClientMs: summarize(client),
    startServerMs: summarize(serverSide),
    syscallNs,
    taskToTaskMiBps,
    memoryPerTask: {
      cgroupMiB: Math.round((avg(mems.map((m) => m.cgroupBytes)) / 2 ** 20) * 10) / 10,
      pssMiB: Math.round((avg(mems.map((m) => m.pssKiB)) / 1024) * 10) / 10,
    },
  };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark runs real tasks: run it as root');
  const machine = machineInfo(execFileSync('runc', ['--version'], { encoding: 'utf8' }).split('\n')[0]!);
  const loadAtStart = loadavg().map((x) => Math.round(x * 100) / 100);
  let registry: TestRegistry | undefined;
  let server: TestServer | undefined;
  const results: RuntimeResult[] = [];
  try {
    registry = await startRegistry({ auth: 'none' });
    const probes = buildProbes();
    const image = `${registry.host}/bench/isolation:1`;
    await pushImage(await buildImage({ files: [...busyboxImageFiles(), { path: '/bin/probe-syscalls', content: probes['probe-syscalls'], mode: 0o755 }], config: { cmd: ['sh'] } }), image, { credentials: registry.credentials });
    server = new TestServer();
    await server.start();
    const api = new BenchClient(server.endpoint, TEST_ROOT_KEY);
    for (const runtime of RUNTIMES) {
      const r = await measure(api, server, runtime, image);
      log(`${runtime}: ${JSON.stringify(r)}`);
      results.push(r);
    }
  } finally {
    await server?.destroy();
    await registry?.stop();
  }
  const runc = results.find((r) => r.runtime === 'runc');
  const ratio = (r: RuntimeResult) => (runc?.startServerMs && r.startServerMs ? Math.round((r.startServerMs.p50 / runc.startServerMs.p50) * 100) / 100 : undefined);
  const out = {
    date: new Date().toISOString(),
    machine,
    loadAtStart,
    loadAtEnd: loadavg().map((x) => Math.round(x * 100) / 100),
    starts: STARTS,
    results: results.map((r) => ({ ...r, ...(r.available ? { startVsRunc: ratio(r) } : {}) })),
  };
  const dir = resolve(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `isolation-${out.date.slice(0, 10)}.json`);
  writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  console.log(JSON.stringify(out, null, 2));
  log(`written to ${file}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
