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
 * Errors are ClientException, as RegisterTaskDefinition answers them (tags:
 * InvalidParameterException), each message saying what to change.
 */
import type {
  Attribute,
  Compatibility,
  ContainerDefinition,
  RegisterTaskDefinitionCommandInput,
  TaskDefinition,
} from '@aws-sdk/client-ecs';
import { clientError } from '../api/errors.ts';
import { isValidName, validateContainerName, validateFamily } from './arns.ts';
import { validateTaskSize } from './sizes.ts';
import { validateTags } from './tags.ts';

export const MAX_CONTAINERS = 10;
export const EPHEMERAL_MIN_GIB = 21;
export const EPHEMERAL_MAX_GIB = 200;
/** Included ephemeral storage when `ephemeralStorage` is absent. */
export const EPHEMERAL_DEFAULT_GIB = 20;
export const STOP_TIMEOUT_DEFAULT = 30;
export const MIN_CONTAINER_MEMORY_MIB = 6;

export const HEALTH_CHECK = {
  interval: { min: 5, max: 300, default: 30 },
  timeout: { min: 2, max: 60, default: 5 },
  retries: { min: 1, max: 10, default: 3 },
  startPeriod: { min: 0, max: 300 },
} as const;

export const DEPENDENCY_CONDITIONS = ['START', 'COMPLETE', 'SUCCESS', 'HEALTHY'] as const;

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

type Obj = Record<string, unknown>;
const err = clientError;

// ---------------------------------------------------------------- small checks

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

function int(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw err(`${what} must be an integer from ${min} to ${max}; got ${JSON.stringify(v)}.`);
  if (v < min || v > max) throw err(`${what} must be from ${min} to ${max}; got ${v}.`);
  return v;
}

function str(v: unknown, what: string, opts: { max?: number; allowEmpty?: boolean } = {}): string {
  if (typeof v !== 'string') throw err(`${what} must be a string; got ${JSON.stringify(v)}.`);
  if (!opts.allowEmpty && v === '') throw err(`${what} must not be empty.`);
  if (opts.max !== undefined && v.length > opts.max) throw err(`${what} must be at most ${opts.max} characters; got ${v.length}.`);
  return v;
}

function bool(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') throw err(`${what} must be true or false; got ${JSON.stringify(v)}.`);
  return v;
}

function strList(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw err(`${what} must be a list of strings.`);
  return v as string[];
}

function list(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw err(`${what} must be a list.`);
  return v;
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[], what: string): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw err(`${what} must be one of ${allowed.join(', ')}; got ${JSON.stringify(v)}.`);
  }
  return v as T;
}

function strMap(v: unknown, what: string): Record<string, string> {
  if (!isObj(v) || Object.values(v).some((s) => typeof s !== 'string')) throw err(`${what} must be an object of string keys and string values.`);
  return { ...(v as Record<string, string>) };
}

/** Drops undefined fields so the output has only the keys ECS would show. */
function compact<T extends Obj>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

// ---------------------------------------------------------------- environment, secrets

const ENV_NAME_BAD = /[=\0]/;

function normaliseEnvironment(v: unknown, what: string): { name: string; value?: string }[] {
  return list(v, what).map((e, i) => {
    if (!isObj(e)) throw err(`${what}[${i}] must be an object {"name": ..., "value": ...}.`);
    const name = e.name;
    if (typeof name !== 'string' || name === '' || ENV_NAME_BAD.test(name)) {
      throw err(`${what}[${i}].name ${JSON.stringify(name)} is not a valid environment variable name: it must be a non-empty string without '=' or NUL.`);
    }
    if (present(e.value) && typeof e.value !== 'string') {
      throw err(`The value of environment variable '${name}' must be a string; quote numbers and booleans (e.g. "8080").`);
    }
    return compact({ name, value: e.value as string | undefined });
  });
}

/** Environment variable lists as RunTask overrides and definitions use them (exported for run-task). */
export function validateEnvironment(v: unknown, what: string): { name: string; value?: string }[] {
  return normaliseEnvironment(v, what);
}

function normaliseSecrets(v: unknown, what: string): { name: string; valueFrom: string }[] {
  return list(v, what).map((s, i) => {
    if (!isObj(s)) throw err(`${what}[${i}] must be an object {"name": ..., "valueFrom": ...}.`);
    if (typeof s.name !== 'string' || s.name === '' || ENV_NAME_BAD.test(s.name)) {
      throw err(`${what}[${i}].name must be a non-empty environment variable name without '='.`);
    }
    return { name: s.name, valueFrom: str(s.valueFrom, `${what}[${i}].valueFrom (the secret ARN or name)`) };
  });
}

// ---------------------------------------------------------------- container pieces

function normalisePortMappings(v: unknown, c: string): Obj[] {
  return list(v, `portMappings of container '${c}'`).map((p, i) => {
    const what = `portMappings[${i}] of container '${c}'`;
    if (!isObj(p)) throw err(`${what} must be an object {"containerPort": ..., "protocol": "tcp"}.`);
    const protocol = present(p.protocol) ? oneOf(p.protocol, ['tcp', 'udp'] as const, `${what}.protocol`) : 'tcp';
    const appProtocol = present(p.appProtocol) ? oneOf(p.appProtocol, ['http', 'http2', 'grpc'] as const, `${what}.appProtocol`) : undefined;
    const name = present(p.name) ? str(p.name, `${what}.name`, { max: 64 }) : undefined;
    if (present(p.containerPortRange)) {
      if (present(p.containerPort) || present(p.hostPort)) {
        throw err(`${what}: give either containerPort or containerPortRange, not both.`);
      }
      const r = str(p.containerPortRange, `${what}.containerPortRange`);
      const m = /^(\d{1,5})-(\d{1,5})$/.exec(r);
      if (!m || +m[1] < 1 || +m[2] > 65535 || +m[1] >= +m[2]) {
        throw err(`${what}.containerPortRange '${r}' is not valid. Use "first-last" with 1 <= first < last <= 65535, e.g. "8000-8010".`);
      }
      return compact({ containerPortRange: r, protocol, name, appProtocol });
    }
    if (!present(p.containerPort)) throw err(`Invalid 'containerPort' setting for container '${c}'. ${what} needs a containerPort from 1 to 65535.`);
    if (typeof p.containerPort !== 'number' || !Number.isInteger(p.containerPort) || p.containerPort < 1 || p.containerPort > 65535) {
      throw err(`Invalid 'containerPort' setting for container '${c}': ${JSON.stringify(p.containerPort)}. Use a port from 1 to 65535.`);
    }
    const containerPort = p.containerPort;
    if (present(p.hostPort) && p.hostPort !== containerPort) {
      throw err(
        `When networkMode=awsvpc, the host ports and container ports in port mappings must match. ` +
          `Container '${c}' maps hostPort ${JSON.stringify(p.hostPort)} to containerPort ${containerPort}: remove hostPort or set it to ${containerPort}.`,
      );
    }
    return compact({ containerPort, hostPort: containerPort, protocol, name, appProtocol });
  });
}

function normaliseHealthCheck(v: unknown, c: string): Obj {
  const what = `healthCheck of container '${c}'`;
  if (!isObj(v)) throw err(`${what} must be an object {"command": ["CMD-SHELL", "..."], ...}.`);
  const command = strList(v.command, `${what}.command`);
  if (command.length < 2 || (command[0] !== 'CMD' && command[0] !== 'CMD-SHELL')) {
    throw err(
      `${what}.command must start with "CMD" (run the arguments directly) or "CMD-SHELL" (run with the container's default shell), ` +
        `followed by the command, e.g. ["CMD-SHELL", "curl -f http://localhost/ || exit 1"].`,
    );
  }
  const h = HEALTH_CHECK;
  const out: Obj = {
    command,
    interval: present(v.interval) ? int(v.interval, `${what}.interval (seconds)`, h.interval.min, h.interval.max) : h.interval.default,
    timeout: present(v.timeout) ? int(v.timeout, `${what}.timeout (seconds)`, h.timeout.min, h.timeout.max) : h.timeout.default,
    retries: present(v.retries) ? int(v.retries, `${what}.retries`, h.retries.min, h.retries.max) : h.retries.default,
  };
  if (present(v.startPeriod)) out.startPeriod = int(v.startPeriod, `${what}.startPeriod (seconds)`, h.startPeriod.min, h.startPeriod.max);
  return out;
}

function normaliseDependsOn(v: unknown, c: string): { containerName: string; condition: (typeof DEPENDENCY_CONDITIONS)[number] }[] {
  return list(v, `dependsOn of container '${c}'`).map((d, i) => {
    const what = `dependsOn[${i}] of container '${c}'`;
    if (!isObj(d)) throw err(`${what} must be an object {"containerName": ..., "condition": "START"}.`);
    const containerName = str(d.containerName, `${what}.containerName`);
    const condition = oneOf(d.condition, DEPENDENCY_CONDITIONS, `${what}.condition`);
    return { containerName, condition };
  });
}

const LOG_DRIVERS = ['awslogs', 'splunk', 'awsfirelens'] as const;

function normaliseLogConfiguration(v: unknown, c: string): Obj {
  const what = `logConfiguration of container '${c}'`;
  if (!isObj(v)) throw err(`${what} must be an object {"logDriver": "awslogs", "options": {...}}.`);
  if (typeof v.logDriver !== 'string' || !(LOG_DRIVERS as readonly string[]).includes(v.logDriver)) {
    throw err(`Log driver ${JSON.stringify(v.logDriver)} is not supported on Fargate (container '${c}'). Use one of ${LOG_DRIVERS.join(', ')}.`);
  }
  return compact({
    logDriver: v.logDriver,
    options: present(v.options) ? strMap(v.options, `${what}.options`) : undefined,
    secretOptions: present(v.secretOptions) ? normaliseSecrets(v.secretOptions, `${what}.secretOptions`) : undefined,
  });
}

const ULIMIT_NAMES = [
  'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack',
] as const;

function normaliseUlimits(v: unknown, c: string): Obj[] {
  return list(v, `ulimits of container '${c}'`).map((u, i) => {
    const what = `ulimits[${i}] of container '${c}'`;
    if (!isObj(u)) throw err(`${what} must be an object {"name": "nofile", "softLimit": ..., "hardLimit": ...}.`);
    const name = oneOf(u.name, ULIMIT_NAMES, `${what}.name`);
    const max = name === 'nofile' ? 1048576 : 2147483647;
    const softLimit = int(u.softLimit, `${what}.softLimit`, 0, max);
    const hardLimit = int(u.hardLimit, `${what}.hardLimit`, 0, max);
    if (softLimit > hardLimit) throw err(`${what}: softLimit (${softLimit}) must not be greater than hardLimit (${hardLimit}).`);
    return { name, softLimit, hardLimit };
  });
}

function normaliseLinuxParameters(v: unknown, c: string): Obj {
  const what = `linuxParameters of container '${c}'`;
  if (!isObj(v)) throw err(`${what} must be an object.`);
  for (const k of ['devices', 'sharedMemorySize', 'tmpfs', 'maxSwap', 'swappiness'] as const) {
    if (present(v[k])) throw err(`linuxParameters.${k} is not supported on Fargate. Remove it from container '${c}'.`);
  }
  let capabilities: Obj | undefined;
  if (present(v.capabilities)) {
    if (!isObj(v.capabilities)) throw err(`${what}.capabilities must be an object {"add": [...], "drop": [...]}.`);
    const add = present(v.capabilities.add) ? strList(v.capabilities.add, `${what}.capabilities.add`) : undefined;
    const drop = present(v.capabilities.drop) ? strList(v.capabilities.drop, `${what}.capabilities.drop`) : undefined;
    const bad = (add ?? []).filter((cap) => cap.replace(/^CAP_/, '') !== 'SYS_PTRACE');
    if (bad.length) {
      throw err(`Fargate only lets a container add the SYS_PTRACE capability; container '${c}' adds ${bad.join(', ')}. Remove them from linuxParameters.capabilities.add.`);
    }
    const capName = /^(CAP_)?[A-Z_]+$/;
    for (const cap of drop ?? []) if (!capName.test(cap)) throw err(`${what}.capabilities.drop has an invalid capability name '${cap}' (use names like "NET_RAW").`);
    capabilities = compact({ add, drop });
  }
  return compact({
    capabilities,
    initProcessEnabled: present(v.initProcessEnabled) ? bool(v.initProcessEnabled, `${what}.initProcessEnabled`) : undefined,
  });
}

function normaliseRestartPolicy(v: unknown, c: string): Obj {
  const what = `restartPolicy of container '${c}'`;
  if (!isObj(v)) throw err(`${what} must be an object {"enabled": true, ...}.`);
  const enabled = bool(v.enabled, `${what}.enabled`);
  let ignoredExitCodes: number[] | undefined;
  if (present(v.ignoredExitCodes)) {
    const codes = list(v.ignoredExitCodes, `${what}.ignoredExitCodes`);
    if (codes.length > 50) throw err(`${what}.ignoredExitCodes can have at most 50 exit codes.`);
    ignoredExitCodes = codes.map((x, i) => int(x, `${what}.ignoredExitCodes[${i}]`, -2147483648, 2147483647));
  }
  const restartAttemptPeriod = present(v.restartAttemptPeriod) ? int(v.restartAttemptPeriod, `${what}.restartAttemptPeriod (seconds)`, 60, 1800) : undefined;
  return compact({ enabled, ignoredExitCodes, restartAttemptPeriod });
}

const IMAGE_RE = /^[A-Za-z0-9][A-Za-z0-9._\-/:@#]*$/;

/** ECS ContainerDefinition keys in the order DescribeTaskDefinition shows them. */
const CONTAINER_KEYS = [
  'name', 'image', 'repositoryCredentials', 'cpu', 'memory', 'memoryReservation', 'links', 'portMappings', 'essential',
  'restartPolicy', 'entryPoint', 'command', 'environment', 'environmentFiles', 'mountPoints', 'volumesFrom',
  'linuxParameters', 'secrets', 'dependsOn', 'startTimeout', 'stopTimeout', 'versionConsistency', 'hostname', 'user',
  'workingDirectory', 'disableNetworking', 'privileged', 'readonlyRootFilesystem', 'dnsServers', 'dnsSearchDomains',
  'extraHosts', 'dockerSecurityOptions', 'interactive', 'pseudoTerminal', 'dockerLabels', 'ulimits', 'logConfiguration',
  'healthCheck', 'systemControls', 'resourceRequirements', 'firelensConfiguration', 'credentialSpecs',
] as const;

function normaliseContainer(c: unknown, index: number, volumeNames: Set<string>): ContainerDefinition {
  if (!isObj(c)) throw err(`containerDefinitions[${index}] must be an object with at least "name" and "image".`);
  const name = validateContainerName(c.name);
  const W = `container '${name}'`;
  const o: Obj = { name };

  // Fargate / awsvpc: parameters ECS rejects for this kind of task.
  if (present(c.links) && (c.links as unknown[]).length !== 0) throw err(`links are not supported when networkMode=awsvpc (${W}). Containers in a task reach each other on localhost.`);
  if (present(c.hostname)) throw err(`hostname is not supported on container when networkMode=awsvpc. Remove hostname from ${W}.`);
  for (const k of ['dnsServers', 'dnsSearchDomains', 'extraHosts'] as const) {
    if (present(c[k]) && (c[k] as unknown[]).length !== 0) throw err(`${k} is not supported when networkMode=awsvpc. Remove it from ${W}.`);
  }
  if (c.privileged === true) throw err(`Privileged containers are not supported on Fargate. Remove "privileged": true from ${W}; add SYS_PTRACE through linuxParameters.capabilities if that is what you need.`);
  if (present(c.dockerSecurityOptions) && (c.dockerSecurityOptions as unknown[]).length !== 0) throw err(`dockerSecurityOptions are not supported on Fargate. Remove them from ${W}.`);
  if (present(c.credentialSpecs) && (c.credentialSpecs as unknown[]).length !== 0) throw err(`credentialSpecs are not supported on Fargate. Remove them from ${W}.`);

  if (!present(c.image) || c.image === '') throw err(`Container.image should not be null or empty. Set "image" on ${W}, e.g. "public.ecr.aws/docker/library/nginx:latest".`);
  const image = str(c.image, `image of ${W}`, { max: 255 });
  if (!IMAGE_RE.test(image)) {
    throw err(`Invalid image reference for ${W}: '${image}'. Up to 255 letters, numbers, hyphens, underscores, colons, periods, forward slashes, at signs and number signs are allowed.`);
  }
  o.image = image;
  if (present(c.repositoryCredentials)) {
    const rc = c.repositoryCredentials;
    if (!isObj(rc)) throw err(`repositoryCredentials of ${W} must be an object {"credentialsParameter": "<secret ARN>"}.`);
    o.repositoryCredentials = { credentialsParameter: str(rc.credentialsParameter, `repositoryCredentials.credentialsParameter of ${W}`) };
  }
  o.cpu = present(c.cpu) ? int(c.cpu, `'cpu' setting for ${W} (CPU units)`, 0, 16384) : 0;
  if (present(c.memory)) o.memory = int(c.memory, `'memory' setting for ${W} (MiB)`, MIN_CONTAINER_MEMORY_MIB, 122880);
  if (present(c.memoryReservation)) o.memoryReservation = int(c.memoryReservation, `'memoryReservation' setting for ${W} (MiB)`, 1, 122880);
  if (o.memory !== undefined && o.memoryReservation !== undefined && (o.memoryReservation as number) > (o.memory as number)) {
    throw err(`Invalid setting for ${W}. 'memoryReservation' (${o.memoryReservation} MiB) must be less than or equal to 'memory' (${o.memory} MiB).`);
  }
  o.portMappings = present(c.portMappings) ? normalisePortMappings(c.portMappings, name) : [];
  o.essential = present(c.essential) ? bool(c.essential, `essential of ${W}`) : true;
  if (present(c.restartPolicy)) o.restartPolicy = normaliseRestartPolicy(c.restartPolicy, name);
  if (present(c.entryPoint)) o.entryPoint = strList(c.entryPoint, `entryPoint of ${W}`);
  if (present(c.command)) o.command = strList(c.command, `command of ${W}`);
  o.environment = present(c.environment) ? normaliseEnvironment(c.environment, `environment of ${W}`) : [];
  if (present(c.environmentFiles)) {
    o.environmentFiles = list(c.environmentFiles, `environmentFiles of ${W}`).map((f, i) => {
      if (!isObj(f)) throw err(`environmentFiles[${i}] of ${W} must be an object {"value": "<S3 object ARN>", "type": "s3"}.`);
      return { value: str(f.value, `environmentFiles[${i}].value of ${W}`), type: oneOf(f.type, ['s3'] as const, `environmentFiles[${i}].type of ${W}`) };
    });
  }
  o.mountPoints = present(c.mountPoints)
    ? list(c.mountPoints, `mountPoints of ${W}`).map((m, i) => {
        const what = `mountPoints[${i}] of ${W}`;
        if (!isObj(m)) throw err(`${what} must be an object {"sourceVolume": ..., "containerPath": ...}.`);
        const sourceVolume = str(m.sourceVolume, `${what}.sourceVolume`);
        if (!volumeNames.has(sourceVolume)) {
          throw err(`Invalid 'sourceVolume' in ${what}: no volume named '${sourceVolume}' is defined. Add it to the task definition's "volumes" or fix the name.`);
        }
        const containerPath = str(m.containerPath, `${what}.containerPath`);
        if (!containerPath.startsWith('/')) throw err(`${what}.containerPath must be an absolute path; got '${containerPath}'.`);
        return compact({ sourceVolume, containerPath, readOnly: present(m.readOnly) ? bool(m.readOnly, `${what}.readOnly`) : undefined });
      })
    : [];
  o.volumesFrom = present(c.volumesFrom)
    ? list(c.volumesFrom, `volumesFrom of ${W}`).map((vf, i) => {
        const what = `volumesFrom[${i}] of ${W}`;
        if (!isObj(vf)) throw err(`${what} must be an object {"sourceContainer": ...}.`);
        return compact({
          sourceContainer: str(vf.sourceContainer, `${what}.sourceContainer`),
          readOnly: present(vf.readOnly) ? bool(vf.readOnly, `${what}.readOnly`) : undefined,
        });
      })
    : [];
  if (present(c.linuxParameters)) o.linuxParameters = normaliseLinuxParameters(c.linuxParameters, name);
  if (present(c.secrets)) o.secrets = normaliseSecrets(c.secrets, `secrets of ${W}`);
  if (present(c.dependsOn)) o.dependsOn = normaliseDependsOn(c.dependsOn, name);
  if (present(c.startTimeout)) o.startTimeout = int(c.startTimeout, `startTimeout of ${W} (seconds; Fargate allows 2 to 120)`, 2, 120);
  if (present(c.stopTimeout)) o.stopTimeout = int(c.stopTimeout, `stopTimeout of ${W} (seconds; Fargate allows 2 to 120)`, 2, 120);
  if (present(c.versionConsistency)) o.versionConsistency = oneOf(c.versionConsistency, ['enabled', 'disabled'] as const, `versionConsistency of ${W}`);
  if (present(c.user)) o.user = str(c.user, `user of ${W}`);
  if (present(c.workingDirectory)) {
    const wd = str(c.workingDirectory, `workingDirectory of ${W}`);
    if (!wd.startsWith('/')) throw err(`workingDirectory of ${W} must be an absolute path; got '${wd}'.`);
    o.workingDirectory = wd;
  }
  for (const k of ['disableNetworking', 'privileged', 'readonlyRootFilesystem', 'interactive', 'pseudoTerminal'] as const) {
    if (present(c[k])) o[k] = bool(c[k], `${k} of ${W}`);
  }
  if (present(c.dockerLabels)) o.dockerLabels = strMap(c.dockerLabels, `dockerLabels of ${W}`);
  if (present(c.ulimits)) o.ulimits = normaliseUlimits(c.ulimits, name);
  if (present(c.logConfiguration)) o.logConfiguration = normaliseLogConfiguration(c.logConfiguration, name);
  if (present(c.healthCheck)) o.healthCheck = normaliseHealthCheck(c.healthCheck, name);
  o.systemControls = present(c.systemControls)
    ? list(c.systemControls, `systemControls of ${W}`).map((s, i) => {
        if (!isObj(s)) throw err(`systemControls[${i}] of ${W} must be an object {"namespace": ..., "value": ...}.`);
        return { namespace: str(s.namespace, `systemControls[${i}].namespace of ${W}`), value: str(s.value, `systemControls[${i}].value of ${W}`, { allowEmpty: true }) };
      })
    : [];
  if (present(c.resourceRequirements) && (c.resourceRequirements as unknown[]).length !== 0) {
    throw err(`resourceRequirements (GPU, InferenceAccelerator) are not supported on Fargate. Remove them from ${W}.`);
  }
  if (present(c.firelensConfiguration)) {
    const f = c.firelensConfiguration;
    if (!isObj(f)) throw err(`firelensConfiguration of ${W} must be an object {"type": "fluentbit"}.`);
    o.firelensConfiguration = compact({
      type: oneOf(f.type, ['fluentd', 'fluentbit'] as const, `firelensConfiguration.type of ${W}`),
      options: present(f.options) ? strMap(f.options, `firelensConfiguration.options of ${W}`) : undefined,
    });
  }

  const out: Obj = {};
  for (const k of CONTAINER_KEYS) if (o[k] !== undefined) out[k] = o[k];
  return out as ContainerDefinition;
}

// ---------------------------------------------------------------- task-level pieces

function normaliseVolumes(v: unknown): Obj[] {
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
    for (const k of ['efsVolumeConfiguration', 's3filesVolumeConfiguration'] as const) {
      if (present(vol[k])) throw err(`Volume '${name}': ${k} is not supported by Skiff. Use a task-scoped bind mount volume (only "name").`);
    }
    if (vol.configuredAtLaunch === true) throw err(`Volume '${name}': volumes configured at launch (Amazon EBS) are not supported by Skiff.`);
    return { name, host: {} };
  });
}

const COMPATIBILITIES = ['EC2', 'FARGATE', 'EXTERNAL', 'MANAGED_INSTANCES'] as const;

function normaliseRequiresCompatibilities(v: unknown): Compatibility[] | undefined {
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

function roleArn(v: unknown, what: string): string {
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

// ---------------------------------------------------------------- main

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

  let runtimePlatform: Obj | undefined;
  if (present(input.runtimePlatform)) {
    const rp = input.runtimePlatform as unknown;
    if (!isObj(rp)) throw err(`runtimePlatform must be an object {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"}.`);
    if (present(rp.operatingSystemFamily) && rp.operatingSystemFamily !== 'LINUX') {
      throw err(`Skiff runs Linux tasks only; runtimePlatform.operatingSystemFamily is ${JSON.stringify(rp.operatingSystemFamily)}. Use "LINUX" or leave it out.`);
    }
    runtimePlatform = compact({
      cpuArchitecture: present(rp.cpuArchitecture) ? oneOf(rp.cpuArchitecture, ['X86_64', 'ARM64'] as const, 'runtimePlatform.cpuArchitecture') : undefined,
      operatingSystemFamily: present(rp.operatingSystemFamily) ? 'LINUX' : undefined,
    });
  }

  let ephemeralStorage: { sizeInGiB: number } | undefined;
  if (present(input.ephemeralStorage)) {
    const es = input.ephemeralStorage as unknown;
    if (!isObj(es)) throw err(`ephemeralStorage must be an object {"sizeInGiB": 21..200}.`);
    ephemeralStorage = {
      sizeInGiB: int(es.sizeInGiB, `ephemeralStorage.sizeInGiB (20 GiB are included when ephemeralStorage is absent)`, EPHEMERAL_MIN_GIB, EPHEMERAL_MAX_GIB),
    };
  }

  if (present(input.ipcMode)) throw err(`Tasks using the Fargate launch type do not support ipcMode. Remove ipcMode.`);
  let pidMode: 'task' | undefined;
  if (present(input.pidMode)) {
    if (input.pidMode !== 'task') throw err(`Fargate only supports pidMode "task" (containers of the task share a PID namespace); got ${JSON.stringify(input.pidMode)}.`);
    pidMode = 'task';
  }
  if (present(input.inferenceAccelerators) && (input.inferenceAccelerators as unknown[]).length !== 0) {
    throw err(`inferenceAccelerators are not supported on Fargate. Remove them.`);
  }

  const placementConstraints = present(input.placementConstraints)
    ? list(input.placementConstraints, 'placementConstraints').map((p, i) => {
        if (!isObj(p)) throw err(`placementConstraints[${i}] must be an object {"type": "memberOf", "expression": ...}.`);
        return compact({
          type: oneOf(p.type, ['memberOf'] as const, `placementConstraints[${i}].type`),
          expression: present(p.expression) ? str(p.expression, `placementConstraints[${i}].expression`, { max: 2000 }) : undefined,
        });
      })
    : [];
  if (placementConstraints.length > 10) throw err(`placementConstraints can have at most 10 items.`);

  const volumes = present(input.volumes) ? normaliseVolumes(input.volumes) : [];
  const volumeNames = new Set(volumes.map((v) => v.name as string));

  // ---- containers
  if (!present(input.containerDefinitions)) throw err(`containerDefinitions is required: give between 1 and ${MAX_CONTAINERS} container definitions.`);
  const rawContainers = list(input.containerDefinitions, 'containerDefinitions');
  if (rawContainers.length === 0) throw err(`Container list cannot be empty. Give at least one container definition.`);
  if (rawContainers.length > MAX_CONTAINERS) {
    throw err(`Too many containers: ${rawContainers.length} given, a task definition can have at most ${MAX_CONTAINERS}. Split the task.`);
  }
  const containers = rawContainers.map((c, i) => normaliseContainer(c, i, volumeNames));
  const byName = new Map<string, ContainerDefinition>();
  for (const c of containers) {
    if (byName.has(c.name!)) throw err(`Container names must be unique within a task definition: '${c.name}' is used more than once.`);
    byName.set(c.name!, c);
  }
  if (!containers.some((c) => c.essential)) {
    throw err(`Task definition must have at least one essential container. Set "essential": true on the container whose exit should stop the task.`);
  }

  // ---- resources against the task size
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

  // ---- ports: all containers share the task's network namespace
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

  // ---- dependencies and cross-container references
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

  let proxyConfiguration: Obj | undefined;
  if (present(input.proxyConfiguration)) {
    const pc = input.proxyConfiguration as unknown;
    if (!isObj(pc)) throw err(`proxyConfiguration must be an object {"type": "APPMESH", "containerName": ..., "properties": [...]}.`);
    const containerName = str(pc.containerName, 'proxyConfiguration.containerName');
    if (!byName.has(containerName)) throw err(`proxyConfiguration.containerName '${containerName}' is not a container of this task definition.`);
    proxyConfiguration = compact({
      type: present(pc.type) ? oneOf(pc.type, ['APPMESH'] as const, 'proxyConfiguration.type') : 'APPMESH',
      containerName,
      properties: present(pc.properties) ? normaliseEnvironment(pc.properties, 'proxyConfiguration.properties') : undefined,
    });
  }

  const taskRoleArn = present(input.taskRoleArn) && input.taskRoleArn !== '' ? roleArn(input.taskRoleArn, 'taskRoleArn') : undefined;
  const executionRoleArn = present(input.executionRoleArn) && input.executionRoleArn !== '' ? roleArn(input.executionRoleArn, 'executionRoleArn') : undefined;
  const enableFaultInjection = present(input.enableFaultInjection) ? bool(input.enableFaultInjection, 'enableFaultInjection') : false;
  const tags = validateTags(input.tags) as { key: string; value: string }[];

  const requiresAttributes = computeRequiresAttributes({
    containerDefinitions: containers,
    taskRoleArn,
    executionRoleArn,
    runtimePlatform: runtimePlatform as { cpuArchitecture?: string } | undefined,
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
