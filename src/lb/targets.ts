/**
 * Which tasks of a service a listener sends traffic to: the pure rule.
 *
 * A task is a target of an entry once it is RUNNING, still desired RUNNING,
 * has an address, and is healthy: HEALTHY when an essential container has a
 * health check, else RUNNING is enough (as ECS registers a task without a
 * container health check). It stops being one the moment any of that ends
 * (then the listener drains it).
 */
import type { TaskRecord } from '../model/task-record.ts';
import { taskHealth } from '../model/task-health.ts';

export interface TargetAddress {
  /** The task id. */
  id: string;
  host: string;
  port: number;
}

export function isTargetEligible(t: Pick<TaskRecord, 'desiredStatus' | 'lastStatus' | 'containers' | 'network'>): boolean {
  if (t.desiredStatus !== 'RUNNING' || t.lastStatus !== 'RUNNING' || !t.network?.ipv4) return false;
  const checked = t.containers.some((c) => c.essential && c.healthCheck);
  return !checked || taskHealth(t) === 'HEALTHY';
}

/** The targets of one entry (container port `port`) among the service's tasks, by task id. */
export function targetsOf(tasks: Pick<TaskRecord, 'id' | 'desiredStatus' | 'lastStatus' | 'containers' | 'network'>[], port: number): TargetAddress[] {
  return tasks
    .filter(isTargetEligible)
    .map((t) => ({ id: t.id, host: t.network.ipv4, port }))
    .sort((a, b) => a.id.localeCompare(b.id));
}
