/**
 * Logs the AWS way, wired together: the log store (`<data>/logs.db`), the
 * CloudWatch Logs protocol, the awslogs preparation at task start, the shipper
 * that follows container log files, and the periodic enforcement of retention
 * and size caps.
 *
 * Storage is bounded three ways: each group's retention (events older than it
 * are deleted every SKIFF_LOGS_ENFORCE_INTERVAL_MS), a per-stream cap and a
 * store-wide cap (the oldest events go first); conmon's own file per container
 * is capped by --log-size-max (see settings.ts).
 */
import { isDiskFullError } from '../store/disk-errors.ts';
import type { JsonProtocol } from '../api/http-server.ts';
import type { TaskRecord } from '../model/task-record.ts';
import { openLogDb } from './log-db.ts';
import { LogStore } from './log-store.ts';
import { logResources, logsProtocol, LOGS_TARGET_PREFIX } from './logs-protocol.ts';
import { awslogsTargets, prepareAwslogs, type LogConfigurationLike } from './awslogs.ts';
import { LogShipper } from './shipper.ts';
import type { LogSettings } from '../config/sections.ts';

export { LOGS_TARGET_PREFIX };

export interface LogServiceOptions {
  file: string;
  settings: LogSettings;
  region: string;
  account: string;
  now: () => number;
  /** A container's logConfiguration, from the task's definition. */
  logConfigurationOf(task: TaskRecord, containerName: string): LogConfigurationLike | undefined;
  /** The conmon log file of a container, by runtime id. */
  logFile(runtimeId: string): string;
  /** True once the task's containers are gone for good (STOPPED, or no such task). */
  taskFinished(taskId: string): boolean;
  log(msg: string): void;
}

export class LogService {
  readonly store: LogStore;
  private readonly shipper: LogShipper;
  private enforceTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: LogServiceOptions) {
    this.store = new LogStore(openLogDb(opts.file));
    this.shipper = new LogShipper({ store: this.store, now: opts.now, intervalMs: opts.settings.shipIntervalMs, taskFinished: opts.taskFinished, log: opts.log });
  }

  protocol(): JsonProtocol {
    return logsProtocol(this.store, { region: this.opts.region, account: this.opts.account, now: this.opts.now });
  }

  resources(operation: string, input: Record<string, unknown>): string[] {
    return logResources(operation, input, { region: this.opts.region, account: this.opts.account });
  }

  /** Before a task's containers are created: awslogs groups, streams and shipments (throws AwslogsError). */
  prepareTask(task: TaskRecord): void {
    const targets = awslogsTargets(task, (name) => this.opts.logConfigurationOf(task, name), this.opts.region);
    if (targets.length) prepareAwslogs(this.store, targets, task, this.opts.logFile, this.opts.now());
  }

  /** One enforcement pass (retention, then size caps); returns the events deleted. */
  enforce(): number {
    return this.store.enforceLimits(this.opts.now(), { streamMaxBytes: this.opts.settings.streamMaxBytes, totalMaxBytes: this.opts.settings.totalMaxBytes });
  }

  start(): void {
    this.shipper.start();
    const tick = () => {
      try {
        const n = this.enforce();
        if (n > 0) this.opts.log(`log retention: deleted ${n} event(s)`);
      } catch (e) {
        if (!isDiskFullError(e)) this.opts.log(`log retention pass failed: ${e instanceof Error ? e.message : e}`); // a full disk: the shipper says so once
      }
      this.enforceTimer = setTimeout(tick, this.opts.settings.enforceIntervalMs);
    };
    this.enforceTimer = setTimeout(tick, this.opts.settings.enforceIntervalMs);
  }

  async close(): Promise<void> {
    clearTimeout(this.enforceTimer);
    await this.shipper.close();
    this.store.db.close();
  }
}
