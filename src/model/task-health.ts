/**
 * Task health, by ECS's rules: a task is as healthy as its essential
 * containers that have a health check. Any UNHEALTHY one makes it UNHEALTHY;
 * all HEALTHY make it HEALTHY; otherwise (none checked, or some not yet
 * known) it is UNKNOWN. The runtime prober (agent/health-checker.ts) writes
 * each container's status; everything that reads health (services, load
 * balancers, discovery, the API) uses this one rule.
 */
export type HealthStatus = 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN';

/** What the rule reads of a container. */
export interface HealthInputs {
  essential: boolean;
  healthCheck?: unknown;
  healthStatus?: HealthStatus;
}

/** The health of a task, from its essential containers' health (ECS rules). */
export function taskHealth(t: { containers: readonly HealthInputs[] }): HealthStatus {
  const checked = t.containers.filter((c) => c.essential && c.healthCheck);
  if (checked.length === 0) return 'UNKNOWN';
  if (checked.some((c) => c.healthStatus === 'UNHEALTHY')) return 'UNHEALTHY';
  if (checked.every((c) => c.healthStatus === 'HEALTHY')) return 'HEALTHY';
  return 'UNKNOWN';
}

/** The timing phase (TaskRecord.timings) from the task's start to its first HEALTHY verdict. */
export const FIRST_HEALTHY_PHASE = 'first-healthy';
