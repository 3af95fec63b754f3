/** TagResource, UntagResource, ListTagsForResource, and the ECS tag rules. */
import { ApiError, ErrorCode, invalidParameter } from '../api/errors.ts';
import { optStringList, reqString } from '../api/input.ts';
import { MAX_TAGS, validateTags } from '../ecs/tags.ts';
import { parseArn } from '../ecs/arns.ts';
import type { Tag } from '../store/tags-repo.ts';
import type { ControlContext } from './context.ts';
import { ServicesRepo } from '../store/services-repo.ts';

/** Validated tags of a request's `field` (ECS rules, see ecs/tags.ts). */
export function readTags(input: Record<string, unknown>, field = 'tags'): Tag[] {
  return validateTags(input[field]).map((t) => ({ key: t.key!, value: t.value ?? '' }));
}

/** Checks the ARN names a resource Skiff has; returns the ARN. */
function existingResource(ctx: ControlContext, arn: string): string {
  const p = parseArn(arn);
  if (!p || p.service !== 'ecs' || !p.resource.includes('/')) throw invalidParameter(`resourceArn '${arn}' is not a valid ECS resource ARN.`);
  const kind = p.resourceType;
  const rest = p.resource.slice(kind.length + 1);
  let exists = false;
  if (kind === 'cluster') exists = ctx.clusters.get(rest)?.status === 'ACTIVE';
  else if (kind === 'task') exists = ctx.tasks.get(rest.split('/').pop() ?? '') !== undefined;
  else if (kind === 'service') {
    const [cluster, name] = rest.split('/');
    exists = name !== undefined && new ServicesRepo(ctx.db).byName(cluster, name) !== undefined;
  }
  else if (kind === 'task-definition') {
    const [family, rev] = rest.split(':');
    exists = ctx.taskDefinitions.get(family, Number(rev)) !== undefined;
  }
  if (!exists) throw new ApiError(ErrorCode.ResourceNotFoundException, `The specified resource '${arn}' was not found.`);
  return arn;
}

export function tagOperations(ctx: ControlContext) {
  return {
    TagResource(input: Record<string, unknown>) {
      const arn = existingResource(ctx, reqString(input, 'resourceArn'));
      const tags = readTags(input);
      const existing = new Set(ctx.tags.list(arn).map((t) => t.key));
      const total = existing.size + tags.filter((t) => !existing.has(t.key)).length;
      if (total > MAX_TAGS) throw invalidParameter(`A resource can have at most ${MAX_TAGS} tags; this would make ${total}.`);
      ctx.tags.put(arn, tags);
      return {};
    },
    UntagResource(input: Record<string, unknown>) {
      const arn = existingResource(ctx, reqString(input, 'resourceArn'));
      const keys = optStringList(input, 'tagKeys') ?? [];
      ctx.tags.remove(arn, keys);
      return {};
    },
    ListTagsForResource(input: Record<string, unknown>) {
      const arn = existingResource(ctx, reqString(input, 'resourceArn'));
      return { tags: ctx.tags.list(arn) };
    },
  };
}
