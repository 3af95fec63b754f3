/**
 * RunTask request validation, effective per-container configuration after
 * overrides, and the request hash used for clientToken idempotency.
 *
 * The handler resolves the cluster and task definition first
 * (`resolveClusterName`, `parseTaskDefinitionRef` + store lookup), then calls
 * `validateRunTaskInput(input, taskDef)`. Errors are InvalidParameterException,
 * as RunTask answers them, each message saying what to change.
 */
import { createHash } from 'node:crypto';
import type {
  CapacityProviderStrategyItem,
  ContainerDefinition,
  ContainerOverride,
  KeyValuePair,
  RunTaskCommandInput,
  Tag,
  TaskDefinition,
  TaskOverride,
} from '@aws-sdk/client-ecs';
import { ApiError, ErrorCode, invalidParameter } from '../api/errors.ts';
import { resolveClusterName } from './arns.ts';
import { validateTaskSize, type TaskSize } from './sizes.ts';
import { validateTags } from './tags.ts';
import { EPHEMERAL_DEFAULT_GIB, EPHEMERAL_MAX_GIB, EPHEMERAL_MIN_GIB, MIN_CONTAINER_MEMORY_MIB, validateEnvironment } from './task-definition.ts';

export const RUN_TASK_MAX_COUNT = 10;
export const CLIENT_TOKEN_MAX = 64;
export const STARTED_BY_MAX = 128;
export const GROUP_MAX = 255;
export const MAX_SUBNETS = 16;
export const MAX_SECURITY_GROUPS = 5;
/** ECS limit on the JSON size of `overrides`. */
export const OVERRIDES_MAX_CHARS = 8192;
import { CAPACITY_PROVIDERS, type CapacityProviderName, type NormalisedAwsVpcConfiguration, type NormalisedStrategyItem } from '../model/capacity.ts';
export { CAPACITY_PROVIDERS, type CapacityProviderName, type NormalisedAwsVpcConfiguration, type NormalisedStrategyItem };

const bad = invalidParameter;
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const present = (v: unknown) => v !== undefined && v !== null;

function int(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw bad(`${what} must be an integer from ${min} to ${max}; got ${JSON.stringify(v)}.`);
  }
  return v;
}

function strList(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw bad(`${what} must be a list of strings.`);
  return v as string[];
}

/** Runs a check that throws ClientException and re-throws it as InvalidParameterException (RunTask's error type). */
function asInvalidParameter<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ApiError && e.code === ErrorCode.ClientException) throw bad(e.message);
    throw e;
  }
}

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

// ---------------------------------------------------------------- overrides

export interface NormalisedContainerOverride {
  name: string;
  command?: string[];
  environment?: { name: string; value?: string }[];
  environmentFiles?: { value: string; type: 's3' }[];
  cpu?: number;
  memory?: number;
  memoryReservation?: number;
}

export interface NormalisedOverrides {
  containerOverrides: NormalisedContainerOverride[];
  cpu?: string;
  memory?: string;
  ephemeralStorage?: { sizeInGiB: number };
  executionRoleArn?: string;
  taskRoleArn?: string;
}

/** Validates RunTask `overrides` against the task definition it applies to. */
export function validateOverrides(v: unknown, taskDef: TaskDefinition): NormalisedOverrides {
  const out: NormalisedOverrides = { containerOverrides: [] };
  if (!present(v)) return out;
  if (!isObj(v)) throw bad(`overrides must be an object {"containerOverrides": [...], "cpu": ..., "memory": ...}.`);
  const json = JSON.stringify(v);
  if (json.length > OVERRIDES_MAX_CHARS) {
    throw bad(`Container Overrides length must be at most ${OVERRIDES_MAX_CHARS}; these overrides are ${json.length} characters of JSON. Move large values into the task definition or an environment file.`);
  }
  const defs = new Map((taskDef.containerDefinitions ?? []).map((c) => [c.name!, c]));
  if (present(v.inferenceAcceleratorOverrides) && (v.inferenceAcceleratorOverrides as unknown[]).length) {
    throw bad(`inferenceAcceleratorOverrides are not supported on Fargate. Remove them.`);
  }

  // Task-level size: the override pair must be a valid Fargate size (missing half from the definition).
  if (present(v.cpu) || present(v.memory)) {
    const cpuIn = present(v.cpu) ? (v.cpu as string) : taskDef.cpu;
    const memIn = present(v.memory) ? (v.memory as string) : taskDef.memory;
    if (!present(cpuIn) || !present(memIn)) throw bad(`The task definition has no task-level cpu/memory; give both overrides.cpu and overrides.memory.`);
    const size = asInvalidParameter(() => validateTaskSize(cpuIn!, memIn!));
    if (present(v.cpu)) out.cpu = String(size.cpu);
    if (present(v.memory)) out.memory = String(size.memory);
  }
  if (present(v.ephemeralStorage)) {
    const es = v.ephemeralStorage;
    if (!isObj(es)) throw bad(`overrides.ephemeralStorage must be an object {"sizeInGiB": ${EPHEMERAL_MIN_GIB}..${EPHEMERAL_MAX_GIB}}.`);
    out.ephemeralStorage = { sizeInGiB: int(es.sizeInGiB, 'overrides.ephemeralStorage.sizeInGiB', EPHEMERAL_MIN_GIB, EPHEMERAL_MAX_GIB) };
  }
  for (const k of ['executionRoleArn', 'taskRoleArn'] as const) {
    if (present(v[k])) {
      if (typeof v[k] !== 'string' || v[k] === '' || /\s/.test(v[k] as string)) throw bad(`overrides.${k} must be an IAM role ARN.`);
      out[k] = v[k] as string;
    }
  }

  const seen = new Set<string>();
  const overrides = present(v.containerOverrides) ? v.containerOverrides : [];
  if (!Array.isArray(overrides)) throw bad(`overrides.containerOverrides must be a list.`);
  for (const [i, co] of overrides.entries()) {
    if (!isObj(co)) throw bad(`overrides.containerOverrides[${i}] must be an object {"name": ..., ...}.`);
    const nonEmpty = Object.entries(co).some(([k, x]) => k !== 'name' && present(x));
    if (!present(co.name)) {
      if (nonEmpty) throw bad(`overrides.containerOverrides[${i}] has no name. A container override that changes anything must name its container.`);
      continue;
    }
    if (typeof co.name !== 'string' || !defs.has(co.name)) {
      throw bad(`Override for container named ${co.name} is not a container in the TaskDefinition. Containers are: ${[...defs.keys()].join(', ')}.`);
    }
    const name = co.name;
    if (seen.has(name)) throw bad(`overrides.containerOverrides names container '${name}' more than once. Merge them into one override.`);
    seen.add(name);
    const W = `the override for container '${name}'`;
    if (present(co.resourceRequirements) && (co.resourceRequirements as unknown[]).length) {
      throw bad(`resourceRequirements (GPU) are not supported on Fargate; remove them from ${W}.`);
    }
    const o: NormalisedContainerOverride = { name };
    if (present(co.command)) o.command = strList(co.command, `command in ${W}`);
    if (present(co.environment)) o.environment = asInvalidParameter(() => validateEnvironment(co.environment, `environment in ${W}`));
    if (present(co.environmentFiles)) {
      if (!Array.isArray(co.environmentFiles)) throw bad(`environmentFiles in ${W} must be a list.`);
      o.environmentFiles = co.environmentFiles.map((f: unknown, j) => {
        if (!isObj(f) || typeof f.value !== 'string' || f.type !== 's3') throw bad(`environmentFiles[${j}] in ${W} must be {"value": "<S3 object ARN>", "type": "s3"}.`);
        return { value: f.value, type: 's3' as const };
      });
    }
    if (present(co.cpu)) o.cpu = int(co.cpu, `cpu in ${W} (CPU units)`, 0, 16384);
    if (present(co.memory)) o.memory = int(co.memory, `memory in ${W} (MiB)`, MIN_CONTAINER_MEMORY_MIB, 122880);
    if (present(co.memoryReservation)) o.memoryReservation = int(co.memoryReservation, `memoryReservation in ${W} (MiB)`, 1, 122880);
    out.containerOverrides.push(o);
  }

  // Resources after overrides must still fit the (possibly overridden) task size.
  const size = effectiveTaskSize(taskDef, out);
  let cpuSum = 0;
  let memSum = 0;
  for (const c of effectiveContainerConfig(taskDef, out)) {
    if (c.memory !== undefined && c.memoryReservation !== undefined && c.memoryReservation > c.memory) {
      throw bad(`Container '${c.name}': memoryReservation (${c.memoryReservation} MiB) must be less than or equal to memory (${c.memory} MiB) after overrides.`);
    }
    if (c.cpu > size.cpu) throw bad(`The 'cpu' setting for container '${c.name}' (${c.cpu}) is greater than for the task (${size.cpu}) after overrides.`);
    if ((c.memory ?? 0) > size.memory) throw bad(`The 'memory' setting for container '${c.name}' (${c.memory} MiB) is greater than for the task (${size.memory} MiB) after overrides.`);
    if ((c.memoryReservation ?? 0) > size.memory) {
      throw bad(`The 'memoryReservation' setting for container '${c.name}' (${c.memoryReservation} MiB) is greater than for the task (${size.memory} MiB) after overrides.`);
    }
    cpuSum += c.cpu;
    memSum += c.memoryReservation ?? c.memory ?? 0;
  }
  if (cpuSum > size.cpu) throw bad(`After overrides the containers' cpu settings add up to ${cpuSum}, more than the task cpu (${size.cpu}). Override the task cpu too or lower the container cpu.`);
  if (memSum > size.memory) throw bad(`After overrides the containers reserve ${memSum} MiB, more than the task memory (${size.memory} MiB). Override the task memory too or lower the container memory.`);
  return out;
}

// ---------------------------------------------------------------- effective configuration

export interface EffectiveTaskSize extends TaskSize {
  ephemeralStorageGiB: number;
}

type OverridesLike = Pick<TaskOverride, 'cpu' | 'memory' | 'ephemeralStorage'> & { containerOverrides?: ContainerOverride[] | NormalisedContainerOverride[] };

/** Task cpu (units), memory (MiB) and ephemeral storage (GiB) after overrides. */
export function effectiveTaskSize(taskDef: Pick<TaskDefinition, 'cpu' | 'memory' | 'ephemeralStorage'>, overrides?: OverridesLike): EffectiveTaskSize {
  const cpuIn = overrides?.cpu ?? taskDef.cpu;
  const memIn = overrides?.memory ?? taskDef.memory;
  if (!present(cpuIn) || !present(memIn)) throw new Error('effectiveTaskSize: task definition has no task-level cpu/memory');
  const size = asInvalidParameter(() => validateTaskSize(cpuIn!, memIn!));
  const ephemeralStorageGiB = overrides?.ephemeralStorage?.sizeInGiB ?? taskDef.ephemeralStorage?.sizeInGiB ?? EPHEMERAL_DEFAULT_GIB;
  return { ...size, ephemeralStorageGiB };
}

export interface EffectiveContainer {
  name: string;
  image: string;
  essential: boolean;
  entryPoint?: string[];
  command?: string[];
  /** Definition environment with override variables merged over it by name (override wins; order: definition first). */
  environment: { name: string; value: string }[];
  environmentFiles: { value: string; type: string }[];
  cpu: number;
  memory?: number;
  memoryReservation?: number;
  workingDirectory?: string;
  user?: string;
  /** Seconds between the stop signal and SIGKILL; undefined means the default (30). */
  stopTimeout?: number;
  dependsOn: { containerName: string; condition: 'START' | 'COMPLETE' | 'SUCCESS' | 'HEALTHY' }[];
  readonlyRootFilesystem?: boolean;
  /** The definition itself, for everything overrides cannot change. */
  definition: ContainerDefinition;
}

function mergeEnv(base: KeyValuePair[] | undefined, over: { name?: string; value?: string }[] | undefined): { name: string; value: string }[] {
  const merged = new Map<string, string>();
  for (const e of base ?? []) if (e.name) merged.set(e.name, e.value ?? '');
  for (const e of over ?? []) if (e.name) merged.set(e.name, e.value ?? '');
  return [...merged].map(([name, value]) => ({ name, value }));
}

/**
 * Per container of the definition (in definition order), the configuration a
 * task runs with after overrides: command replaced, environment merged by name,
 * environmentFiles appended, cpu/memory/memoryReservation replaced.
 */
export function effectiveContainerConfig(taskDef: Pick<TaskDefinition, 'containerDefinitions'>, overrides?: OverridesLike): EffectiveContainer[] {
  const byName = new Map<string, ContainerOverride | NormalisedContainerOverride>();
  for (const o of overrides?.containerOverrides ?? []) if (o.name) byName.set(o.name, o);
  return (taskDef.containerDefinitions ?? []).map((c) => {
    const o = byName.get(c.name!);
    return {
      name: c.name!,
      image: c.image!,
      essential: c.essential ?? true,
      entryPoint: c.entryPoint,
      command: o?.command ?? c.command,
      environment: mergeEnv(c.environment, o?.environment),
      environmentFiles: [...(c.environmentFiles ?? []), ...(o?.environmentFiles ?? [])].map((f) => ({ value: f.value!, type: f.type! })),
      cpu: o?.cpu ?? c.cpu ?? 0,
      memory: o?.memory ?? c.memory,
      memoryReservation: o?.memoryReservation ?? c.memoryReservation,
      workingDirectory: c.workingDirectory,
      user: c.user,
      stopTimeout: c.stopTimeout,
      dependsOn: (c.dependsOn ?? []).map((d) => ({ containerName: d.containerName!, condition: d.condition! })),
      readonlyRootFilesystem: c.readonlyRootFilesystem,
      definition: c,
    };
  });
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

/** JSON with object keys sorted at every level and undefined values dropped. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  const o = v as Obj;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
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
