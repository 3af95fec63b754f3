/**
 * The stats sampler: every `intervalMs` it reads each RUNNING task's usage
 * (through the driver: Driver.taskStats) and stores a sample (task_stats), the history right-sizing works from.
 *
 * CPU is stored both as the cumulative counter and as the average vCPUs used
 * since the previous sample of the same task (the previous sample is taken from
 * the store after a restart, so a crash only widens one interval). Samples
 * older than `retentionMs` are pruned once an hour.
 *
 * A pass whose write fails for lack of disk is logged once per outage and the
 * next pass tries again (that pass's samples are lost: right-sizing only
 * sees a longer interval). No failure ends the loop.
 */
import type { ResourceUsage } from '../drivers/driver.ts';
import type { TasksRepo } from '../store/tasks-repo.ts';
import type { MeteringRepo, StatsSample } from '../store/metering-repo.ts';
import type { Clock } from '../util/clock.ts';
import { WriteFailureNotice } from '../store/disk-errors.ts';

export interface StatsSamplerOptions {
  tasks: TasksRepo;
  metering: MeteringRepo;
  clock: Clock;
  intervalMs: number;
  /** How long samples are kept (default 14 days). */
  retentionMs?: number;
  log(msg: string): void;
  /** Reads a task's usage, undefined once it is gone (the driver's taskStats). */
  readUsage: (taskId: string) => Promise<ResourceUsage | undefined>;
}

const HOUR = 3_600_000;

export class StatsSampler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private lastPrune = 0;
  private readonly previous = new Map<string, { ts: number; cpuUsageUs: number }>();
  private readonly writes: WriteFailureNotice;

  constructor(private readonly opts: StatsSamplerOptions) {
    this.writes = new WriteFailureNotice('stats sampler', opts.log);
  }

  start(): void {
    this.stopped = false;
    const tick = () => {
      if (this.stopped) return;
      this.running = this.sampleOnce().then(() => this.writes.succeeded())
        .catch((e) => {
          if (!this.writes.failed(e)) this.opts.log(`stats sampler: ${e instanceof Error ? e.message : String(e)}`);
        })
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.opts.intervalMs);
        });
    };
    this.timer = setTimeout(tick, this.opts.intervalMs);
  }

  /** Stops sampling and waits for a sample in progress (so the store can close after). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Takes one sample of every RUNNING task. */
  async sampleOnce(): Promise<number> {
    const read = this.opts.readUsage;
    const tasks = this.opts.tasks.listUnfinished().filter((t) => t.lastStatus === 'RUNNING');
    const live = new Set(tasks.map((t) => t.id));
    for (const id of this.previous.keys()) if (!live.has(id)) this.previous.delete(id);
    const samples: StatsSample[] = [];
    for (const t of tasks) {
      const usage = await read(t.id);
      if (this.stopped) break;
      if (!usage) continue;
      const ts = this.opts.clock.now();
      const prev = this.previous.get(t.id) ?? this.opts.metering.lastSample(t.id);
      let cpuVcpus: number | undefined;
      if (prev && ts > prev.ts && usage.cpuUsageUs >= prev.cpuUsageUs) {
        cpuVcpus = (usage.cpuUsageUs - prev.cpuUsageUs) / ((ts - prev.ts) * 1000);
      }
      const sample: StatsSample = {
        taskId: t.id,
        ts,
        cluster: t.clusterName,
        family: t.family,
        group: t.group,
        cpuUnits: t.cpu,
        memoryMiB: t.memory,
        cpuUsageUs: usage.cpuUsageUs,
        cpuVcpus,
        memoryBytes: usage.workingSetBytes,
        rssBytes: usage.rssBytes,
        cacheBytes: usage.cacheBytes,
      };
      samples.push(sample);
      this.previous.set(t.id, { ts, cpuUsageUs: usage.cpuUsageUs });
    }
    this.opts.metering.insertSamples(samples);
    if (this.stopped) return samples.length;
    const now = this.opts.clock.now();
    if (now - this.lastPrune > HOUR) {
      this.lastPrune = now;
      this.opts.metering.pruneSamples(now - (this.opts.retentionMs ?? 14 * 24 * HOUR));
    }
    return samples.length;
  }
}
