/**
 * The ECS side of autoscaling: reading a service's state and changing its
 * desired count through UpdateService itself, so a scaling change validates,
 * persists and wakes the service scheduler exactly as a user's UpdateService does.
 */
import { serviceOperations, type ServiceHandlerDeps } from '../control/services.ts';
import type { ServicesRepo } from '../store/services-repo.ts';
import type { ServiceRecord } from '../model/service-record.ts';

export class ServiceCapacity {
  private readonly repo: ServicesRepo;
  private readonly ops: ReturnType<typeof serviceOperations>;

  constructor(deps: ServiceHandlerDeps) {
    this.repo = deps.services;
    this.ops = serviceOperations(deps);
  }

  /** The live (ACTIVE or DRAINING) service, or undefined. */
  service(cluster: string, name: string): ServiceRecord | undefined {
    const s = this.repo.byName(cluster, name);
    return s && s.status !== 'INACTIVE' ? s : undefined;
  }

  /** Ids of every task the service started (any deployment, any status). */
  taskIds(serviceId: string): Set<string> {
    return new Set(this.repo.taskIds(serviceId));
  }

  /** Sets desiredCount with UpdateService; throws its ECS errors (service not found, not active...). */
  setDesiredCount(cluster: string, name: string, desiredCount: number): void {
    this.ops.UpdateService({ cluster, service: name, desiredCount });
  }
}

/** Whether a deployment of the service is rolling out (the primary IN_PROGRESS, or an older one still draining). */
export function deploymentInProgress(s: ServiceRecord): boolean {
  const shown = s.deployments.filter((d) => d.status !== 'INACTIVE');
  return shown.length > 1 || shown.some((d) => d.status === 'PRIMARY' && d.rolloutState === 'IN_PROGRESS');
}
