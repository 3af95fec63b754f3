/**
 * The Driver contract (driver.ts) as one test suite, run against every driver:
 * the fake in src/drivers/fake/fake-driver.test.ts (no root), runc in
 * test/driver-contract.root.test.ts (real runc, conmon, cgroups). Whatever a
 * task runner may rely on is asserted here, in terms any driver can meet; what
 * only one driver can show (cgroup files, mounts, namespaces shared between
 * containers) stays in that driver's own tests.
 *
 * A driver takes part through a harness: a way to make driver instances over
 * one host (a second instance is a restarted server), a network namespace and
 * image layers its containers can use, and the argv that makes its containers
 * behave as each workload says.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { ContainerLaunchSpec, Driver, TaskResources } from './driver.ts';

/** What a container does, in driver-neutral terms. */
export type Workload =
  /** Writes `stdout` to stdout and `stderr` to stderr, then exits with `code`. */
  | { kind: 'exit'; code: number; stdout: string; stderr: string }
  /** Writes `ready`, then runs until SIGTERM, on which it exits with `code`. */
  | { kind: 'untilTerm'; code: number }
  /** Writes `ready`, then runs and ignores SIGTERM. */
  | { kind: 'ignoreTerm' }
  /** Runs for a long time. */
  | { kind: 'sleep' }
  /** Allocates memory until the task's limit (64 MiB) ends it. */
  | { kind: 'memoryHog' }
  /** Names an executable the image does not have. */
  | { kind: 'missingExecutable' };

export interface DriverHarness {
  /** A new driver instance over the harness's host; a second one is a restarted server adopting containers. */
  newDriver(): Driver;
  /** An existing network namespace containers may join. */
  netnsPath: string;
  /** Image layers (lowest first) holding what the workloads need. */
  layerDirs: string[];
  /** argv making a container behave as `w` says. */
  argv(w: Workload): string[];
  /** argv that, run by `exec` in a running container, prints `text` and exits with `code`. */
  execArgv(text: string, code: number): string[];
  /** Removes whatever the harness made (called once, after the suite, even when it failed). */
  cleanup(): Promise<void>;
}

export interface DriverContractOptions {
  /** Skip the whole suite, with this reason (e.g. 'needs root'). */
  skip?: string | false;
  /** Prefix of the ids this run uses (unique per run when the host is shared). */
  idPrefix?: string;
}

const RES: TaskResources = { cpuUnits: 256, memoryMiB: 128, pidsLimit: 64 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Registers the contract tests for one driver. `setUp` runs once, before them. */
export function driverContract(name: string, setUp: () => Promise<DriverHarness>, opts: DriverContractOptions = {}): void {
  const prefix = opts.idPrefix ?? `c${Math.random().toString(16).slice(2, 8)}`;
  let h: DriverHarness;
  let driver: Driver;
  let seq = 0;

  /** Tracks what one test made and removes it when the test ends, even when it failed. */
  class Scope {
    readonly containers: string[] = [];
    readonly tasks: string[] = [];
    constructor(t: TestContext) {
      t.after(async () => {
        for (const id of this.containers) await driver.destroyContainer(id).catch((e) => console.error(`cleanup ${id}:`, e));
        for (const id of this.tasks) await driver.destroyTask(id).catch((e) => console.error(`cleanup task ${id}:`, e));
      });
    }
    async task(res: Partial<TaskResources> = {}): Promise<string> {
      const id = `${prefix}t${(++seq).toString().padStart(3, '0')}`;
      this.tasks.push(id);
      await driver.createTask(id, { ...RES, ...res });
      return id;
    }
    spec(taskId: string, containerName: string, w: Workload): ContainerLaunchSpec {
      return {
        id: `${taskId}-${containerName}`,
        taskId,
        containerName,
        layerDirs: h.layerDirs,
        args: h.argv(w),
        env: ['PATH=/bin:/usr/bin', 'HOME=/root'],
        cwd: '/',
        uid: 0,
        gid: 0,
        netnsPath: h.netnsPath,
        hostname: containerName,
        taskLimits: { cpuUnits: RES.cpuUnits, memoryMiB: RES.memoryMiB },
      };
    }
    async create(spec: ContainerLaunchSpec): Promise<{ id: string; pid: number }> {
      this.containers.push(spec.id);
      const { pid } = await driver.createContainer(spec);
      return { id: spec.id, pid };
    }
    async run(taskId: string, containerName: string, w: Workload): Promise<string> {
      const { id } = await this.create(this.spec(taskId, containerName, w));
      await driver.startContainer(id);
      return id;
    }
  }

  const readLog = (id: string) => readFile(driver.logPath(id), 'utf8').catch(() => '');
  async function waitForLog(id: string, re: RegExp, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (re.test(await readLog(id))) return;
      await sleep(20);
    }
    throw new Error(`log of ${id} never matched ${re}`);
  }

  describe(`Driver contract: ${name}`, { skip: opts.skip, concurrency: false }, () => {
    before(async () => {
      h = await setUp();
      driver = h.newDriver();
    });
    after(async () => {
      await h?.cleanup();
    });

    test('fingerprint: available here, nothing missing, its own name', async () => {
      const fp = await driver.fingerprint();
      assert.equal(fp.name, driver.name);
      assert.deepEqual(fp.reasons, []);
      assert.equal(fp.available, true);
    });

    test('createTask checks its limits, is idempotent; destroyTask removes it, idempotently', async (t) => {
      const s = new Scope(t);
      await assert.rejects(driver.createTask(`${prefix}bad`, { ...RES, cpuUnits: 0 }), /cpuUnits/);
      await assert.rejects(driver.createTask(`${prefix}bad`, { ...RES, memoryMiB: 1 }), /memoryMiB/);
      await assert.rejects(driver.createTask(`${prefix}bad`, { ...RES, pidsLimit: 0 }), /pidsLimit/);
      await assert.rejects(driver.createTask('../escape', RES), /invalid task id/);
      assert.ok(!(await driver.listTasks()).includes(`${prefix}bad`));
      const task = await s.task();
      await driver.createTask(task, RES);
      assert.ok((await driver.listTasks()).includes(task));
      await driver.destroyTask(task);
      await driver.destroyTask(task);
      assert.ok(!(await driver.listTasks()).includes(task));
    });

    test('a container is created, started, exits with its code; stdout/stderr land in the log', async (t) => {
      const s = new Scope(t);
      const task = await s.task();
      const { id, pid } = await s.create(s.spec(task, 'app', { kind: 'exit', code: 3, stdout: 'hello-out', stderr: 'hello-err' }));
      assert.ok(pid > 1, `pid ${pid}`);
      assert.deepEqual(await driver.inspect(id), { id, status: 'created', pid });
      assert.ok((await driver.listContainers()).includes(id));
      const t0 = Date.now();
      await driver.startContainer(id);
      const exit = await driver.waitContainer(id);
      assert.equal(exit.exitCode, 3);
      assert.equal(exit.oomKilled, false);
      assert.ok(exit.exitedAt >= t0 - 2000 && exit.exitedAt <= Date.now() + 2000, `exitedAt ${exit.exitedAt} is an epoch-ms time of the run`);
      assert.deepEqual(await driver.inspect(id), { id, status: 'stopped', exit });
      const log = await readLog(id);
      assert.match(log, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) stdout F hello-out$/m);
      assert.match(log, /^\S+ stderr F hello-err$/m);
      // An exited container's wait resolves at once, with the same exit, from a new instance too.
      assert.deepEqual(await driver.waitContainer(id), exit);
      assert.deepEqual(await h.newDriver().waitContainer(id), exit);
      // Stopping it changes nothing.
      assert.deepEqual(await driver.stopContainer(id, 'SIGTERM', 1000), exit);
    });

    test('stopContainer: the stop signal reaches the process, which exits with its own code', async (t) => {
      const s = new Scope(t);
      const task = await s.task();
      const id = await s.run(task, 'graceful', { kind: 'untilTerm', code: 7 });
      await waitForLog(id, /stdout F ready$/m);
      assert.equal((await driver.inspect(id)).status, 'running');
      const t0 = Date.now();
      const exit = await driver.stopContainer(id, 'SIGTERM', 10_000);
      assert.equal(exit.exitCode, 7);
      assert.ok(Date.now() - t0 < 3000, `stopped in ${Date.now() - t0} ms, long before the timeout`);
      assert.deepEqual(await driver.stopContainer(id, 'SIGTERM', 1000), exit, 'stopping again gives the same exit');
    });

    test('stopContainer: a process that ignores the signal is killed after the timeout (137)', async (t) => {
      const s = new Scope(t);
      const task = await s.task();
      const id = await s.run(task, 'stubborn', { kind: 'ignoreTerm' });
      await waitForLog(id, /stdout F ready$/m);
      const timeout = 600;
      const t0 = Date.now();
      const exit = await driver.stopContainer(id, 'TERM', timeout);
      const elapsed = Date.now() - t0;
      assert.equal(exit.exitCode, 137);
      assert.equal(exit.oomKilled, false);
      assert.ok(elapsed >= timeout - 20, `elapsed ${elapsed} ms >= ${timeout}`);
      assert.ok(elapsed < timeout + 5000, `elapsed ${elapsed} ms`);
      await assert.rejects(driver.stopContainer(id.replace('stubborn', 'other'), 'NOT-A-SIGNAL!', 10), /invalid signal/);
    });

    test('stopContainer on a created, never started container kills it (137)', async (t) => {
      const s = new Scope(t);
      const task = await s.task();
      const { id } = await s.create(s.spec(task, 'idle', { kind: 'sleep' }));
      assert.equal((await driver.inspect(id)).status, 'created');
      const exit = await driver.stopContainer(id, 'SIGTERM', 5000);
      assert.equal(exit.exitCode, 137);
      assert.equal((await driver.inspect(id)).status, 'stopped');
    });

    test('a container over its task memory limit is OOM-killed (137, oomKilled)', async (t) => {
      const s = new Scope(t);
      const task = await s.task({ memoryMiB: 64 });
      const id = await s.run(task, 'hog', { kind: 'memoryHog' });
      const exit = await driver.waitContainer(id);
      assert.equal(exit.exitCode, 137);
      assert.equal(exit.oomKilled, true);
    });

    test('a create that fails rejects and leaves nothing behind; the id is free again', async (t) => {
      const s = new Scope(t);
      const task = await s.task();
      const spec = s.spec(task, 'broken', { kind: 'missingExecutable' });
      await assert.rejects(driver.createContainer(spec));
      assert.ok(!(await driver.listContainers()).includes(spec.id));
      assert.equal((await driver.inspect(spec.id)).status, 'missing');
      await s.run(task, 'broken', { kind: 'exit', code: 0, stdout: 'ok', stderr: 'ok' });
      assert.equal((await driver.waitContainer(spec.id)).exitCode, 0);
    });

    test('bad specs and ids are refused before anything is made', async (t) => {
      const s = new Scope(t);
      const task = await s.task();
      const good = s.spec(task, 'checked', { kind: 'sleep' });
      await assert.rejects(driver.createContainer({ ...good, id: '../escape' }), /invalid container id/);
      await assert.rejects(driver.createContainer({ ...good, args: [] }), /args/);
      await assert.rejects(driver.createContainer({ ...good, layerDirs: [] }), /layerDirs/);
      await assert.rejects(driver.createContainer({ ...good, netnsPath: 'relative/ns' }), /netnsPath/);
      await assert.rejects(driver.createContainer({ ...good, uid: -1 }), /uid/);
      await assert.rejects(driver.inspect('../escape'), /invalid container id/);
      assert.ok(!(await driver.listContainers()).includes(good.id));
      // The same id twice: the second create is refused, the first container is untouched.
      await s.create(good);
      await assert.rejects(driver.createContainer(good), /already exists/);
      assert.equal((await driver.inspect(good.id)).status, 'created');
    });

    test('an unknown container: inspect says missing; start, wait and stop reject', async () => {
      const id = `${prefix}nothing-here`;
      assert.deepEqual(await driver.inspect(id), { id, status: 'missing' });
      await assert.rejects(driver.startContainer(id));
      await assert.rejects(driver.waitContainer(id), /not found/);
      await assert.rejects(driver.stopContainer(id, 'SIGTERM', 100), /not found/);
    });

    test('exec runs a command in a running container: its output and exit code', async (t) => {
      const s = new Scope(t);
      const task = await s.task();
      const id = await s.run(task, 'target', { kind: 'untilTerm', code: 0 });
      await waitForLog(id, /stdout F ready$/m);
      const ok = await driver.exec(id, h.execArgv('probe-ok', 0), { timeoutMs: 10_000 });
      assert.equal(ok.exitCode, 0);
      assert.equal(ok.timedOut, false);
      assert.match(ok.output, /probe-ok/);
      const bad = await driver.exec(id, h.execArgv('probe-bad', 4), { timeoutMs: 10_000 });
      assert.equal(bad.exitCode, 4);
      assert.match(bad.output, /probe-bad/);
      await driver.stopContainer(id, 'SIGTERM', 5000);
      const after = await driver.exec(id, h.execArgv('too-late', 0), { timeoutMs: 5000 });
      assert.notEqual(after.exitCode, 0, 'exec in a stopped container fails');
    });

    test('adoption: a new driver instance inspects, waits on and stops a running container', async (t) => {
      const s = new Scope(t);
      const task = await s.task();
      const id = await s.run(task, 'long', { kind: 'untilTerm', code: 9 });
      await waitForLog(id, /stdout F ready$/m);
      const first = await driver.inspect(id);
      assert.equal(first.status, 'running');
      const firstWait = driver.waitContainer(id);
      const d2 = h.newDriver();
      assert.ok((await d2.listContainers()).includes(id));
      assert.ok((await d2.listTasks()).includes(task));
      assert.deepEqual(await d2.inspect(id), first);
      const waited = d2.waitContainer(id);
      const exit = await d2.stopContainer(id, 'SIGTERM', 5000);
      assert.equal(exit.exitCode, 9);
      assert.deepEqual(await waited, exit);
      assert.equal((await firstWait).exitCode, 9, 'a wait begun by the first instance sees the exit too');
      assert.deepEqual(await d2.inspect(id), { id, status: 'stopped', exit });
    });

    test('destroyContainer kills a running container, removes it but keeps its log; idempotent', async (t) => {
      const s = new Scope(t);
      const task = await s.task();
      const id = await s.run(task, 'gone', { kind: 'ignoreTerm' });
      await waitForLog(id, /stdout F ready$/m);
      const pending = driver.waitContainer(id);
      await driver.destroyContainer(id);
      assert.equal((await pending).exitCode, 137, 'a pending wait resolves with the kill');
      await driver.destroyContainer(id);
      assert.ok(!(await driver.listContainers()).includes(id));
      assert.deepEqual(await driver.inspect(id), { id, status: 'missing' });
      await assert.rejects(driver.waitContainer(id), /not found/);
      await assert.rejects(driver.stopContainer(id, 'SIGTERM', 100), /not found/);
      assert.match(await readLog(id), /stdout F ready$/m, 'the log outlives the container');
      await driver.destroyTask(task);
      assert.ok(!(await driver.listTasks()).includes(task));
    });
  });
}
