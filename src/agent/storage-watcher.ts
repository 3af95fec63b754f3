/**
 * Ephemeral storage, enforced kubelet-style: every `intervalMs` the watcher
 * measures each running task's writable layers (the driver's
 * writableLayerUsage, a bounded `du` of each overlay upper dir) and stops a
 * task whose layers together exceed its limit, with stop code
 * `TerminationNotice` (the platform stopped it; ECS has no eviction code) and
 * a stoppedReason naming the use and the limit.
 *
 * The limit is the task's `ephemeralStorage` (20 GiB when absent) times
 * SKIFF_EPHEMERAL_STORAGE_SCALE (default 1; e.g. 0.001 on a small host or in
 * tests: a 20 GiB task gets 20 MiB). Chosen over a per-task filesystem or
 * project quotas because it costs nothing on the start path and needs no
 * special filesystem (the data dir here is ext4 without prjquota); the price is
 * that a fast writer can overshoot by what it writes in one interval plus one
 * measurement (SKIFF_EPHEMERAL_STORAGE_INTERVAL_MS, default 2 s). Counted: the
 * containers' writable layers; not yet: task-scoped (bind) volumes.
 */
import type { DriverStats } from '../drivers/driver.ts';
import type { StopCodeName, TaskRecord } from '../model/task-record.ts';

/** Resolved by src/config/ (SKIFF_EPHEMERAL_STORAGE_SCALE, SKIFF_EPHEMERAL_STORAGE_INTERVAL_MS). */
export interface StorageSettings {
  /** Multiplies every task's ephemeral storage limit (0 < scale <= 1). */
  scale: number;
  /** How often running tasks are measured. */
  intervalMs: number;
}

const MiB = 1024 * 1024;

/** A task's limit in bytes. */
export function ephemeralLimitBytes(ephemeralStorageGiB: number, scale: number): number {
  return Math.floor(ephemeralStorageGiB * 1024 * MiB * scale);
}

/** The stoppedReason of a task stopped for its storage use. */
export function overLimitReason(usedBytes: number, limitBytes: number): string {
  return `OutOfEphemeralStorage: the task's writable layers use ${Math.ceil(usedBytes / MiB)} MiB, over its ephemeral storage limit of ${Math.floor(limitBytes / MiB)} MiB`;
}

export interface StorageWatcherDeps {
  tasks: { listUnfinished(): TaskRecord[]; update(id: string, mutate: (t: TaskRecord) => void): TaskRecord | undefined };
  driver: Pick<DriverStats, 'writableLayerUsage'>;
  /** Asks the task's runner to stop (the desired status is stored first). */
  stop(taskId: string, code: StopCodeName, reason: string): void;
  log(msg: string): void;
}

export class StorageWatcher {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly deps: StorageWatcherDeps,
    readonly settings: StorageSettings,
  ) {}

  /** Measures every interval until close(); the timer does not keep the process alive. */
  start(): void {
    this.timer ??= setInterval(() => void this.tick(), this.settings.intervalMs).unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await this.sweep();
    } catch (e) {
      this.deps.log(`ephemeral storage watcher: ${e instanceof Error ? e.message : e}`);
    } finally {
      this.busy = false;
    }
  }

  /** One pass: stops every running task over its limit; returns their ids. */
  async sweep(): Promise<string[]> {
    const stopped: string[] = [];
    const running = this.deps.tasks.listUnfinished().filter((t) => t.lastStatus === 'RUNNING' && t.desiredStatus === 'RUNNING');
    for (const t of running) {
      const limit = ephemeralLimitBytes(t.ephemeralStorageGiB, this.settings.scale);
      let used = 0;
      for (const c of t.containers) {
        if (!c.runtimeId) continue;
        used += (await this.deps.driver.writableLayerUsage(c.runtimeId).catch(() => undefined))?.bytes ?? 0;
      }
      if (used <= limit) continue;
      const reason = overLimitReason(used, limit);
      let updated: TaskRecord | undefined;
      try {
        updated = this.deps.tasks.update(t.id, (x) => {
          if (x.desiredStatus !== 'RUNNING') return;
          x.desiredStatus = 'STOPPED';
          x.stopCode = 'TerminationNotice';
          x.stoppedReason = reason;
        });
      } catch {
        continue; // gone meanwhile
      }
      if (updated?.stoppedReason !== reason) continue;
      this.deps.log(`task ${t.id}: ${reason}`);
      this.deps.stop(t.id, 'TerminationNotice', reason);
      stopped.push(t.id);
    }
    return stopped;
  }
}
