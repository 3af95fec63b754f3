/**
 * Finding a stored task definition by the reference a request or a service
 * carries: `family`, `family:revision` or a task-definition ARN. Shared by the
 * API handlers (RunTask, DescribeTaskDefinition...) and the service applier.
 */
import type { TaskDefinition } from '@aws-sdk/client-ecs';
import { clientError } from '../api/errors.ts';
import { parseTaskDefinitionRef, type ArnContext } from '../ecs/arns.ts';
import type { Repos } from '../store/repos.ts';

/** Stored task definitions carry epoch-ms numbers (the wire wants epoch seconds). */
export type StoredTaskDefinition = TaskDefinition & { registeredAt?: unknown; deregisteredAt?: unknown; deleteRequestedAt?: unknown };

export interface TaskDefinitionLookup extends Pick<Repos, 'taskDefinitions'> {
  arns: ArnContext;
}

/**
 * Resolves `family`, `family:revision` or a task-definition ARN to a stored
 * definition. A bare family means its latest ACTIVE revision; ClientException
 * when there is none. Deleted revisions no live task or service uses are purged first.
 */
export function resolveTaskDefinition(deps: TaskDefinitionLookup, ref: string): StoredTaskDefinition {
  const { family, revision } = parseTaskDefinitionRef(ref, deps.arns);
  deps.taskDefinitions.purgeDeleted();
  const def = revision !== undefined ? deps.taskDefinitions.get(family, revision) : deps.taskDefinitions.latestActive(family);
  if (!def) {
    throw clientError(
      `Unable to describe task definition '${ref}': it does not exist${revision !== undefined ? '' : ' or has no ACTIVE revision'}. Register it with RegisterTaskDefinition.`,
    );
  }
  return def;
}
