/** TagResource, UntagResource, ListTagsForResource, and the ECS tag rules. */
import { ApiError, ErrorCode, invalidParameter } from '../api/errors.ts';
import { optStringList, reqString } from '../api/input.ts';
import { MAX_TAGS, validateTags } from '../ecs/tags.ts';
import { parseArn } from '../ecs/arns.ts';
import type { Tag } from '../store/tags-repo.ts';
import type { Repos } from '../store/repos.ts';

export type TagHandlerDeps = Pick<Repos, 'clusters' | 'tasks' | 'services' | 'taskDefinitions' | 'tags'>;

/** Validated tags of a request's `field` (ECS rules, see ecs/tags.ts). */
export function readTags(input: Record<string, unknown>, field = 'tags'): Tag[] {
  return validateTags(input[field]).map((t) => ({ key: t.key!, value: t.value ?? '' }));
}

/** Why a resource ARN names nothing: the cluster it lives in is gone, or the resource itself. */
type Missing = 'cluster' | 'task-definition' | 'resource';

/** What an ECS resource ARN names: undefined when it exists, else what is missing. InvalidParameterException for a malformed ARN. */
function findResource(deps: TagHandlerDeps, arn: string): Missing | undefined {
  const p = parseArn(arn);
  if (!p || p.service !== 'ecs' || !p.resource.includes('/')) throw invalidParameter(`resourceArn '${arn}' is not a valid ECS resource ARN.`);
  const kind = p.resourceType;
  const rest = p.resource.slice(kind.length + 1);
  const clusterActive = (name: string) => deps.clusters.get(name)?.status === 'ACTIVE';
  if (kind === 'cluster') return clusterActive(rest) ? undefined : 'cluster';
  if (kind === 'task') {
    const parts = rest.split('/');
    if (parts.length === 2 && !clusterActive(parts[0])) return 'cluster';
    const t = deps.tasks.get(parts[parts.length - 1]);
    return t && (parts.length === 1 || t.clusterName === parts[0]) ? undefined : 'resource';
  }
  if (kind === 'service') {
    const [cluster, name] = rest.split('/');
    if (name === undefined) return 'resource';
    if (!clusterActive(cluster)) return 'cluster';
    return deps.services.byName(cluster, name) !== undefined ? undefined : 'resource';
  }
  if (kind === 'task-definition') {
    const [family, rev] = rest.split(':');
    return deps.taskDefinitions.get(family, Number(rev)) !== undefined ? undefined : 'task-definition';
  }
  return 'resource';
}

/** TagResource / UntagResource: the ARN must name a resource Skiff has (ResourceNotFoundException, as documented for them). */
function existingResource(deps: TagHandlerDeps, arn: string): string {
  if (findResource(deps, arn)) throw new ApiError(ErrorCode.ResourceNotFoundException, `The specified resource '${arn}' was not found.`);
  return arn;
}

/**
 * ListTagsForResource documents no ResourceNotFoundException: a missing cluster is
 * ClusterNotFoundException, a missing task definition ClientException, anything
 * else that names nothing InvalidParameterException.
 */
export function listableResource(deps: TagHandlerDeps, arn: string): string {
  switch (findResource(deps, arn)) {
    case undefined:
      return arn;
    case 'cluster':
      throw new ApiError(ErrorCode.ClusterNotFoundException, `The specified cluster wasn't found: '${arn}' names a cluster that does not exist. List clusters with ListClusters.`);
    case 'task-definition':
      throw new ApiError(ErrorCode.ClientException, `The specified task definition does not exist: '${arn}'. List revisions with ListTaskDefinitions.`);
    case 'resource':
      throw invalidParameter(`The specified resource '${arn}' was not found. Check the ARN (ListTasks, ListServices) and try again.`);
  }
}

export function tagOperations(deps: TagHandlerDeps) {
  return {
    TagResource(input: Record<string, unknown>) {
      const arn = existingResource(deps, reqString(input, 'resourceArn'));
      const tags = readTags(input);
      const existing = new Set(deps.tags.list(arn).map((t) => t.key));
      const total = existing.size + tags.filter((t) => !existing.has(t.key)).length;
      if (total > MAX_TAGS) throw invalidParameter(`A resource can have at most ${MAX_TAGS} tags; this would make ${total}.`);
      deps.tags.put(arn, tags);
      return {};
    },
    UntagResource(input: Record<string, unknown>) {
      const arn = existingResource(deps, reqString(input, 'resourceArn'));
      const keys = optStringList(input, 'tagKeys') ?? [];
      deps.tags.remove(arn, keys);
      return {};
    },
    ListTagsForResource(input: Record<string, unknown>) {
      const arn = listableResource(deps, reqString(input, 'resourceArn'));
      return { tags: deps.tags.list(arn) };
    },
  };
}
