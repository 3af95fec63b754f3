/**
 * DeleteTaskDefinitions as pure functions: the request check and, given the
 * stored revisions, what the call changes and answers.
 *
 * ECS's rules: 1 to 10 references, each `family:revision` or a task-definition
 * ARN (a revision is required). A revision must be deregistered (INACTIVE)
 * before it can be deleted; an ACTIVE one is a per-item failure, not an error of
 * the call. A deleted revision turns DELETE_IN_PROGRESS (with
 * `deleteRequestedAt`): it still describes, cannot run tasks or back new
 * services, and is removed for good once no task or service uses it (the
 * store's `purgeDeleted`). Asking again for a revision already being deleted
 * answers it again, unchanged.
 */
import type { Failure, TaskDefinition } from '@aws-sdk/client-ecs';
import { clientError, invalidParameter } from '../api/errors.ts';
import { parseTaskDefinitionRef, taskDefinitionArn, type ArnContext } from './arns.ts';

export const DELETE_TASK_DEFINITIONS_MAX = 10;

/** Failure reason for a revision that is still ACTIVE. */
export const STILL_ACTIVE_REASON = 'The specified task definition is still in ACTIVE status. Please deregister the target and try again.';
/** Failure reason for a revision that does not exist (or is already gone). */
export const MISSING_REASON = 'The specified task definition does not exist.';

export interface TaskDefinitionRevisionRef {
  /** The reference as given. */
  ref: string;
  family: string;
  revision: number;
}

/** Checks a DeleteTaskDefinitions request; returns each distinct revision it names, in request order. */
export function validateDeleteTaskDefinitions(input: unknown, arns?: ArnContext): TaskDefinitionRevisionRef[] {
  const list = (input as { taskDefinitions?: unknown } | null)?.taskDefinitions;
  if (!Array.isArray(list) || list.length === 0) {
    throw invalidParameter(`taskDefinitions must list 1 to ${DELETE_TASK_DEFINITIONS_MAX} task definitions as family:revision or a task definition ARN.`);
  }
  if (list.length > DELETE_TASK_DEFINITIONS_MAX) {
    throw invalidParameter(`taskDefinitions can have at most ${DELETE_TASK_DEFINITIONS_MAX} items; ${list.length} given. Delete them in several calls.`);
  }
  const seen = new Set<string>();
  const out: TaskDefinitionRevisionRef[] = [];
  for (const ref of list) {
    if (typeof ref !== 'string') throw invalidParameter(`taskDefinitions must be a list of strings (family:revision or ARN); got ${JSON.stringify(ref)}.`);
    const { family, revision } = parseTaskDefinitionRef(ref, arns);
    if (revision === undefined) {
      throw clientError(`The task definition '${ref}' has no revision. Deleting needs a revision: use family:revision or the full task definition ARN.`);
    }
    const key = `${family}:${revision}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ ref, family, revision });
  }
  return out;
}

export interface DeleteTaskDefinitionsPlan {
  /** Revisions to store with their new status (INACTIVE → DELETE_IN_PROGRESS). */
  changed: TaskDefinition[];
  /** The answer's `taskDefinitions`: every revision now being deleted, in request order. */
  taskDefinitions: TaskDefinition[];
  /** The answer's `failures`: ACTIVE or missing revisions. */
  failures: Failure[];
}

/**
 * What deleting `refs` does, given the stored revisions (`lookup`; a purged
 * revision counts as missing) and the time (`now`, as the store keeps it).
 */
export function planDeleteTaskDefinitions(
  refs: TaskDefinitionRevisionRef[],
  lookup: (family: string, revision: number) => TaskDefinition | undefined,
  now: number,
  arns?: ArnContext,
): DeleteTaskDefinitionsPlan {
  const plan: DeleteTaskDefinitionsPlan = { changed: [], taskDefinitions: [], failures: [] };
  for (const { family, revision } of refs) {
    const def = lookup(family, revision);
    const arn = taskDefinitionArn(family, revision, arns);
    if (!def) {
      plan.failures.push({ arn, reason: MISSING_REASON });
    } else if (def.status === 'ACTIVE') {
      plan.failures.push({ arn, reason: STILL_ACTIVE_REASON });
    } else if (def.status === 'DELETE_IN_PROGRESS') {
      plan.taskDefinitions.push(def);
    } else {
      const deleting = { ...def, status: 'DELETE_IN_PROGRESS', deleteRequestedAt: now } as unknown as TaskDefinition;
      plan.changed.push(deleting);
      plan.taskDefinitions.push(deleting);
    }
  }
  return plan;
}
