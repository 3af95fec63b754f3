/**
 * The task-level parts of a RegisterTaskDefinition request for Fargate, and
 * the rules that span containers: volumes, compatibilities, runtime platform,
 * ephemeral storage, roles, placement constraints, proxy configuration; unique
 * container names and ports, dependsOn/volumesFrom targets and cycles,
 * container resources against the task size; `requiresAttributes`.
 *
 * Each function checks one part and returns it as DescribeTaskDefinition shows
 * it (or throws ClientException saying what to change); task-definition.ts
 * calls them in ECS's order.
 */
import type { Attribute, Compatibility, ContainerDefinition } from '@aws-sdk/client-ecs';
import { clientError } from '../api/errors.ts';
import { isValidName } from './arns.ts';
import type { TaskSize } from './sizes.ts';
import { validateEnvironment } from './container-definition.ts';
import { checks, compact, isObj, present, type Obj } from './validate.ts';
import { normaliseEfsVolume } from './efs-volume.ts';

export const EPHEMERAL_MIN_GIB = 21;
export const EPHEMERAL_MAX_GIB = 200;

const err = clientError;
const { int, str, list, oneOf } = checks(clientError);

export function normaliseVolumes(v: unknown): Obj[] {
  const seen = new Set<string>();
  return list(v, 'volumes').map((vol, i) => {
    if (!isObj(vol)) throw err(`volumes[${i}] must be an object {"name": ...}.`);
    if (!isValidName(vol.name)) {
      throw err(`volume.name contains invalid characters or is empty: ${JSON.stringify(vol.name)}. Up to 255 letters, numbers, hyphens, and underscores are allowed.`);
    }
    const name = vol.name;
    if (seen.has(name)) throw err(`Volume name '${name}' is defined more than once. Volume names must be unique within a task definition.`);
    seen.add(name);
    if (isObj(vol.host) && present(vol.host.sourcePath)) {
      throw err(`Volume '${name}': host.sourcePath is not supported on Fargate. Remove "host" to get a task-scoped bind mount volume.`);
    }
    if (present(vol.dockerVolumeConfiguration)) throw err(`Volume '${name}': dockerVolumeConfiguration is not supported on Fargate. Remove it to get a task-scoped bind mount volume.`);
    if (present(vol.fsxWindowsFileServerVolumeConfiguration)) throw err(`Volume '${name}': FSx for Windows File Server volumes are not supported on Fargate Linux.`);
    if (present(vol.s3filesVolumeConfiguration)) throw err(`Volume '${name}': s3filesVolumeConfiguration is not supported by Skiff. Use EFS or a task-scoped bind mount volume (only "name").`);
    if (vol.configuredAtLaunch === true) throw err(`Volume '${name}': volumes configured at launch (Amazon EBS) are not supported by Skiff.`);
    if (present(vol.efsVolumeConfiguration)) return { name, efsVolumeConfiguration: normaliseEfsVolume(vol.efsVolumeConfiguration, name) };
    return { name, host: {} };
  });
}

const COMPATIBILITIES = ['EC2', 'FARGATE', 'EXTERNAL', 'MANAGED_INSTANCES'] as const;

export function normaliseRequiresCompatibilities(v: unknown): Compatibility[] | undefined {
  if (!present(v)) return undefined;
  const items = list(v, 'requiresCompatibilities').map((x) => oneOf(x, COMPATIBILITIES, 'requiresCompatibilities item'));
  const unique = [...new Set(items)];
  if (!unique.includes('FARGATE')) {
    throw err(
      `Skiff runs tasks on FARGATE only, and requiresCompatibilities is ${JSON.stringify(unique)}. ` +
        `Add "FARGATE" to requiresCompatibilities (with networkMode "awsvpc" and task-level cpu and memory).`,
    );
  }
  return unique as Compatibility[];
}

export function roleArn(v: unknown, what: string): string {
  const s = str(v, what, { max: 2048 });
  if (/\s/.test(s)) throw err(`${what} is not valid: '${s}'. Give the IAM role ARN, e.g. arn:aws:iam::123456789012:role/ecsTaskRole.`);
  return s;
}

/** The capability attributes ECS lists in `requiresAttributes` for the features a definition uses. */
export function computeRequiresAttributes(def: {
  containerDefinitions: ContainerDefinition[];
  taskRoleArn?: string;
  executionRoleArn?: string;
  runtimePlatform?: { cpuArchitecture?: string };
  volumes?: Obj[];
}): Attribute[] {
  const names: string[] = ['com.amazonaws.ecs.capability.docker-remote-api.1.18', 'ecs.capability.task-eni'];
  const add = (n: string) => {
    if (!names.includes(n)) names.push(n);
  };
  if (def.taskRoleArn) add('com.amazonaws.ecs.capability.task-iam-role');
  for (const c of def.containerDefinitions) {
    if (c.memoryReservation !== undefined) add('com.amazonaws.ecs.capability.docker-remote-api.1.21');
    if (c.logConfiguration?.logDriver === 'awslogs') {
      add('com.amazonaws.ecs.capability.logging-driver.awslogs');
      add('com.amazonaws.ecs.capability.docker-remote-api.1.19');
      if (def.executionRoleArn) add('ecs.capability.execution-role-awslogs');
    }
    if (c.healthCheck) {
      add('ecs.capability.container-health-check');
      add('com.amazonaws.ecs.capability.docker-remote-api.1.24');
    }
    if (c.dependsOn?.length || c.startTimeout !== undefined || c.stopTimeout !== undefined) add('ecs.capability.container-ordering');
    if (c.secrets?.some((s) => s.valueFrom?.includes(':secretsmanager:'))) add('ecs.capability.secrets.asm.environment-variables');
    if (c.secrets?.some((s) => !s.valueFrom?.includes(':secretsmanager:'))) add('ecs.capability.secrets.ssm.environment-variables');
    if (c.environmentFiles?.length) add('ecs.capability.env-files.s3');
    if (c.repositoryCredentials) add('com.amazonaws.ecs.capability.private-registry-authentication.secretsmanager');
    if (def.executionRoleArn && c.image && /\.dkr\.ecr\./.test(c.image)) add('ecs.capability.execution-role-ecr-pull');
    if (c.firelensConfiguration) add('ecs.capability.firelens.' + c.firelensConfiguration.type);
  }
  const efs = (def.volumes ?? []).map((v) => v.efsVolumeConfiguration as Obj | undefined).filter((v) => v !== undefined);
  if (efs.length) {
    add('ecs.capability.efs');
    add('com.amazonaws.ecs.capability.docker-remote-api.1.25');
    if (efs.some((v) => isObj(v.authorizationConfig))) add('ecs.capability.efsAuth');
  }
  const attrs: Attribute[] = names.map((name) => ({ name }));
  if (def.runtimePlatform?.cpuArchitecture === 'ARM64') attrs.push({ name: 'ecs.cpu-architecture', value: 'arm64' });
  return attrs;
}

/** Rejects dependency cycles; returns one cycle as a list of names if found. */
function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 1 | 2>(); // 1 = on stack, 2 = done
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    state.set(n, 1);
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 1) return [...stack.slice(stack.indexOf(m)), m];
      if (!state.has(m)) {
        const found = visit(m);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(n, 2);
    return undefined;
  };
  for (const n of graph.keys()) {
    if (!state.has(n)) {
      const found = visit(n);
      if (found) return found;
    }
  }
  return undefined;
}


/** `runtimePlatform`: Linux only, X86_64 or ARM64. */
export function normaliseRuntimePlatform(v: unknown): Obj {
  if (!isObj(v)) throw err(`runtimePlatform must be an object {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"}.`);
  if (present(v.operatingSystemFamily) && v.operatingSystemFamily !== 'LINUX') {
    throw err(`Skiff runs Linux tasks only; runtimePlatform.operatingSystemFamily is ${JSON.stringify(v.operatingSystemFamily)}. Use "LINUX" or leave it out.`);
  }
  return compact({
    cpuArchitecture: present(v.cpuArchitecture) ? oneOf(v.cpuArchitecture, ['X86_64', 'ARM64'] as const, 'runtimePlatform.cpuArchitecture') : undefined,
    operatingSystemFamily: present(v.operatingSystemFamily) ? 'LINUX' : undefined,
  });
}

/** `ephemeralStorage`: 21..200 GiB (20 are included when it is absent). */
export function normaliseEphemeralStorage(v: unknown): { sizeInGiB: number } {
  if (!isObj(v)) throw err(`ephemeralStorage must be an object {"sizeInGiB": 21..200}.`);
  return {
    sizeInGiB: int(v.sizeInGiB, `ephemeralStorage.sizeInGiB (20 GiB are included when ephemeralStorage is absent)`, EPHEMERAL_MIN_GIB, EPHEMERAL_MAX_GIB),
  };
}

/** ipcMode, pidMode and inferenceAccelerators as Fargate allows them; returns pidMode. */
export function checkNamespaceModes(input: { ipcMode?: unknown; pidMode?: unknown; inferenceAccelerators?: unknown }): 'task' | undefined {
  if (present(input.ipcMode)) throw err(`Tasks using the Fargate launch type do not support ipcMode. Remove ipcMode.`);
  if (present(input.inferenceAccelerators) && (input.inferenceAccelerators as unknown[]).length !== 0) {
    throw err(`inferenceAccelerators are not supported on Fargate. Remove them.`);
  }
  if (!present(input.pidMode)) return undefined;
  if (input.pidMode !== 'task') throw err(`Fargate only supports pidMode "task" (containers of the task share a PID namespace); got ${JSON.stringify(input.pidMode)}.`);
  return 'task';
}

/** `placementConstraints`: at most 10 `memberOf` items. */
export function normalisePlacementConstraints(v: unknown): Obj[] {
  if (!present(v)) return [];
  const out = list(v, 'placementConstraints').map((p, i) => {
    if (!isObj(p)) throw err(`placementConstraints[${i}] must be an object {"type": "memberOf", "expression": ...}.`);
    return compact({
      type: oneOf(p.type, ['memberOf'] as const, `placementConstraints[${i}].type`),
      expression: present(p.expression) ? str(p.expression, `placementConstraints[${i}].expression`, { max: 2000 }) : undefined,
    });
  });
  if (out.length > 10) throw err(`placementConstraints can have at most 10 items.`);
  return out;
}

/** Container names are unique; returns the containers by name. */
export function containersByName(containers: ContainerDefinition[]): Map<string, ContainerDefinition> {
  const byName = new Map<string, ContainerDefinition>();
  for (const c of containers) {
    if (byName.has(c.name!)) throw err(`Container names must be unique within a task definition: '${c.name}' is used more than once.`);
    byName.set(c.name!, c);
  }
  if (!containers.some((c) => c.essential)) {
    throw err(`Task definition must have at least one essential container. Set "essential": true on the container whose exit should stop the task.`);
  }
  return byName;
}

/** Each container's cpu/memory/memoryReservation, and their sums, fit the task size. */
export function checkResources(containers: ContainerDefinition[], size: TaskSize): void {
  let cpuSum = 0;
  let memSum = 0;
  for (const c of containers) {
    if ((c.cpu ?? 0) > size.cpu) {
      throw err(`The 'cpu' setting for container '${c.name}' (${c.cpu}) is greater than for the task (${size.cpu}). Lower it or raise the task cpu.`);
    }
    if (c.memory !== undefined && c.memory > size.memory) {
      throw err(`The 'memory' setting for container '${c.name}' (${c.memory} MiB) is greater than for the task (${size.memory} MiB). Lower it or raise the task memory.`);
    }
    if (c.memoryReservation !== undefined && c.memoryReservation > size.memory) {
      throw err(`The 'memoryReservation' setting for container '${c.name}' (${c.memoryReservation} MiB) is greater than for the task (${size.memory} MiB). Lower it or raise the task memory.`);
    }
    cpuSum += c.cpu ?? 0;
    memSum += c.memoryReservation ?? c.memory ?? 0;
  }
  if (cpuSum > size.cpu) {
    throw err(`The containers' 'cpu' settings add up to ${cpuSum}, more than the task cpu (${size.cpu}). Lower them or raise the task cpu.`);
  }
  if (memSum > size.memory) {
    throw err(`The containers reserve ${memSum} MiB of memory in total (memoryReservation, or memory where no reservation is set), more than the task memory (${size.memory} MiB). Lower them or raise the task memory.`);
  }
}

/** All containers share the task's network namespace: each port/protocol is mapped once. */
export function checkPorts(containers: ContainerDefinition[]): void {
  const ports = new Map<string, string>();
  for (const c of containers) {
    for (const p of c.portMappings ?? []) {
      if (p.containerPort === undefined) continue;
      const key = `${p.containerPort}/${p.protocol}`;
      const owner = ports.get(key);
      if (owner !== undefined) {
        throw err(
          `Port ${key} is mapped more than once (containers '${owner}' and '${c.name}'). With networkMode=awsvpc all containers of a task share one network namespace, so each port can be mapped once.`,
        );
      }
      ports.set(key, c.name!);
    }
  }
}

/** dependsOn and volumesFrom name other containers of the task; dependencies have no cycle. */
export function checkReferences(containers: ContainerDefinition[], byName: Map<string, ContainerDefinition>): void {
  const graph = new Map<string, string[]>();
  for (const c of containers) {
    const deps: string[] = [];
    for (const d of c.dependsOn ?? []) {
      const target = byName.get(d.containerName!);
      if (d.containerName === c.name) throw err(`Container '${c.name}' cannot depend on itself. Remove that dependsOn entry.`);
      if (!target) throw err(`Cannot depend on container '${d.containerName}' because it does not exist (dependsOn of container '${c.name}'). Fix the name or add the container.`);
      if ((d.condition === 'SUCCESS' || d.condition === 'COMPLETE') && target.essential) {
        throw err(
          `A dependency container with SUCCESS or COMPLETE condition cannot be an essential container: '${c.name}' waits for '${target.name}' to ${d.condition === 'SUCCESS' ? 'succeed' : 'complete'}. Set "essential": false on '${target.name}'.`,
        );
      }
      if (d.condition === 'HEALTHY' && !target.healthCheck) {
        throw err(`Container '${c.name}' depends on '${target.name}' being HEALTHY, but '${target.name}' has no healthCheck. Add a healthCheck to '${target.name}' or use condition START.`);
      }
      deps.push(target.name!);
    }
    graph.set(c.name!, deps);
    for (const vf of c.volumesFrom ?? []) {
      if (vf.sourceContainer === c.name) throw err(`Container '${c.name}' cannot take volumesFrom itself.`);
      if (!byName.has(vf.sourceContainer!)) throw err(`volumesFrom of container '${c.name}' names container '${vf.sourceContainer}', which does not exist in this task definition.`);
    }
  }
  const cycle = findCycle(graph);
  if (cycle) throw err(`Container dependencies form a cycle: ${cycle.join(' -> ')}. Remove one of these dependsOn entries.`);
}

/** `proxyConfiguration` (APPMESH) naming one of the task's containers. */
export function normaliseProxyConfiguration(v: unknown, byName: Map<string, ContainerDefinition>): Obj {
  if (!isObj(v)) throw err(`proxyConfiguration must be an object {"type": "APPMESH", "containerName": ..., "properties": [...]}.`);
  const containerName = str(v.containerName, 'proxyConfiguration.containerName');
  if (!byName.has(containerName)) throw err(`proxyConfiguration.containerName '${containerName}' is not a container of this task definition.`);
  return compact({
    type: present(v.type) ? oneOf(v.type, ['APPMESH'] as const, 'proxyConfiguration.type') : 'APPMESH',
    containerName,
    properties: present(v.properties) ? validateEnvironment(v.properties, 'proxyConfiguration.properties') : undefined,
  });
}

/** Secrets are read at start with the execution role, so a definition with secrets must name one (as ECS requires). */
export function checkSecretsHaveExecutionRole(containers: ContainerDefinition[], executionRoleArn: string | undefined): void {
  if (executionRoleArn) return;
  const withSecrets = containers.filter((c) => (c.secrets?.length ?? 0) > 0);
  if (withSecrets.length) {
    throw err(
      `When you are specifying container secrets, you must also specify a value for 'executionRoleArn'. ` +
        `Container(s) ${withSecrets.map((c) => `'${c.name}'`).join(', ')} have secrets: set executionRoleArn to a role allowed to read them.`,
    );
  }
}
