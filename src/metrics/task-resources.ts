/**
 * What a running task uses right now, read from the host without entering it:
 *
 * - CPU and memory of the task and of each container from their cgroups (the
 *   runc driver's `<cgroupRoot>/<taskId>/<container>` layout; see stats/cgroup-stats);
 * - network counters of the task's namespace from `/proc/<pid>/net/dev` of any
 *   process of the task (a process's `net/dev` is its network namespace's), so no
 *   `ip netns exec` and no knowledge of veth names is needed;
 * - storage as the disk use of each container's writable layer (overlay upper
 *   dir), like `du`: allocated blocks, hard links counted once. Walking a large
 *   layer costs time, so each result is reused for `storageTtlMs`.
 *
 * Every reader returns undefined rather than throwing when the task or container
 * went away between listing and reading (ENOENT/ESRCH).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { CgroupLayout } from '../drivers/runc/cgroups.ts';
import { sanitizeName } from '../drivers/runc/runc-driver.ts';
import { readTaskUsage, type CgroupUsage } from '../stats/cgroup-stats.ts';
import type { TaskRecord } from '../model/task-record.ts';

export interface NetCounters {
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDropped: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDropped: number;
}

export interface ContainerResources {
  name: string;
  usage?: CgroupUsage;
  /** Disk use of the container's writable layer, bytes. */
  writableLayerBytes?: number;
}

export interface TaskResources {
  task: TaskRecord;
  usage?: CgroupUsage;
  /** Sum over the namespace's interfaces except `lo`. */
  network?: NetCounters;
  containers: ContainerResources[];
}

/** `/proc/<pid>/net/dev` text → counters per interface. */
export function parseNetDev(text: string): Map<string, NetCounters> {
  const out = new Map<string, NetCounters>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (!name || f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out.set(name, {
      rxBytes: f[0], rxPackets: f[1], rxErrors: f[2], rxDropped: f[3],
      txBytes: f[8], txPackets: f[9], txErrors: f[10], txDropped: f[11],
    });
  }
  return out;
}

/** Sum of every interface but loopback. */
export function externalTotals(ifaces: Map<string, NetCounters>): NetCounters {
  const t: NetCounters = { rxBytes: 0, rxPackets: 0, rxErrors: 0, rxDropped: 0, txBytes: 0, txPackets: 0, txErrors: 0, txDropped: 0 };
  for (const [name, c] of ifaces) {
    if (name === 'lo') continue;
    for (const k of Object.keys(t) as (keyof NetCounters)[]) t[k] += c[k];
  }
  return t;
}

const gone = (e: unknown) => ['ENOENT', 'ESRCH', 'EINVAL'].includes((e as NodeJS.ErrnoException)?.code ?? '');

/** Disk use of a directory tree (allocated blocks), hard links once, at most `maxEntries` entries. */
export async function diskUsage(dir: string, maxEntries = 200_000): Promise<number | undefined> {
  let total = 0;
  let entries = 0;
  const inodes = new Set<string>();
  const stack = [dir];
  try {
    await fsp.lstat(dir);
  } catch (e) {
    if (gone(e)) return undefined;
    throw e;
  }
  while (stack.length && entries < maxEntries) {
    const d = stack.pop()!;
    let names: string[];
    try {
      names = await fsp.readdir(d);
    } catch (e) {
      if (gone(e) || (e as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
      throw e;
    }
    for (const n of names) {
      const p = path.join(d, n);
      const st = await fsp.lstat(p).catch((e) => (gone(e) ? undefined : Promise.reject(e)));
      if (!st) continue;
      entries++;
      if (st.nlink > 1 && !st.isDirectory()) {
        const key = `${st.dev}:${st.ino}`;
        if (inodes.has(key)) continue;
        inodes.add(key);
      }
      total += st.blocks * 512;
      if (st.isDirectory()) stack.push(p);
    }
  }
  return total;
}

export interface TaskResourceReaderOptions {
  layout: () => Promise<CgroupLayout>;
  cgroupRoot: string;
  /** The writable (overlay upper) directory of a container by its runtime id. */
  upperDir: (runtimeId: string) => string;
  storageTtlMs?: number;
  now?: () => number;
}

export class TaskResourceReader {
  private readonly storage = new Map<string, { at: number; bytes: number | undefined }>();

  constructor(private readonly opts: TaskResourceReaderOptions) {}

  /** The resources of each task (call with RUNNING tasks; others simply read as absent). */
  async read(tasks: TaskRecord[]): Promise<TaskResources[]> {
    const layout = await this.opts.layout();
    const live = new Set<string>();
    const out = await Promise.all(
      tasks.map(async (task) => {
        const containers = await Promise.all(
          task.containers.map(async (c) => {
            live.add(c.runtimeId);
            const cg = `${task.id}/${sanitizeName(c.name)}`;
            const [usage, writableLayerBytes] = await Promise.all([
              readTaskUsage(layout, this.opts.cgroupRoot, cg).catch(() => undefined),
              this.storageOf(c.runtimeId),
            ]);
            return { name: c.name, usage, writableLayerBytes };
          }),
        );
        const [usage, network] = await Promise.all([
          readTaskUsage(layout, this.opts.cgroupRoot, task.id).catch(() => undefined),
          this.networkOf(layout, task),
        ]);
        return { task, usage, network, containers };
      }),
    );
    for (const id of this.storage.keys()) if (!live.has(id)) this.storage.delete(id);
    return out;
  }

  private async storageOf(runtimeId: string): Promise<number | undefined> {
    const now = (this.opts.now ?? Date.now)();
    const hit = this.storage.get(runtimeId);
    if (hit && now - hit.at < (this.opts.storageTtlMs ?? 5000)) return hit.bytes;
    const bytes = await diskUsage(this.opts.upperDir(runtimeId)).catch(() => undefined);
    this.storage.set(runtimeId, { at: now, bytes });
    return bytes;
  }

  /** Counters of the task's namespace, through the first process found in any of its containers. */
  private async networkOf(layout: CgroupLayout, task: TaskRecord): Promise<NetCounters | undefined> {
    const base = layout.v1.get('memory') ?? layout.v1.get('pids') ?? layout.unified;
    if (!base) return undefined;
    for (const c of task.containers) {
      try {
        const procs = await fsp.readFile(path.join(base, this.opts.cgroupRoot, task.id, sanitizeName(c.name), 'cgroup.procs'), 'utf8');
        for (const pid of procs.split('\n').filter(Boolean)) {
          try {
            return externalTotals(parseNetDev(await fsp.readFile(`/proc/${pid}/net/dev`, 'utf8')));
          } catch (e) {
            if (!gone(e)) throw e;
          }
        }
      } catch (e) {
        if (!gone(e)) throw e;
      }
    }
    return undefined;
  }
}
