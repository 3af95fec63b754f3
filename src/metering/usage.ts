/**
 * Usage and cost reports, derived from durable lifecycle facts only.
 *
 * A task's usage is recomputed from its stored record every time: it starts at
 * `pullStartedAt` and ends at `executionStoppedAt` (else `stoppedAt`) once the
 * task has stopped, or at "now" while it runs. Nothing is counted incrementally,
 * so a server crash or restart can neither lose nor double a second: a task that
 * kept running across a crash simply has no end yet, and keeps accruing after
 * the restarted server adopts it.
 *
 * Billable interval: a stopped task is billed [start, start + billedSeconds]
 * (rounded up to the second, at least 60 s, the minimum padding placed after
 * the start); a running task has accrued [start, now] so far (the minute
 * minimum is settled when it stops). A report clips each interval to its time
 * range, so day buckets add up to the whole exactly.
 *
 * Amounts: every piece is hourly price × milliseconds (exact products in big.js),
 * summed, then divided by 3 600 000 once per line and rounded to 12 decimals.
 */
import Big from 'big.js';
import type { TaskRecord } from '../model/task-record.ts';
import {
  billedSeconds,
  formatCost,
  hourlyCost,
  ratesFor,
  HOURS_PER_MONTH,
  INCLUDED_STORAGE_GIB,
  type CpuArchitecture,
  type PriceBook,
} from './pricing.ts';

/** One task's usage: the durable facts metering bills. */
export interface UsageRecord {
  taskId: string;
  taskArn: string;
  cluster: string;
  family: string;
  revision: number;
  /** The task's group (`service:<name>` for service tasks). */
  group?: string;
  cpuUnits: number;
  memoryMiB: number;
  ephemeralStorageGiB: number;
  cpuArchitecture: CpuArchitecture;
  capacityProvider: string;
  /** Image-pull start, epoch ms. */
  startMs: number;
  /** End of the billable interval, epoch ms (start + billed seconds once stopped; now while running). */
  endMs: number;
  /** When the task stopped executing (absent while it runs). */
  stoppedMs?: number;
  running: boolean;
  /** Whole seconds billed (stopped) or accrued so far, rounded up (running). */
  billedSeconds: number;
}

/** The usage of a task, or undefined when it never reached the image pull (nothing to bill). */
export function usageOf(t: TaskRecord, now: number): UsageRecord | undefined {
  if (t.pullStartedAt === undefined) return undefined;
  const start = t.pullStartedAt;
  const stop = t.executionStoppedAt ?? (t.lastStatus === 'STOPPED' ? (t.stoppedAt ?? now) : undefined);
  const running = stop === undefined;
  const seconds = running ? Math.ceil(Math.max(0, now - start) / 1000) : billedSeconds(start, stop);
  return {
    taskId: t.id,
    taskArn: t.arn,
    cluster: t.clusterName,
    family: t.family,
    revision: t.revision,
    group: t.group,
    cpuUnits: t.cpu,
    memoryMiB: t.memory,
    ephemeralStorageGiB: t.ephemeralStorageGiB,
    cpuArchitecture: t.cpuArchitecture === 'ARM64' ? 'ARM64' : 'X86_64',
    capacityProvider: t.capacityProviderName,
    startMs: start,
    endMs: running ? Math.max(start, now) : start + seconds * 1000,
    ...(running ? {} : { stoppedMs: stop }),
    running,
    billedSeconds: seconds,
  };
}

const size = (u: UsageRecord) => ({ cpuUnits: u.cpuUnits, memoryMiB: u.memoryMiB, ephemeralStorageGiB: u.ephemeralStorageGiB });

/** What the usage costs per hour, as billed (Spot discounted). */
export function hourlyRateOf(u: UsageRecord, book: PriceBook): Big {
  return hourlyCost(size(u), ratesFor(book, u.cpuArchitecture, u.capacityProvider));
}

/** What the same usage would cost per hour on demand (no Spot discount). */
export function onDemandHourlyRateOf(u: UsageRecord, book: PriceBook): Big {
  return hourlyCost(size(u), ratesFor(book, u.cpuArchitecture, 'FARGATE'));
}

/** Total cost of a usage record over its whole billable interval (rounded to 12 decimals). */
export function usageCost(u: UsageRecord, book: PriceBook): string {
  return formatCost(hourlyRateOf(u, book).times(u.endMs - u.startMs).div(3_600_000));
}

export const GROUP_BY = ['cluster', 'service', 'family', 'capacityProvider', 'day', 'task', 'architecture', 'none'] as const;
export type GroupBy = (typeof GROUP_BY)[number] | `tag:${string}`;

export function isGroupBy(s: string): s is GroupBy {
  return (GROUP_BY as readonly string[]).includes(s) || (/^tag:.+$/.test(s) && s.length <= 132);
}

export interface CostLine {
  key: string;
  /** USD as billed. */
  cost: string;
  /** USD had the same usage run on demand. */
  onDemandCost: string;
  /** onDemandCost − cost: what Spot saved. */
  spotSavings: string;
  vcpuHours: string;
  gbHours: string;
  /** GB-hours of ephemeral storage above the included 20 GB. */
  extraStorageGbHours: string;
  /** Billable seconds inside the range (clipped). */
  seconds: string;
  tasks: number;
  runningTasks: number;
}

export interface CostReport {
  from: string;
  to: string;
  groupBy: GroupBy;
  currency: 'USD';
  lines: CostLine[];
  total: CostLine;
  projection: MonthProjection;
}

export interface MonthProjection {
  /** The current month (UTC), e.g. 2025-06. */
  month: string;
  monthToDate: string;
  /** What the tasks running now cost per hour together. */
  runRatePerHour: string;
  hoursLeft: string;
  /** monthToDate + runRatePerHour × hoursLeft. */
  projectedMonth: string;
  /** The run rate over a whole 730-hour month, for comparison. */
  runRatePerMonth: string;
}

export interface CostQuery {
  /** Epoch ms; inclusive. */
  from: number;
  /** Epoch ms; exclusive. Undefined = open (running tasks always end at now). */
  to?: number;
  groupBy: GroupBy;
  now: number;
}

class Acc {
  cost = new Big(0); // USD·ms/h (divided at the end)
  onDemand = new Big(0);
  vcpuMs = new Big(0);
  gbMs = new Big(0);
  storageMs = new Big(0);
  ms = 0;
  tasks = new Set<string>();
  running = new Set<string>();

  add(u: UsageRecord, ms: number, rate: Big, odRate: Big): void {
    this.cost = this.cost.plus(rate.times(ms));
    this.onDemand = this.onDemand.plus(odRate.times(ms));
    this.vcpuMs = this.vcpuMs.plus(new Big(u.cpuUnits).div(1024).times(ms));
    this.gbMs = this.gbMs.plus(new Big(u.memoryMiB).div(1024).times(ms));
    this.storageMs = this.storageMs.plus(new Big(Math.max(0, u.ephemeralStorageGiB - INCLUDED_STORAGE_GIB)).times(ms));
    this.ms += ms;
    this.tasks.add(u.taskId);
    if (u.running) this.running.add(u.taskId);
  }

  merge(o: Acc): void {
    this.cost = this.cost.plus(o.cost);
    this.onDemand = this.onDemand.plus(o.onDemand);
    this.vcpuMs = this.vcpuMs.plus(o.vcpuMs);
    this.gbMs = this.gbMs.plus(o.gbMs);
    this.storageMs = this.storageMs.plus(o.storageMs);
    this.ms += o.ms;
    o.tasks.forEach((t) => this.tasks.add(t));
    o.running.forEach((t) => this.running.add(t));
  }

  line(key: string): CostLine {
    const h = (x: Big) => x.div(3_600_000);
    const cost = formatCost(h(this.cost));
    const onDemandCost = formatCost(h(this.onDemand));
    return {
      key,
      cost,
      onDemandCost,
      spotSavings: new Big(onDemandCost).minus(cost).toFixed(),
      vcpuHours: h(this.vcpuMs).round(9).toFixed(),
      gbHours: h(this.gbMs).round(9).toFixed(),
      extraStorageGbHours: h(this.storageMs).round(9).toFixed(),
      seconds: new Big(this.ms).div(1000).toFixed(),
      tasks: this.tasks.size,
      runningTasks: this.running.size,
    };
  }
}

const DAY_MS = 86_400_000;

/** Start of the UTC day containing `ms`. */
export const utcDayStart = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;

/** Start of the UTC month containing `ms`, and of the next one. */
export function utcMonthBounds(ms: number): { start: number; end: number; label: string } {
  const d = new Date(ms);
  const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const end = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return { start, end, label: new Date(start).toISOString().slice(0, 7) };
}

function keyOf(u: UsageRecord, groupBy: GroupBy, tagsOf: (arn: string) => { key: string; value: string }[]): string {
  if (groupBy.startsWith('tag:')) {
    const k = groupBy.slice(4);
    return tagsOf(u.taskArn).find((t) => t.key === k)?.value ?? '(untagged)';
  }
  switch (groupBy) {
    case 'cluster':
      return u.cluster;
    case 'service':
      return u.group?.startsWith('service:') ? u.group.slice('service:'.length) : '(no service)';
    case 'family':
      return u.family;
    case 'capacityProvider':
      return u.capacityProvider;
    case 'architecture':
      return u.cpuArchitecture;
    case 'task':
      return u.taskId;
    default:
      return 'total';
  }
}

/**
 * Cost of `usages` inside [from, to), grouped. Day groups split each interval
 * at UTC midnights. Lines are sorted by cost, highest first (days by date).
 */
export function costReport(
  usages: UsageRecord[],
  q: CostQuery,
  book: PriceBook,
  tagsOf: (arn: string) => { key: string; value: string }[] = () => [],
): CostReport {
  const groups = new Map<string, Acc>();
  const acc = (k: string) => {
    let a = groups.get(k);
    if (!a) groups.set(k, (a = new Acc()));
    return a;
  };
  const to = q.to ?? Infinity;
  for (const u of usages) {
    const a = Math.max(u.startMs, q.from);
    const b = Math.min(u.endMs, to);
    if (b <= a) continue;
    const rate = hourlyRateOf(u, book);
    const od = onDemandHourlyRateOf(u, book);
    if (q.groupBy === 'day') {
      for (let d = utcDayStart(a); d < b; d += DAY_MS) {
        const s = Math.max(a, d);
        const e = Math.min(b, d + DAY_MS);
        if (e > s) acc(new Date(d).toISOString().slice(0, 10)).add(u, e - s, rate, od);
      }
    } else {
      acc(keyOf(u, q.groupBy, tagsOf)).add(u, b - a, rate, od);
    }
  }
  const total = new Acc();
  groups.forEach((g) => total.merge(g));
  const lines = [...groups.entries()].map(([k, g]) => g.line(k));
  if (q.groupBy === 'day') lines.sort((x, y) => x.key.localeCompare(y.key));
  else lines.sort((x, y) => new Big(y.cost).cmp(x.cost) || x.key.localeCompare(y.key));
  return {
    from: new Date(q.from).toISOString(),
    to: new Date(Math.min(to, q.now)).toISOString(),
    groupBy: q.groupBy,
    currency: 'USD',
    lines,
    total: total.line('total'),
    projection: projectMonth(usages, q.now, book),
  };
}

/**
 * The current UTC month so far plus the tasks running now, continued at their
 * rate to the month's end.
 */
export function projectMonth(usages: UsageRecord[], now: number, book: PriceBook): MonthProjection {
  const m = utcMonthBounds(now);
  let soFar = new Big(0);
  let rate = new Big(0);
  for (const u of usages) {
    const a = Math.max(u.startMs, m.start);
    const b = Math.min(u.endMs, u.running ? now : m.end);
    if (b > a) soFar = soFar.plus(hourlyRateOf(u, book).times(b - a));
    if (u.running) rate = rate.plus(hourlyRateOf(u, book));
  }
  const monthToDate = soFar.div(3_600_000);
  const hoursLeft = new Big(Math.max(0, m.end - now)).div(3_600_000);
  return {
    month: m.label,
    monthToDate: formatCost(monthToDate),
    runRatePerHour: formatCost(rate),
    hoursLeft: hoursLeft.round(6).toFixed(),
    projectedMonth: formatCost(monthToDate.plus(rate.times(hoursLeft))),
    runRatePerMonth: formatCost(rate.times(HOURS_PER_MONTH)),
  };
}
