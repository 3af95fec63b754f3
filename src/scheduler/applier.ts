/**
 * The one writer of a service's plan: in a single store transaction it stores
 * the new tasks (with their addresses, via placement.ts), links them to
 * their deployment, marks the tasks to stop (desired STOPPED, stop code
 * ServiceSchedulerInitiated) and writes the service record, checking that the
 * service was not changed since the snapshot (else nothing is written and the
 * next pass decides again). Only after the commit are tasks launched and
 * stopped, so a crash at any point leaves the store describing every task that
 * may exist: a restart neither loses nor doubles tasks.
 */
import { ApiError } from '../api/errors.ts';
import { Placement, abandonPlaced, launchPlaced, storeTasks, type LaunchDeps, type PlacementDeps } from './placement.ts';
import { resolveTaskDefinition, type TaskDefinitionLookup } from './task-definitions.ts';
import type { Plan } from './reconcile.ts';
import type { Repos } from '../store/repos.ts';
import type { Agent } from '../agent/agent.ts';
import { MAX_EVENTS, type ServiceRecord } from '../model/service-record.ts';
import { unableToPlaceEvent } from './capacity.ts';

class StaleSnapshot extends Error {}

function addEvent(svc: ServiceRecord, id: string, now: number, message: string, dedupe = false): void {
  if (dedupe && svc.events[0]?.message === message) return;
  svc.events.unshift({ id, createdAt: now, message });
  if (svc.events.length > MAX_EVENTS) svc.events.length = MAX_EVENTS;
}

/**
 * Takes a task of a service with loadBalancers out of them; the task is stopped
 * only when this resolves (after the deregistration delay).
 */
export type DrainTask = (serviceId: string, taskId: string) => Promise<void>;

/** What applying a plan needs: the repos it writes, placement, and the agent that launches and stops. */
export interface ApplierDeps extends PlacementDeps, TaskDefinitionLookup, Pick<Repos, 'db' | 'clusters' | 'services'> {
  agent: Pick<Agent, 'launch' | 'stop'> & LaunchDeps['agent'];
}

/**
 * Commits the plan and then acts on it. Returns false when the snapshot was stale (nothing done).
 * Tasks of a service with loadBalancers are drained (`drain`) before they are stopped.
 */
export function applyPlan(deps: ApplierDeps, plan: Plan, newId: () => string, drain?: DrainTask, log: (msg: string) => void = () => {}): boolean {
  const svc = structuredClone(plan.service);
  const now = deps.clock.now();
  const name = `(service ${svc.name})`;
  const placements: Placement[] = [];
  const stopped: string[] = [];
  const tx = deps.db.transaction(() => {
    const cluster = deps.clusters.get(svc.clusterName);
    for (const req of plan.start) {
      const dep = svc.deployments.find((d) => d.id === req.deploymentId)!;
      const placement = new Placement();
      try {
        const def = resolveTaskDefinition(deps, dep.taskDefinitionArn);
        if (!cluster || cluster.status !== 'ACTIVE') throw new ApiError('ClusterNotFoundException', `Cluster ${svc.clusterName} is not ACTIVE.`);
        const tags =
          svc.propagateTags === 'SERVICE' ? deps.tags.list(svc.arn) : svc.propagateTags === 'TASK_DEFINITION' ? deps.tags.list(def.taskDefinitionArn!) : [];
        const ids = deps.db.transaction(() => {
          const placed = storeTasks(
            deps,
            {
              cluster,
              def,
              subnetIds: dep.networkConfiguration?.awsvpcConfiguration.subnets,
              securityGroups: dep.networkConfiguration?.awsvpcConfiguration.securityGroups,
              assignPublicIp: dep.networkConfiguration?.awsvpcConfiguration.assignPublicIp === 'ENABLED',
              startedBy: dep.id,
              group: `service:${svc.name}`,
              capacityProviders: req.capacityProviders,
              tags,
              enableExecuteCommand: svc.enableExecuteCommand,
            },
            placement,
          );
          for (const id of placed) deps.services.addTask(id, svc.id, dep.id);
          return placed;
        })();
        placements.push(placement);
        if (ids.length) addEvent(svc, newId(), now, `${name} has started ${ids.length} tasks: ${ids.map((id) => `(task ${id})`).join(' ')}.`);
        svc.steady = false;
        // Tasks that did not fit on the host wait (counted as pending) and are tried again on the next pass.
        if (placement.failures.length) {
          dep.waitingForCapacity = placement.failures.length;
          addEvent(svc, newId(), now, unableToPlaceEvent(svc.name, deps.admission?.host ?? 'this host', placement.failures[0]), true);
        }
      } catch (err) {
        abandonPlaced(deps, placement);
        if (!(err instanceof ApiError)) throw err;
        addEvent(svc, newId(), now, `${name} was unable to place a task. Reason: ${err.message}`, true);
      }
    }
    for (const s of plan.stop) {
      const t = deps.tasks.get(s.taskId);
      if (!t || t.desiredStatus !== 'RUNNING') continue;
      deps.tasks.update(s.taskId, (x) => {
        x.desiredStatus = 'STOPPED';
        x.stopCode ??= 'ServiceSchedulerInitiated';
        x.stoppedReason ??= s.reason;
      });
      stopped.push(s.taskId);
    }
    if (stopped.length) addEvent(svc, newId(), now, `${name} has stopped ${stopped.length} running tasks: ${stopped.map((id) => `(task ${id})`).join(' ')}.`);
    if (!deps.services.save(svc)) throw new StaleSnapshot();
  });
  try {
    tx();
  } catch (err) {
    for (const p of placements) abandonPlaced(deps, p);
    if (err instanceof StaleSnapshot) return false;
    throw err;
  }
  for (const p of placements) launchPlaced(deps, p);
  const stopNow = (id: string) => {
    const t = deps.tasks.get(id);
    deps.agent.stop(id, t?.stopCode ?? 'ServiceSchedulerInitiated', t?.stoppedReason ?? 'Service scheduler');
  };
  for (const id of stopped) {
    if (drain && (svc.loadBalancers?.length ?? 0) > 0) {
      drain(svc.id, id).then(
        () => stopNow(id),
        (err) => {
          log(`service ${svc.name}: draining task ${id} failed, stopping it: ${err instanceof Error ? err.message : err}`);
          stopNow(id);
        },
      );
    } else {
      stopNow(id);
    }
  }
  return true;
}
