/**
 * RuncDriver against the real runc, conmon, cgroups and overlayfs of this host.
 * Needs root. Run: node --import tsx --test test/driver-runc.root.test.ts
 *
 * Everything lives under a unique cgroup root (skiff-test-<rand>), a temp dir and a
 * network namespace (skiff-drvtest-<rand>), all removed at the end even on failure.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { ContainerLaunchSpec, TaskResources } from '../src/drivers/driver.ts';
import { RuncDriver } from '../src/drivers/runc/index.ts';
import { parseMountinfo } from '../src/drivers/oci/cgroups.ts';
import { writeBusyboxRootfs as buildBusyboxLayer } from './support/images.ts';

const execFileP = promisify(execFile);
const RUN = randomBytes(4).toString('hex');
const CGROUP_ROOT = `skiff-test-${RUN}`;
const NETNS = `skiff-drvtest-${RUN}`;
const NETNS_PATH = `/var/run/netns/${NETNS}`;
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const skipReason =
  process.getuid?.() !== 0
    ? 'needs root'
    : !existsSync('/usr/sbin/runc') || !existsSync('/usr/bin/conmon')
      ? 'needs runc and conmon'
      : false;

let tmp = '';
let layer = '';
let stateDir = '';
let driver: RuncDriver;
let seq = 0;

const newDriver = () => new RuncDriver({ stateDir, cgroupRoot: CGROUP_ROOT, pollIntervalMs: 200 });

/** Tracks what a test made and removes it (containers first, then tasks) when it ends. */
class Scope {
  readonly containers: string[] = [];
  readonly tasks: string[] = [];
  constructor(t: TestContext, readonly d: RuncDriver = driver) {
    t.after(() => this.cleanup());
  }
  async task(res: Partial<TaskResources> = {}): Promise<string> {
    const id = `t${RUN}${(++seq).toString().padStart(3, '0')}`;
    this.tasks.push(id);
    await this.d.createTask(id, { cpuUnits: 256, memoryMiB: 128, pidsLimit: 64, ...res });
    return id;
  }
  spec(taskId: string, name: string, args: string[], extra: Partial<ContainerLaunchSpec> = {}): ContainerLaunchSpec {
    return {
      id: `${taskId}-${name}`,
      taskId,
      containerName: name,
      layerDirs: [layer],
      taskLimits: { cpuUnits: 256, memoryMiB: 128 },
      args,
      env: ['PATH=/bin', 'HOME=/root'],
      cwd: '/',
      uid: 0,
      gid: 0,
      netnsPath: NETNS_PATH,
      hostname: name,
      ...extra,
    };
  }
  async create(spec: ContainerLaunchSpec): Promise<{ id: string; pid: number }> {
    this.containers.push(spec.id);
    const { pid } = await this.d.createContainer(spec);
    return { id: spec.id, pid };
  }
  async run(taskId: string, name: string, args: string[], extra: Partial<ContainerLaunchSpec> = {}): Promise<string> {
    const { id } = await this.create(this.spec(taskId, name, args, extra));
    await this.d.startContainer(id);
    return id;
  }
  async cleanup(): Promise<void> {
    for (const id of this.containers) await this.d.destroyContainer(id).catch((e) => console.error(`cleanup ${id}:`, e));
    for (const id of this.tasks) await this.d.destroyTask(id).catch((e) => console.error(`cleanup task ${id}:`, e));
  }
}

async function readLog(id: string): Promise<string> {
  return fsp.readFile(driver.logPath(id), 'utf8').catch(() => '');
}

async function runcList(): Promise<string[]> {
  const { stdout } = await execFileP('/usr/sbin/runc', ['--root', path.join(stateDir, 'runc'), 'list', '-q']);
  return stdout.split('\n').filter(Boolean);
}

async function mountsUnder(dir: string): Promise<string[]> {
  const text = await fsp.readFile('/proc/self/mountinfo', 'utf8');
  return parseMountinfo(text)
    .map((m) => m.mountPoint)
    .filter((mp) => mp === dir || mp.startsWith(dir + '/'));
}

async function cgroupHierarchies(): Promise<string[]> {
  const text = await fsp.readFile('/proc/self/mountinfo', 'utf8');
  return [...new Set(parseMountinfo(text).filter((m) => m.fstype === 'cgroup' || m.fstype === 'cgroup2').map((m) => m.mountPoint))];
}

describe('RuncDriver (real runc, root)', { skip: skipReason, concurrency: false }, () => {
  before(async () => {
    tmp = await fsp.mkdtemp(path.join(tmpdir(), 'skiff-drvtest-'));
    layer = path.join(tmp, 'layer');
    stateDir = path.join(tmp, 'state');
    await buildBusyboxLayer(layer);
    await execFileP('ip', ['netns', 'add', NETNS]);
    await execFileP('ip', ['netns', 'exec', NETNS, 'ip', 'link', 'set', 'lo', 'up']);
    driver = newDriver();
  });

  after(async () => {
    if (stateDir) {
      const d = newDriver();
      for (const id of await d.listContainers().catch(() => [])) await d.destroyContainer(id).catch((e) => console.error(e));
      for (const t of await d.listTasks().catch(() => [])) await d.destroyTask(t).catch((e) => console.error(e));
      for (const h of await cgroupHierarchies()) await fsp.rmdir(path.join(h, CGROUP_ROOT)).catch(() => {});
      await fsp.rm(d.secureDir, { recursive: true, force: true }); // the specs' memory dir (secure-dir.ts)
    }
    await execFileP('ip', ['netns', 'del', NETNS]).catch(() => {});
    if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  });

  test('fingerprint finds nothing missing on this host', async () => {
    const fp = await driver.fingerprint();
    assert.deepEqual({ name: fp.name, available: fp.available, reasons: fp.reasons, isolation: fp.isolation }, { name: 'runc', available: true, reasons: [], isolation: 'namespaces' });
    assert.deepEqual(fp.features, { exec: true, stats: true, writableLayerUsage: true });
  });

  test('taskStats/containerStats read the cgroups; writableLayerUsage counts what the container wrote; all undefined once gone', async (t) => {
    const s = new Scope(t);
    const task = await s.task({ cpuUnits: 512, memoryMiB: 96, pidsLimit: 40 });
    // Burn some CPU, write 2 MiB into the writable layer, then stay up.
    const id = await s.run(task, 'busy', ['sh', '-c', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; dd if=/dev/zero of=/data bs=1024 count=2048 2>/dev/null; echo ready; exec sleep 1000']);
    await waitForLog(id, /stdout F ready$/m);
    const [tsk, ctr, layerUse] = await Promise.all([driver.taskStats(task), driver.containerStats(id), driver.writableLayerUsage(id)]);
    assert.ok(tsk && ctr && layerUse, 'all three answer for a running container');
    assert.ok(ctr.cpuUsageUs > 0 && tsk.cpuUsageUs >= ctr.cpuUsageUs, `task ${tsk.cpuUsageUs} µs >= container ${ctr.cpuUsageUs} µs > 0`);
    assert.ok(ctr.cpuUserUs !== undefined && ctr.cpuSystemUs !== undefined, 'user/system split');
    assert.equal(tsk.memoryLimitBytes, 96 * 1024 * 1024, 'the task limit is in force');
    assert.equal(ctr.memoryLimitBytes, 96 * 1024 * 1024, "a container without its own limit is under its task's");
    assert.ok(ctr.workingSetBytes > 0 && (ctr.memoryUsageBytes ?? 0) >= ctr.workingSetBytes);
    assert.ok(ctr.pids !== undefined && ctr.pids >= 1, `pids ${ctr.pids}`);
    assert.ok(tsk.throttling && tsk.throttling.periods >= 0, 'CFS throttling counters of the task');
    assert.ok(ctr.pid && (await fsp.readFile(`/proc/${ctr.pid}/net/dev`, 'utf8')).includes('lo:'), 'a pid that shows the task network namespace');
    assert.ok(layerUse.bytes >= 2 * 1024 * 1024 && layerUse.bytes < 3 * 1024 * 1024, `writable layer ${layerUse.bytes} bytes`);
    assert.ok(layerUse.inodes >= 1);
    await driver.stopContainer(id, 'SIGKILL', 1000);
    await driver.destroyContainer(id);
    assert.equal(await driver.containerStats(id), undefined);
    assert.equal(await driver.writableLayerUsage(id), undefined);
    await driver.destroyTask(task);
    assert.equal(await driver.taskStats(task), undefined);
  });

  test('stdout/stderr land in the log with stream labels; exit code propagates', async (t) => {
    const s = new Scope(t);
    const task = await s.task();
    const id = await s.run(task, 'app', ['sh', '-c', 'echo hello-out; echo hello-err >&2; exit 3']);
    const exit = await driver.waitContainer(id);
    assert.equal(exit.exitCode, 3);
    assert.equal(exit.oomKilled, false);
    assert.ok(Math.abs(exit.exitedAt - Date.now()) < 60_000, 'exitedAt is a recent epoch-ms time');
    const log = await readLog(id);
    assert.match(log, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[+-]\d\d:\d\d stdout F hello-out$/m);
    assert.match(log, /^\S+ stderr F hello-err$/m);
    // waitContainer on an exited container resolves at once, from a fresh instance too.
    assert.deepEqual(await newDriver().waitContainer(id), exit);
    assert.deepEqual((await driver.inspect(id)).status, 'stopped');
  });

  test('task cgroup gets the CPU quota, memory and pids limits; container gets cpu.shares', async (t) => {
    const s = new Scope(t);
    const task = await s.task({ cpuUnits: 512, memoryMiB: 96, pidsLimit: 33 });
    const cg = (ctrl: string, ...p: string[]) => path.join('/sys/fs/cgroup', ctrl, CGROUP_ROOT, task, ...p);
    assert.equal((await fsp.readFile(cg('cpu', 'cpu.cfs_period_us'), 'utf8')).trim(), '100000');
    assert.equal((await fsp.readFile(cg('cpu', 'cpu.cfs_quota_us'), 'utf8')).trim(), String((512 / 1024) * 100000));
    assert.equal((await fsp.readFile(cg('memory', 'memory.limit_in_bytes'), 'utf8')).trim(), String(96 * 1024 * 1024));
    assert.equal((await fsp.readFile(cg('pids', 'pids.max'), 'utf8')).trim(), '33');
    await driver.createTask(task, { cpuUnits: 512, memoryMiB: 96, pidsLimit: 33 }); // idempotent
    const id = await s.run(task, 'web', ['sh', '-c', 'echo shares=$(cat /sys/fs/cgroup/cpu/cpu.shares) ro=$(touch /x 2>/dev/null && echo no || echo yes)'], {
      cpuUnits: 300,
      readonlyRootFilesystem: true,
    });
    assert.equal((await driver.waitContainer(id)).exitCode, 0);
    assert.match(await readLog(id), /stdout F shares=300 ro=yes$/m);
    assert.deepEqual((await driver.listTasks()).includes(task), true);
  });

  test('a memory hog under a 64 MiB task limit is OOM-killed (137, oomKilled)', async (t) => {
    const s = new Scope(t);
    const task = await s.task({ memoryMiB: 64 });
    const id = await s.run(task, 'hog', ['awk', 'BEGIN { s = "xxxxxxxx"; while (1) s = s s }']);
    const exit = await driver.waitContainer(id);
    assert.equal(exit.exitCode, 137);
    assert.equal(exit.oomKilled, true);
  });

  test('stopContainer: a process that traps TERM exits 0 quickly', async (t) => {
    const s = new Scope(t);
    const task = await s.task();
    const id = await s.run(task, 'graceful', ['sh', '-c', 'trap "echo got-term; exit 0" TERM; echo ready; while true; do sleep 0.05; done']);
    await waitForLog(id, /stdout F ready$/m);
    const t0 = Date.now();
    const exit = await driver.stopContainer(id, 'SIGTERM', 10_000);
    assert.equal(exit.exitCode, 0);
    assert.ok(Date.now() - t0 < 3000, `stopped in ${Date.now() - t0} ms`);
    assert.match(await readLog(id), /stdout F got-term$/m);
    // Stopping again returns the same exit.
    assert.equal((await driver.stopContainer(id, 'SIGTERM', 1000)).exitCode, 0);
  });

  test('stopContainer: SIGTERM ignored → SIGKILL after the timeout (137)', async (t) => {
    const s = new Scope(t);
    const task = await s.task();
    const id = await s.run(task, 'stubborn', ['sh', '-c', 'trap "" TERM; echo ready; while true; do sleep 0.05; done']);
    await waitForLog(id, /stdout F ready$/m);
    const timeout = 1500;
    const t0 = Date.now();
    const exit = await driver.stopContainer(id, 'TERM', timeout);
    const elapsed = Date.now() - t0;
    assert.equal(exit.exitCode, 137);
    assert.equal(exit.oomKilled, false);
    assert.ok(elapsed >= timeout, `elapsed ${elapsed} ms >= ${timeout}`);
    assert.ok(elapsed < timeout + 5000, `elapsed ${elapsed} ms`);
  });

  test('stopContainer on a created (never started) container kills it', async (t) => {
    const s = new Scope(t);
    const task = await s.task();
    const { id, pid } = await s.create(s.spec(task, 'idle', ['sleep', '1000']));
    assert.ok(pid > 1);
    assert.deepEqual(await driver.inspect(id), { id, status: 'created', pid });
    const exit = await driver.stopContainer(id, 'SIGTERM', 5000);
    assert.equal(exit.exitCode, 137);
  });

  test('two containers of one task share the network namespace (127.0.0.1)', async (t) => {
    const s = new Scope(t);
    const task = await s.task();
    const server = await s.run(task, 'server', ['nc', '-l', '-p', '8080']);
    const client = await s.run(task, 'client', [
      'sh',
      '-c',
      'for i in $(seq 1 100); do echo hello-from-client | nc 127.0.0.1 8080 && exit 0; sleep 0.05; done; exit 1',
    ]);
    assert.equal((await driver.waitContainer(client)).exitCode, 0);
    assert.equal((await driver.waitContainer(server)).exitCode, 0);
    await waitForLog(server, /stdout F hello-from-client$/m); // conmon may write the line just after the exit is recorded
  });

  test('a failed create (missing executable) reports runc\'s error and leaves nothing behind', async (t) => {
    const s = new Scope(t);
    const task = await s.task();
    const spec = s.spec(task, 'broken', ['/no/such/binary']);
    await assert.rejects(driver.createContainer(spec), /no such file|not found|executable/i);
    assert.ok(!(await driver.listContainers()).includes(spec.id));
    assert.deepEqual(await mountsUnder(path.join(stateDir, 'bundles', spec.id)), []);
    assert.equal((await driver.inspect(spec.id)).status, 'missing');
    // A rootfs that cannot be mounted: conmon is held on its start pipe and killed, never runs runc.
    const conmonsBefore = await liveConmons();
    await assert.rejects(driver.createContainer({ ...spec, layerDirs: [path.join(tmp, 'no-such-layer')] }), /cannot mount the container rootfs/);
    assert.ok(!(await driver.listContainers()).includes(spec.id));
    assert.ok(!existsSync(path.join(stateDir, 'bundles', spec.id)));
    assert.ok((await liveConmons()) <= conmonsBefore, 'no conmon left behind');
    // The id is free again.
    await s.run(task, 'broken', ['true']);
    assert.equal((await driver.waitContainer(spec.id)).exitCode, 0);
  });

  test('adoption: a new driver instance waits on, inspects and stops a running container', async (t) => {
    const s = new Scope(t);
    const task = await s.task();
    const id = await s.run(task, 'long', ['sleep', '1000']);
    const first = await driver.inspect(id);
    assert.equal(first.status, 'running');
    const firstWait = driver.waitContainer(id);

    const d2 = newDriver();
    assert.ok((await d2.listContainers()).includes(id));
    assert.deepEqual(await d2.inspect(id), first);
    const waited = d2.waitContainer(id);
    // sleep as PID 1 has no TERM handler, so it ignores TERM: SIGKILL after the timeout.
    const exit = await d2.stopContainer(id, 'SIGTERM', 300);
    assert.equal(exit.exitCode, 137);
    assert.deepEqual(await waited, exit);
    assert.equal((await firstWait).exitCode, 137);
    assert.equal((await d2.inspect(id)).status, 'stopped');
  });

  test('adoption: a container outlives the process that created it', async (t) => {
    const s = new Scope(t);
    const task = await s.task();
    const spec = s.spec(task, 'survivor', ['sh', '-c', 'trap "exit 7" TERM; while true; do sleep 0.05; done']);
    s.containers.push(spec.id);
    const script = path.join(tmp, 'creator.mts');
    await fsp.writeFile(
      script,
      `import { RuncDriver } from ${JSON.stringify(path.join(REPO, 'src/drivers/runc/index.ts'))};
const d = new RuncDriver(${JSON.stringify({ stateDir, cgroupRoot: CGROUP_ROOT })});
const spec = ${JSON.stringify(spec)};
const { pid } = await d.createContainer(spec);
await d.startContainer(spec.id);
console.log(pid);
process.exit(0);
`,
    );
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
      let buf = '';
      child.stdout.on('data', (d: Buffer) => (buf += d));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(buf) : reject(new Error(`creator exited ${code}`))));
    });
    const pid = Number(out.trim());
    assert.ok(pid > 1, `pid ${out}`);
    await new Promise((r) => setTimeout(r, 200));
    process.kill(pid, 0); // still alive after its creator exited
    const d2 = newDriver();
    assert.deepEqual(await d2.inspect(spec.id), { id: spec.id, status: 'running', pid });
    const exit = await d2.stopContainer(spec.id, 'SIGTERM', 5000);
    assert.equal(exit.exitCode, 7);
  });

  test('destroy removes runc state, mounts, bundle and cgroups but keeps the log; idempotent', async (t) => {
    const s = new Scope(t);
    const task = await s.task();
    const id = await s.run(task, 'gone', ['sh', '-c', 'echo bye; echo data > /tmp/scratch; sleep 1000']);
    await waitForLog(id, /stdout F bye$/m);
    const bundle = path.join(stateDir, 'bundles', id);
    assert.ok((await runcList()).includes(id));
    // The container holds its own rootfs mount; the host's copy is detached once created, so the
    // host's mount table (copied by every new container's mount namespace) does not grow per task.
    assert.deepEqual(await mountsUnder(bundle), [], 'no host mount left per running container');
    assert.ok(existsSync(path.join(bundle, 'upper/tmp/scratch')), 'writes land in the ephemeral upper dir');
    const root = await fsp.readFile(`/proc/${(await driver.inspect(id)).pid}/mountinfo`, 'utf8');
    assert.match(root.split('\n').find((l) => l.split(' ')[4] === '/') ?? '', / - overlay overlay /, 'the container\'s / is still its overlay');

    const pending = driver.waitContainer(id);
    await driver.destroyContainer(id); // running: force-killed
    assert.equal((await pending).exitCode, 137, 'a pending wait resolves with the kill');
    await driver.destroyContainer(id); // again: no-op
    assert.ok(!(await runcList()).includes(id));
    assert.deepEqual(await mountsUnder(bundle), []);
    assert.ok(!existsSync(bundle));
    assert.ok(!existsSync(path.join(stateDir, 'exits', id)));
    assert.ok(!(await driver.listContainers()).includes(id));
    assert.equal((await driver.inspect(id)).status, 'missing');
    await assert.rejects(driver.waitContainer(id), /not found/);
    await assert.rejects(driver.stopContainer(id, 'SIGTERM', 100), /not found/);
    assert.match(await readLog(id), /stdout F bye$/m, 'log kept after destroy');
    assert.ok(!existsSync(path.join('/sys/fs/cgroup/memory', CGROUP_ROOT, task, 'gone')));

    await driver.destroyTask(task);
    await driver.destroyTask(task);
    for (const h of await cgroupHierarchies()) assert.ok(!existsSync(path.join(h, CGROUP_ROOT, task)), `${h} cleaned`);
    assert.ok(!(await driver.listTasks()).includes(task));
  });
});

/** Number of live (non-zombie) conmon processes on the host. */
async function liveConmons(): Promise<number> {
  let n = 0;
  for (const p of await fsp.readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const stat = await fsp.readFile(`/proc/${p}/stat`, 'utf8').catch(() => '');
    if (/^\d+ \(conmon\) [^ZX]/.test(stat)) n++;
  }
  return n;
}

async function waitForLog(id: string, re: RegExp, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (re.test(await readLog(id))) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`log of ${id} never matched ${re}`);
}
