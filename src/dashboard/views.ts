/**
 * Pure shaping of API answers into what the dashboard pages show. ECS answers
 * come in as the ECS JSON protocol sends them (timestamps in epoch seconds);
 * rows go out with epoch milliseconds and only the fields a page displays.
 */
import type { Cluster, Service, Task } from '@aws-sdk/client-ecs';

/** ECS sends epoch seconds (possibly fractional); pages use ms. */
const ms = (v: unknown): number | undefined => (typeof v === 'number' ? Math.round(v * 1000) : undefined);

export const lastSegment = (arn: string | undefined): string => (arn ?? '').split('/').pop() ?? '';

export interface ClusterRow {
  name: string;
  arn: string;
  status: string;
  runningTasks: number;
  pendingTasks: number;
  activeServices: number;
  capacityProviders: string[];
}

export function clusterRow(c: Cluster): ClusterRow {
  return {
    name: c.clusterName ?? lastSegment(c.clusterArn),
    arn: c.clusterArn ?? '',
    status: c.status ?? 'UNKNOWN',
    runningTasks: c.runningTasksCount ?? 0,
    pendingTasks: c.pendingTasksCount ?? 0,
    activeServices: c.activeServicesCount ?? 0,
    capacityProviders: c.capacityProviders ?? [],
  };
}

export interface ServiceRow {
  name: string;
  arn: string;
  status: string;
  desired: number;
  running: number;
  pending: number;
  taskDefinition: string;
  capacity: string;
  deployments: { id: string; status: string; rolloutState: string; taskDefinition: string; desired: number; running: number; pending: number; failed: number; createdAt?: number }[];
  /** Newest first, at most `maxEvents`. */
  events: { createdAt?: number; message: string }[];
}

export function serviceRow(s: Service, maxEvents = 8): ServiceRow {
  const strategy = s.capacityProviderStrategy ?? [];
  return {
    name: s.serviceName ?? lastSegment(s.serviceArn),
    arn: s.serviceArn ?? '',
    status: s.status ?? 'UNKNOWN',
    desired: s.desiredCount ?? 0,
    running: s.runningCount ?? 0,
    pending: s.pendingCount ?? 0,
    taskDefinition: lastSegment(s.taskDefinition),
    capacity: strategy.length
      ? strategy.map((i) => `${i.capacityProvider}${i.base ? ` base ${i.base}` : ''} w${i.weight ?? 0}`).join(', ')
      : (s.launchType ?? 'FARGATE'),
    deployments: (s.deployments ?? []).map((d) => ({
      id: d.id ?? '',
      status: d.status ?? '',
      rolloutState: d.rolloutState ?? '',
      taskDefinition: lastSegment(d.taskDefinition),
      desired: d.desiredCount ?? 0,
      running: d.runningCount ?? 0,
      pending: d.pendingCount ?? 0,
      failed: d.failedTasks ?? 0,
      createdAt: ms(d.createdAt),
    })),
    events: (s.events ?? [])
      .map((e) => ({ createdAt: ms(e.createdAt), message: e.message ?? '' }))
      .sort((a, b) => (b.createdAt ?? 0) - (a.createdAt ?? 0))
      .slice(0, maxEvents),
  };
}

export interface TaskRow {
  id: string;
  arn: string;
  cluster: string;
  family: string;
  lastStatus: string;
  desiredStatus: string;
  health: string;
  ip?: string;
  cpu: string;
  memory: string;
  capacityProvider: string;
  group?: string;
  createdAt?: number;
  startedAt?: number;
  stoppedAt?: number;
  stoppedReason?: string;
}

export function taskRow(t: Task): TaskRow {
  const ip = t.attachments?.[0]?.details?.find((d) => d.name === 'privateIPv4Address')?.value;
  return {
    id: lastSegment(t.taskArn),
    arn: t.taskArn ?? '',
    cluster: lastSegment(t.clusterArn),
    family: lastSegment(t.taskDefinitionArn),
    lastStatus: t.lastStatus ?? 'UNKNOWN',
    desiredStatus: t.desiredStatus ?? 'UNKNOWN',
    health: t.healthStatus ?? 'UNKNOWN',
    ...(ip ? { ip } : {}),
    cpu: t.cpu ?? '',
    memory: t.memory ?? '',
    capacityProvider: t.capacityProviderName ?? t.launchType ?? 'FARGATE',
    ...(t.group ? { group: t.group } : {}),
    createdAt: ms(t.createdAt),
    startedAt: ms(t.startedAt),
    stoppedAt: ms(t.stoppedAt),
    ...(t.stoppedReason ? { stoppedReason: t.stoppedReason } : {}),
  };
}

/** Running (and on their way) first, newest first within each; stopped tasks after, newest first, at most `maxStopped`. */
export function orderTasks(rows: TaskRow[], maxStopped = 50): TaskRow[] {
  const newest = (a: TaskRow, b: TaskRow) => (b.createdAt ?? 0) - (a.createdAt ?? 0);
  const live = rows.filter((r) => r.lastStatus !== 'STOPPED').sort(newest);
  const stopped = rows.filter((r) => r.lastStatus === 'STOPPED').sort(newest).slice(0, maxStopped);
  return [...live, ...stopped];
}

/** The `next` path after login: only a dashboard path on this origin (no open redirect). */
export function safeNext(next: string | undefined): string {
  if (!next || !/^\/dashboard(\/[A-Za-z0-9._~\-/]*)?(\?[A-Za-z0-9._~\-=&%:]*)?$/.test(next) || next.includes('//')) return '/dashboard/';
  return next;
}

/** Cost by service and day: one report per UTC day (from the cost API, grouped by service) → a matrix. */
export function serviceDayMatrix(days: { day: string; lines: { key: string; cost: string }[] }[]): { services: string[]; days: string[]; cost: Record<string, Record<string, string>> } {
  const services = [...new Set(days.flatMap((d) => d.lines.map((l) => l.key)))].sort();
  const cost: Record<string, Record<string, string>> = {};
  for (const s of services) cost[s] = {};
  for (const d of days) for (const l of d.lines) cost[l.key][d.day] = l.cost;
  return { services, days: days.map((d) => d.day), cost };
}
