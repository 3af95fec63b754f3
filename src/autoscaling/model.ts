/**
 * The stored shapes of Application Auto Scaling for ECS services: scalable
 * targets, target tracking policies, scheduled actions and scaling activities.
 *
 * A scalable target is identified by (ServiceNamespace, ResourceId,
 * ScalableDimension); Skiff supports `ecs` / `service/<cluster>/<service>` /
 * `ecs:service:DesiredCount`. All times are epoch ms.
 */

export const ECS_NAMESPACE = 'ecs';
export const ECS_DESIRED_COUNT = 'ecs:service:DesiredCount';

export const MetricType = {
  cpu: 'ECSServiceAverageCPUUtilization',
  memory: 'ECSServiceAverageMemoryUtilization',
} as const;
export type MetricType = (typeof MetricType)[keyof typeof MetricType];

/** Default ScaleOutCooldown / ScaleInCooldown, seconds (AWS). */
export const DEFAULT_COOLDOWN_SECONDS = 300;
/** The scale-in alarm of a target tracking policy fires below this fraction of the target (AWS's AlarmLow). */
export const SCALE_IN_THRESHOLD_RATIO = 0.9;
/** Activities are kept this long (AWS: the previous six weeks). */
export const ACTIVITY_RETENTION_MS = 42 * 24 * 3_600_000;

export interface SuspendedState {
  DynamicScalingInSuspended: boolean;
  DynamicScalingOutSuspended: boolean;
  ScheduledScalingSuspended: boolean;
}

export interface ScalableTargetRecord {
  arn: string;
  namespace: string;
  resourceId: string;
  dimension: string;
  minCapacity: number;
  maxCapacity: number;
  roleArn: string;
  createdAt: number;
  suspended: SuspendedState;
  /** When the last scale-out / scale-in by a policy started (cooldowns count from these). */
  lastScaleOutAt?: number;
  lastScaleInAt?: number;
}

export interface AlarmRef {
  AlarmName: string;
  AlarmARN: string;
}

export interface TargetTrackingPolicyRecord {
  arn: string;
  name: string;
  namespace: string;
  resourceId: string;
  dimension: string;
  metric: MetricType;
  targetValue: number;
  /** Seconds. */
  scaleOutCooldown: number;
  scaleInCooldown: number;
  disableScaleIn: boolean;
  /** The two alarms AWS would create: [AlarmHigh, AlarmLow] (AlarmHigh only when scale-in is disabled). */
  alarms: AlarmRef[];
  createdAt: number;
}

export interface ScheduledActionRecord {
  arn: string;
  name: string;
  namespace: string;
  resourceId: string;
  dimension: string;
  /** `at(...)`, `rate(...)` or `cron(...)`, as given. */
  schedule: string;
  /** IANA time zone name; undefined: UTC. */
  timezone?: string;
  startTime?: number;
  endTime?: number;
  minCapacity?: number;
  maxCapacity?: number;
  createdAt: number;
  /** The scheduled instant of the last run (a run is never repeated for the same instant). */
  lastRunFor?: number;
}

export type ActivityStatus = 'Pending' | 'InProgress' | 'Successful' | 'Overridden' | 'Unfulfilled' | 'Failed';

export interface ActivityRecord {
  id: string;
  namespace: string;
  resourceId: string;
  dimension: string;
  description: string;
  cause: string;
  startTime: number;
  endTime?: number;
  status: ActivityStatus;
  statusMessage?: string;
  /** Set on a not scaled activity (an alarm fired, nothing changed): why, in AWS's codes. */
  notScaledReasons?: NotScaledReasonRecord[];
}

/**
 * AWS's NotScaledReason. Codes Skiff records: AlreadyAtMaxCapacity,
 * AlreadyAtMinCapacity, and TargetServicePutResourceAsUnscalable (ECS holds
 * scale-in while a deployment of the service is in progress).
 */
export interface NotScaledReasonRecord {
  Code: 'AlreadyAtMaxCapacity' | 'AlreadyAtMinCapacity' | 'TargetServicePutResourceAsUnscalable';
  MaxCapacity?: number;
  MinCapacity?: number;
  CurrentCapacity?: number;
}

/** `service/<cluster>/<service>` → its parts, or undefined when it is not that form. */
export function parseEcsResourceId(resourceId: string): { cluster: string; service: string } | undefined {
  const m = /^service\/([A-Za-z0-9_-]{1,255})\/([A-Za-z0-9_-]{1,255})$/.exec(resourceId);
  return m ? { cluster: m[1], service: m[2] } : undefined;
}
