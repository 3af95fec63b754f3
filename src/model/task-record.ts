/**
 * The stored record of one task: everything ECS shows about it plus what the
 * agent needs to adopt it after a restart. Persisted as the `doc` column of the
 * `tasks` table; `control/task-view.ts` maps it to the ECS `Task` shape.
 * Part of the model: imports nothing of Skiff's but the model.
 */
import type { ContainerStatus, DesiredStatus, StopCode, TaskStatus } from './task-status.ts';
import type { HealthStatus } from './task-health.ts';

/** Names kept for readability where a record field is typed. */
export type TaskStatusName = TaskStatus;
export type StopCodeName = StopCode;
export type ContainerStatusName = ContainerStatus;

export interface ContainerRecord {
  name: string;
  /** Runtime id on this host (driver container id). */
  runtimeId: string;
  /** ECS container ARN. */
  arn: string;
  image: string;
  imageDigest?: string;
  essential: boolean;
  /** Effective values after task definition + overrides. */
  command?: string[];
  entryPoint?: string[];
  environment: { name: string; value: string }[];
  workingDirectory?: string;
  user?: string;
  cpu: number;
  memory?: number;
  memoryReservation?: number;
  stopTimeoutSec: number;
  dependsOn: { containerName: string; condition: 'START' | 'COMPLETE' | 'SUCCESS' | 'HEALTHY' }[];
  readonlyRootFilesystem?: boolean;
  /** From the definition: capabilities to add/drop and an init as PID 1 (ECS linuxParameters). */
  linuxParameters?: { capabilities?: { add?: string[]; drop?: string[] }; initProcessEnabled?: boolean };
  ulimits?: { name: string; softLimit: number; hardLimit: number }[];
  /** Signal that asks the process to stop (the image's STOPSIGNAL, validated), recorded at start. */
  stopSignal?: string;
  /** The container definition's healthCheck (normalised: interval/timeout/retries defaults applied). */
  healthCheck?: HealthCheckRecord;
  /** Written by the task's health checker; absent until it runs (UNKNOWN). */
  healthStatus?: HealthStatus;
  lastStatus: ContainerStatusName;
  exitCode?: number;
  reason?: string;
  startedAt?: number;
}

export interface HealthCheckRecord {
  command: string[];
  /** Seconds. */
  interval: number;
  timeout: number;
  retries: number;
  startPeriod?: number;
}

export interface NetworkRecord {
  attachmentId: string;
  subnetId: string;
  vpcId: string;
  ipv4: string;
  macAddress?: string;
  status: 'PRECREATED' | 'ATTACHING' | 'ATTACHED' | 'DETACHING' | 'DELETED';
  /** The bandwidth the task's network is shaped to (network/bandwidth.ts), stored before it is applied. */
  bandwidth?: TaskBandwidth;
}

/** A task's share of the network, each way: a sustained rate and the peak a burst may reach, megabits per second. */
export interface TaskBandwidth {
  sustainedMbps: number;
  burstMbps: number;
}

/** One timed step of a task start; together they are the cold-start breakdown. */
export interface PhaseTiming {
  phase: string;
  startedAt: number;
  durationMs: number;
  detail?: Record<string, string | number | boolean>;
}

export interface BillingRecord {
  billedSeconds: number;
  /** USD, decimal string (exact). */
  cost: string;
  vcpu: number;
  memoryGiB: number;
}

export interface TaskRecord {
  id: string;
  arn: string;
  clusterName: string;
  clusterArn: string;
  taskDefinitionArn: string;
  family: string;
  revision: number;
  /** Effective task size after overrides. */
  cpu: number;
  memory: number;
  ephemeralStorageGiB: number;
  cpuArchitecture: 'X86_64' | 'ARM64';
  containers: ContainerRecord[];
  /** Overrides as the caller sent them (echoed by DescribeTasks). */
  overrides: Record<string, unknown>;
  startedBy?: string;
  group?: string;
  launchType: 'FARGATE';
  capacityProviderName: string;
  availabilityZone: string;
  desiredStatus: DesiredStatus;
  lastStatus: TaskStatusName;
  createdAt: number;
  connectivityAt?: number;
  pullStartedAt?: number;
  pullStoppedAt?: number;
  startedAt?: number;
  stoppingAt?: number;
  executionStoppedAt?: number;
  stoppedAt?: number;
  stopCode?: StopCodeName;
  stoppedReason?: string;
  /**
   * Epoch ms by which the containers get SIGKILL when the stop came with a
   * deadline (a Spot interruption's warning). Stored so a server restart during
   * the warning keeps the deadline instead of starting a new stopTimeout.
   */
  stopDeadline?: number;
  /** RunTask's / the service's enableExecuteCommand: ExecuteCommand is allowed only when set. */
  enableExecuteCommand?: boolean;
  network: NetworkRecord;
  /** The runtime (driver) that runs the task (model/isolation.ts); absent on tasks made before the choice existed: runc. */
  isolation?: string;
  /** The runtime's variant on the host (gVisor `ptrace`|`kvm`, microVM `kvm`|`tcg`), once known. */
  isolationPlatform?: string;
  timings: PhaseTiming[];
  billing?: BillingRecord;
  /** Bumped on every write, reported as ECS `version`. */
  version: number;
}
