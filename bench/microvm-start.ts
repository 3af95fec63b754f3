/**
 * `node --import tsx bench/microvm-start.ts [--n 5] [--drivers microvm,runc]`
 *
 * Driver-level start of a one-container task, per runtime: createTask +
 * createContainer + startContainer until the container's first output line is
 * in its log (the process is running), then stop and destroy — what a RunTask
 * costs the driver, without the API, image pull and network set-up around it.
 * For microvm, also the split: VM boot (QEMU start → guest init ready) inside
 * createContainer. Runs one task at a time; prints p50/max per runtime and the
 * host's load average (the figures move with it: TCG is CPU-bound). Needs root.
 * Everything it makes (temp dir, network namespace, cgroups) is removed.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createDriver } from '../src/drivers/registry.ts';
import type { Driver } from '../src/drivers/driver.ts';
import { writeBusyboxRootfs } from '../test/support/images.ts';

const execFileP = promisify(execFile);
const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : dflt);
const N = Number(opt('--n', '5'));
const DRIVERS = opt('--drivers', 'microvm,runc').split(',');
const RUN = randomBytes(3).toString('hex');
const NETNS = `skiff-bench-${RUN}`;
const CGROUP_ROOT = `skiff-bench-${RUN}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

async function once(d: Driver, layer: string, i: number, runtimeDir: string): Promise<{ total: number; create: number; boot?: number }> {
  const task = `b${RUN}${i}`;
  const id = `${task}-app`;
  const t0 = performance.now();
  await d.createTask(task, { cpuUnits: 256, memoryMiB: 512, pidsLimit: 64 });
  let boot: number | undefined;
  const ready = path.join(runtimeDir, 'microvm', 'tasks', task, 'share', 'st', 'ready');
  const watch = (async () => {
    while (boot === undefined && performance.now() - t0 < 120_000) {
      if (existsSync(ready)) boot = performance.now() - t0;
      await sleep(5);
    }
  })();
  try {
    await d.createContainer({
      id, taskId: task, containerName: 'app', layerDirs: [layer], args: ['sh', '-c', 'echo ready; exec sleep 1000'],
      env: ['PATH=/bin'], cwd: '/', uid: 0, gid: 0, netnsPath: `/var/run/netns/${NETNS}`, hostname: 'app',
      taskLimits: { cpuUnits: 256, memoryMiB: 512 },
    });
    const create = performance.now() - t0;
    await d.startContainer(id);
    for (;;) {
      if (/stdout F ready$/m.test(await fsp.readFile(d.logPath(id), 'utf8').catch(() => ''))) break;
      if (performance.now() - t0 > 120_000) throw new Error('no output in 120 s');
      await sleep(5);
    }
    const total = performance.now() - t0;
    return { total, create, boot };
  } finally {
    boot ??= -1;
    await watch;
    await d.destroyContainer(id).catch((e) => console.error(e));
    await d.destroyTask(task).catch((e) => console.error(e));
  }
}

const tmp = await fsp.mkdtemp(path.join(tmpdir(), 'skiff-bench-mvm-'));
try {
  await writeBusyboxRootfs(path.join(tmp, 'layer'));
  await execFileP('ip', ['netns', 'add', NETNS]);
  console.log(`${new Date().toISOString()}  load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}  ${N} starts per runtime, one at a time`);
  for (const name of DRIVERS) {
    const runtimeDir = path.join(tmp, name);
    const d = await createDriver(name, { runtimeDir, cgroupRoot: CGROUP_ROOT });
    const fp = await d.fingerprint();
    if (!fp.available) {
      console.log(`${name}: unavailable (${fp.reasons.join('; ')})`);
      continue;
    }
    const rows: { total: number; create: number; boot?: number }[] = [];
    for (let i = 0; i < N; i++) rows.push(await once(d, path.join(tmp, 'layer'), i, runtimeDir));
    const f = (xs: number[]) => `p50 ${q(xs, 0.5).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms`;
    console.log(`${name}${fp.platform ? ` (${fp.platform})` : ''}: start to running ${f(rows.map((r) => r.total))}; createContainer done ${f(rows.map((r) => r.create))}`);
    const boots = rows.map((r) => r.boot ?? -1).filter((b) => b > 0);
    if (boots.length) console.log(`  of which the VM boot (createTask → guest init ready): ${f(boots)}`);
  }
  console.log(`load average after: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
} finally {
  await execFileP('ip', ['netns', 'del', NETNS]).catch(() => {});
  const mounts = await fsp.readFile('/proc/self/mountinfo', 'utf8');
  for (const mp of new Set(mounts.split('\n').filter((l) => / - cgroup2? /.test(l)).map((l) => l.split(' ')[4]!))) {
    await fsp.rmdir(path.join(mp, CGROUP_ROOT)).catch(() => {});
  }
  await fsp.rm(tmp, { recursive: true, force: true });
}
