/**
 * One container definition of a RegisterTaskDefinition request, checked the
 * way ECS checks it for Fargate (awsvpc) and returned as DescribeTaskDefinition
 * shows it: defaults filled (essential, cpu 0, hostPort = containerPort,
 * protocol, empty lists, health check timings), keys in ECS's order.
 *
 * Only what one container says is checked here; what depends on the other
 * containers or the task size (unique names and ports, dependsOn targets,
 * resources against the task) is in task-level.ts. Errors are ClientException.
 */
import type { ContainerDefinition } from '@aws-sdk/client-ecs';
import { clientError } from '../api/errors.ts';
import { validateContainerName } from './arns.ts';
import { checks, compact, isObj, present, type Obj } from './validate.ts';

export const MIN_CONTAINER_MEMORY_MIB = 6;

export const HEALTH_CHECK = {
  interval: { min: 5, max: 300, default: 30 },
  timeout: { min: 2, max: 60, default: 5 },
  retries: { min: 1, max: 10, default: 3 },
  startPeriod: { min: 0, max: 300 },
} as const;

export const DEPENDENCY_CONDITIONS = ['START', 'COMPLETE', 'SUCCESS', 'HEALTHY'] as const;

const err = clientError;
const { int, str, bool, strList, list, oneOf, strMap } = checks(clientError);

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

/**
 * Checks `containerDefinitions[index]` and returns it normalised. `volumeNames`
 * are the task's volumes, which mountPoints must name.
 */
export function normaliseContainer(c: unknown, index: number, volumeNames: Set<string>): ContainerDefinition {
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
