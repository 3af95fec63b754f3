/** `skiff top`'s arithmetic: rates from two cumulative readings of /skiff/v1/task-usage (pure). */
import type { TaskUsage } from '../metrics/routes.ts';

export interface UsageSnapshot {
  timestamp: number;
  tasks: TaskUsage[];
}

export interface TopRow {
  taskId: string;
  family: string;
  revision: number;
  service: string;
  /** vCPUs used on average over the interval. */
  cpuVcpus?: number;
  /** Of the task's size. */
  cpuPercent?: number;
  memoryBytes?: number;
  memoryLimitBytes: number;
  memoryPercent?: number;
  rxBytesPerSecond?: number;
  txBytesPerSecond?: number;
  storageWritableBytes?: number;
}

/** Rows for the tasks in `after`; rates need the task in `before` too (else undefined). */
export function topRows(before: UsageSnapshot, after: UsageSnapshot): TopRow[] {
  const seconds = (after.timestamp - before.timestamp) / 1000;
  const prev = new Map(before.tasks.map((t) => [t.taskId, t]));
  return after.tasks.map((t) => {
    const p = prev.get(t.taskId);
    const rate = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && seconds > 0 && a >= b ? (a - b) / seconds : undefined);
    const cpuVcpus = rate(t.cpuSeconds, p?.cpuSeconds);
    return {
      taskId: t.taskId,
      family: t.family,
      revision: t.revision,
      service: t.service,
      cpuVcpus,
      cpuPercent: cpuVcpus !== undefined ? (100 * cpuVcpus) / t.cpuLimitVcpus : undefined,
      memoryBytes: t.memoryWorkingSetBytes,
      memoryLimitBytes: t.memoryLimitBytes,
      memoryPercent: t.memoryWorkingSetBytes !== undefined ? (100 * t.memoryWorkingSetBytes) / t.memoryLimitBytes : undefined,
      rxBytesPerSecond: rate(t.network?.rxBytes, p?.network?.rxBytes),
      txBytesPerSecond: rate(t.network?.txBytes, p?.network?.txBytes),
      storageWritableBytes: t.storageWritableBytes,
    };
  }).sort((a, b) => (b.cpuVcpus ?? -1) - (a.cpuVcpus ?? -1) || a.taskId.localeCompare(b.taskId));
}
