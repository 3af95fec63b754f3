/**
 * What a task runner is given (src/agent/task-runner.ts): the store, the
 * driver, the network, images and the hooks of the add-ons that take part in a
 * start (security groups, logs, task identity). Passed by constructor; the
 * runner reaches nothing else.
 */
import type { ContainerLaunchSpec, Driver } from '../drivers/driver.ts';
import type { Network, SubnetSpec, TaskAttachment } from '../network/network.ts';
import type { ImageStore, RegistryCredentials } from '../images/images.ts';
import type { TasksRepo } from '../store/tasks-repo.ts';
import type { Clock } from '../util/clock.ts';
import type { StopCodeName, TaskRecord } from '../model/task-record.ts';
import type { PriceBook } from '../metering/pricing.ts';

export interface TaskRunnerDeps {
  tasks: TasksRepo;
  driver: Driver;
  network: Network;
  images: ImageStore;
  /**
   * The image store for a task's isolation where it differs from `images`: a
   * runtime that maps no user namespace needs layers stored unshifted.
   */
  imagesFor?(isolation: string | undefined): ImageStore;
  clock: Clock;
  /** The operator's price book; each task is billed at its architecture's and capacity provider's rates. */
  prices: PriceBook;
  region: string;
  /** Directory for per-task files (hosts file). */
  taskFilesDir: string;
  subnet(subnetId: string): SubnetSpec;
  /** Credentials the operator configured for an image's registry, if any. */
  registryCredentials(imageReference: string): RegistryCredentials | undefined;
  releaseAddress(taskId: string): void;
  /** The network the warm pool made ready for this task id, if it was given one (once). */
  warmAttachment?(taskId: string): TaskAttachment | undefined;
  /**
   * Once the task's namespace exists: install its firewall (security groups).
   * Runs alongside the rest of the start; no container process runs before it
   * resolves (containers are created, then started only after it).
   */
  networkReady?(taskId: string, attachment: TaskAttachment): Promise<void>;
  /** Multiplies the bandwidth table (network/bandwidth.ts; the operator's --bandwidth-scale). Default 1. */
  bandwidthScale?: number;
  log(msg: string): void;
  /**
   * Called once before the first container is created (e.g. log groups and streams
   * of the awslogs driver); a throw fails the start with
   * `ResourceInitializationError: <message>`.
   */
  beforeContainers?(task: TaskRecord): void | Promise<void>;
  /** Called once the task is STOPPED and everything it held is released. */
  onStopped(taskId: string): void;
  /**
   * The task's identity (src/metadata/task-identity.ts): resolves its secrets and
   * metadata/credentials ids at start (each container's extra environment; a
   * failure's message is its stoppedReason), and forgets them once it stopped.
   */
  identity?: {
    prepare(task: TaskRecord): Promise<Map<string, Record<string, string>>>;
    release(taskId: string): void;
  };
  /**
   * Persistent volumes (EFS, src/efs/): each container's extra bind mounts, made
   * ready at start (a failure's message is its stoppedReason, after
   * ResourceInitializationError), and released once its containers are gone.
   */
  volumes?: {
    /** Whether the task has such volumes (only then is the `volumes` start phase timed). */
    has(task: TaskRecord): boolean;
    prepare(task: TaskRecord): Promise<Map<string, NonNullable<ContainerLaunchSpec['extraMounts']>>>;
    release(taskId: string): Promise<void>;
  };
}

export interface StopRequest {
  code: StopCodeName;
  reason: string;
  /** Time between the stop signal and SIGKILL instead of each container's stopTimeout (a Spot warning). */
  graceMs?: number;
}
