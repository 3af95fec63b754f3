/**
 * RegisterTaskDefinition, DescribeTaskDefinition, ListTaskDefinitions,
 * ListTaskDefinitionFamilies, DeregisterTaskDefinition, DeleteTaskDefinitions.
 */
import type { TaskDefinition } from '@aws-sdk/client-ecs';
import { clientError, invalidParameter } from '../api/errors.ts';
import { optInt, optString, optStringList, reqString } from '../api/input.ts';
import { normaliseTaskDefinition } from '../ecs/task-definition.ts';
import { paginate } from '../ecs/pagination.ts';
import { parseTaskDefinitionRef, taskDefinitionArn } from '../ecs/arns.ts';
import { planDeleteTaskDefinitions, validateDeleteTaskDefinitions } from '../ecs/delete-task-definitions.ts';
import type { ControlContext } from './context.ts';
import { readTags } from './tags.ts';

/** Stored task definitions carry epoch-ms numbers; the wire wants epoch seconds. */
type StoredTaskDefinition = TaskDefinition & { registeredAt?: unknown; deregisteredAt?: unknown; deleteRequestedAt?: unknown };

export function taskDefinitionWire(def: StoredTaskDefinition): Record<string, unknown> {
  return {
    ...def,
    registeredAt: typeof def.registeredAt === 'number' ? def.registeredAt / 1000 : undefined,
    deregisteredAt: typeof def.deregisteredAt === 'number' ? def.deregisteredAt / 1000 : undefined,
    deleteRequestedAt: typeof def.deleteRequestedAt === 'number' ? def.deleteRequestedAt / 1000 : undefined,
  };
}

/**
 * Resolves `family`, `family:revision` or a task-definition ARN to a stored
 * definition. A bare family means its latest ACTIVE revision.
 */
export function resolveTaskDefinition(ctx: ControlContext, ref: string): StoredTaskDefinition {
  const { family, revision } = parseTaskDefinitionRef(ref, ctx.arns);
  ctx.taskDefinitions.purgeDeleted();
  const def = revision !== undefined ? ctx.taskDefinitions.get(family, revision) : ctx.taskDefinitions.latestActive(family);
  if (!def) {
    throw clientError(
      `Unable to describe task definition '${ref}': it does not exist${revision !== undefined ? '' : ' or has no ACTIVE revision'}. Register it with RegisterTaskDefinition.`,
    );
  }
  return def;
}

export function taskDefinitionOperations(ctx: ControlContext) {
  return {
    RegisterTaskDefinition(input: Record<string, unknown>) {
      const normalised = normaliseTaskDefinition(input as never);
      const tags = readTags(input);
      const family = normalised.family!;
      const now = ctx.clock.now();
      const def = ctx.db.transaction(() => {
        const d = ctx.taskDefinitions.insertNextRevision(
          family,
          (revision) =>
            ({
              ...normalised,
              taskDefinitionArn: taskDefinitionArn(family, revision, ctx.arns),
              revision,
              status: 'ACTIVE',
              registeredAt: now,
              registeredBy: `arn:aws:iam::${ctx.accountId}:root`,
            }) as unknown as TaskDefinition,
          now,
        );
        if (tags.length) ctx.tags.put(d.taskDefinitionArn!, tags);
        return d;
      })();
      return { taskDefinition: taskDefinitionWire(def), tags };
    },

    DescribeTaskDefinition(input: Record<string, unknown>) {
      const def = resolveTaskDefinition(ctx, reqString(input, 'taskDefinition'));
      const include = optStringList(input, 'include') ?? [];
      return {
        taskDefinition: taskDefinitionWire(def),
        ...(include.includes('TAGS') ? { tags: ctx.tags.list(def.taskDefinitionArn!) } : {}),
      };
    },

    ListTaskDefinitions(input: Record<string, unknown>) {
      const status = optString(input, 'status') ?? 'ACTIVE';
      if (!['ACTIVE', 'INACTIVE', 'DELETE_IN_PROGRESS'].includes(status)) throw invalidParameter(`status must be ACTIVE or INACTIVE.`);
      const sort = optString(input, 'sort') ?? 'ASC';
      if (!['ASC', 'DESC'].includes(sort)) throw invalidParameter(`sort must be ASC or DESC.`);
      const familyPrefix = optString(input, 'familyPrefix');
      ctx.taskDefinitions.purgeDeleted();
      const arns = ctx.taskDefinitions.listArns({ familyPrefix, status, desc: sort === 'DESC' });
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
      ctx.taskDefinitions.purgeDeleted();
      const families = ctx.taskDefinitions.listFamilies({ familyPrefix, status });
      const { page, nextToken } = paginate(families, optInt(input, 'maxResults'), optString(input, 'nextToken'), {
        defaultMax: 100,
        query: `ListTaskDefinitionFamilies:${familyPrefix ?? ''}:${status}`,
      });
      return { families: page, ...(nextToken ? { nextToken } : {}) };
    },

    DeregisterTaskDefinition(input: Record<string, unknown>) {
      const ref = reqString(input, 'taskDefinition');
      if (!/:\d+$/.test(ref)) throw clientError(`Deregister needs a revision: use family:revision or a full ARN, not '${ref}'.`);
      const def = resolveTaskDefinition(ctx, ref);
      if (def.status === 'DELETE_IN_PROGRESS') throw clientError(`Task definition '${ref}' is being deleted (DELETE_IN_PROGRESS); it cannot be deregistered again.`);
      const updated = { ...def, status: 'INACTIVE', deregisteredAt: def.deregisteredAt ?? ctx.clock.now() } as StoredTaskDefinition;
      ctx.taskDefinitions.replace(updated as TaskDefinition);
      return { taskDefinition: taskDefinitionWire(updated) };
    },

    DeleteTaskDefinitions(input: Record<string, unknown>) {
      const refs = validateDeleteTaskDefinitions(input, ctx.arns);
      const plan = ctx.db.transaction(() => {
        const p = planDeleteTaskDefinitions(refs, (family, revision) => ctx.taskDefinitions.get(family, revision), ctx.clock.now(), ctx.arns);
        for (const def of p.changed) ctx.taskDefinitions.replace(def);
        return p;
      })();
      return { taskDefinitions: plan.taskDefinitions.map(taskDefinitionWire), failures: plan.failures };
    },
  };
}
