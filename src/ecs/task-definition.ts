/**
 * RegisterTaskDefinition validation and normalisation for Fargate.
 *
 * `normaliseTaskDefinition` checks a request the way ECS checks a task
 * definition that requires FARGATE, and returns the definition in the shape
 * DescribeTaskDefinition returns it: defaults filled (essential, cpu 0, hostPort,
 * protocol, empty lists, health check timings), cpu/memory as unit strings,
 * `compatibilities` and `requiresAttributes` computed. The caller adds
 * taskDefinitionArn, revision, status, registeredAt and registeredBy.
 *
 * This module is the public entry; the checks live in validate.ts (primitives),
 * container-definition.ts (one container) and task-level.ts (task-level fields
 * and rules across containers).
 *
 * Errors are ClientException, as RegisterTaskDefinition answers them (tags:
 * InvalidParameterException), each message saying what to change.
 */
import type { Attribute, Compatibility, ContainerDefinition, RegisterTaskDefinitionCommandInput, TaskDefinition } from '@aws-sdk/client-ecs';
import { clientError } from '../api/errors.ts';
import { validateFamily } from './arns.ts';
import { validateTaskSize } from './sizes.ts';
import { validateTags } from './tags.ts';
import { normaliseContainer } from './container-definition.ts';
import {
  checkNamespaceModes,
  checkPorts,
  checkReferences,
  checkResources,
  checkSecretsHaveExecutionRole,
  computeRequiresAttributes,
  containersByName,
  normaliseEphemeralStorage,
  normalisePlacementConstraints,
  normaliseProxyConfiguration,
  normaliseRequiresCompatibilities,
  normaliseRuntimePlatform,
  normaliseVolumes,
  roleArn,
} from './task-level.ts';
import { checks, compact, isObj, present, type Obj } from './validate.ts';

export { DEPENDENCY_CONDITIONS, HEALTH_CHECK, MIN_CONTAINER_MEMORY_MIB, validateEnvironment } from './container-definition.ts';
export { EPHEMERAL_MAX_GIB, EPHEMERAL_MIN_GIB, computeRequiresAttributes } from './task-level.ts';

export const MAX_CONTAINERS = 10;
/** Included ephemeral storage when `ephemeralStorage` is absent. */
export const EPHEMERAL_DEFAULT_GIB = 20;
export const STOP_TIMEOUT_DEFAULT = 30;
/**
 * ECS's quota "Task definition size": 64 KiB, measured as the UTF-8 bytes of the
 * request's task definition JSON (everything but `tags`, which are not part of
 * the definition), serialised without whitespace.
 */
export const TASK_DEFINITION_MAX_BYTES = 65536;

/** What normaliseTaskDefinition returns: a TaskDefinition minus what the store assigns. */
export type NormalisedTaskDefinition = Omit<
  TaskDefinition,
  'taskDefinitionArn' | 'revision' | 'status' | 'registeredAt' | 'registeredBy' | 'deregisteredAt' | 'deleteRequestedAt'
> & {
  family: string;
  containerDefinitions: ContainerDefinition[];
  networkMode: 'awsvpc';
  cpu: string;
  memory: string;
  compatibilities: Compatibility[];
  requiresAttributes: Attribute[];
};

const err = clientError;
const { bool, list } = checks(clientError);

/**
 * Refuses a task definition over 64 KiB with ECS's ClientException wording
 * ("Actual length: '66420'. Max allowed length is '65536' bytes.").
 */
export function checkTaskDefinitionSize(input: Record<string, unknown>): void {
  const { tags: _tags, ...definition } = input;
  const bytes = Buffer.byteLength(JSON.stringify(definition), 'utf8');
  if (bytes > TASK_DEFINITION_MAX_BYTES) {
    throw err(
      `Actual length: '${bytes}'. Max allowed length is '${TASK_DEFINITION_MAX_BYTES}' bytes. ` +
        `A task definition can be at most 64 KiB of JSON: move large values (environment, command scripts) into environment files, secrets or the image.`,
    );
  }
}

/**
 * Validates a RegisterTaskDefinition request for Fargate and returns the task
 * definition as DescribeTaskDefinition shows it (without arn, revision, status,
 * registeredAt, registeredBy). Also validates `tags` (returned separately by
 * `normaliseRegisterTaskDefinition`).
 */
export function normaliseTaskDefinition(input: RegisterTaskDefinitionCommandInput): NormalisedTaskDefinition {
  return normaliseRegisterTaskDefinition(input).taskDefinition;
}

/** Like normaliseTaskDefinition, and also returns the validated tags of the request. */
export function normaliseRegisterTaskDefinition(input: RegisterTaskDefinitionCommandInput): {
  taskDefinition: NormalisedTaskDefinition;
  tags: { key: string; value: string }[];
} {
  if (!isObj(input)) throw err('The request must be a JSON object with at least family and containerDefinitions.');
  checkTaskDefinitionSize(input);
  const family = validateFamily(input.family);
  const requiresCompatibilities = normaliseRequiresCompatibilities(input.requiresCompatibilities);

  if (input.networkMode !== 'awsvpc') {
    const given = present(input.networkMode) ? `networkMode ${JSON.stringify(input.networkMode)}` : 'no networkMode (which means "bridge")';
    throw err(`Fargate only supports network mode 'awsvpc'. The request has ${given}: set "networkMode": "awsvpc".`);
  }

  if (!present(input.cpu) || input.cpu === '') {
    throw err(`Fargate requires that 'cpu' be defined at the task level. Set task "cpu", e.g. "256" or "1 vCPU", with a matching "memory".`);
  }
  if (!present(input.memory) || input.memory === '') {
    throw err(`Fargate requires that 'memory' be defined at the task level. Set task "memory", e.g. "512" or "1GB", valid for cpu ${input.cpu}.`);
  }
  const size = validateTaskSize(input.cpu as string | number, input.memory as string | number);

  const runtimePlatform = present(input.runtimePlatform) ? normaliseRuntimePlatform(input.runtimePlatform) : undefined;
  const ephemeralStorage = present(input.ephemeralStorage) ? normaliseEphemeralStorage(input.ephemeralStorage) : undefined;
  const pidMode = checkNamespaceModes(input);
  const placementConstraints = normalisePlacementConstraints(input.placementConstraints);
  const volumes = present(input.volumes) ? normaliseVolumes(input.volumes) : [];
  const volumeNames = new Set(volumes.map((v) => v.name as string));

  // ---- containers, then the rules across them
  if (!present(input.containerDefinitions)) throw err(`containerDefinitions is required: give between 1 and ${MAX_CONTAINERS} container definitions.`);
  const rawContainers = list(input.containerDefinitions, 'containerDefinitions');
  if (rawContainers.length === 0) throw err(`Container list cannot be empty. Give at least one container definition.`);
  if (rawContainers.length > MAX_CONTAINERS) {
    throw err(`Too many containers: ${rawContainers.length} given, a task definition can have at most ${MAX_CONTAINERS}. Split the task.`);
  }
  const containers = rawContainers.map((c, i) => normaliseContainer(c, i, volumeNames));
  const byName = containersByName(containers);
  checkResources(containers, size);
  checkPorts(containers);
  checkReferences(containers, byName);

  const proxyConfiguration = present(input.proxyConfiguration) ? normaliseProxyConfiguration(input.proxyConfiguration, byName) : undefined;
  const taskRoleArn = present(input.taskRoleArn) && input.taskRoleArn !== '' ? roleArn(input.taskRoleArn, 'taskRoleArn') : undefined;
  const executionRoleArn = present(input.executionRoleArn) && input.executionRoleArn !== '' ? roleArn(input.executionRoleArn, 'executionRoleArn') : undefined;
  checkSecretsHaveExecutionRole(containers, executionRoleArn);
  const enableFaultInjection = present(input.enableFaultInjection) ? bool(input.enableFaultInjection, 'enableFaultInjection') : false;
  const tags = validateTags(input.tags) as { key: string; value: string }[];

  const requiresAttributes = computeRequiresAttributes({
    containerDefinitions: containers,
    taskRoleArn,
    executionRoleArn,
    runtimePlatform: runtimePlatform as { cpuArchitecture?: string } | undefined,
    volumes,
  });

  const taskDefinition = compact({
    containerDefinitions: containers,
    family,
    taskRoleArn,
    executionRoleArn,
    networkMode: 'awsvpc' as const,
    volumes,
    requiresAttributes,
    placementConstraints,
    compatibilities: ['EC2', 'FARGATE'] as Compatibility[],
    runtimePlatform,
    requiresCompatibilities,
    cpu: String(size.cpu),
    memory: String(size.memory),
    pidMode,
    proxyConfiguration,
    ephemeralStorage,
    enableFaultInjection,
  } as Obj) as unknown as NormalisedTaskDefinition;
  return { taskDefinition, tags };
}

/** The stop timeout (seconds) of a normalised container definition. */
export function containerStopTimeout(c: ContainerDefinition): number {
  return c.stopTimeout ?? STOP_TIMEOUT_DEFAULT;
}

/** Ephemeral storage of a task definition in GiB (20 when not set). */
export function ephemeralStorageGiB(def: Pick<TaskDefinition, 'ephemeralStorage'>): number {
  return def.ephemeralStorage?.sizeInGiB ?? EPHEMERAL_DEFAULT_GIB;
}

/**
 * Containers in an order that satisfies dependsOn (dependencies first; ties in
 * definition order). Assumes a normalised (acyclic) definition.
 */
export function containerStartOrder(def: Pick<TaskDefinition, 'containerDefinitions'>): string[] {
  const cs = def.containerDefinitions ?? [];
  const done = new Set<string>();
  const order: string[] = [];
  while (order.length < cs.length) {
    const before = order.length;
    for (const c of cs) {
      if (done.has(c.name!)) continue;
      if ((c.dependsOn ?? []).every((d) => done.has(d.containerName!))) {
        done.add(c.name!);
        order.push(c.name!);
      }
    }
    if (order.length === before) throw new Error('containerStartOrder: dependency cycle (definition was not normalised)');
  }
  return order;
}
