/**
 * RunTask request validation, the capacity provider strategy and network
 * configuration checks RunTask shares with services, and the request hash used
 * for clientToken idempotency. Overrides and the effective per-container
 * configuration after them are in overrides.ts, re-exported here.
 *
 * The handler resolves the cluster and task definition first
 * (`resolveClusterName`, `parseTaskDefinitionRef` + store lookup), then calls
 * `validateRunTaskInput(input, taskDef)`. Errors are InvalidParameterException,
 * as RunTask answers them, each message saying what to change.
 */
import { createHash } from 'node:crypto';
import type { CapacityProviderStrategyItem, RunTaskCommandInput, Tag, TaskDefinition } from '@aws-sdk/client-ecs';
import { invalidParameter } from '../api/errors.ts';
import { CAPACITY_PROVIDERS, type CapacityProviderName, type NormalisedAwsVpcConfiguration, type NormalisedStrategyItem } from '../model/capacity.ts';
import { resolveClusterName } from './arns.ts';
import { validateTags } from './tags.ts';
import { validateOverrides, type NormalisedOverrides } from './overrides.ts';
import { checks, isObj, present, type Obj } from './validate.ts';

export { CAPACITY_PROVIDERS, type CapacityProviderName, type NormalisedAwsVpcConfiguration, type NormalisedStrategyItem };
export {
  OVERRIDES_MAX_CHARS,
  effectiveContainerConfig,
  effectiveTaskSize,
  validateOverrides,
  type EffectiveContainer,
  type EffectiveTaskSize,
  type NormalisedContainerOverride,
  type NormalisedOverrides,
} from './overrides.ts';

export const RUN_TASK_MAX_COUNT = 10;
export const CLIENT_TOKEN_MAX = 64;
export const STARTED_BY_MAX = 128;
export const GROUP_MAX = 255;
export const MAX_SUBNETS = 16;
export const MAX_SECURITY_GROUPS = 5;

const bad = invalidParameter;
const { int, strList } = checks(invalidParameter);

// ---------------------------------------------------------------- capacity provider strategy

/**
 * Validates a capacity provider strategy (RunTask, CreateService, UpdateService,
 * PutClusterCapacityProviders): 1..20 items, providers FARGATE / FARGATE_SPOT,
 * each once; base 0..100000 on at most one item; weight 0..1000, not all zero.
 */
export function validateCapacityProviderStrategy(v: unknown, what = 'capacityProviderStrategy'): NormalisedStrategyItem[] {
  if (!Array.isArray(v)) throw bad(`${what} must be a list of {"capacityProvider": ..., "weight": ..., "base": ...}.`);
  if (v.length === 0) throw bad(`${what} must contain at least one capacity provider, e.g. [{"capacityProvider": "FARGATE", "weight": 1}].`);
  if (v.length > 20) throw bad(`${what} can contain at most 20 capacity providers.`);
  const seen = new Set<string>();
  const items = v.map((it: unknown, i): NormalisedStrategyItem => {
    if (!isObj(it)) throw bad(`${what}[${i}] must be an object {"capacityProvider": ..., "weight": ..., "base": ...}.`);
    const cp = it.capacityProvider;
    if (typeof cp !== 'string' || !(CAPACITY_PROVIDERS as readonly string[]).includes(cp)) {
      throw bad(
        `The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster: ${JSON.stringify(cp)}. ` +
          `Skiff clusters have the capacity providers ${CAPACITY_PROVIDERS.join(' and ')}.`,
      );
    }
    if (seen.has(cp)) throw bad(`Capacity provider ${cp} appears more than once in ${what}. Give each provider once.`);
    seen.add(cp);
    const base = present(it.base) ? int(it.base, `${what}[${i}].base`, 0, 100000) : 0;
    const weight = present(it.weight) ? int(it.weight, `${what}[${i}].weight`, 0, 1000) : 0;
    return { capacityProvider: cp as CapacityProviderName, base, weight };
  });
  if (items.filter((x) => x.base > 0).length > 1) {
    throw bad(`Only one capacity provider in a strategy can have a base defined. Set base on one provider and 0 (or nothing) on the others.`);
  }
  if (items.every((x) => x.weight === 0)) {
    throw bad(`At least one capacity provider in the strategy must have a weight greater than 0; a provider with weight 0 is never used.`);
  }
  return items;
}

/**
 * Every provider of a RunTask strategy must be associated with the cluster
 * (CreateCluster / PutClusterCapacityProviders); InvalidParameterException otherwise, as ECS answers.
 */
export function checkStrategyAssociated(strategy: NormalisedStrategyItem[], associated: readonly string[], clusterName: string): void {
  const missing = strategy.map((s) => s.capacityProvider).filter((p) => !associated.includes(p));
  if (missing.length === 0) return;
  throw bad(
    `The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. ` +
      `Cluster '${clusterName}' has ${associated.length ? associated.join(', ') : 'no capacity providers'}; ` +
      `associate ${missing.join(', ')} with PutClusterCapacityProviders, or use launchType FARGATE.`,
  );
}

// ---------------------------------------------------------------- network configuration

/** Validates `networkConfiguration.awsvpcConfiguration` (RunTask, CreateService, UpdateService). */
export function validateNetworkConfiguration(v: unknown): NormalisedAwsVpcConfiguration {
  if (!isObj(v) || !present(v.awsvpcConfiguration)) {
    throw bad(
      `Network Configuration must be provided when networkMode 'awsvpc' is specified. ` +
        `Give networkConfiguration.awsvpcConfiguration with at least one subnet, e.g. {"awsvpcConfiguration": {"subnets": ["subnet-..."]}}.`,
    );
  }
  const a = v.awsvpcConfiguration;
  if (!isObj(a)) throw bad(`networkConfiguration.awsvpcConfiguration must be an object {"subnets": [...], "securityGroups": [...], "assignPublicIp": ...}.`);
  const subnets = present(a.subnets) ? strList(a.subnets, 'awsvpcConfiguration.subnets') : [];
  if (subnets.length === 0) throw bad(`subnets can not be empty. Give at least one subnet id in networkConfiguration.awsvpcConfiguration.subnets.`);
  if (subnets.length > MAX_SUBNETS) throw bad(`subnets can have at most ${MAX_SUBNETS} items; ${subnets.length} given.`);
  const securityGroups = present(a.securityGroups) ? strList(a.securityGroups, 'awsvpcConfiguration.securityGroups') : [];
  if (securityGroups.length > MAX_SECURITY_GROUPS) throw bad(`securityGroups can have at most ${MAX_SECURITY_GROUPS} items; ${securityGroups.length} given.`);
  for (const [name, ids] of [['subnets', subnets], ['securityGroups', securityGroups]] as const) {
    for (const id of ids) if (id.trim() === '' || /\s/.test(id)) throw bad(`awsvpcConfiguration.${name} contains an invalid id ${JSON.stringify(id)}.`);
    const dup = ids.find((id, i) => ids.indexOf(id) !== i);
    if (dup) throw bad(`awsvpcConfiguration.${name} lists '${dup}' more than once.`);
  }
  let assignPublicIp: 'ENABLED' | 'DISABLED' = 'DISABLED';
  if (present(a.assignPublicIp)) {
    if (a.assignPublicIp !== 'ENABLED' && a.assignPublicIp !== 'DISABLED') {
      throw bad(`assignPublicIp must be ENABLED or DISABLED; got ${JSON.stringify(a.assignPublicIp)}.`);
    }
    assignPublicIp = a.assignPublicIp;
  }
  return { subnets, securityGroups, assignPublicIp };
}

// ---------------------------------------------------------------- RunTask

export interface NormalisedRunTask {
  cluster: string;
  taskDefinition: string;
  count: number;
  /** 'FARGATE' when given; undefined when a strategy (or the cluster default) decides. */
  launchType?: 'FARGATE';
  /** Given strategy; undefined means: use the cluster's default strategy. */
  capacityProviderStrategy?: NormalisedStrategyItem[];
  /** Given network configuration; absent only with allowMissingNetworkConfiguration (use the default VPC's subnets). */
  networkConfiguration?: { awsvpcConfiguration: NormalisedAwsVpcConfiguration };
  /** Shorthands for networkConfiguration.awsvpcConfiguration (undefined when it was not given). */
  subnets?: string[];
  securityGroups?: string[];
  assignPublicIp?: 'ENABLED' | 'DISABLED';
  overrides: NormalisedOverrides;
  clientToken?: string;
  startedBy?: string;
  /** Given group, or `family:<family>` as ECS defaults it. */
  group: string;
  tags: Tag[];
  propagateTags: 'TASK_DEFINITION' | 'NONE';
  enableECSManagedTags: boolean;
  enableExecuteCommand: boolean;
  platformVersion: string;
  referenceId?: string;
}

const STARTED_BY_RE = /^[A-Za-z0-9_/-]*$/;

export interface RunTaskValidationOptions {
  /**
   * When true, a missing networkConfiguration is allowed (the caller then uses the
   * default VPC's subnets). Default false: InvalidParameterException "Network
   * Configuration must be provided when networkMode 'awsvpc' is specified", as ECS answers.
   */
  allowMissingNetworkConfiguration?: boolean;
}

/**
 * Validates a RunTask request against the resolved task definition and returns
 * it normalised. InvalidParameterException for every problem.
 */
export function validateRunTaskInput(input: RunTaskCommandInput, taskDef: TaskDefinition, opts: RunTaskValidationOptions = {}): NormalisedRunTask {
  if (!isObj(input)) throw bad('The request must be a JSON object with at least taskDefinition.');
  const cluster = resolveClusterName(input.cluster);
  if (typeof input.taskDefinition !== 'string' || input.taskDefinition === '') {
    throw bad(`taskDefinition is required: give a family, family:revision or a task definition ARN.`);
  }

  const count = present(input.count) ? int(input.count, 'count', 1, RUN_TASK_MAX_COUNT) : 1;

  let launchType: 'FARGATE' | undefined;
  if (present(input.launchType)) {
    if (input.launchType !== 'FARGATE') {
      const hint = (input.launchType as string) === 'FARGATE_SPOT' ? ' For Spot, use capacityProviderStrategy [{"capacityProvider": "FARGATE_SPOT", "weight": 1}] instead of launchType.' : '';
      throw bad(`Skiff runs tasks on Fargate only: launchType ${JSON.stringify(input.launchType)} is not supported. Use launchType FARGATE or a capacity provider strategy.${hint}`);
    }
    launchType = 'FARGATE';
  }
  let capacityProviderStrategy: NormalisedStrategyItem[] | undefined;
  if (present(input.capacityProviderStrategy) && (input.capacityProviderStrategy as unknown[]).length !== 0) {
    if (launchType) throw bad(`Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.`);
    capacityProviderStrategy = validateCapacityProviderStrategy(input.capacityProviderStrategy as CapacityProviderStrategyItem[]);
  }

  const compat = taskDef.compatibilities ?? [];
  if (!compat.includes('FARGATE')) throw bad(`Task definition does not support launch_type FARGATE. Register a revision that requires FARGATE.`);

  let networkConfiguration: NormalisedRunTask['networkConfiguration'];
  if (present(input.networkConfiguration) || !opts.allowMissingNetworkConfiguration) {
    networkConfiguration = { awsvpcConfiguration: validateNetworkConfiguration(input.networkConfiguration) };
  }

  const overrides = validateOverrides(input.overrides, taskDef);

  let clientToken: string | undefined;
  if (present(input.clientToken)) {
    if (typeof input.clientToken !== 'string' || input.clientToken.length < 1 || input.clientToken.length > CLIENT_TOKEN_MAX) {
      throw bad(`clientToken must be 1 to ${CLIENT_TOKEN_MAX} characters; got ${typeof input.clientToken === 'string' ? input.clientToken.length : JSON.stringify(input.clientToken)}.`);
    }
    clientToken = input.clientToken;
  }
  let startedBy: string | undefined;
  if (present(input.startedBy)) {
    if (typeof input.startedBy !== 'string' || input.startedBy.length > STARTED_BY_MAX || !STARTED_BY_RE.test(input.startedBy)) {
      throw bad(`startedBy must be up to ${STARTED_BY_MAX} letters, numbers, hyphens, forward slashes and underscores; got ${JSON.stringify(input.startedBy)}.`);
    }
    startedBy = input.startedBy;
  }
  let group = `family:${taskDef.family}`;
  if (present(input.group)) {
    if (typeof input.group !== 'string' || input.group.length < 1 || input.group.length > GROUP_MAX) {
      throw bad(`group must be 1 to ${GROUP_MAX} characters; got ${JSON.stringify(input.group)}.`);
    }
    group = input.group;
  }
  const tags = validateTags(input.tags);

  let propagateTags: 'TASK_DEFINITION' | 'NONE' = 'NONE';
  if (present(input.propagateTags)) {
    if (input.propagateTags === 'SERVICE') {
      throw bad(`propagateTags SERVICE is not valid for RunTask: a standalone task has no service. Use TASK_DEFINITION or NONE.`);
    }
    if (input.propagateTags !== 'TASK_DEFINITION' && input.propagateTags !== 'NONE') {
      throw bad(`propagateTags must be TASK_DEFINITION or NONE; got ${JSON.stringify(input.propagateTags)}.`);
    }
    propagateTags = input.propagateTags;
  }

  if (present(input.placementConstraints) && (input.placementConstraints as unknown[]).length) {
    throw bad(`Task placement constraints are not supported for tasks using the Fargate launch type. Remove placementConstraints.`);
  }
  if (present(input.placementStrategy) && (input.placementStrategy as unknown[]).length) {
    throw bad(`Task placement strategies are not supported for tasks using the Fargate launch type. Remove placementStrategy.`);
  }
  if (present(input.volumeConfigurations) && (input.volumeConfigurations as unknown[]).length) {
    throw bad(`volumeConfigurations (Amazon EBS volumes) are not supported by Skiff. Remove them.`);
  }
  let platformVersion = 'LATEST';
  if (present(input.platformVersion)) {
    if (typeof input.platformVersion !== 'string' || !/^(LATEST|\d+\.\d+\.\d+)$/.test(input.platformVersion)) {
      throw bad(`platformVersion must be LATEST or a version like 1.4.0; got ${JSON.stringify(input.platformVersion)}.`);
    }
    platformVersion = input.platformVersion;
  }
  let referenceId: string | undefined;
  if (present(input.referenceId)) {
    if (typeof input.referenceId !== 'string' || input.referenceId.length > 1024) throw bad(`referenceId must be a string of at most 1024 characters.`);
    referenceId = input.referenceId;
  }
  const boolOpt = (k: 'enableECSManagedTags' | 'enableExecuteCommand'): boolean => {
    const x = input[k];
    if (!present(x)) return false;
    if (typeof x !== 'boolean') throw bad(`${k} must be true or false.`);
    return x;
  };

  const out: NormalisedRunTask = {
    cluster,
    taskDefinition: input.taskDefinition,
    count,
    launchType,
    capacityProviderStrategy,
    networkConfiguration,
    subnets: networkConfiguration?.awsvpcConfiguration.subnets,
    securityGroups: networkConfiguration?.awsvpcConfiguration.securityGroups,
    assignPublicIp: networkConfiguration?.awsvpcConfiguration.assignPublicIp,
    overrides,
    clientToken,
    startedBy,
    group,
    tags,
    propagateTags,
    enableECSManagedTags: boolOpt('enableECSManagedTags'),
    enableExecuteCommand: boolOpt('enableExecuteCommand'),
    platformVersion,
    referenceId,
  };
  for (const k of Object.keys(out) as (keyof NormalisedRunTask)[]) if (out[k] === undefined) delete out[k];
  return out;
}

// ---------------------------------------------------------------- idempotency

/** Deepest nesting canonicalJson accepts (a request's; the front door refuses deeper bodies first). */
export const CANONICAL_JSON_MAX_DEPTH = 100;

/**
 * JSON with object keys sorted at every level and undefined values dropped.
 * Deeper than CANONICAL_JSON_MAX_DEPTH: InvalidParameterException, never a stack overflow.
 */
export function canonicalJson(v: unknown, depth = 0): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (depth >= CANONICAL_JSON_MAX_DEPTH) throw bad(`The request nests objects or arrays more than ${CANONICAL_JSON_MAX_DEPTH} levels deep. Send a flatter request.`);
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x, depth + 1))).join(',')}]`;
  const o = v as Obj;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k], depth + 1)}`).join(',')}}`;
}

/**
 * A stable hash of the RunTask parameters that decide what gets started, for
 * clientToken idempotency: the request minus clientToken, with the cluster
 * resolved to its name and count defaulted to 1, as canonical JSON, SHA-256 hex.
 * Same token + same hash → return the original tasks; different hash → ConflictException.
 */
export function requestHash(input: RunTaskCommandInput): string {
  const { clientToken: _ignored, ...rest } = input as RunTaskCommandInput & Obj;
  let cluster: string | undefined;
  try {
    cluster = resolveClusterName(input.cluster);
  } catch {
    cluster = String(input.cluster);
  }
  const canonical = canonicalJson({ ...rest, cluster, count: input.count ?? 1 });
  return createHash('sha256').update(canonical).digest('hex');
}
