/**
 * `skiff host reset` end to end: a real server with its own prefix runs two
 * busybox tasks and a warm pool, is refused a reset while it runs, is killed
 * with -9 (its tasks keep running), and the reset (through bin/skiff.js)
 * removes every container process, namespace, veth, bridge, nft table, cgroup
 * and mount it made, reports them, removes nothing on --dry-run and nothing
 * more on a second run.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DescribeTasksCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { waitFor, type TestServer } from './support/skiff-server.ts';
import { startBusyboxStack, type BusyboxStack } from './support/stack.ts';
import { registerFamily } from './support/tasks.ts';
import { parseStartTime } from '../src/server/server-lock.ts';
import type { ResetReport } from '../src/server/host-reset.ts';

const BIN = resolve(import.meta.dirname, '../bin/skiff.js');
let stack: BusyboxStack;
let server: TestServer;

before(async () => {
  stack = await startBusyboxStack('test/busybox:reset', { env: { SKIFF_WARM_POOL_SIZE: '2' } });
  server = stack.server;
});
after(() => stack?.stop()); // the reset under test again, with --purge-data: cleans up even when the test failed

function skiff(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, SKIFF_RESOURCE_PREFIX: server.prefix }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function reset(...extra: string[]): ResetReport {
  const r = skiff('-o', 'json', 'host', 'reset', '--data-dir', server.dataDir, ...extra);
  assert.equal(r.code, 0, `host reset failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ResetReport;
}

/** Processes in this server's cgroups (containers and their conmon), with their start times. */
function prefixProcesses(): Map<number, string> {
  const out = new Map<number, string>();
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cg = readFileSync(`/proc/${p}/cgroup`, 'utf8');
      if (cg.split('\n').some((l) => l.split(':')[2]?.startsWith(`/${server.prefix}/`))) out.set(Number(p), parseStartTime(readFileSync(`/proc/${p}/stat`, 'utf8'))!);
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** The process still runs: same start time, not a zombie (an exited conmon waits for pid 1 to reap it). */
function alive(pid: number, startTime: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return parseStartTime(stat) === startTime && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function hostState() {
  const P = server.prefix;
  const links = readdirSync('/sys/class/net');
  const nft = spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.replace(/^table /, '').trim());
  return {
    namespaces: existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(`${P}-`)) : [],
    veths: links.filter((n) => n.startsWith(P.slice(0, 7)) && /^[0-9a-f]+$/.test(n.slice(P.slice(0, 7).length)) && !existsSync(`/sys/class/net/${n}/bridge`)),
    bridges: links.filter((n) => n.startsWith(`${P.slice(0, 6)}b`) && existsSync(`/sys/class/net/${n}/bridge`)),
    nftTables: nft.filter((t) => [`inet ${P}`, `ip ${P}_md`, `inet ${P}_sg`, `bridge ${P}_sg`].includes(t)),
    cgroups: readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c, P)).filter((d) => existsSync(d)),
    mounts: readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(server.dataDir + '/')),
  };
}

test('host reset: refused while the server runs; after kill -9 removes everything it made, reports it, and is idempotent', async () => {
  const ecs = stack.ecs;
  await registerFamily(ecs, 'resettable', [{ name: 'app', image: stack.image, stopTimeout: 2, command: ['sleep', '600'] }]);
  const arns = (await ecs.send(new RunTaskCommand({ taskDefinition: 'resettable', count: 2 }))).tasks!.map((t) => t.taskArn!);
  await waitFor('2 tasks RUNNING', async () => (await ecs.send(new DescribeTasksCommand({ tasks: arns }))).tasks!.every((t) => t.lastStatus === 'RUNNING'));
  await waitFor('a ready warm-pool namespace', async () => {
    const s = (await (await server.fetch('/skiff/v1/warm-pool')).json()) as { subnets: { ready: number }[] };
    return s.subnets.some((x) => x.ready > 0);
  });
  const before = hostState();
  assert.ok(before.namespaces.length >= 3, `2 task namespaces and a pooled one: ${before.namespaces}`);
  assert.ok(before.bridges.length >= 1, 'a subnet bridge');
  assert.ok(before.nftTables.includes(`inet ${server.prefix}`));
  const procs = prefixProcesses();
  assert.ok(procs.size >= 4, `2 containers and their conmon: ${[...procs.keys()]}`);

  // Refused while the server runs, naming its pid; nothing touched.
  const refused = skiff('host', 'reset', '--data-dir', server.dataDir);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, new RegExp(`is running \\(pid ${server.pid}\\)`));
  assert.equal([...procs].filter(([p, s]) => alive(p, s)).length, procs.size, 'refused: every task process lives');

  await server.stop('SIGKILL');
  assert.equal([...procs].filter(([p, s]) => alive(p, s)).length, procs.size, 'tasks outlive the killed server');

  // --dry-run lists, removes nothing.
  const dry = reset('--dry-run');
  assert.equal(dry.dryRun, true);
  assert.equal(dry.containers.length, 2);
  assert.deepEqual(dry.namespaces, [...before.namespaces].sort());
  assert.deepEqual(hostState(), before, 'dry run changed the host');
  assert.equal([...procs].filter(([p, s]) => alive(p, s)).length, procs.size, 'dry run killed nothing');

  const done = reset();
  assert.equal(done.dryRun, false);
  assert.equal(done.containers.length, 2);
  assert.deepEqual(done.running.sort(), [...done.containers].sort(), 'both containers were running (killed)');
  assert.deepEqual(done.namespaces, [...before.namespaces].sort());
  assert.deepEqual(done.bridges, [...before.bridges].sort());
  assert.ok(done.nftTables.includes(`inet ${server.prefix}`) && done.nftTables.includes(`ip ${server.prefix}_md`), `nft tables: ${done.nftTables}`);
  assert.equal(done.dataRemoved, false);
  // The runtime specs (they carry secrets) lived in a memory dir the runc root links to: gone too.
  assert.equal(done.driverState.length, 1, `driver state: ${done.driverState}`);
  assert.match(done.driverState[0], /^\/(run|dev\/shm)\/skiff\/[0-9a-f]+$/);
  assert.equal(existsSync(done.driverState[0]), false, 'the memory dir is removed');
  assert.ok(existsSync(join(server.dataDir, 'skiff.db')) || readdirSync(server.dataDir).length > 0, 'the data dir stays without --purge-data');

  assert.deepEqual([...procs].filter(([p, s]) => alive(p, s)).map(([p]) => `${p}: ${readFileSync(`/proc/${p}/stat`, 'utf8').slice(0, 40)}`), [], 'no process of those containers (or their conmon) is alive');
  assert.deepEqual(hostState(), { namespaces: [], veths: [], bridges: [], nftTables: [], cgroups: [], mounts: [] });

  // A second run removes nothing and says so.
  const again = skiff('host', 'reset', '--data-dir', server.dataDir);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /nothing to remove/);
});
