/**
 * The task cgroups: `/<cgroupRoot>/<taskId>` in every hierarchy, holding the
 * task-level CPU quota, memory and pids limits, with one child cgroup per
 * container (`/<cgroupRoot>/<taskId>/<sanitized name>`, made by runc from the
 * OCI spec's cgroupsPath). Also where their usage is read from.
 */
import { mkdirSync, promises as fsp, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ResourceUsage, TaskResources } from '../driver.ts';
import { readCgroupLayout, removeCgroupTree, type CgroupLayout } from './cgroups.ts';
import { diskOf, enableBlkioAccounting, firstPidOf, readCgroupUsage } from './cgroup-usage.ts';
import { checkId, ID_RE, isErrno, sanitizeName } from './paths.ts';
import { cfsQuotaFor } from './spec.ts';

const MiB = 1024 * 1024;

export class TaskCgroups {
  private layout?: Promise<CgroupLayout>;
  private disk?: Promise<string | undefined>;

  /** `ioDir`: where containers write (their writable layers); its disk's block I/O is counted per task. */
  constructor(readonly cgroupRoot: string, private readonly ioDir?: string) {}

  /** The host's hierarchies, read once (retried after a failure). */
  hierarchies(): Promise<CgroupLayout> {
    this.layout ??= readCgroupLayout().catch((e) => {
      this.layout = undefined;
      throw e;
    });
    return this.layout;
  }

  /** The OCI cgroupsPath of a container of a task. */
  containerPath(taskId: string, containerName: string): string {
    return `/${this.cgroupRoot}/${taskId}/${sanitizeName(containerName)}`;
  }

  async memoryHierarchy(): Promise<string | undefined> {
    return (await this.hierarchies()).v1.get('memory');
  }

  async create(taskId: string, res: TaskResources): Promise<void> {
    checkId('task id', taskId);
    if (!Number.isFinite(res.cpuUnits) || res.cpuUnits <= 0) throw new Error(`invalid cpuUnits ${res.cpuUnits}: must be > 0`);
    if (!Number.isFinite(res.memoryMiB) || res.memoryMiB < 4) throw new Error(`invalid memoryMiB ${res.memoryMiB}: must be >= 4`);
    if (!Number.isInteger(res.pidsLimit) || res.pidsLimit <= 0) throw new Error(`invalid pidsLimit ${res.pidsLimit}: must be a positive integer`);
    const layout = await this.hierarchies();
    const dirFor = (ctrl: string) => {
      const mp = layout.v1.get(ctrl);
      if (!mp) throw new Error(`cgroup v1 controller ${ctrl} is not mounted`);
      return path.join(mp, this.cgroupRoot, taskId);
    };
    const cpu = dirFor('cpu');
    const memory = dirFor('memory');
    const pids = dirFor('pids');
    const cpuacct = dirFor('cpuacct');
    // cgroupfs is kernel memory: these few calls take microseconds each, done
    // synchronously; through the thread pool they took milliseconds on a busy start path.
    for (const d of new Set([cpu, memory, pids, cpuacct])) mkdirSync(d, { recursive: true });
    const { quota, period } = cfsQuotaFor(res.cpuUnits);
    writeFileSync(path.join(cpu, 'cpu.cfs_period_us'), String(period));
    writeFileSync(path.join(cpu, 'cpu.cfs_quota_us'), String(quota));
    writeFileSync(path.join(memory, 'memory.limit_in_bytes'), String(Math.floor(res.memoryMiB * MiB)));
    writeFileSync(path.join(pids, 'pids.max'), String(res.pidsLimit));
    if (this.ioDir) {
      this.disk ??= diskOf(this.ioDir).catch(() => undefined);
      const disk = await this.disk;
      // Best effort: without it blkio stats stay at what the kernel counts (maybe nothing).
      if (disk) await enableBlkioAccounting(layout, path.join(this.cgroupRoot, taskId), disk).catch(() => undefined);
    }
  }

  async destroy(taskId: string): Promise<void> {
    checkId('task id', taskId);
    const layout = await this.hierarchies();
    await Promise.all(layout.hierarchies.map((h) => removeCgroupTree(path.join(h.mountPoint, this.cgroupRoot, taskId))));
  }

  async list(): Promise<string[]> {
    const layout = await this.hierarchies();
    const ids = new Set<string>();
    await Promise.all(
      layout.hierarchies.map(async (h) => {
        try {
          for (const d of await fsp.readdir(path.join(h.mountPoint, this.cgroupRoot), { withFileTypes: true })) {
            if (d.isDirectory() && ID_RE.test(d.name)) ids.add(d.name);
          }
        } catch (e) {
          if (!isErrno(e, 'ENOENT')) throw e;
        }
      }),
    );
    return [...ids].sort();
  }

  /** Usage of the task's cgroup (all its containers). */
  async taskUsage(taskId: string): Promise<ResourceUsage | undefined> {
    checkId('task id', taskId);
    return readCgroupUsage(await this.hierarchies(), path.join(this.cgroupRoot, taskId));
  }

  /** Usage of a container's cgroup (its OCI cgroupsPath), with one of its pids. */
  async containerUsage(cgroupsPath: string): Promise<(ResourceUsage & { pid?: number }) | undefined> {
    const layout = await this.hierarchies();
    const [usage, pid] = await Promise.all([readCgroupUsage(layout, cgroupsPath), firstPidOf(layout, cgroupsPath)]);
    if (!usage) return undefined;
    return pid === undefined ? usage : { ...usage, pid };
  }
}
