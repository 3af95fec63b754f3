/**
 * Target tracking, decided: pure functions from measured samples and the
 * target's state to what the autoscaler should do. Nothing here reads the store
 * or the clock.
 *
 * Metric (as ECS publishes CPUUtilization / MemoryUtilization for a service):
 * per period, the CPU the service's tasks used relative to the CPU units they
 * reserve, summed over the tasks sampled in that period (Σ used / Σ reserved ×
 * 100); memory likewise, working set over the task memory.
 *
 * Alarms (as target tracking creates them): AlarmHigh when the last
 * `scaleOutDatapoints` datapoints are all above the target; AlarmLow when the
 * last `scaleInDatapoints` are all below 90 % of it. A missing datapoint (no
 * RUNNING task sampled) keeps an alarm out of ALARM.
 *
 * Capacity: ceil(current × metric / target), clamped to [min, max]; a scale-out
 * adds at least one task, a scale-in removes at least one. Scale-out wins if any
 * policy asks for it; scale-in needs every policy that may scale in to agree
 * (AWS's rule for several target tracking policies). No scale-out within the
 * scale-out cooldown of the last scale-out; no scale-in within the scale-in
 * cooldown of the last scale-in, nor while a deployment of the service is in
 * progress, nor when dynamic scaling in that direction is suspended.
 */
import { MetricType, SCALE_IN_THRESHOLD_RATIO } from './model.ts';

export interface UsageSample {
  taskId: string;
  ts: number;
  cpuUnits: number;
  memoryMiB: number;
  /** Average vCPUs used since the task's previous sample (absent on its first). */
  cpuVcpus?: number;
  memoryBytes: number;
}

/**
 * The metric's datapoints for the `count` whole periods ending at `end`
 * (oldest first; undefined where no task was sampled).
 */
export function datapoints(samples: readonly UsageSample[], metric: MetricType, o: { periodMs: number; end: number; count: number }): (number | undefined)[] {
  const out: (number | undefined)[] = [];
  for (let i = o.count; i >= 1; i--) {
    const from = o.end - i * o.periodMs;
    const to = from + o.periodMs;
    const perTask = new Map<string, { used: number; n: number; reserved: number }>();
    for (const s of samples) {
      if (s.ts < from || s.ts >= to) continue;
      const used = metric === MetricType.cpu ? (s.cpuVcpus === undefined ? undefined : s.cpuVcpus * 1024) : s.memoryBytes;
      if (used === undefined) continue;
      const reserved = metric === MetricType.cpu ? s.cpuUnits : s.memoryMiB * 1024 * 1024;
      const acc = perTask.get(s.taskId) ?? { used: 0, n: 0, reserved };
      acc.used += used;
      acc.n++;
      perTask.set(s.taskId, acc);
    }
    let used = 0;
    let reserved = 0;
    for (const t of perTask.values()) {
      used += t.used / t.n;
      reserved += t.reserved;
    }
    out.push(reserved > 0 ? (used / reserved) * 100 : undefined);
  }
  return out;
}

/** The end of the last whole period at or before `now` (datapoints are aligned to multiples of the period). */
export function lastPeriodEnd(now: number, periodMs: number): number {
  return Math.floor(now / periodMs) * periodMs;
}

export interface PolicyView {
  name: string;
  targetValue: number;
  /** Seconds. */
  scaleOutCooldown: number;
  scaleInCooldown: number;
  disableScaleIn: boolean;
  alarmHigh: string;
  alarmLow?: string;
  /** Datapoints, oldest first; at least max(scaleOutDatapoints, scaleInDatapoints) of them. */
  datapoints: readonly (number | undefined)[];
}

export interface DecisionInput {
  now: number;
  /** The service's desiredCount. */
  current: number;
  min: number;
  max: number;
  lastScaleOutAt?: number;
  lastScaleInAt?: number;
  deploymentInProgress: boolean;
  scaleOutSuspended: boolean;
  scaleInSuspended: boolean;
  scaleOutDatapoints: number;
  scaleInDatapoints: number;
  policies: readonly PolicyView[];
}

export type NotScaledReason =
  | 'NoAlarm'
  | 'AlreadyAtMaxCapacity'
  | 'AlreadyAtMinCapacity'
  | 'ScaleOutCooldown'
  | 'ScaleInCooldown'
  | 'DeploymentInProgress'
  | 'ScaleOutSuspended'
  | 'ScaleInSuspended';

/**
 * What to do. A `none` with `alarm` set means an alarm is in ALARM but
 * nothing changes (`to`: the count it asked for, before clamping).
 */
export type Decision =
  | { action: 'none'; reason: NotScaledReason; policy?: string; alarm?: string; to?: number }
  | { action: 'scale-out' | 'scale-in'; to: number; policy: string; alarm: string; metric: number };

interface Want {
  policy: PolicyView;
  to: number;
  metric: number;
}

const lastN = (d: readonly (number | undefined)[], n: number) => (d.length >= n ? d.slice(d.length - n) : undefined);

/** What the policies' alarms ask for, and whether it may happen now. */
export function decide(i: DecisionInput): Decision {
  const clamp = (n: number) => Math.min(i.max, Math.max(i.min, n));
  const proportional = (metric: number, target: number) => Math.ceil((i.current * metric) / target - 1e-9);

  const outs: Want[] = [];
  const ins: (Want | undefined)[] = [];
  for (const p of i.policies) {
    const high = lastN(p.datapoints, i.scaleOutDatapoints);
    if (high && high.every((v) => v !== undefined && v > p.targetValue)) {
      const metric = high[high.length - 1]!;
      outs.push({ policy: p, metric, to: Math.max(i.current + 1, proportional(metric, p.targetValue)) });
    }
    if (p.disableScaleIn) continue;
    const low = lastN(p.datapoints, i.scaleInDatapoints);
    if (low && low.every((v) => v !== undefined && v < p.targetValue * SCALE_IN_THRESHOLD_RATIO)) {
      const metric = low[low.length - 1]!;
      ins.push({ policy: p, metric, to: Math.min(i.current - 1, proportional(metric, p.targetValue)) });
    } else ins.push(undefined);
  }

  if (outs.length) {
    const best = outs.reduce((a, b) => (b.to > a.to ? b : a));
    const alarmed = { policy: best.policy.name, alarm: best.policy.alarmHigh, to: best.to };
    if (i.scaleOutSuspended) return { action: 'none', reason: 'ScaleOutSuspended', ...alarmed };
    const to = clamp(best.to);
    if (to <= i.current) return { action: 'none', reason: 'AlreadyAtMaxCapacity', ...alarmed };
    if (i.lastScaleOutAt !== undefined && i.now - i.lastScaleOutAt < best.policy.scaleOutCooldown * 1000) return { action: 'none', reason: 'ScaleOutCooldown', ...alarmed };
    return { action: 'scale-out', to, policy: best.policy.name, alarm: best.policy.alarmHigh, metric: best.metric };
  }

  if (ins.length === 0 || ins.some((w) => w === undefined)) return { action: 'none', reason: 'NoAlarm' };
  const wants = ins as Want[];
  // Every policy agrees to scale in; remove only as much as the most cautious one allows.
  const best = wants.reduce((a, b) => (b.to > a.to ? b : a));
  const alarmed = { policy: best.policy.name, alarm: best.policy.alarmLow ?? best.policy.alarmHigh, to: best.to };
  if (i.scaleInSuspended) return { action: 'none', reason: 'ScaleInSuspended', ...alarmed };
  const to = clamp(best.to);
  if (to >= i.current) return { action: 'none', reason: 'AlreadyAtMinCapacity', ...alarmed };
  if (i.deploymentInProgress) return { action: 'none', reason: 'DeploymentInProgress', ...alarmed };
  if (i.lastScaleInAt !== undefined && i.now - i.lastScaleInAt < best.policy.scaleInCooldown * 1000) return { action: 'none', reason: 'ScaleInCooldown', ...alarmed };
  return { action: 'scale-in', to, policy: best.policy.name, alarm: best.policy.alarmLow ?? best.policy.alarmHigh, metric: best.metric };
}

/** The desired count a new [min, max] forces, or undefined when the current count already fits. */
export function clampToRange(current: number, min: number, max: number): { to: number; cause: 'minimum' | 'maximum' } | undefined {
  if (current < min) return { to: min, cause: 'minimum' };
  if (current > max) return { to: max, cause: 'maximum' };
  return undefined;
}
