/**
 * The autoscaler: every `intervalMs` it runs the scheduled actions that are due
 * and, once per completed metric period, evaluates each scalable target's
 * target tracking policies on the measured utilization of the service's tasks
 * (the stats sampler's cgroup samples), then acts on the decision
 * (decide.ts) by setting the service's desired count through UpdateService.
 *
 * Every change is written in one store transaction with its scaling activity
 * (and the target's cooldown timestamps), so a restart neither repeats nor
 * loses one. Scheduled actions remember the instant they last ran for.
 */
import { randomUUID } from 'node:crypto';
import type { ServiceHandlerDeps } from '../control/services.ts';
import type { MeteringRepo } from '../store/metering-repo.ts';
import { clampToRange, datapoints, decide, lastPeriodEnd, type Decision, type PolicyView } from './decide.ts';
import { ACTIVITY_RETENTION_MS, parseEcsResourceId, type ActivityRecord, type NotScaledReasonRecord, type ScalableTargetRecord, type ScheduledActionRecord } from './model.ts';
import type { AutoscalingRepo } from './repo.ts';
import { dueInstant, parseSchedule } from './schedule.ts';
import type { AutoscalingSettings } from '../config/sections.ts';
import { deploymentInProgress, ServiceCapacity } from './service-capacity.ts';

const HOUR = 3_600_000;

export interface AutoscalerOptions {
  settings: Readonly<AutoscalingSettings>;
  log(msg: string): void;
}

export class Autoscaler {
  private timer: NodeJS.Timeout | undefined;
  private readonly capacity: ServiceCapacity;
  /** Per target: the end of the last period its policies were evaluated for (once per datapoint, like an alarm). */
  private readonly evaluatedUntil = new Map<string, number>();
  /** Per scheduled action: how far its schedule has been searched (saves re-scanning a cron that has not matched). */
  private readonly checkedUntil = new Map<string, number>();
  /** Per target: the not scaled activity last recorded (one per alarm episode and reason, not one per evaluation). */
  private readonly lastNotScaled = new Map<string, string>();
  private lastPrune = 0;

  constructor(
    private readonly deps: ServiceHandlerDeps,
    readonly repo: AutoscalingRepo,
    private readonly metering: MeteringRepo,
    private readonly opts: AutoscalerOptions,
  ) {
    this.capacity = new ServiceCapacity(deps);
  }

  start(): void {
    this.timer = setInterval(() => {
      try {
        this.tick();
      } catch (e) {
        this.opts.log(`autoscaler: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
    }, this.opts.settings.intervalMs);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One pass: due scheduled actions first, then the policies of every target. */
  tick(): void {
    const now = this.deps.clock.now();
    const actions = this.repo.allScheduledActions();
    const targets = this.repo.allTargets();
    forgetMissing(this.checkedUntil, actions);
    forgetMissing(this.evaluatedUntil, targets);
    for (const a of actions) this.runScheduledAction(a, now);
    for (const t of targets) this.evaluatePolicies(t, now);
    if (now - this.lastPrune > HOUR) {
      this.lastPrune = now;
      this.repo.pruneActivities(now - ACTIVITY_RETENTION_MS);
    }
  }

  /** Whether the ECS service exists and is ACTIVE (a scalable target can only be registered for one). */
  serviceIsActive(cluster: string, name: string): boolean {
    return this.capacity.service(cluster, name)?.status === 'ACTIVE';
  }

  /**
   * After a target's min/max changed: moves the service's desired count into
   * the new range (an activity caused by "minimum capacity was set to N").
   */
  applyRange(t: ScalableTargetRecord): ActivityRecord | undefined {
    const ref = parseEcsResourceId(t.resourceId);
    const svc = ref && this.capacity.service(ref.cluster, ref.service);
    if (!svc || svc.status !== 'ACTIVE') return undefined;
    const move = clampToRange(svc.desiredCount, t.minCapacity, t.maxCapacity);
    if (!move) return undefined;
    const value = move.cause === 'minimum' ? t.minCapacity : t.maxCapacity;
    return this.setDesiredCount(t, move.to, `${move.cause} capacity was set to ${value}`);
  }

  private runScheduledAction(a: ScheduledActionRecord, now: number): void {
    const since = Math.max(a.lastRunFor ?? a.createdAt, this.checkedUntil.get(a.arn) ?? -Infinity);
    const due = dueInstant(parseSchedule(a.schedule), {
      since,
      now,
      base: a.startTime ?? a.createdAt,
      timezone: a.timezone,
      startTime: a.startTime,
      endTime: a.endTime,
    });
    this.checkedUntil.set(a.arn, now);
    if (due === undefined) return;
    const t = this.repo.target(a.namespace, a.resourceId, a.dimension);
    a.lastRunFor = due;
    if (!t || t.suspended.ScheduledScalingSuspended) {
      this.repo.putScheduledAction(a); // skipped, not postponed
      return;
    }
    const min = a.minCapacity ?? t.minCapacity;
    const max = a.maxCapacity ?? t.maxCapacity;
    const what = [a.minCapacity !== undefined ? `min capacity to ${min}` : '', a.maxCapacity !== undefined ? `max capacity to ${max}` : ''].filter(Boolean).join(' and ');
    const activity = this.newActivity(t, `Setting ${what}`, `scheduled action name ${a.name} was triggered`, now);
    if (min > max) {
      activity.status = 'Failed';
      activity.statusMessage = `Failed to set ${what}. Reason: minimum capacity ${min} would be greater than maximum capacity ${max}.`;
    } else {
      t.minCapacity = min;
      t.maxCapacity = max;
      activity.status = 'Successful';
      activity.statusMessage = `Successfully set ${what}`;
    }
    activity.endTime = now;
    this.repo.transaction(() => {
      this.repo.putScheduledAction(a);
      this.repo.putActivity(activity);
      if (activity.status === 'Successful') this.repo.putTarget(t);
    });
    this.opts.log(`autoscaling: ${t.resourceId}: ${activity.statusMessage} (${activity.cause})`);
    if (activity.status === 'Successful') this.applyRange(t);
  }

  private evaluatePolicies(t: ScalableTargetRecord, now: number): void {
    const s = this.opts.settings;
    const end = lastPeriodEnd(now, s.periodMs);
    if (this.evaluatedUntil.get(t.arn) === end) return;
    this.evaluatedUntil.set(t.arn, end);
    const policies = this.repo.policies({ namespace: t.namespace, resourceIds: [t.resourceId], dimension: t.dimension });
    if (policies.length === 0) return;
    const ref = parseEcsResourceId(t.resourceId);
    const svc = ref && this.capacity.service(ref.cluster, ref.service);
    if (!ref || !svc || svc.status !== 'ACTIVE') return;

    const count = Math.max(s.scaleOutDatapoints, s.scaleInDatapoints);
    const mine = this.capacity.taskIds(svc.id);
    const samples = this.metering
      .samples({ group: `service:${svc.name}`, cluster: svc.clusterName, since: end - count * s.periodMs })
      .filter((x) => mine.has(x.taskId));
    const views: PolicyView[] = policies.map((p) => ({
      name: p.name,
      targetValue: p.targetValue,
      scaleOutCooldown: p.scaleOutCooldown,
      scaleInCooldown: p.scaleInCooldown,
      disableScaleIn: p.disableScaleIn,
      alarmHigh: p.alarms[0].AlarmName,
      alarmLow: p.alarms[1]?.AlarmName,
      datapoints: datapoints(samples, p.metric, { periodMs: s.periodMs, end, count }),
    }));
    const d = decide({
      now,
      current: svc.desiredCount,
      min: t.minCapacity,
      max: t.maxCapacity,
      lastScaleOutAt: t.lastScaleOutAt,
      lastScaleInAt: t.lastScaleInAt,
      deploymentInProgress: deploymentInProgress(svc),
      scaleOutSuspended: t.suspended.DynamicScalingOutSuspended,
      scaleInSuspended: t.suspended.DynamicScalingInSuspended,
      scaleOutDatapoints: s.scaleOutDatapoints,
      scaleInDatapoints: s.scaleInDatapoints,
      policies: views,
    });
    if (d.action === 'none') {
      this.recordNotScaled(t, svc.desiredCount, d, now);
      return;
    }
    this.lastNotScaled.delete(t.arn);
    if (d.action === 'scale-out') t.lastScaleOutAt = now;
    else t.lastScaleInAt = now;
    const a = this.setDesiredCount(t, d.to, `monitor alarm ${d.alarm} in state ALARM triggered policy ${d.policy}`);
    this.opts.log(`autoscaling: ${t.resourceId}: ${a.statusMessage} (${d.action}, metric ${d.metric.toFixed(1)} %)`);
  }

  /**
   * An alarm in ALARM that changed nothing because of capacity limits or a
   * deployment: recorded once per episode as a not scaled activity
   * (DescribeScalingActivities with IncludeNotScaledActivities).
   */
  private recordNotScaled(t: ScalableTargetRecord, current: number, d: Extract<Decision, { action: 'none' }>, now: number): void {
    let reason: NotScaledReasonRecord | undefined;
    let message = '';
    if (d.reason === 'AlreadyAtMaxCapacity') {
      reason = { Code: 'AlreadyAtMaxCapacity', MaxCapacity: t.maxCapacity, CurrentCapacity: current };
      message = `Failed to set desired count to ${d.to}. Already at the maximum capacity of ${t.maxCapacity}.`;
    } else if (d.reason === 'AlreadyAtMinCapacity') {
      reason = { Code: 'AlreadyAtMinCapacity', MinCapacity: t.minCapacity, CurrentCapacity: current };
      message = `Failed to set desired count to ${d.to}. Already at the minimum capacity of ${t.minCapacity}.`;
    } else if (d.reason === 'DeploymentInProgress') {
      reason = { Code: 'TargetServicePutResourceAsUnscalable', CurrentCapacity: current };
      message = `Not scaling in to ${Math.max(d.to ?? 0, t.minCapacity)}: scale-in is paused while a deployment of the service is in progress.`;
    }
    if (!reason) {
      if (d.reason === 'NoAlarm') this.lastNotScaled.delete(t.arn);
      return;
    }
    const key = `${reason.Code}:${d.alarm}`;
    if (this.lastNotScaled.get(t.arn) === key) return;
    this.lastNotScaled.set(t.arn, key);
    const a = this.newActivity(t, 'Attempting to scale due to alarm triggered', `monitor alarm ${d.alarm} in state ALARM triggered policy ${d.policy}`, now);
    this.repo.putActivity({ ...a, status: 'Failed', statusMessage: message, endTime: now, notScaledReasons: [reason] });
  }

  /** Sets the service's desired count and records the activity (with the target), in one transaction. */
  private setDesiredCount(t: ScalableTargetRecord, to: number, cause: string): ActivityRecord {
    const now = this.deps.clock.now();
    const ref = parseEcsResourceId(t.resourceId)!;
    const activity = this.newActivity(t, `Setting desired count to ${to}.`, cause, now);
    this.repo.transaction(() => {
      try {
        this.capacity.setDesiredCount(ref.cluster, ref.service, to);
        activity.status = 'Successful';
        activity.statusMessage = `Successfully set desired count to ${to}. Change successfully fulfilled by ecs.`;
      } catch (e) {
        activity.status = 'Failed';
        activity.statusMessage = `Failed to set desired count to ${to}. Reason: ${e instanceof Error ? e.message : String(e)}`;
      }
      activity.endTime = this.deps.clock.now();
      this.repo.putActivity(activity);
      this.repo.putTarget(t);
    });
    return activity;
  }

  private newActivity(t: ScalableTargetRecord, description: string, cause: string, now: number): ActivityRecord {
    return {
      id: randomUUID(),
      namespace: t.namespace,
      resourceId: t.resourceId,
      dimension: t.dimension,
      description,
      cause,
      startTime: now,
      status: 'InProgress',
    };
  }
}

/** Drops the remembered state of targets or actions that no longer exist. */
function forgetMissing(state: Map<string, number>, present: readonly { arn: string }[]): void {
  if (state.size <= present.length) return;
  const keep = new Set(present.map((p) => p.arn));
  for (const arn of state.keys()) if (!keep.has(arn)) state.delete(arn);
}
