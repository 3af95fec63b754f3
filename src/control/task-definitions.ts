/**
 * RegisterTaskDefinition, DescribeTaskDefinition, ListTaskDefinitions,
 * ListTaskDefinitionFamilies, DeregisterTaskDefinition, DeleteTaskDefinitions.
 */
import type { TaskDefinition } from '@aws-sdk/client-ecs';
import { clientError, invalidParameter } from '../api/errors.ts';
import { optInt, optString, optStringList, reqString } from '../api/input.ts';
import { normaliseTaskDefinition } from '../ecs/task-definition.ts';
import { paginate } from '../ecs/pagination.ts';
import { taskDefinitionArn, type ArnContext } from '../ecs/arns.ts';
import { planDeleteTaskDefinitions, validateDeleteTaskDefinitions } from '../ecs/delete-task-definitions.ts';
import type { Repos } from '../store/repos.ts';
import type { Clock } from '../util/clock.ts';
import { resolveTaskDefinition, type StoredTaskDefinition } from '../scheduler/task-definitions.ts';
import { readTags } from './tags.ts';

export function taskDefinitionWire(def: StoredTaskDefinition): Record<string, unknown> {
  return {
    ...def,
    registeredAt: typeof def.registeredAt === 'number' ? def.registeredAt / 1000 : undefined,
    deregisteredAt: typeof def.deregisteredAt === 'number' ? def.deregisteredAt / 1000 : undefined,
    deleteRequestedAt: typeof def.deleteRequestedAt === 'number' ? def.deleteRequestedAt / 1000 : undefined,
  };
}

export interface TaskDefinitionHandlerDeps extends Pick<Repos, 'db' | 'taskDefinitions' | 'tags'> {
  clock: Clock;
  arns: ArnContext;
}

export function taskDefinitionOperations(deps: TaskDefinitionHandlerDeps) {
  return {
    RegisterTaskDefinition(input: Record<string, unknown>) {
      const normalised = normaliseTaskDefinition(input as never);
      const tags = readTags(input);
      const family = normalised.family!;
      const now = deps.clock.now();
      const def = deps.db.transaction(() => {
        const d = deps.taskDefinitions.insertNextRevision(
          family,
          (revision) =>
            ({
              ...normalised,
              taskDefinitionArn: taskDefinitionArn(family, revision, deps.arns),
              revision,
              status: 'ACTIVE',
              registeredAt: now,
              registeredBy: `arn:aws:iam::${deps.arns.account}:root`,
            }) as unknown as TaskDefinition,
          now,
        );
        if (tags.length) deps.tags.put(d.taskDefinitionArn!, tags);
        return d;
      })();
      return { taskDefinition: taskDefinitionWire(def), tags };
    },

    DescribeTaskDefinition(input: Record<string, unknown>) {
      const def = resolveTaskDefinition(deps, reqString(input, 'taskDefinition'));
      const include = optStringList(input, 'include') ?? [];
      return {
        taskDefinition: taskDefinitionWire(def),
        ...(include.includes('TAGS') ? { tags: deps.tags.list(def.taskDefinitionArn!) } : {}),
      };
    },

    ListTaskDefinitions(input: Record<string, unknown>) {
      const status = optString(input, 'status') ?? 'ACTIVE';
      if (!['ACTIVE', 'INACTIVE', 'DELETE_IN_PROGRESS'].includes(status)) throw invalidParameter(`status must be ACTIVE or INACTIVE.`);
      const sort = optString(input, 'sort') ?? 'ASC';
      if (!['ASC', 'DESC'].includes(sort)) throw invalidParameter(`sort must be ASC or DESC.`);
      const familyPrefix = optString(input, 'familyPrefix');
      deps.taskDefinitions.purgeDeleted();
      const arns = deps.taskDefinitions.listArns({ familyPrefix, status, desc: sort === 'DESC' });
      const { page, nextToken } = paginate(arns, optInt(input, 'maxResults'), optString(input, 'nextToken'), {
        defaultMax: 100,
        query: `ListTaskDefinitions:${familyPrefix ?? ''}:${status}:${sort}`,
      });
      return { taskDefinitionArns: page, ...(nextToken ? { nextToken } : {}) };
    },

    ListTaskDefinitionFamilies(input: Record<string, unknown>) {
      const status = optString(input, 'status') ?? 'ACTIVE';
      if (!['ACTIVE', 'INACTIVE', 'ALL'].includes(status)) throw invalidParameter(`status must be ACTIVE, INACTIVE or ALL.`);
      const familyPrefix = optString(input, 'familyPrefix');
      deps.taskDefinitions.purgeDeleted();
      const families = deps.taskDefinitions.listFamilies({ familyPrefix, status });
      const { page, nextToken } = paginate(families, optInt(input, 'maxResults'), optString(input, 'nextToken'), {
        defaultMax: 100,
        query: `ListTaskDefinitionFamilies:${familyPrefix ?? ''}:${status}`,
      });
      return { families: page, ...(nextToken ? { nextToken } : {}) };
    },

    DeregisterTaskDefinition(input: Record<string, unknown>) {
      const ref = reqString(input, 'taskDefinition');
      if (!/:\d+$/.test(ref)) throw clientError(`Deregister needs a revision: use family:revision or a full ARN, not '${ref}'.`);
      const def = resolveTaskDefinition(deps, ref);
      if (def.status === 'DELETE_IN_PROGRESS') throw clientError(`Task definition '${ref}' is being deleted (DELETE_IN_PROGRESS); it cannot be deregistered again.`);
      const updated = { ...def, status: 'INACTIVE', deregisteredAt: def.deregisteredAt ?? deps.clock.now() } as StoredTaskDefinition;
      deps.taskDefinitions.replace(updated as TaskDefinition);
      return { taskDefinition: taskDefinitionWire(updated) };
    },

    DeleteTaskDefinitions(input: Record<string, unknown>) {
      const refs = validateDeleteTaskDefinitions(input, deps.arns);
      const plan = deps.db.transaction(() => {
        const p = planDeleteTaskDefinitions(refs, (family, revision) => deps.taskDefinitions.get(family, revision), deps.clock.now(), deps.arns);
        for (const def of p.changed) deps.taskDefinitions.replace(def);
        return p;
      })();
      return { taskDefinitions: plan.taskDefinitions.map(taskDefinitionWire), failures: plan.failures };
    },
  };
}
