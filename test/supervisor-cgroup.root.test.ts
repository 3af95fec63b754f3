/**
 * A supervisor's own cgroup (src/drivers/oci/supervisor-cgroup.ts) on this host's
 * real cgroup hierarchies. Needs root.
 * Run: node --import tsx --test test/supervisor-cgroup.root.test.ts
 *
 * A stand-in for conmon (a shell blocked reading its stdin, as conmon blocks on
 * its start pipe, that forks a `sleep` once released) is put into a transient
 * "service" cgroup the test makes in the name=systemd, unified, memory, pids and
 * cpuset hierarchies, then moved out with moveToOwnCgroup. Everything the test
 * made (processes by pid, the service cgroups, the cgroup root) is removed at the
 * end, even on failure.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, promises as fsp, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readCgroupLayout, removeCgroupTree, type CgroupLayout } from '../src/drivers/oci/cgroups.ts';
import { moveSupervisorOfPidFile, moveToOwnCgroup, parseProcCgroup, pruneOwnCgroups, removeOwnCgroup } from '../src/drivers/oci/supervisor-cgroup.ts';

const RUN = randomBytes(3).toString('hex');
const ROOT = `skiff-sup-${RUN}`; // the cgroup root, as the driver's cgroupRoot
const SERVICE = `skiff-sup-svc-${RUN}`; // the stand-in for /system.slice/skiff.service
const skip = process.platform !== 'linux' || process.getuid?.() !== 0 ? 'needs root on Linux' : false;

/** Hierarchy name as /proc/<pid>/cgroup shows it → where the test put the "service" cgroup. */
interface ServiceCgroup {
  key: string;
  dir: string;
}

const started: ChildProcess[] = [];
const extraPids: number[] = [];
let layout: CgroupLayout;
const serviceCgroups: ServiceCgroup[] = [];

/** /proc/<pid>/cgroup as hierarchy key (`memory`, `name=systemd`, `unified`) → path. */
async function cgroupsOf(pid: number): Promise<Map<string, string>> {
  const entries = parseProcCgroup(await fsp.readFile(`/proc/${pid}/cgroup`, 'utf8'));
  return new Map(entries.map((e) => [e.version === 2 ? 'unified' : e.controllers.join(','), e.path]));
}

/** Makes the transient service cgroup in the hierarchies a systemd service lives in (those mounted here). */
async function makeServiceCgroups(): Promise<void> {
  const want: [string, string | undefined][] = [
    ['name=systemd', layout.v1.get('name=systemd')],
    ['unified', layout.unified],
    ['memory', layout.v1.get('memory')],
    ['pids', layout.v1.get('pids')],
    ['cpuset', layout.v1.get('cpuset')],
  ];
  for (const [key, mp] of want) {
    if (!mp) continue;
    const dir = path.join(mp, SERVICE);
    await fsp.mkdir(dir);
    serviceCgroups.push({ key, dir });
    if (key === 'cpuset') {
      for (const f of ['cpuset.cpus', 'cpuset.mems']) await fsp.writeFile(path.join(dir, f), (await fsp.readFile(path.join(mp, f), 'utf8')).trim());
    }
  }
}

/** A conmon stand-in in the service cgroups: waits for a line on stdin, then forks `sleep` and prints its pid. */
async function startSupervisor(): Promise<{ proc: ChildProcess; release(): Promise<number> }> {
  const proc = spawn('sh', ['-c', 'read go; sleep 300 & echo $!; wait'], { stdio: ['pipe', 'pipe', 'inherit'] });
  started.push(proc);
  await new Promise<void>((resolve, reject) => proc.once('spawn', resolve).once('error', reject));
  for (const c of serviceCgroups) await fsp.writeFile(path.join(c.dir, 'cgroup.procs'), String(proc.pid));
  return {
    proc,
    release: () =>
      new Promise<number>((resolve) => {
        proc.stdout!.once('data', (d: Buffer) => {
          const pid = Number(d.toString().trim());
          extraPids.push(pid);
          resolve(pid);
        });
        proc.stdin!.write('go\n');
      }),
  };
}

function killByPid(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

async function killAndWait(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  killByPid(proc.pid);
  await exited;
}

/** Waits until `pid` is gone (not even a zombie), so its cgroups are free. */
async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 200 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('a supervisor moved to its own cgroup (real cgroups, root)', { skip, concurrency: false }, () => {
  after(async () => {
    for (const pid of extraPids) killByPid(pid);
    for (const p of started) await killAndWait(p);
    for (const pid of extraPids) await waitGone(pid);
    if (!layout) return;
    for (const h of layout.hierarchies) {
      await removeCgroupTree(path.join(h.mountPoint, ROOT)).catch(() => {});
      await removeCgroupTree(path.join(h.mountPoint, SERVICE)).catch(() => {});
    }
  });

  test('conmon stand-in leaves the service cgroup in every hierarchy; what it forks follows; removal cleans up', async () => {
    layout = await readCgroupLayout();
    await makeServiceCgroups();
    assert.ok(serviceCgroups.some((c) => c.key === 'name=systemd' || c.key === 'unified'), 'this host mounts neither name=systemd nor a unified hierarchy');
    const sup = await startSupervisor();
    const pid = sup.proc.pid!;
    const before = await cgroupsOf(pid);
    for (const c of serviceCgroups) assert.equal(before.get(c.key), `/${SERVICE}`, `set-up: in the service cgroup (${c.key})`);

    const moves = await moveToOwnCgroup(pid, 'c1', { cgroupRoot: ROOT, layout });
    const own = `/${ROOT}/.conmon/c1`;
    const afterMove = await cgroupsOf(pid);
    for (const c of serviceCgroups) {
      assert.equal(afterMove.get(c.key), own, `${c.key}: out of the service, in its own cgroup`);
      assert.ok(moves.some((m) => m.hierarchy === c.key), `${c.key} reported as moved`);
      assert.equal((await fsp.readFile(path.join(c.dir, 'cgroup.procs'), 'utf8')).trim(), '', `${c.key}: the service cgroup is empty`);
    }
    // Hierarchies the process was at the root of are left alone (no cgroup made there).
    for (const [key, p] of before) {
      if (p === '/') assert.equal(afterMove.get(key), '/', `${key} untouched`);
    }
    // Idempotent: a second call finds nothing to move.
    assert.deepEqual(await moveToOwnCgroup(pid, 'c1', { cgroupRoot: ROOT, layout }), []);

    // Released, it forks (as conmon daemonizes and runs runc): the child is in the supervisor's cgroup, not the service's.
    const child = await sup.release();
    const childCgroups = await cgroupsOf(child);
    for (const c of serviceCgroups) assert.equal(childCgroups.get(c.key), own, `forked child in ${c.key}`);

    // While the supervisor lives its cgroup is busy; once it is gone removal clears every hierarchy.
    await assert.rejects(removeOwnCgroup('c1', { cgroupRoot: ROOT, layout }), /cannot remove cgroup/);
    killByPid(child);
    await killAndWait(sup.proc);
    await waitGone(child);
    await removeOwnCgroup('c1', { cgroupRoot: ROOT, layout });
    for (const m of moves) assert.equal(existsSync(m.dir), false, `${m.dir} removed`);
    await removeOwnCgroup('c1', { cgroupRoot: ROOT, layout }); // missing is fine
  });

  test('pruneOwnCgroups removes the cgroups of supervisors that are gone and keeps live ones', async () => {
    layout ??= await readCgroupLayout();
    if (!serviceCgroups.length) await makeServiceCgroups();
    const live = await startSupervisor();
    const dead = await startSupervisor();
    // The live one by its pid file, as the driver knows a daemonized conmon.
    const dir = mkdtempSync(path.join(tmpdir(), 'skiff-sup-'));
    try {
      writeFileSync(path.join(dir, 'conmon.pid'), String(live.proc.pid));
      assert.ok((await moveSupervisorOfPidFile(path.join(dir, 'conmon.pid'), 'live', { cgroupRoot: ROOT, layout })).length > 0);
      await assert.rejects(moveSupervisorOfPidFile(path.join(dir, 'missing.pid'), 'x', { cgroupRoot: ROOT, layout }), /cannot move the supervisor of x/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const deadMoves = await moveToOwnCgroup(dead.proc.pid!, 'dead', { cgroupRoot: ROOT, layout });
    assert.ok(deadMoves.length > 0);
    const deadPid = dead.proc.pid!;
    await killAndWait(dead.proc);
    await waitGone(deadPid);

    assert.deepEqual(await pruneOwnCgroups({ cgroupRoot: ROOT, layout }), ['dead']);
    for (const m of deadMoves) assert.equal(existsSync(m.dir), false, `${m.dir} pruned`);
    const liveCgroups = await cgroupsOf(live.proc.pid!);
    for (const c of serviceCgroups) assert.equal(liveCgroups.get(c.key), `/${ROOT}/.conmon/live`, `live supervisor kept in ${c.key}`);
  });
});
