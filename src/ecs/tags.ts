/**
 * Resource tag validation, shared by RegisterTaskDefinition, RunTask,
 * CreateCluster, CreateService and TagResource.
 *
 * ECS rules: at most 50 tags per resource; key 1..128 and value 0..256 UTF-8
 * characters of letters, numbers, spaces and + - = . _ : / @; keys unique;
 * the `aws:` prefix (any case) is reserved. Violations are InvalidParameterException.
 * Skiff's own `skiff:isolation` must name an isolation (model/isolation.ts):
 * ClientException otherwise, as for any bad task definition.
 */
import type { Tag } from '@aws-sdk/client-ecs';
import { ApiError, ErrorCode, invalidParameter } from '../api/errors.ts';
import { ISOLATION_TAG, isolationProblem } from '../model/isolation.ts';

export const MAX_TAGS = 50;
const TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** Validates and returns tags as `{key, value}` (value defaults to ""). */
export function validateTags(tags: unknown, opts: { max?: number } = {}): Tag[] {
  if (tags === undefined || tags === null) return [];
  if (!Array.isArray(tags)) throw invalidParameter(`tags must be a list of {"key": ..., "value": ...} objects.`);
  const max = opts.max ?? MAX_TAGS;
  if (tags.length > max) {
    throw invalidParameter(`Too many tags: ${tags.length} given, at most ${max} are allowed per resource. Remove ${tags.length - max}.`);
  }
  const seen = new Set<string>();
  return tags.map((t: unknown, i) => {
    if (!t || typeof t !== 'object') throw invalidParameter(`tags[${i}] must be an object {"key": ..., "value": ...}.`);
    const { key, value } = t as { key?: unknown; value?: unknown };
    if (typeof key !== 'string' || key.length < 1 || [...key].length > 128) {
      throw invalidParameter(`tags[${i}].key must be 1 to 128 characters long; got ${JSON.stringify(key)}.`);
    }
    if (value !== undefined && value !== null && (typeof value !== 'string' || [...value].length > 256)) {
      throw invalidParameter(`The value of tag '${key}' must be a string of at most 256 characters.`);
    }
    const v = typeof value === 'string' ? value : '';
    if (!TAG_CHARS.test(key) || !TAG_CHARS.test(v)) {
      throw invalidParameter(
        `Tag '${key}' contains characters that are not allowed. Tag keys and values may use letters, numbers, spaces and + - = . _ : / @.`,
      );
    }
    if (key.toLowerCase().startsWith('aws:')) {
      throw invalidParameter(`Tag key '${key}' is not allowed: the 'aws:' prefix (in any case) is reserved for AWS use. Choose another key.`);
    }
    if (key === ISOLATION_TAG) {
      const problem = isolationProblem(v, `The value of tag '${ISOLATION_TAG}'`);
      if (problem) throw new ApiError(ErrorCode.ClientException, problem);
    }
    if (seen.has(key)) throw invalidParameter(`Tag key '${key}' appears more than once. Each tag key may be given once.`);
    seen.add(key);
    return { key, value: v };
  });
}
