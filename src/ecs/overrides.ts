/**
 * RunTask `overrides` (task size, roles, per-container command, environment,
 * cpu/memory) validated against the task definition they apply to, and the
 * configuration a task runs with once they are applied (`effectiveTaskSize`,
 * `effectiveContainerConfig`, read by placement and the agent).
 *
 * Errors are InvalidParameterException, as RunTask answers them. run-task.ts
 * re-exports everything here; import from there.
 */
import type { ContainerDefinition, ContainerOverride, KeyValuePair, TaskDefinition, TaskOverride } from '@aws-sdk/client-ecs';
import { ApiError, ErrorCode, invalidParameter } from '../api/errors.ts';
import { validateTaskSize, type TaskSize } from './sizes.ts';
import { EPHEMERAL_DEFAULT_GIB, EPHEMERAL_MAX_GIB, EPHEMERAL_MIN_GIB, MIN_CONTAINER_MEMORY_MIB, validateEnvironment } from './task-definition.ts';
import { checks, isObj, present } from './validate.ts';

/** ECS limit on the JSON size of `overrides`. */
export const OVERRIDES_MAX_CHARS = 8192;

const bad = invalidParameter;
const { int, strList } = checks(invalidParameter);

/** Runs a check that throws ClientException and re-throws it as InvalidParameterException (RunTask's error type). */
function asInvalidParameter<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ApiError && e.code === ErrorCode.ClientException) throw bad(e.message);
    throw e;
  }
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

