/**
 * The rules a task start follows, as plain functions: how a failure is worded
 * (ECS's stoppedReason prefixes), when a container's dependsOn conditions are
 * met, the stop signal, the task's hostname and process limit, the files that
 * name it (/etc/hosts, /etc/resolv.conf), the container launch spec, and the
 * first-healthy timing. The task runner (task-runner.ts) applies them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerLaunchSpec } from '../drivers/driver.ts';
import { ImagePullError, type PulledImage } from '../images/images.ts';
import type { ContainerRecord, TaskRecord } from '../model/task-record.ts';
import { FIRST_HEALTHY_PHASE, taskHealth, type HealthStatus } from '../model/task-health.ts';
import { resolvConf } from '../model/dns-names.ts';
import { mergeProcess, ContainerConfigError } from './container-config.ts';

const KNOWN_SIGNALS = new Set([
  'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGKILL', 'SIGWINCH', 'SIGPWR',
]);

/** A start failure whose message is already worded as ECS words stoppedReason. */
export class StartError extends Error {}

export function startFailureReason(err: unknown): string {
  if (err instanceof StartError) return err.message;
  if (err instanceof ImagePullError) return `CannotPullContainerError: ${err.message}`;
  return `ResourceInitializationError: ${errMessage(err)}`;
}

export function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function dependencyVerdict(c: ContainerRecord, byName: Map<string, ContainerRecord>): 'ready' | 'wait' | 'failed' {
  let verdict: 'ready' | 'wait' = 'ready';
  for (const d of c.dependsOn) {
    const dep = byName.get(d.containerName);
    if (!dep) return 'failed';
    switch (d.condition) {
      case 'START':
        if (dep.lastStatus === 'PENDING') verdict = 'wait';
        break;
      case 'HEALTHY':
        if (dep.lastStatus === 'STOPPED' || dep.healthStatus === 'UNHEALTHY') return 'failed';
        if (dep.healthStatus !== 'HEALTHY') verdict = 'wait';
        break;
      case 'COMPLETE':
        if (dep.lastStatus !== 'STOPPED') verdict = 'wait';
        break;
      case 'SUCCESS':
        if (dep.lastStatus !== 'STOPPED') verdict = 'wait';
        else if (dep.exitCode !== 0) return 'failed';
        break;
    }
  }
  return verdict;
}

/** The image's STOPSIGNAL if it names a known signal, else SIGTERM (image config is attacker data). */
export function stopSignalOf(fromImage: string | undefined): string {
  const upper = fromImage?.trim().toUpperCase();
  if (!upper) return 'SIGTERM';
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  return KNOWN_SIGNALS.has(name) ? name : 'SIGTERM';
}

/** Fargate-like private DNS hostname: ip-172-31-0-5.ec2.internal. */
export function hostnameFor(ipv4: string, region: string): string {
  const host = `ip-${ipv4.replaceAll('.', '-')}`;
  return region === 'us-east-1' ? `${host}.ec2.internal` : `${host}.${region}.compute.internal`;
}

/** Process limit for a task: generous for real workloads, bounded against fork bombs. */
export function pidsLimitFor(memoryMiB: number): number {
  return Math.min(32768, Math.max(1024, Math.floor(memoryMiB / 2)));
}

/**
 * Writes a container's health and, the first time the task as a whole turns
 * HEALTHY (ECS's rule, model/task-health.ts), times the `first-healthy` phase:
 * from the task's start (startedAt) to that moment.
 */
export function recordHealth(t: TaskRecord, containerName: string, status: HealthStatus, now: number): void {
  t.containers.find((x) => x.name === containerName)!.healthStatus = status;
  if (t.startedAt === undefined || t.timings.some((p) => p.phase === FIRST_HEALTHY_PHASE)) return;
  if (taskHealth(t) === 'HEALTHY') t.timings.push({ phase: FIRST_HEALTHY_PHASE, startedAt: t.startedAt, durationMs: Math.max(0, now - t.startedAt) });
}

/**
 * The order containers are stopped in: waves of names, each container in a
 * wave once nothing still running depends on it (dependents first).
 */
export function stopWaves(containers: readonly Pick<ContainerRecord, 'name' | 'dependsOn'>[]): string[][] {
  const remaining = new Set(containers.map((c) => c.name));
  const byName = new Map(containers.map((c) => [c.name, c]));
  const waves: string[][] = [];
  while (remaining.size > 0) {
    const wave = [...remaining].filter((n) => ![...remaining].some((m) => m !== n && byName.get(m)!.dependsOn.some((d) => d.containerName === n)));
    const batch = wave.length > 0 ? wave : [...remaining]; // a cycle cannot pass validation; never hang on one
    waves.push(batch);
    batch.forEach((n) => remaining.delete(n));
  }
  return waves;
}

/** /etc/hosts and /etc/resolv.conf (service discovery on the gateway, src/discovery) for the task's containers, in `taskFilesDir/<task id>/`. */
export function writeNameFiles(taskFilesDir: string, region: string, task: TaskRecord, gateway: string): NonNullable<ContainerLaunchSpec['extraMounts']> {
  const dir = join(taskFilesDir, task.id);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'hosts');
  const host = hostnameFor(task.network.ipv4, region);
  writeFileSync(file, `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${task.network.ipv4}\t${host}\n`);
  const resolv = join(dir, 'resolv.conf');
  writeFileSync(resolv, resolvConf(gateway, task.clusterName));
  return [
    { source: file, destination: '/etc/hosts', readonly: true },
    { source: resolv, destination: '/etc/resolv.conf', readonly: true },
  ];
}

/** The driver's launch spec of one container: the process merged from image and definition, its limits and mounts. */
export function launchSpecFor(
  task: TaskRecord,
  c: ContainerRecord,
  image: PulledImage,
  identityEnv: Record<string, string> | undefined,
  region: string,
  netnsPath: string,
  mounts: ContainerLaunchSpec['extraMounts'],
): ContainerLaunchSpec {
  let proc;
  try {
    proc = mergeProcess(c, image.config, image.layerDirs, {
      ...identityEnv,
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_EXECUTION_ENV: 'AWS_ECS_FARGATE',
      HOSTNAME: hostnameFor(task.network.ipv4, region),
    });
  } catch (err) {
    if (err instanceof ContainerConfigError) throw new StartError(`CannotStartContainerError: ${err.message}`);
    throw err;
  }
  const spec: ContainerLaunchSpec = {
    id: c.runtimeId,
    taskId: task.id,
    containerName: c.name,
    layerDirs: image.layerDirs,
    ...proc,
    netnsPath,
    hostname: hostnameFor(task.network.ipv4, region),
    taskLimits: { cpuUnits: task.cpu, memoryMiB: task.memory },
    memoryMiB: c.memory,
    memoryReservationMiB: c.memoryReservation,
    cpuUnits: c.cpu,
    readonlyRootFilesystem: c.readonlyRootFilesystem,
    capAdd: c.linuxParameters?.capabilities?.add,
    capDrop: c.linuxParameters?.capabilities?.drop,
    initProcessEnabled: c.linuxParameters?.initProcessEnabled,
    ulimits: c.ulimits,
    extraMounts: mounts,
  };
  return spec;
}
