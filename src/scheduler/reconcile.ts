/**
 * The service scheduler's decision: a pure function from a snapshot (the
 * service record and what its tasks look like now) to a plan (the service
 * record as it should be stored, tasks to start per deployment, tasks to stop).
 * It never acts; the applier commits the plan in one transaction and only then
 * are tasks launched or stopped. Running it twice on the same snapshot gives
 * the same plan, and a plan that was not committed changes nothing.
 *
 * Rolling deployment rules (ECS): at most floor(desired × maximumPercent / 100)
 * live tasks, at least ceil(desired × minimumHealthyPercent / 100) healthy ones
 * while older deployments are drained. A task is healthy when RUNNING and, if
 * an essential container has a health check, HEALTHY, and, if its target
 * groups health check it, HEALTHY there.
 */
import { splitByStrategy } from './capacity-split.ts';
import {
  HEALTH_CHECK_FAILED_REASON,
  MAX_EVENTS,
  MAX_INACTIVE_DEPLOYMENTS,
  circuitBreakerThreshold,
  type DeploymentRecord,
  type ServiceRecord,
  type ServiceTask,
} from '../model/service-record.ts';
import { ELB_HEALTH_CHECK_FAILED_REASON } from '../model/load-balancer.ts';

export interface ReconcileInput {
  service: ServiceRecord;
  /** Live tasks of the service, and the stopped tasks of an IN_PROGRESS primary deployment. */
  tasks: ServiceTask[];
  now: number;
  /** When this server started: tasks created before it that failed to start were cut off by the restart, not failures. */
  bootAt: number;
  /** At most this many tasks started per pass. */
  maxStartsPerPass: number;
  /** New ids (events and deployments); injected so the function stays pure. */
  newId: () => string;
  newDeploymentId: () => string;
}

export interface StartRequest {
  deploymentId: string;
  capacityProviders: string[];
}

export interface StopRequest {
  taskId: string;
  reason: string;
}

export interface Plan {
  /** The service as it must be stored (its version not yet bumped). */
  service: ServiceRecord;
  start: StartRequest[];
  stop: StopRequest[];
  /** Whether anything changed (a plan without changes is not applied). */
  changed: boolean;
}

const isLive = (t: ServiceTask) => t.desiredStatus === 'RUNNING';
const isHealthy = (t: ServiceTask) =>
  isLive(t) && t.lastStatus === 'RUNNING' && (!t.hasHealthCheck || t.healthStatus === 'HEALTHY') && (t.loadBalancerHealth === undefined || t.loadBalancerHealth === 'HEALTHY');
const failedElb = (t: ServiceTask) => t.lastStatus === 'RUNNING' && t.loadBalancerHealth === 'UNHEALTHY';
const shortId = (taskId: string) => taskId;

/** Whether a stopped task counts as a failure of its deployment (circuit breaker). */
export function countsAsFailure(t: ServiceTask, bootAt: number): boolean {
  if (t.desiredStatus !== 'STOPPED') return false;
  if (t.stopCode === 'TaskFailedToStart') return t.createdAt >= bootAt; // cut off by a restart: not the image's fault
  if (t.stopCode === 'EssentialContainerExited') return true;
  return t.stopCode === 'ServiceSchedulerInitiated' && (t.stoppedReason === HEALTH_CHECK_FAILED_REASON || !!t.stoppedReason?.startsWith(ELB_HEALTH_CHECK_FAILED_REASON));
}

export function reconcile(input: ReconcileInput): Plan {
  const { now, newId } = input;
  const svc: ServiceRecord = structuredClone(input.service);
  const before = JSON.stringify(svc);
  const start: StartRequest[] = [];
  const stop: StopRequest[] = [];
  const stopping = new Set<string>();
  const event = (message: string) => {
    svc.events.unshift({ id: newId(), createdAt: now, message });
    if (svc.events.length > MAX_EVENTS) svc.events.length = MAX_EVENTS;
  };
  const name = `(service ${svc.name})`;
  const stopTask = (t: ServiceTask, reason: string) => {
    if (stopping.has(t.id)) return;
    stopping.add(t.id);
    stop.push({ taskId: t.id, reason });
  };
  const plan = (): Plan => {
    const deployments = svc.deployments.filter((d) => d.status !== 'INACTIVE');
    const inactive = svc.deployments.filter((d) => d.status === 'INACTIVE').slice(0, MAX_INACTIVE_DEPLOYMENTS);
    svc.deployments = [...deployments, ...inactive];
    const changed = start.length > 0 || stop.length > 0 || JSON.stringify(svc) !== before;
    return { service: svc, start, stop, changed };
  };
  // What waited for host capacity is decided again by this pass (the applier sets what still does not fit).
  for (const d of svc.deployments) delete d.waitingForCapacity;
  if (svc.status === 'INACTIVE') return plan();

  const desired = svc.status === 'DRAINING' ? 0 : svc.desiredCount;
  const grace = svc.healthCheckGracePeriodSeconds * 1000;
  const live = () => input.tasks.filter((t) => isLive(t) && !stopping.has(t.id));
  const ofDeployment = (d: DeploymentRecord) => live().filter((t) => t.deploymentId === d.id);

  // 1. Live tasks whose essential container, or whose target group, failed its health checks are replaced.
  for (const t of live()) {
    if (now < (t.startedAt ?? t.createdAt) + grace) continue;
    if (t.lastStatus === 'RUNNING' && t.healthStatus === 'UNHEALTHY') {
      event(`${name} (task ${shortId(t.id)}) failed container health checks.`);
      stopTask(t, HEALTH_CHECK_FAILED_REASON);
    } else if (failedElb(t)) {
      stopTask(t, `${ELB_HEALTH_CHECK_FAILED_REASON} ${t.unhealthyIn ?? 'its target group'}`);
    }
  }

  // 2. Circuit breaker on the primary deployment while it rolls out.
  let primary = svc.deployments.find((d) => d.status === 'PRIMARY')!;
  if (primary.rolloutState === 'IN_PROGRESS') {
    const failed = input.tasks.filter(
      (t) => t.deploymentId === primary.id && (countsAsFailure(t, input.bootAt) || (stopping.has(t.id) && ((t.lastStatus === 'RUNNING' && t.healthStatus === 'UNHEALTHY') || failedElb(t)))),
    ).length;
    if (failed !== primary.failedTasks) {
      primary.failedTasks = failed;
      primary.updatedAt = now;
    }
    const cb = svc.deploymentConfiguration.deploymentCircuitBreaker;
    if (cb.enable && failed >= circuitBreakerThreshold(svc.desiredCount)) {
      primary.rolloutState = 'FAILED';
      primary.rolloutStateReason = `ECS deployment circuit breaker: tasks failed to start.`;
      primary.updatedAt = now;
      svc.steady = false;
      event(`${name} (deployment ${primary.id}) deployment failed: tasks failed to start.`);
      const target = cb.rollback
        ? svc.deployments.filter((d) => d.completedAt !== undefined && d.id !== primary.id).sort((a, b) => b.completedAt! - a.completedAt!)[0]
        : undefined;
      if (target) {
        primary.status = 'ACTIVE';
        let back: DeploymentRecord;
        if (target.status === 'ACTIVE') {
          back = target; // still has tasks: it becomes the primary again
        } else {
          back = { ...structuredClone(target), id: input.newDeploymentId(), createdAt: now, completedAt: undefined, failedTasks: 0 };
          svc.deployments.unshift(back);
        }
        back.status = 'PRIMARY';
        back.rolloutState = 'IN_PROGRESS';
        back.rolloutStateReason = `ECS deployment circuit breaker: rolling back to deploymentId ${target.id}.`;
        back.updatedAt = now;
        svc.deployments = [back, ...svc.deployments.filter((d) => d !== back)];
        svc.taskDefinitionArn = back.taskDefinitionArn;
        svc.capacityProviderStrategy = back.capacityProviderStrategy;
        svc.networkConfiguration = back.networkConfiguration;
        event(`${name} rolling back to deployment ${target.id}.`);
        primary = back;
      }
    }
  }

  const maxTotal = Math.floor((desired * svc.deploymentConfiguration.maximumPercent) / 100);
  const minHealthy = Math.ceil((desired * svc.deploymentConfiguration.minimumHealthyPercent) / 100);
  const frozen = primary.rolloutState === 'FAILED'; // failed without rollback: hold where it is
  const others = () => live().filter((t) => t.deploymentId !== primary.id);

  // 3. Scale the primary in: tasks not yet running first, then the newest.
  const primaryLive = ofDeployment(primary);
  if (primaryLive.length > desired) {
    const order = [...primaryLive].sort((a, b) => Number(a.lastStatus === 'RUNNING') - Number(b.lastStatus === 'RUNNING') || b.createdAt - a.createdAt);
    for (const t of order.slice(0, primaryLive.length - desired)) stopTask(t, `Scaling activity initiated by (deployment ${primary.id})`);
  }

  // 4. Drain older deployments without going below the healthy minimum.
  //    An old task its target groups have not checked yet (INITIAL, as after a server restart) keeps counting as healthy.
  if (!frozen) {
    const counts = (t: ServiceTask) => isHealthy(t) || (t.deploymentId !== primary.id && t.loadBalancerHealth === 'INITIAL' && isHealthy({ ...t, loadBalancerHealth: undefined }));
    let healthy = live().filter(counts).length;
    const old = [...others()].sort((a, b) => Number(counts(a)) - Number(counts(b)) || b.createdAt - a.createdAt);
    for (const t of old) {
      if (!counts(t)) stopTask(t, `Scaling activity initiated by (deployment ${primary.id})`);
      else if (healthy - 1 >= minHealthy) {
        stopTask(t, `Scaling activity initiated by (deployment ${primary.id})`);
        healthy--;
      }
    }
  }

  // 5. Start primary tasks up to desired, within the maximum.
  if (!frozen && svc.status === 'ACTIVE') {
    const need = desired - ofDeployment(primary).length;
    const room = Math.max(desired > 0 ? 1 : 0, maxTotal) - live().length;
    const n = Math.max(0, Math.min(need, room, input.maxStartsPerPass));
    if (n > 0) {
      const existing: Record<string, number> = {};
      for (const t of ofDeployment(primary)) existing[t.capacityProviderName] = (existing[t.capacityProviderName] ?? 0) + 1;
      const providers = primary.capacityProviderStrategy ? splitByStrategy(primary.capacityProviderStrategy, n, existing) : Array<string>(n).fill('FARGATE');
      start.push({ deploymentId: primary.id, capacityProviders: providers });
    }
  }

  // 6. Deployment and service states.
  for (const d of svc.deployments) {
    if (d.status === 'ACTIVE' && ofDeployment(d).length === 0) {
      d.status = 'INACTIVE';
      d.updatedAt = now;
    }
  }
  const settled = start.length === 0 && stop.length === 0 && live().every((t) => t.deploymentId === primary.id);
  const primaryHealthy = ofDeployment(primary).filter(isHealthy).length;
  if (primary.rolloutState === 'IN_PROGRESS' && settled && primaryHealthy === desired && ofDeployment(primary).length === desired) {
    primary.rolloutState = 'COMPLETED';
    primary.rolloutStateReason = 'ECS deployment completed.';
    primary.completedAt = now;
    primary.updatedAt = now;
    event(`${name} (deployment ${primary.id}) deployment completed.`);
  }
  if (svc.status === 'DRAINING' && live().length === 0 && stop.length === 0) {
    svc.status = 'INACTIVE';
    for (const d of svc.deployments) d.status = 'INACTIVE';
    return plan();
  }
  const steadyNow = svc.status === 'ACTIVE' && settled && primary.rolloutState !== 'IN_PROGRESS' && primaryHealthy === desired && ofDeployment(primary).length === desired;
  if (steadyNow && !svc.steady) {
    svc.steady = true;
    event(`${name} has reached a steady state.`);
  } else if (!steadyNow && svc.steady) {
    svc.steady = false;
  }
  return plan();
}

/** Deployment counts as DescribeServices shows them (live tasks, and tasks waiting for host capacity as pending). */
export function deploymentCounts(d: DeploymentRecord, tasks: ServiceTask[]): { runningCount: number; pendingCount: number } {
  const mine = tasks.filter((t) => t.deploymentId === d.id && isLive(t));
  const runningCount = mine.filter((t) => t.lastStatus === 'RUNNING').length;
  return { runningCount, pendingCount: mine.length - runningCount + (d.waitingForCapacity ?? 0) };
}
