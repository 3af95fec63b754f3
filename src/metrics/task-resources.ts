/**
 * What a running task uses right now, read from the host without entering it:
 *
 * - CPU and memory of the task and of each container, from the driver
 *   (Driver.taskStats / containerStats);
 * - network counters of the task's namespace from `/proc/<pid>/net/dev` of a
 *   process of the task (the driver names one; a process's `net/dev` is its
 *   network namespace's), so no `ip netns exec` and no knowledge of veth names
 *   is needed;
 * - storage as the disk use of each container's writable layer (the driver's
 *   writableLayerUsage). Walking a large layer costs time, so each result is
 *   reused for `storageTtlMs`.
 *
 * Every reader returns undefined rather than throwing when the task or container
 * went away between listing and reading.
 */
import { promises as fsp } from 'node:fs';
import type { DriverStats, ResourceUsage } from '../drivers/driver.ts';
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
  usage?: ResourceUsage;
  /** Disk use of the container's writable layer, bytes. */
  writableLayerBytes?: number;
}

export interface TaskResources {
  task: TaskRecord;
  usage?: ResourceUsage;
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

export interface TaskResourceReaderOptions {
  /** The running tasks' driver (its usage side). */
  driver: DriverStats;
  storageTtlMs?: number;
  now?: () => number;
}

export class TaskResourceReader {
  private readonly storage = new Map<string, { at: number; bytes: number | undefined }>();

  constructor(private readonly opts: TaskResourceReaderOptions) {}

  /** The resources of each task (call with RUNNING tasks; others simply read as absent). */
  async read(tasks: TaskRecord[]): Promise<TaskResources[]> {
    const { driver } = this.opts;
    const live = new Set<string>();
    const out = await Promise.all(
      tasks.map(async (task) => {
        const pids: (number | undefined)[] = [];
        const containers = await Promise.all(
          task.containers.map(async (c, i) => {
            live.add(c.runtimeId);
            const [stats, writableLayerBytes] = await Promise.all([
              driver.containerStats(c.runtimeId).catch(() => undefined),
              this.storageOf(c.runtimeId),
            ]);
            pids[i] = stats?.pid;
            let usage: ResourceUsage | undefined;
            if (stats) {
              const { pid: _pid, ...rest } = stats;
              usage = rest;
            }
            return { name: c.name, usage, writableLayerBytes };
          }),
        );
        const [usage, network] = await Promise.all([
          driver.taskStats(task.id).catch(() => undefined),
          networkOf(pids),
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
    const bytes = (await this.opts.driver.writableLayerUsage(runtimeId).catch(() => undefined))?.bytes;
    this.storage.set(runtimeId, { at: now, bytes });
    return bytes;
  }
}

/** Counters of the task's namespace, through the first container process that can still be read. */
async function networkOf(pids: (number | undefined)[]): Promise<NetCounters | undefined> {
  for (const pid of pids) {
    if (pid === undefined) continue;
    try {
      return externalTotals(parseNetDev(await fsp.readFile(`/proc/${pid}/net/dev`, 'utf8')));
    } catch (e) {
      if (!gone(e)) throw e;
    }
  }
  return undefined;
}
