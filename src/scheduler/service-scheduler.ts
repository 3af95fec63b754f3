/**
 * The service controller: every `intervalMs` (and at once when woken by an API
 * call) it takes a snapshot of each live service, asks the pure reconciler for
 * a plan and hands the plan to the applier. It keeps no state of its own
 * beyond when it started: everything it knows is read from the store each
 * pass, so a restarted server picks a deployment up where the store says it is.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { reconcile } from './reconcile.ts';
import { applyPlan, type ApplierDeps, type DrainTask } from './applier.ts';
import { primaryOf } from '../model/service-record.ts';
import type { ChangeSignal } from './signal.ts';
import type { TaskTargetHealth } from '../model/load-balancer.ts';

export interface ServiceSchedulerOptions {
  intervalMs: number;
  maxStartsPerPass: number;
  log(msg: string): void;
  /** Services changed (an API call, a Spot interruption): run a pass soon. */
  wakeOn?: ChangeSignal;
  /** Called after each pass (the Spot reclaimer rides on the same clock). */
  afterPass?: () => void;
  /** Drains a task from its service's load balancers before it is stopped (absent: stopped at once). */
  drain?: DrainTask;
  /** Its tasks' health in the service's target groups (the load balancers'; undefined: no HTTP health check). */
  targetHealth?: (serviceId: string) => Map<string, TaskTargetHealth> | undefined;
}

/** `ecs-svc/` and 19 digits, as ECS names deployments. */
export function newDeploymentId(): string {
  const digits = BigInt('0x' + randomBytes(8).toString('hex')) % 10n ** 19n;
  return `ecs-svc/${digits.toString().padStart(19, '0')}`;
}

export class ServiceScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private again = false;
  private closed = false;
  private bootAt = 0;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly deps: ApplierDeps,
    private readonly opts: ServiceSchedulerOptions,
  ) {
    this.unsubscribe = opts.wakeOn?.subscribe(() => this.wake()) ?? (() => {});
  }

  start(): void {
    this.bootAt = this.deps.clock.now();
    this.wake();
  }

  /** Runs a pass soon (coalesced). */
  wake(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.loop(), 0);
  }

  private async loop(): Promise<void> {
    if (this.closed) return;
    this.running = true;
    try {
      do {
        this.again = false;
        this.passOnce();
        this.opts.afterPass?.();
      } while (this.again && !this.closed);
    } catch (e) {
      // The store unreachable (PostgreSQL down) or failing: this pass is lost, the next one tries again.
      this.opts.log(`service scheduler: pass failed: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.running = false;
    }
    if (!this.closed) this.timer = setTimeout(() => void this.loop(), this.opts.intervalMs);
  }

  /** One reconciliation of every live service. */
  passOnce(): void {
    for (const svc of this.deps.services.listLive()) {
      try {
        const primary = primaryOf(svc);
        const health = svc.loadBalancers?.length ? this.opts.targetHealth?.(svc.id) : undefined;
        const tasks = this.deps.services.snapshotTasks(svc.id, primary?.rolloutState === 'IN_PROGRESS' ? primary.id : undefined).map((t) => {
          if (!health) return t;
          const h = health.get(t.id); // not registered (yet): INITIAL
          return { ...t, loadBalancerHealth: h?.state ?? 'INITIAL', ...(h?.targetGroup ? { unhealthyIn: h.targetGroup } : {}) };
        });
        const plan = reconcile({
          service: svc,
          tasks,
          now: this.deps.clock.now(),
          bootAt: this.bootAt,
          maxStartsPerPass: this.opts.maxStartsPerPass,
          newId: randomUUID,
          newDeploymentId,
        });
        if (!plan.changed) continue;
        if (!applyPlan(this.deps, plan, randomUUID, this.opts.drain, this.opts.log)) this.again = true;
      } catch (err) {
        this.opts.log(`service ${svc.name}: reconciliation failed: ${err instanceof Error ? (err.stack ?? err.message) : err}`);
      }
    }
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    clearTimeout(this.timer);
  }
}
