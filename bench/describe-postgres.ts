/**
 * `node --import tsx bench/describe-postgres.ts [--rps 500] [--seconds 8] [--tasks 100]`  (root)
 *
 * DescribeTasks of 100 running tasks at an open-loop rate, against a server on
 * PostgreSQL (`--database`, a PostgreSQL 15 started in a temp dir) and against
 * one on the embedded SQLite, in the same run, one after the other on the same
 * machine. Prints one JSON line per store (latency p50/p99 in ms, achieved
 * rate, errors, the server's CPU per request). Real tasks (runc), loopback only.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { TestServer, TEST_ROOT_KEY } from '../test/support/skiff-server.ts';
import { startRegistry } from '../test/support/registry.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { buildImage, pushImage, busyboxImageFiles } from '../src/images/oci-build.ts';
import { BenchClient, type WireTask } from './lib/api.ts';
import { openLoop } from './lib/load.ts';

const args = process.argv.slice(2);
const opt = (n: string, d: string) => (args.includes(n) ? args[args.indexOf(n) + 1]! : d);
const RPS = Number(opt('--rps', '500'));
const SECONDS = Number(opt('--seconds', '8'));
const TASKS = Number(opt('--tasks', '100'));

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

async function measure(store: string, ref: string, extraArgs: string[]): Promise<void> {
  const server = new TestServer({ args: extraArgs });
  try {
    await server.start();
    const api = new BenchClient(server.endpoint, TEST_ROOT_KEY);
    await api.call('RegisterTaskDefinition', {
      family: 'describe', requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc', cpu: '256', memory: '512',
      containerDefinitions: [{ name: 'app', image: ref, command: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'] }],
    });
    const arns: string[] = [];
    while (arns.length < TASKS) {
      const n = Math.min(10, TASKS - arns.length);
      arns.push(...(await api.call<{ tasks: WireTask[] }>('RunTask', { taskDefinition: 'describe', count: n })).tasks.map((t) => t.taskArn));
    }
    for (;;) {
      const ts = (await api.call<{ tasks: WireTask[] }>('DescribeTasks', { tasks: arns })).tasks;
      if (ts.every((t) => t.lastStatus === 'RUNNING')) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await new Promise((r) => setTimeout(r, 2000));
    await openLoop(100, 2, () => api.callRaw('DescribeTasks', { tasks: arns })); // warm-up
    const cpu0 = cpuMs(server.pid!);
    const r = await openLoop(RPS, SECONDS, () => api.callRaw('DescribeTasks', { tasks: arns }));
    const cpuPerReqMs = (cpuMs(server.pid!) - cpu0) / (RPS * SECONDS);
    console.log(JSON.stringify({ store, tasks: arns.length, rps: RPS, seconds: SECONDS, p50Ms: r.latency.p50, p99Ms: r.latency.p99, achievedRps: r.achievedRps, errors: r.errors, cpuPerReqMs: Math.round(cpuPerReqMs * 1000) / 1000 }));
  } finally {
    await server.stop('SIGTERM').catch(() => {});
    await server.destroy().catch(() => {});
  }
}

const registry = await startRegistry();
const pg = await startPostgres();
try {
  const ref = `${registry.host}/bench/describe:${randomBytes(3).toString('hex')}`;
  await pushImage(await buildImage({ files: busyboxImageFiles(), config: { cmd: ['sh'] } }), ref);
  await measure('postgres', ref, ['--database', pg.createDatabase('bench')]);
  await measure('sqlite', ref, []);
} finally {
  pg.stop();
  await registry.stop();
}
