/**
 * The task lifecycle as an ordered table, the way the ECS agent models it:
 * statuses have ranks, so "has the task reached RUNNING?" is a comparison and a
 * transition is valid only if it moves forward. Skipping is allowed (a task that
 * fails while PENDING moves straight on to STOPPING, DEPROVISIONING or STOPPED);
 * going back never is.
 */

export const TaskStatus = {
  PROVISIONING: 'PROVISIONING',
  PENDING: 'PENDING',
  ACTIVATING: 'ACTIVATING',
  RUNNING: 'RUNNING',
  DEACTIVATING: 'DEACTIVATING',
  STOPPING: 'STOPPING',
  DEPROVISIONING: 'DEPROVISIONING',
  STOPPED: 'STOPPED',
} as const;
export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];

/** Statuses in lifecycle order; the index is the rank. */
export const TASK_STATUS_ORDER: readonly TaskStatus[] = Object.freeze([
  TaskStatus.PROVISIONING,
  TaskStatus.PENDING,
  TaskStatus.ACTIVATING,
  TaskStatus.RUNNING,
  TaskStatus.DEACTIVATING,
  TaskStatus.STOPPING,
  TaskStatus.DEPROVISIONING,
  TaskStatus.STOPPED,
]);

const RANK = new Map<string, number>(TASK_STATUS_ORDER.map((s, i) => [s, i]));

export function isTaskStatus(s: unknown): s is TaskStatus {
  return typeof s === 'string' && RANK.has(s);
}

/** Rank of a status (PROVISIONING = 0 … STOPPED = 7). Throws for an unknown status. */
export function taskStatusRank(s: TaskStatus): number {
  const r = RANK.get(s);
  if (r === undefined) throw new Error(`unknown task status '${s}'`);
  return r;
}

/** Whether a task in `status` has reached (or passed) `target`. */
export function hasReached(status: TaskStatus, target: TaskStatus): boolean {
  return taskStatusRank(status) >= taskStatusRank(target);
}

/** Forward moves only; skipping states is allowed; staying put is not a transition. */
export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return taskStatusRank(to) > taskStatusRank(from);
}

/** The statuses a task in `from` may move to. */
export function nextStatuses(from: TaskStatus): TaskStatus[] {
  return TASK_STATUS_ORDER.slice(taskStatusRank(from) + 1);
}

export function isTerminal(s: TaskStatus): boolean {
  return s === TaskStatus.STOPPED;
}

/** Whether the task is on its way down (DEACTIVATING or later). */
export function isStopping(s: TaskStatus): boolean {
  return taskStatusRank(s) >= taskStatusRank(TaskStatus.DEACTIVATING);
}

/** desiredStatus values: RUNNING until someone (user, scheduler, failure) asks for STOPPED. */
export const DesiredStatus = { RUNNING: 'RUNNING', STOPPED: 'STOPPED' } as const;
export type DesiredStatus = (typeof DesiredStatus)[keyof typeof DesiredStatus];

export function canChangeDesiredStatus(from: DesiredStatus, to: DesiredStatus): boolean {
  return from === DesiredStatus.RUNNING && to === DesiredStatus.STOPPED;
}

export const ContainerStatus = { PENDING: 'PENDING', RUNNING: 'RUNNING', STOPPED: 'STOPPED' } as const;
export type ContainerStatus = (typeof ContainerStatus)[keyof typeof ContainerStatus];
const CONTAINER_ORDER: readonly ContainerStatus[] = [ContainerStatus.PENDING, ContainerStatus.RUNNING, ContainerStatus.STOPPED];

/** Containers move forward too: PENDING → RUNNING → STOPPED, or PENDING → STOPPED if they never start. */
export function canContainerTransition(from: ContainerStatus, to: ContainerStatus): boolean {
  return CONTAINER_ORDER.indexOf(to) > CONTAINER_ORDER.indexOf(from) && CONTAINER_ORDER.indexOf(from) >= 0;
}

export const StopCode = {
  TaskFailedToStart: 'TaskFailedToStart',
  EssentialContainerExited: 'EssentialContainerExited',
  UserInitiated: 'UserInitiated',
  ServiceSchedulerInitiated: 'ServiceSchedulerInitiated',
  SpotInterruption: 'SpotInterruption',
  TerminationNotice: 'TerminationNotice',
} as const;
export type StopCode = (typeof StopCode)[keyof typeof StopCode];

/** The stoppedReason texts ECS uses for the common stop codes. */
export const StopReason = {
  EssentialContainerExited: 'Essential container in task exited',
  UserInitiated: 'Task stopped by user',
  SpotInterruption: 'Your Spot Task was interrupted.',
} as const;

/** The container `reason` ECS gives when the kernel's OOM killer ended a container. */
export const OOM_CONTAINER_REASON = 'OutOfMemoryError: Container killed due to memory usage';
