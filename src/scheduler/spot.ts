/**
 * Fargate Spot reclaim. A FARGATE_SPOT task can be interrupted by the operator
 * (`skiff spot interrupt TASK`, POST /skiff/v1/tasks/:taskId/spot-interruption)
 * or at random at a configured rate (interruptions per Spot task-hour). The
 * interruption is stored first (desired STOPPED, stopCode SpotInterruption,
 * "Your Spot Task was interrupted."), then the task gets its stop signal
 * (SIGTERM) at once — the warning — and SIGKILL only when the warning period
 * (2 minutes by default) has passed. Its service sees it is no longer desired
 * RUNNING and starts a replacement straight away.
 */
import { ApiError, ErrorCode } from '../api/errors.ts';
import type { TaskRecord } from '../model/task-record.ts';
import type { Repos } from '../store/repos.ts';
import type { Clock } from '../util/clock.ts';
import type { Agent } from '../agent/agent.ts';
import type { ChangeSignal } from './signal.ts';
import { StopReason } from '../model/task-status.ts';

export interface SpotDeps extends Pick<Repos, 'tasks'> {
  clock: Clock;
  agent: Pick<Agent, 'stop'>;
  /** Notified after an interruption, so the task's service replaces it at once. */
  servicesChanged: Pick<ChangeSignal, 'notify'>;
}

export interface SpotOptions {
  /** Time between the warning (SIGTERM) and SIGKILL, ms. */
  warningMs: number;
  /** Random interruptions per Spot task-hour (0: none). */
  interruptionRatePerHour: number;
  random?: () => number;
  log(msg: string): void;
}

/** Probability that a task is interrupted within `dtMs` at `ratePerHour` (a Poisson process). */
export function interruptionProbability(ratePerHour: number, dtMs: number): number {
  if (ratePerHour <= 0 || dtMs <= 0) return 0;
  return 1 - Math.exp((-ratePerHour * dtMs) / 3_600_000);
}

export class SpotReclaimer {
  private lastTick = 0;

  constructor(
    private readonly deps: SpotDeps,
    private readonly opts: SpotOptions,
  ) {}

  /** Interrupts one running FARGATE_SPOT task; the stored task after the interruption was recorded. */
  interrupt(taskId: string): TaskRecord {
    const t = this.deps.tasks.get(taskId);
    if (!t) throw new ApiError(ErrorCode.ResourceNotFoundException, `Task ${taskId} not found.`);
    if (t.capacityProviderName !== 'FARGATE_SPOT') {
      throw new ApiError(ErrorCode.InvalidParameterException, `Task ${taskId} runs on ${t.capacityProviderName}, not FARGATE_SPOT: only Spot capacity is reclaimed.`);
    }
    if (t.desiredStatus !== 'RUNNING') {
      throw new ApiError(ErrorCode.InvalidParameterException, `Task ${taskId} is already stopping (${t.stopCode ?? t.lastStatus}).`);
    }
    const updated = this.deps.tasks.update(taskId, (x) => {
      x.desiredStatus = 'STOPPED';
      x.stopCode = 'SpotInterruption';
      x.stoppedReason = StopReason.SpotInterruption;
      x.stopDeadline = this.deps.clock.now() + this.opts.warningMs;
    });
    this.opts.log(`task ${taskId}: Spot interruption, SIGKILL in ${this.opts.warningMs} ms`);
    this.deps.agent.stop(taskId, 'SpotInterruption', StopReason.SpotInterruption, this.opts.warningMs);
    this.deps.servicesChanged.notify();
    return updated;
  }

  /** Random interruptions since the last tick. */
  tick(): void {
    const now = this.deps.clock.now();
    const dt = this.lastTick ? now - this.lastTick : 0;
    this.lastTick = now;
    const p = interruptionProbability(this.opts.interruptionRatePerHour, dt);
    if (p === 0) return;
    const random = this.opts.random ?? Math.random;
    for (const t of this.deps.tasks.listUnfinished()) {
      if (t.capacityProviderName !== 'FARGATE_SPOT' || t.desiredStatus !== 'RUNNING' || t.lastStatus !== 'RUNNING') continue;
      if (random() < p) {
        try {
          this.interrupt(t.id);
        } catch (err) {
          this.opts.log(`Spot interruption of ${t.id} failed: ${err instanceof Error ? err.message : err}`);
        }
      }
    }
  }
}
