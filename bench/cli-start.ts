/**
 * `npm run bench:cli [-- --rounds 30] [--before DIR ...]`
 *
 * Wall time of `skiff --help` and `skiff ps` (against a real server with a few
 * running tasks), next to `aws --version`, in one run. Each round runs every
 * variant once, in turn, so a "before" and an "after" see the same machine load
 * (A-B-A-B, not all of A then all of B). Wall time is from spawn to exit;
 * stdout is read in full, as a terminal would. CPU time (user + system of the
 * command, from bash's `times` around a second run) is reported too: on a loaded
 * machine it moves far less than wall time.
 *
 * Variants: `aws --version`; this checkout's `bin/skiff.js` (compiled dist/
 * when it is current: the script builds it first if needed); each `--before DIR`
 * (another checkout or an unpacked package: its `bin/skiff.js`, label = DIR's
 * last part). Results go to bench/results/cli-start-<date>.json.
 *
 * Needs root (the server runs real tasks). Everything it starts is removed at
 * the end. Traffic goes only to loopback.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { loadavg } from 'node:os';
import { TestServer, TEST_ROOT_KEY } from '../test/support/skiff-server.ts';
import { startRegistry, type TestRegistry } from '../test/support/registry.ts';
import { buildImage, pushImage, busyboxImageFiles } from '../src/images/oci-build.ts';
import { BenchClient } from './lib/api.ts';
import { summarize, type Summary } from './lib/stats.ts';
import { machineInfo } from './lib/host.ts';

const ROOT = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const num = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const ROUNDS = num('--rounds', 30);
const TASKS = num('--tasks', 3);
const befores = args.flatMap((a, i) => (a === '--before' ? [resolve(args[i + 1]!)] : []));
const log = (m: string) => console.error(`[bench:cli ${new Date().toISOString().slice(11, 19)}] ${m}`);

interface Variant {
  label: string;
  cmd: string[];
}

/** One more run under bash: the command's user + system CPU ms (bash's `times`, children line). */
function cpuOnce(v: Variant, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolveP, reject) => {
    const child = spawn('bash', ['-c', '"$@" >/dev/null 2>&1 || exit 1; times', '_', ...v.cmd], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n')[1] ?? '';
      const secs = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
      if (code !== 0 || secs.length !== 2) reject(new Error(`${v.label}: exit ${code}, times said ${JSON.stringify(out)}`));
      else resolveP((secs[0]! + secs[1]!) * 1000);
    });
  });
}

/** One run: wall ms from spawn to exit; throws on a non-zero exit. */
function timeOnce(v: Variant, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolveP, reject) => {
    const t0 = performance.now();
    const child = spawn(v.cmd[0]!, v.cmd.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stdout.resume();
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if (code !== 0) reject(new Error(`${v.label}: exit ${code}: ${err.slice(0, 500)}`));
      else resolveP(ms);
    });
  });
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark runs real tasks: run it as root');
  log('building dist/ if it is not current ...');
  execFileSync(process.execPath, [join(ROOT, 'packaging/build.mjs'), '--if-stale'], { stdio: 'inherit' });
  const node = process.execPath;
  const skiffs: Variant[] = [{ label: 'skiff (this checkout)', cmd: [node, join(ROOT, 'bin/skiff.js')] }, ...befores.map((d) => ({ label: `skiff (${basename(d)})`, cmd: [node, join(d, 'bin/skiff.js')] }))];
  const variants: [string, Variant][] = [
    ['node -e 0', { label: 'node -e 0', cmd: [node, '-e', '0'] }],
    ['aws --version', { label: 'aws --version', cmd: ['aws', '--version'] }],
    ...skiffs.map((s): [string, Variant] => [`${s.label} --help`, { label: `${s.label} --help`, cmd: [...s.cmd, '--help'] }]),
    ...skiffs.map((s): [string, Variant] => [`${s.label} ps`, { label: `${s.label} ps`, cmd: [...s.cmd, 'ps'] }]),
  ];

  let registry: TestRegistry | undefined;
  let server: TestServer | undefined;
  let api: BenchClient | undefined;
  const loadAtStart = loadavg().map((x) => Math.round(x * 100) / 100);
  try {
    registry = await startRegistry({ auth: 'none' });
    const image = `${registry.host}/bench/busybox:cli`;
    await pushImage(await buildImage({ files: busyboxImageFiles(), config: { cmd: ['sh'] } }), image);
    server = new TestServer();
    await server.start();
    api = new BenchClient(server.endpoint, TEST_ROOT_KEY);
    await api.call('RegisterTaskDefinition', {
      family: 'bench-cli', requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc', cpu: '256', memory: '512',
      containerDefinitions: [{ name: 'app', image, command: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'] }],
    });
    await api.call('RunTask', { taskDefinition: 'bench-cli', count: TASKS });
    const env = { ...process.env, ...server.clientEnv(), NO_COLOR: '1' };
    for (const [, v] of variants) await timeOnce(v, env); // warm the page cache, check each works
    log(`${ROUNDS} rounds of ${variants.length} commands, interleaved ...`);
    const samples = new Map<string, number[]>(variants.map(([k]) => [k, []]));
    const cpu = new Map<string, number[]>(variants.map(([k]) => [k, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const [k, v] of variants) {
        samples.get(k)!.push(await timeOnce(v, env));
        cpu.get(k)!.push(await cpuOnce(v, env));
      }
    }
    const loadAtEnd = loadavg().map((x) => Math.round(x * 100) / 100);
    const results: Record<string, { wallMs: Summary; cpuMs: Summary }> = Object.fromEntries(
      [...samples].map(([k, xs]) => [k, { wallMs: summarize(xs), cpuMs: summarize(cpu.get(k)!) }]),
    );
    const result = {
      date: new Date().toISOString(),
      machine: machineInfo(execFileSync('runc', ['--version'], { encoding: 'utf8' }).split('\n')[0]!),
      method: {
        rounds: ROUNDS,
        order: 'interleaved: every round runs each command once, in the order listed',
        wallTime: 'spawn to exit, stdout read in full (a pipe: no colours, no bars)',
        cpuTime: "user + system CPU of a second run of the same command, from bash's `times` (10 ms resolution on some kernels)",
        ps: `skiff ps against a local server (TestServer) with ${TASKS} running tasks: ListTasks + DescribeTasks`,
        loadAverageAtStart: loadAtStart,
        loadAverageAtEnd: loadAtEnd,
      },
      results,
    };
    const out = join(ROOT, 'bench', 'results', `cli-start-${result.date.slice(0, 10)}.json`);
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
    const w = Math.max(...variants.map(([k]) => k.length));
    console.log(`\nCLI wall time, ${ROUNDS} interleaved rounds, load average ${loadAtStart.join(' ')} → ${loadAtEnd.join(' ')}\n`);
    for (const [k] of variants) {
      const { wallMs: s, cpuMs: c } = results[k]!;
      console.log(`${k.padEnd(w)}  wall p50 ${s.p50} / p95 ${s.p95} ms   cpu p50 ${c.p50} ms`);
    }
    log(`wrote ${out}`);
  } finally {
    api?.close();
    await server?.destroy().catch((e) => log(`cleanup of the server failed: ${e}`));
    await registry?.stop();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exitCode = 1;
});
