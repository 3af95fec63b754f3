/**
 * ECS ARNs and resource names: builders, parsers and name validation.
 *
 *   arn:aws:ecs:<region>:<account>:cluster/<name>
 *   arn:aws:ecs:<region>:<account>:task/<cluster>/<32 hex>
 *   arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>
 *   arn:aws:ecs:<region>:<account>:container/<cluster>/<task id>/<uuid>
 *   arn:aws:ecs:<region>:<account>:service/<cluster>/<name>
 *
 * Region and account come from an `ArnContext`; every function takes one
 * optionally and otherwise uses the process default (see `configureArnContext`).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { clientError, invalidParameter } from '../api/errors.ts';

export interface ArnContext {
  region: string;
  account: string;
  /** ARN partition; `aws` unless configured. */
  partition?: string;
}

export const DEFAULT_REGION = 'us-east-1';
export const DEFAULT_ACCOUNT = '123456789012';
export const DEFAULT_CLUSTER = 'default';

let defaultContext: ArnContext = { region: DEFAULT_REGION, account: DEFAULT_ACCOUNT, partition: 'aws' };

/** Sets the region/account used when a function is called without a context (server start-up). */
export function configureArnContext(ctx: Partial<ArnContext>): ArnContext {
  const next = { ...defaultContext, ...ctx };
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(next.region)) throw new Error(`invalid region '${next.region}'`);
  if (!/^\d{12}$/.test(next.account)) throw new Error(`invalid account '${next.account}': must be 12 digits`);
  defaultContext = next;
  return defaultContext;
}

export function arnContext(): ArnContext {
  return defaultContext;
}

function prefix(ctx: ArnContext): string {
  return `arn:${ctx.partition ?? 'aws'}:ecs:${ctx.region}:${ctx.account}:`;
}

// ---------------------------------------------------------------- names

const NAME_RE = /^[A-Za-z0-9_-]{1,255}$/;
const NAME_RULE = 'Up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed.';

export function isValidName(name: unknown): name is string {
  return typeof name === 'string' && NAME_RE.test(name);
}

/** Cluster names: 1-255 letters, numbers, hyphens, underscores. InvalidParameterException otherwise. */
export function validateClusterName(name: unknown): string {
  if (!isValidName(name)) {
    throw invalidParameter(
      `Cluster name ${JSON.stringify(name)} is not valid. ${NAME_RULE} Use a cluster name or a full cluster ARN.`,
    );
  }
  return name;
}

/** Task definition family names. ClientException, as RegisterTaskDefinition answers. */
export function validateFamily(family: unknown): string {
  if (family === undefined || family === null || family === '') {
    throw clientError(`Family is required. Give the task definition a family name: ${NAME_RULE}`);
  }
  if (!isValidName(family)) {
    throw clientError(`Family contains invalid characters: ${JSON.stringify(family)}. ${NAME_RULE}`);
  }
  return family;
}

/** Container names inside a task definition. ClientException, as RegisterTaskDefinition answers. */
export function validateContainerName(name: unknown): string {
  if (name === undefined || name === null || name === '') {
    throw clientError(`Container.name should not be null or empty. Give every container definition a name: ${NAME_RULE}`);
  }
  if (!isValidName(name)) {
    throw clientError(`Container.name contains invalid characters: ${JSON.stringify(name)}. ${NAME_RULE}`);
  }
  return name;
}

/** Service names. InvalidParameterException, as CreateService answers. */
export function validateServiceName(name: unknown): string {
  if (!isValidName(name)) {
    throw invalidParameter(`Service name ${JSON.stringify(name)} is not valid. ${NAME_RULE}`);
  }
  return name;
}

// ---------------------------------------------------------------- builders

export function clusterArn(cluster: string, ctx: ArnContext = defaultContext): string {
  return `${prefix(ctx)}cluster/${cluster}`;
}

export function taskArn(cluster: string, taskId: string, ctx: ArnContext = defaultContext): string {
  return `${prefix(ctx)}task/${cluster}/${taskId}`;
}

export function taskDefinitionArn(family: string, revision: number, ctx: ArnContext = defaultContext): string {
  return `${prefix(ctx)}task-definition/${family}:${revision}`;
}

export function containerArn(cluster: string, taskId: string, containerId: string, ctx: ArnContext = defaultContext): string {
  return `${prefix(ctx)}container/${cluster}/${taskId}/${containerId}`;
}

export function serviceArn(cluster: string, service: string, ctx: ArnContext = defaultContext): string {
  return `${prefix(ctx)}service/${cluster}/${service}`;
}

/** A new task id: 32 lowercase hex characters, as ECS uses. */
export function newTaskId(): string {
  return randomBytes(16).toString('hex');
}

/** A new container id (the last part of a container ARN): a UUID. */
export function newContainerId(): string {
  return randomUUID();
}

export const TASK_ID_RE = /^[0-9a-f]{32}$/;

// ---------------------------------------------------------------- parsers

export interface ParsedArn {
  partition: string;
  service: string;
  region: string;
  account: string;
  /** The part after the account, e.g. `cluster/default`. */
  resource: string;
  /** The part of `resource` before the first `/`, e.g. `cluster`. */
  resourceType: string;
}

/** Splits any `arn:` string; undefined if it is not shaped like an ARN. */
export function parseArn(arn: string): ParsedArn | undefined {
  if (typeof arn !== 'string' || !arn.startsWith('arn:')) return undefined;
  const parts = arn.split(':');
  if (parts.length < 6) return undefined;
  const [, partition, service, region, account] = parts;
  const resource = parts.slice(5).join(':');
  if (!partition || !service || !resource) return undefined;
  const slash = resource.indexOf('/');
  return { partition, service, region, account, resource, resourceType: slash < 0 ? resource : resource.slice(0, slash) };
}

export function isArn(s: unknown): s is string {
  return typeof s === 'string' && s.startsWith('arn:');
}

/**
 * Parses an ECS ARN of the given resource type and checks that it belongs to
 * this endpoint's region and account. Returns the path after `<type>/`.
 */
function ecsResource(arn: string, type: string, what: string, ctx: ArnContext): string {
  const p = parseArn(arn);
  if (!p || p.service !== 'ecs' || p.resourceType !== type || p.resource.length <= type.length + 1) {
    throw invalidParameter(
      `${what} ARN '${arn}' is not valid. Expected the form ${prefix(ctx)}${type}/..., or give the ${what.toLowerCase()} name instead.`,
    );
  }
  if (p.region !== ctx.region || p.account !== ctx.account) {
    throw invalidParameter(
      `${what} ARN '${arn}' is for region ${p.region}, account ${p.account}; this endpoint serves region ${ctx.region}, ` +
        `account ${ctx.account}. Use the ${what.toLowerCase()} name or an ARN from this endpoint.`,
    );
  }
  return p.resource.slice(type.length + 1);
}

/**
 * The cluster name from a name, an ARN or nothing (→ `default`), validated.
 * InvalidParameterException for a malformed name or ARN.
 */
export function resolveClusterName(arnOrName: string | undefined | null, ctx: ArnContext = defaultContext): string {
  if (arnOrName === undefined || arnOrName === null || arnOrName === '') return DEFAULT_CLUSTER;
  if (typeof arnOrName !== 'string') throw invalidParameter(`cluster must be a string: a cluster name or ARN.`);
  if (isArn(arnOrName)) return validateClusterName(ecsResource(arnOrName, 'cluster', 'Cluster', ctx));
  return validateClusterName(arnOrName);
}

export interface TaskRef {
  /** Cluster named by the ARN, or the cluster passed in when given an id or an old-style ARN. */
  cluster: string;
  taskId: string;
  /** Canonical (new-format) task ARN. */
  arn: string;
}

/**
 * A task reference from a task id or ARN (`task/<cluster>/<id>`, or the old
 * `task/<id>`) in the context of `cluster` (a name or ARN, default `default`).
 *
 * The returned `cluster` is the one the ARN names; callers compare it with the
 * cluster of the request and treat a mismatch as "task not found" (ECS answers
 * MISSING for DescribeTasks, InvalidParameterException for StopTask).
 * InvalidParameterException for a malformed id or ARN.
 */
export function parseTaskRef(cluster: string | undefined, idOrArn: string, ctx: ArnContext = defaultContext): TaskRef {
  // Hot path (DescribeTasks names up to 100 tasks, parsed for the policy check and again by the handler): a pure
  // function of its inputs, so valid answers are remembered per context (frozen, shared), bounded.
  if (typeof idOrArn !== 'string' || (cluster !== undefined && typeof cluster !== 'string')) return parseTaskRefUncached(cluster, idOrArn, ctx);
  let byCtx = taskRefCache.get(ctx);
  if (!byCtx) taskRefCache.set(ctx, (byCtx = new Map()));
  const key = `${cluster ?? ''}\u0000${idOrArn}`;
  const hit = byCtx.get(key);
  if (hit) return hit;
  const ref = Object.freeze(parseTaskRefUncached(cluster, idOrArn, ctx));
  if (byCtx.size >= 50_000) byCtx.clear();
  byCtx.set(key, ref);
  return ref;
}

const taskRefCache = new WeakMap<ArnContext, Map<string, TaskRef>>();

function parseTaskRefUncached(cluster: string | undefined, idOrArn: string, ctx: ArnContext): TaskRef {
  const clusterName = resolveClusterName(cluster, ctx);
  const bad = () =>
    invalidParameter(`Task '${idOrArn}' is not a valid task id or ARN. Give the 32-character task id or the full task ARN from RunTask or ListTasks.`);
  if (typeof idOrArn !== 'string' || idOrArn === '') throw bad();
  let owner = clusterName;
  let taskId: string;
  if (isArn(idOrArn)) {
    const path = ecsResource(idOrArn, 'task', 'Task', ctx).split('/');
    if (path.length === 1) taskId = path[0];
    else if (path.length === 2) {
      owner = validateClusterName(path[0]);
      taskId = path[1];
    } else throw bad();
  } else {
    taskId = idOrArn;
  }
  if (!TASK_ID_RE.test(taskId)) throw bad();
  return { cluster: owner, taskId, arn: taskArn(owner, taskId, ctx) };
}

/** Like parseTaskRef but returns undefined instead of throwing (for DescribeTasks failures). */
export function tryParseTaskRef(cluster: string | undefined, idOrArn: string, ctx: ArnContext = defaultContext): TaskRef | undefined {
  try {
    return parseTaskRef(cluster, idOrArn, ctx);
  } catch {
    return undefined;
  }
}

export interface TaskDefinitionRef {
  family: string;
  /** Absent when only the family was given: "the latest ACTIVE revision". */
  revision?: number;
}

/**
 * `family`, `family:revision` or a task definition ARN.
 * ClientException for a malformed reference, as ECS answers (e.g. "Invalid revision number").
 */
export function parseTaskDefinitionRef(ref: string | undefined, ctx: ArnContext = defaultContext): TaskDefinitionRef {
  if (ref === undefined || ref === null || ref === '') {
    throw clientError(`TaskDefinition can not be blank. Give a family, family:revision or a task definition ARN.`);
  }
  if (typeof ref !== 'string') throw clientError(`taskDefinition must be a string: a family, family:revision or a task definition ARN.`);
  let body = ref;
  if (isArn(ref)) {
    const p = parseArn(ref);
    if (!p || p.service !== 'ecs' || p.resourceType !== 'task-definition' || !p.resource.includes('/')) {
      throw clientError(`Task definition ARN '${ref}' is not valid. Expected ${prefix(ctx)}task-definition/<family>:<revision>.`);
    }
    if (p.region !== ctx.region || p.account !== ctx.account) {
      throw clientError(
        `Task definition ARN '${ref}' is for region ${p.region}, account ${p.account}; this endpoint serves region ${ctx.region}, account ${ctx.account}. ` +
          `Use family:revision or an ARN from this endpoint.`,
      );
    }
    body = p.resource.slice('task-definition/'.length);
    if (!body.includes(':')) throw clientError(`Task definition ARN '${ref}' has no revision. Use ...:task-definition/<family>:<revision>.`);
  }
  const colon = body.indexOf(':');
  const family = colon < 0 ? body : body.slice(0, colon);
  if (!isValidName(family)) {
    throw clientError(`Task definition family ${JSON.stringify(family)} is not valid. Up to 255 letters, numbers, hyphens, and underscores are allowed.`);
  }
  if (colon < 0) return { family };
  const revText = body.slice(colon + 1);
  if (!/^[1-9]\d{0,9}$/.test(revText) || Number(revText) > 2147483647) {
    throw clientError(`Invalid revision number. Number: ${revText}. Use family:revision with a positive integer revision, or the family alone for the latest ACTIVE revision.`);
  }
  return { family, revision: Number(revText) };
}

export interface ServiceRef {
  cluster: string;
  service: string;
  arn: string;
}

/**
 * A service name or ARN (`service/<cluster>/<name>`, or the old `service/<name>`)
 * in the context of `cluster`. The returned `cluster` is the one the ARN names.
 */
export function parseServiceRef(cluster: string | undefined, nameOrArn: string, ctx: ArnContext = defaultContext): ServiceRef {
  const clusterName = resolveClusterName(cluster, ctx);
  if (typeof nameOrArn !== 'string' || nameOrArn === '') {
    throw invalidParameter(`Service is required: give a service name or a service ARN.`);
  }
  let owner = clusterName;
  let name: string;
  if (isArn(nameOrArn)) {
    const path = ecsResource(nameOrArn, 'service', 'Service', ctx).split('/');
    if (path.length === 1) name = path[0];
    else if (path.length === 2) {
      owner = validateClusterName(path[0]);
      name = path[1];
    } else throw invalidParameter(`Service ARN '${nameOrArn}' is not valid. Expected ${prefix(ctx)}service/<cluster>/<name>.`);
  } else {
    name = nameOrArn;
  }
  validateServiceName(name);
  return { cluster: owner, service: name, arn: serviceArn(owner, name, ctx) };
}

export interface ContainerRef {
  cluster: string;
  taskId: string;
  containerId: string;
}

/** Parses `container/<cluster>/<task id>/<uuid>`. InvalidParameterException otherwise. */
export function parseContainerArn(arn: string, ctx: ArnContext = defaultContext): ContainerRef {
  const path = ecsResource(arn, 'container', 'Container', ctx).split('/');
  if (path.length !== 3 || !TASK_ID_RE.test(path[1]) || !path[2]) {
    throw invalidParameter(`Container ARN '${arn}' is not valid. Expected ${prefix(ctx)}container/<cluster>/<task id>/<container id>.`);
  }
  return { cluster: validateClusterName(path[0]), taskId: path[1], containerId: path[2] };
}
