/**
 * A cgroup of its own for each container's supervisor (conmon), out of the
 * server's.
 *
 * Why: conmon inherits the cgroups of the process that started it, the Skiff
 * server. Under a service manager those are the service's (systemd:
 * `/system.slice/skiff.service` in the `name=systemd` and unified hierarchies,
 * and in the controllers it accounts), and stopping or restarting the service
 * kills everything in them — conmon too, so the containers live on but their
 * exits are lost. Moved into `/<cgroupRoot>/.conmon/<containerId>` (beside the
 * tasks' `/<cgroupRoot>/<taskId>`), conmon and everything it starts afterwards
 * (its daemonized child, `runc create`, the container's init until runc places
 * it) outlive the service.
 *
 * Contract:
 * - `moveToOwnCgroup(pid, id)` moves `pid` in every hierarchy where it is not in
 *   the root cgroup (the root belongs to no service; leaving it there creates
 *   nothing): v1 hierarchies, named ones such as `name=systemd`, and the unified
 *   (v2) one. Call it on conmon's first process while it still waits on its start
 *   pipe (before it forks and runs `runc create`), or on the daemonized conmon
 *   (`moveSupervisorOfPidFile` with its `conmon.pid`) once `runc create` returned:
 *   runc has then put the container in its own cgroups in every hierarchy, so only
 *   conmon is left to move. Idempotent. Throws, naming the
 *   hierarchy, if a move fails; the cgroups it made stay for `removeOwnCgroup`.
 * - `removeOwnCgroup(id)` removes that cgroup in every hierarchy once the
 *   supervisor has exited (a live one keeps it busy: it throws then). Missing is
 *   fine.
 * - `pruneOwnCgroups()` removes every supervisor cgroup left empty (its conmon
 *   gone, e.g. the server died before destroying the container); busy ones stay.
 * The `.conmon` name starts with a dot so the driver's listing of task cgroups
 * (names that are valid ids, which start with a letter or digit) never sees it.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { readCgroupLayout, removeCgroupTree, type CgroupLayout } from './cgroups.ts';

/** The folder under the cgroup root that holds one cgroup per supervisor. */
export const SUPERVISOR_DIR = '.conmon';

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$/;

export interface SupervisorCgroupOptions {
  /** The cgroup root Skiff uses for tasks (the driver's `cgroupRoot`, default `skiff`). */
  cgroupRoot: string;
  /** The host's hierarchies; read from /proc/self/mountinfo when absent. */
  layout?: CgroupLayout;
}

/** One line of /proc/<pid>/cgroup. */
export interface ProcCgroupEntry {
  /** v1: its controllers (`cpu`, `cpuacct`, `name=systemd`); v2: empty. */
  controllers: string[];
  version: 1 | 2;
  /** The process's cgroup in that hierarchy, e.g. `/system.slice/skiff.service`. */
  path: string;
}

/** One move to make: `pid` goes into `dir` (`<mountPoint>/<cgroupRoot>/.conmon/<id>`). */
export interface SupervisorMove {
  /** The hierarchy as /proc/<pid>/cgroup names it: `cpu,cpuacct`, `name=systemd`, `unified`. */
  hierarchy: string;
  mountPoint: string;
  /** Where the process is now (relative to the hierarchy's root). */
  from: string;
  dir: string;
  /** A v1 cpuset hierarchy: a new cgroup needs cpuset.cpus/mems before it takes a process. */
  cpuset: boolean;
}

function checkName(kind: string, value: string): void {
  if (typeof value !== 'string' || !ID_RE.test(value)) {
    throw new Error(`invalid ${kind} ${JSON.stringify(value)}: use 1-128 characters from [A-Za-z0-9_.+-], starting with a letter or digit`);
  }
}

/** Parses /proc/<pid>/cgroup (`hierarchy-id:controllers:path` per line). */
export function parseProcCgroup(text: string): ProcCgroupEntry[] {
  const out: ProcCgroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const a = line.indexOf(':');
    const b = line.indexOf(':', a + 1);
    if (a < 0 || b < 0) continue;
    const id = line.slice(0, a);
    const controllers = line.slice(a + 1, b);
    const p = line.slice(b + 1);
    if (id === '0' && controllers === '') out.push({ controllers: [], version: 2, path: p });
    else out.push({ controllers: controllers.split(',').filter(Boolean), version: 1, path: p });
  }
  return out;
}

/** The cgroup (relative to each hierarchy's root) a supervisor of container `id` is moved to. */
export function supervisorCgroupPath(cgroupRoot: string, id: string): string {
  checkName('cgroup root', cgroupRoot);
  checkName('container id', id);
  return `/${cgroupRoot}/${SUPERVISOR_DIR}/${id}`;
}

/**
 * The moves that take a process whose /proc/<pid>/cgroup reads `procCgroup` out of
 * its current cgroups: one per hierarchy where it is not in the root cgroup and
 * which is mounted in `layout`. Pure.
 */
export function planSupervisorMoves(procCgroup: string, layout: CgroupLayout, cgroupRoot: string, id: string): SupervisorMove[] {
  const rel = supervisorCgroupPath(cgroupRoot, id);
  const moves: SupervisorMove[] = [];
  for (const e of parseProcCgroup(procCgroup)) {
    if (e.path === '/' || e.path === rel) continue;
    const mountPoint = e.version === 2 ? layout.unified : layout.v1.get(e.controllers[0] ?? '');
    if (!mountPoint) continue; // not mounted here: nothing can be moved (nor killed through it)
    moves.push({
      hierarchy: e.version === 2 ? 'unified' : e.controllers.join(','),
      mountPoint,
      from: e.path,
      dir: path.join(mountPoint, rel),
      cpuset: e.version === 1 && e.controllers.includes('cpuset'),
    });
  }
  return moves;
}

/** Moves `pid` (a container's supervisor) into `/<cgroupRoot>/.conmon/<id>` wherever it is not in a root cgroup. */
export async function moveToOwnCgroup(pid: number, id: string, opts: SupervisorCgroupOptions): Promise<SupervisorMove[]> {
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`invalid supervisor pid ${pid}`);
  const layout = opts.layout ?? (await readCgroupLayout());
  let text: string;
  try {
    text = await fsp.readFile(`/proc/${pid}/cgroup`, 'utf8');
  } catch (e) {
    throw new Error(`cannot move the supervisor of ${id} (pid ${pid}) to its own cgroup: ${(e as Error).message}`);
  }
  const moves = planSupervisorMoves(text, layout, opts.cgroupRoot, id);
  // The hierarchies are independent: moved all at once (a dozen v1 hierarchies, one after the other, sat on every create's path).
  const failures = await Promise.all(
    moves.map(async (m) => {
      try {
        if (m.cpuset) await makeCpusetCgroup(m.mountPoint, m.dir);
        else await fsp.mkdir(m.dir, { recursive: true });
        await fsp.writeFile(path.join(m.dir, 'cgroup.procs'), String(pid));
        return undefined;
      } catch (e) {
        return `cannot move the supervisor of ${id} (pid ${pid}) to ${m.dir} (${m.hierarchy} hierarchy): ${(e as Error).message}`;
      }
    }),
  );
  const failed = failures.find((f) => f !== undefined);
  if (failed) throw new Error(failed);
  return moves;
}

/** `moveToOwnCgroup` for the daemonized supervisor named by a pid file (conmon's `--conmon-pidfile`). */
export async function moveSupervisorOfPidFile(pidFile: string, id: string, opts: SupervisorCgroupOptions): Promise<SupervisorMove[]> {
  let pid: number;
  try {
    pid = Number.parseInt(await fsp.readFile(pidFile, 'utf8'), 10);
  } catch (e) {
    throw new Error(`cannot move the supervisor of ${id} to its own cgroup: ${(e as Error).message}`);
  }
  return moveToOwnCgroup(pid, id, opts);
}

/**
 * Creates `dir` and its missing parents below `mountPoint` in a v1 cpuset
 * hierarchy, giving each new cgroup its parent's cpus and mems (a cpuset cgroup
 * without them refuses processes).
 */
async function makeCpusetCgroup(mountPoint: string, dir: string): Promise<void> {
  const parts = path.relative(mountPoint, dir).split(path.sep);
  let cur = mountPoint;
  for (const part of parts) {
    const parent = cur;
    cur = path.join(cur, part);
    try {
      await fsp.mkdir(cur);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    for (const f of ['cpuset.cpus', 'cpuset.mems']) {
      const mine = path.join(cur, f);
      if ((await fsp.readFile(mine, 'utf8')).trim() !== '') continue;
      await fsp.writeFile(mine, (await fsp.readFile(path.join(parent, f), 'utf8')).trim());
    }
  }
}

/** Removes the supervisor cgroup of container `id` in every hierarchy. Its supervisor must have exited. */
export async function removeOwnCgroup(id: string, opts: SupervisorCgroupOptions): Promise<void> {
  const rel = supervisorCgroupPath(opts.cgroupRoot, id);
  const layout = opts.layout ?? (await readCgroupLayout());
  await Promise.all(layout.hierarchies.map((h) => removeCgroupTree(path.join(h.mountPoint, rel))));
}

/** Removes every empty supervisor cgroup under the root (their supervisors are gone); returns the container ids cleared. */
export async function pruneOwnCgroups(opts: SupervisorCgroupOptions): Promise<string[]> {
  checkName('cgroup root', opts.cgroupRoot);
  const layout = opts.layout ?? (await readCgroupLayout());
  const removed = new Set<string>();
  for (const h of layout.hierarchies) {
    const base = path.join(h.mountPoint, opts.cgroupRoot, SUPERVISOR_DIR);
    let names: string[];
    try {
      names = (await fsp.readdir(base, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      continue; // no supervisor cgroups in this hierarchy
    }
    for (const n of names) {
      try {
        await fsp.rmdir(path.join(base, n));
        removed.add(n);
      } catch {
        /* busy (its supervisor lives) or already gone */
      }
    }
  }
  return [...removed].sort();
}
