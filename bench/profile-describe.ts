/**
 * `node --import tsx bench/profile-describe.ts [--rps 500] [--seconds 8] [--out DIR]`
 *
 * A CPU profile of the server while it answers DescribeTasks of 100 running tasks at an
 * open-loop rate (the bench's DescribeTasks phase), for finding what the latency is spent on.
 * The server runs under `node --cpu-prof` and is stopped with SIGTERM so the profile is
 * written to --out; the top self-time functions are printed. Traffic: loopback only.
 */
import { readdirSync, readFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { TestServer, TEST_ROOT_KEY } from '../test/support/skiff-server.ts';
import { startRegistry } from '../test/support/registry.ts';
import { buildImage, pushImage, busyboxImageFiles } from '../src/images/oci-build.ts';
import { BenchClient, type WireTask } from './lib/api.ts';
import { openLoop } from './lib/load.ts';

const args = process.argv.slice(2);
const opt = (n: string, d: string) => (args.includes(n) ? args[args.indexOf(n) + 1]! : d);
const RPS = Number(opt('--rps', '500'));
const SECONDS = Number(opt('--seconds', '8'));
const OUT = resolve(opt('--out', '/tmp/skiff-profile'));
const PROFILE = !args.includes('--no-profile');
mkdirSync(OUT, { recursive: true });
/** The process's CPU time (user + system), ms, from /proc. */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}
const ROOT = resolve(import.meta.dirname, '..');

const registry = await startRegistry();
const server = new TestServer({
  command: [process.execPath, ...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${OUT}`] : []), join(ROOT, 'bin/skiff.js')],
  env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('SKIFF_')).map(([k, v]) => [k, v!])),
});
try {
  const ref = `${registry.host}/bench/prof:${randomBytes(3).toString('hex')}`;
  await pushImage(await buildImage({ files: busyboxImageFiles(), config: { cmd: ['sh'] } }), ref);
  await server.start();
  const api = new BenchClient(server.endpoint, TEST_ROOT_KEY);
  await api.call('RegisterTaskDefinition', {
    family: 'prof', requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc', cpu: '256', memory: '512',
    containerDefinitions: [{ name: 'app', image: ref, command: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'] }],
  });
  const arns: string[] = [];
  for (let i = 0; i < 10; i++) arns.push(...(await api.call<{ tasks: WireTask[] }>('RunTask', { taskDefinition: 'prof', count: 10 })).tasks.map((t) => t.taskArn));
  for (;;) {
    const ts = (await api.call<{ tasks: WireTask[] }>('DescribeTasks', { tasks: arns })).tasks;
    if (ts.every((t) => t.lastStatus === 'RUNNING')) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 2000));
  console.log(`response bytes: ${await api.callRaw('DescribeTasks', { tasks: arns })}`);
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  if (args.includes('--runtask')) {
    const c0 = cpuMs(server.pid!);
    const lat: number[] = [];
    await Promise.all(Array.from({ length: 10 }, async () => {
      for (let i = 0; i < 5; i++) {
        const s = performance.now();
        await api.call('RunTask', { taskDefinition: 'prof', count: 1 });
        lat.push(performance.now() - s);
      }
    }));
    lat.sort((a, b) => a - b);
    console.log(JSON.stringify({ runTaskCpuPerCallMs: (cpuMs(server.pid!) - c0) / 50, p50: lat[25], p90: lat[45] }));
  }
  const cpu0 = cpuMs(server.pid!);
  const r = await openLoop(RPS, SECONDS, () => api.callRaw('DescribeTasks', { tasks: arns }));
  h.disable();
  const cpuPerReqMs = (cpuMs(server.pid!) - cpu0) / (RPS * SECONDS);
  console.log(JSON.stringify({ rps: RPS, cpuPerReqMs: Math.round(cpuPerReqMs * 1000) / 1000, ...r, clientLoopDelayP99Ms: h.percentile(99) / 1e6 }));
  await api.call('StopTask', { task: arns[0] }).catch(() => {});
} finally {
  await server.stop('SIGTERM').catch(() => {});
  await server.destroy().catch(() => {});
  await registry.stop();
}

if (PROFILE) {
  const file = readdirSync(OUT).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(OUT, f)).sort().pop();
  if (!file) throw new Error(`no profile written in ${OUT}`);
  type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] };
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
  const self = new Map<string, number>();
  const total = p.samples.length;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  for (const id of p.samples) {
    const n = byId.get(id)!;
    const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^file:\/\//, '').replace(ROOT, '')}:${n.callFrame.lineNumber + 1}`;
    self.set(k, (self.get(k) ?? 0) + 1);
  }
  console.log(`profile ${file}: ${total} samples`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
}
