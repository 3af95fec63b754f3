/** TagResource, UntagResource, ListTagsForResource, and the ECS tag rules. */
import { ApiError, ErrorCode, invalidParameter } from '../api/errors.ts';
import { optObjectList, optStringList, reqString } from '../api/input.ts';
import type { Tag } from '../store/tags-repo.ts';
import type { ControlContext } from './context.ts';

export const MAX_TAGS = 50;

/** Validates ECS tags ({key, value}); `aws:` keys are reserved for AWS. */
export function readTags(input: Record<string, unknown>, field = 'tags'): Tag[] {
  const raw = optObjectList(input, field) ?? [];
  if (raw.length > MAX_TAGS) throw invalidParameter(`A resource can have at most ${MAX_TAGS} tags (got ${raw.length}).`);
  const seen = new Set<string>();
  return raw.map((t) => {
    const key = t.key;
    const value = t.value ?? '';
    if (typeof key !== 'string' || key.length < 1 || key.length > 128) throw invalidParameter('Each tag key must be 1-128 characters.');
    if (typeof value !== 'string' || value.length > 256) throw invalidParameter(`The value of tag '${key}' must be at most 256 characters.`);
    if (key.toLowerCase().startsWith('aws:')) throw invalidParameter(`Tag keys starting with 'aws:' are reserved; rename tag '${key}'.`);
    if (seen.has(key)) throw invalidParameter(`Tag key '${key}' appears more than once.`);
    seen.add(key);
    return { key, value };
  });
}

/** Checks the ARN names a resource Skiff has; returns the ARN. */
function existingResource(ctx: ControlContext, arn: string): string {
  const m = /^arn:aws:ecs:([^:]+):(\d{12}):(cluster|task-definition|task|service|container-instance)\/(.+)$/.exec(arn);
  if (!m) throw invalidParameter(`resourceArn '${arn}' is not a valid ECS resource ARN.`);
  const [, , , kind, rest] = m;
  let exists = false;
  if (kind === 'cluster') exists = ctx.clusters.get(rest)?.status === 'ACTIVE';
  else if (kind === 'task') exists = ctx.tasks.get(rest.split('/').pop() ?? '') !== undefined;
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
