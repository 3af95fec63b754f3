/**
 * The fake driver (tests and scale measurement only) against the Driver
 * contract every driver passes, then what only the fake offers: a test ending
 * containers through the host, faults, a crash that freezes one instance.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { driverContract } from '../driver-contract.ts';
import { FakeDriver } from './fake-driver.ts';
import { FakeHost } from './fake-host.ts';
import { parseProgram } from './program.ts';
import { driver, fakeHostAt } from './index.ts';
import type { ContainerLaunchSpec } from '../driver.ts';

driverContract('fake', async () => {
  const host = new FakeHost();
  return {
    newDriver: () => new FakeDriver(host),
    netnsPath: '/fake/netns/contract',
    layerDirs: ['/fake/layers/busybox'],
    argv: (w) => {
      switch (w.kind) {
        case 'exit':
          return ['echo', w.stdout, 'stderr', w.stderr, 'exit', String(w.code)];
        case 'untilTerm':
          return ['trap', 'SIGTERM', String(w.code), 'echo', 'ready', 'run'];
        case 'ignoreTerm':
          return ['trap', 'SIGTERM', 'ignore', 'echo', 'ready', 'run'];
        case 'sleep':
          return ['/bin/sleep', '1000'];
        case 'memoryHog':
          return ['sleep', '20', 'oom'];
        case 'missingExecutable':
          return ['fail-create', 'exec: "/no/such/binary": stat /no/such/binary: no such file or directory'];
      }
    },
    execArgv: (text, code) => ['echo', text, 'exit', String(code)],
    cleanup: async () => host.dispose(),
  };
});

const spec = (id: string, args: string[], netnsPath = '/fake/netns/x'): ContainerLaunchSpec => ({
  id: `0123456789abcdef0123456789abcdef-${id}`,
  taskId: '0123456789abcdef0123456789abcdef',
  containerName: id,
  layerDirs: ['/fake/layer'],
  args,
  env: [],
  cwd: '/',
  uid: 0,
  gid: 0,
  netnsPath,
  hostname: id,
  taskLimits: { cpuUnits: 256, memoryMiB: 512 },
});

test('fake programs: a real command runs until its signal (143), verbs parse, bad programs are refused', async (t) => {
  const host = new FakeHost();
  t.after(() => host.dispose());
  const d = new FakeDriver(host);
  const { id } = spec('web', ['nginx', '-g', 'daemon off;']);
  await d.createContainer(spec('web', ['nginx', '-g', 'daemon off;']));
  await d.startContainer(id);
  assert.equal((await d.inspect(id)).status, 'running');
  assert.equal((await d.stopContainer(id, 'SIGTERM', 5000)).exitCode, 143);
  assert.deepEqual(parseProgram(['/usr/local/bin/exit', '0']).steps, [{ op: 'exit', code: 0 }]);
  assert.throws(() => parseProgram(['exit', 'x']), /whole number/);
  assert.throws(() => parseProgram(['trap', 'SIGKILL', '1']), /other than SIGKILL/);
  assert.throws(() => parseProgram(['echo']), /needs an argument/);
  await assert.rejects(d.createContainer(spec('bad', ['sleep', 'soon'])), /whole number/);
  assert.deepEqual(await d.listContainers(), [id]);
});

test('the host ends containers as a test says: exit code, OOM kill, lost supervisor', async (t) => {
  const host = new FakeHost();
  t.after(() => host.dispose());
  const d = new FakeDriver(host);
  for (const name of ['a', 'b', 'c']) {
    await d.createContainer(spec(name, ['run']));
    await d.startContainer(spec(name, []).id);
  }
  const [a, b, c] = ['a', 'b', 'c'].map((n) => spec(n, []).id);
  const waits = [a, b, c].map((id) => d.waitContainer(id).then((e) => e, (err: Error) => err.message));
  host.exit(a!, 2);
  host.oomKill(b!);
  host.lose(c!);
  const [ea, eb, ec] = await Promise.all(waits);
  assert.deepEqual([(ea as { exitCode: number }).exitCode, (ea as { oomKilled: boolean }).oomKilled], [2, false]);
  assert.deepEqual([(eb as { exitCode: number }).exitCode, (eb as { oomKilled: boolean }).oomKilled], [137, true]);
  assert.match(ec as string, /removed before it exited/);
  assert.equal((await d.inspect(c!)).status, 'missing');
  assert.throws(() => host.exit(a!, 1), /already exited/);
});

test('faults: the next create or start fails once; a missing network namespace is refused', async (t) => {
  const namespaces = new Set(['/fake/netns/here']);
  const host = new FakeHost({ netnsExists: (p) => namespaces.has(p) });
  t.after(() => host.dispose());
  const d = new FakeDriver(host);
  await assert.rejects(d.createContainer(spec('n', ['run'], '/fake/netns/gone')), /does not exist/);
  host.failNext('createContainer', 'no space left on device');
  await assert.rejects(d.createContainer(spec('f', ['run'], '/fake/netns/here')), /no space left/);
  assert.deepEqual(await d.listContainers(), []);
  await d.createContainer(spec('f', ['run'], '/fake/netns/here'));
  host.failNext('startContainer', 'exec format error', { match: (id) => id.endsWith('-f') });
  await assert.rejects(d.startContainer(spec('f', []).id), /exec format error/);
  await d.createContainer(spec('g', ['fail-start', 'permission denied'], '/fake/netns/here'));
  await assert.rejects(d.startContainer(spec('g', []).id), /permission denied/);
  assert.equal((await d.inspect(spec('g', []).id)).status, 'stopped');
});

test('a crashed instance never answers again; a new instance over the host carries on', async (t) => {
  const host = new FakeHost();
  t.after(() => host.dispose());
  const d1 = new FakeDriver(host);
  await d1.createContainer(spec('x', ['run']));
  const id = spec('x', []).id;
  await d1.startContainer(id);
  let settled = false;
  void d1.waitContainer(id).finally(() => (settled = true));
  d1.simulateCrash();
  void d1.inspect(id).finally(() => (settled = true));
  const d2 = new FakeDriver(host);
  assert.equal((await d2.stopContainer(id, 'SIGTERM', 1000)).exitCode, 143);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(settled, false, 'the crashed instance heard nothing');
});

test('usage: what the test sets, summed per task; gone containers and tasks answer undefined', async (t) => {
  const host = new FakeHost();
  t.after(() => host.dispose());
  const d = new FakeDriver(host);
  const taskId = '0123456789abcdef0123456789abcdef';
  await d.createTask(taskId, { cpuUnits: 256, memoryMiB: 512, pidsLimit: 64 });
  for (const name of ['a', 'b']) {
    await d.createContainer(spec(name, ['run']));
    await d.startContainer(spec(name, []).id);
  }
  host.setUsage(spec('a', []).id, { cpuUsageUs: 1000, memoryBytes: 4096, pids: 2, writableLayerBytes: 10, writableLayerInodes: 1 });
  host.setUsage(spec('b', []).id, { cpuUsageUs: 500, memoryBytes: 1024, pids: 1, writeBytes: 8192 });
  const task = await d.taskStats(taskId);
  const writeOf = (u: typeof task) => u?.blkio?.serviceBytes.find((e) => e.op === 'Write')?.value;
  assert.equal(writeOf(task), 8192, 'a task\'s block I/O sums its containers\'');
  assert.equal(task?.blkio?.serviced.find((e) => e.op === 'Write')?.value, 2);
  assert.deepEqual([task?.cpuUsageUs, task?.workingSetBytes, task?.pids, task?.memoryLimitBytes], [1500, 5120, 3, 512 * 1024 * 1024]);
  const a = await d.containerStats(spec('a', []).id);
  assert.equal(a?.pid, host.containers.get(spec('a', []).id)!.pid);
  assert.deepEqual(await d.writableLayerUsage(spec('a', []).id), { bytes: 10, inodes: 1 });
  await d.stopContainer(spec('a', []).id, 'SIGTERM', 100);
  assert.equal(await d.containerStats(spec('a', []).id), undefined, 'a stopped container uses nothing');
  assert.equal((await d.taskStats(taskId))?.cpuUsageUs, 500);
  await d.destroyContainer(spec('a', []).id);
  assert.equal(await d.writableLayerUsage(spec('a', []).id), undefined);
  await d.destroyTask(taskId);
  assert.equal(await d.taskStats(taskId), undefined);
});

test('made the registry way: a driver made again over the same runtime directory adopts its containers', async (t) => {
  const runtimeDir = mkdtempSync(`${tmpdir()}/skiff-fake-runtime-`);
  t.after(() => {
    fakeHostAt(runtimeDir).dispose();
    rmSync(runtimeDir, { recursive: true, force: true });
  });
  const first = driver.create({ runtimeDir, cgroupRoot: 'unused' });
  assert.equal(first.name, 'fake');
  await first.createContainer(spec('kept', ['echo', 'hi', 'run']));
  await first.startContainer(spec('kept', []).id);
  const again = driver.create({ runtimeDir, cgroupRoot: 'unused' });
  assert.deepEqual(await again.inspect(spec('kept', []).id), await first.inspect(spec('kept', []).id));
  assert.ok(again.logPath(spec('kept', []).id).startsWith(`${runtimeDir}/fake/logs/`));
});

test('exec sessions: a fake program\'s output and code; a shell copies stdin until it ends; kill is 137; not running is refused', async (t) => {
  const host = new FakeHost();
  t.after(() => host.dispose());
  const d = new FakeDriver(host);
  const { id } = spec('shell', ['run']);
  await d.createContainer(spec('shell', ['run']));
  await assert.rejects(d.startExec(id, ['/bin/sh'], { tty: false }), /not running/);
  await d.startContainer(id);
  const read = (s: NodeJS.ReadableStream) => new Promise<string>((r) => { let b = ''; s.on('data', (x) => (b += x)); s.on('end', () => r(b)); });
  const one = await d.startExec(id, ['echo', 'hi', 'stderr', 'oops', 'exit', '3'], { tty: false });
  const [out, err, code] = await Promise.all([read(one.stdout), read(one.stderr), one.exited]);
  assert.deepEqual([out, err, code], ['hi\n', 'oops\n', 3]);
  const sh = await d.startExec(id, ['/bin/sh'], { tty: true });
  const shOut = read(sh.stdout);
  sh.stdin.write('ls\n');
  sh.stdin.end();
  assert.equal(await sh.exited, 0);
  assert.equal(await shOut, 'ls\n');
  const hung = await d.startExec(id, ['/bin/sh'], { tty: true });
  hung.kill();
  assert.equal(await hung.exited, 137);
});
