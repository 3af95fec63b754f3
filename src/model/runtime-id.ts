/**
 * Runtime ids: how a task's containers are named on a host, whatever the
 * driver. A container's id is `<taskId>-<name>` with anything but
 * `[A-Za-z0-9_.-]` replaced by `_`; the task id is 32 lowercase hex digits,
 * so the task a runtime id belongs to is its first 32 characters. Drivers
 * take these ids as they are (they own their own paths under them).
 */

/** Length of a task id (32 hex digits, as in the ECS task ARN). */
export const TASK_ID_LENGTH = 32;

/** Runtime id of a container on a host: `<taskId>-<name>` with only safe characters. */
export function runtimeIdFor(taskId: string, containerName: string): string {
  return `${taskId}-${containerName.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

/** The task a runtime id belongs to. */
export function taskIdOfRuntimeId(runtimeId: string): string {
  return runtimeId.slice(0, TASK_ID_LENGTH);
}

/** Whether `s` is a task id (32 lowercase hex digits). */
export function isTaskId(s: string): boolean {
  return /^[0-9a-f]{32}$/.test(s);
}
