/**
 * Doctor checks of the containers themselves: read-only root filesystem,
 * non-root user, dropped capabilities, health checks, graceful shutdown, and
 * the image's size, layers and pinning. Pure: each function appends its verdict
 * through `add`.
 */
import type { ContainerDefinition, TaskDefinition } from '@aws-sdk/client-ecs';
import { names, type Add, type DoctorFacts } from './doctor-types.ts';

const MIN_STOP_TIMEOUT = 10;
const MB = 1_000_000;

function isRootUser(user: string): boolean {
  const u = user.split(':')[0].trim();
  return u === 'root' || u === '0';
}

/** True when PID 1 is a shell running a script that neither execs nor traps signals. */
function shellSwallowsSigterm(c: ContainerDefinition): boolean {
  const argv = [...(c.entryPoint ?? []), ...(c.command ?? [])];
  const shell = argv.findIndex((a) => /(^|\/)(ba|da|a)?sh$/.test(a));
  if (shell < 0 || argv[shell + 1] !== '-c') return false;
  const script = argv.slice(shell + 2).join(' ');
  return !/\bexec\b/.test(script) && !/\btrap\b/.test(script);
}

/** Read-only root filesystem on every container. */
export function readOnlyRootItem(add: Add, cs: ContainerDefinition[]): void {
  const writable = cs.filter((c) => c.readonlyRootFilesystem !== true);
  if (writable.length) {
    add('container.read-only-root', 'read-only root filesystem', 'fail', `container(s) ${names(writable)} have a writable root filesystem`,
      'set "readonlyRootFilesystem": true and mount a volume (or use /tmp on a volume) for the paths the app writes');
  } else add('container.read-only-root', 'read-only root filesystem', 'pass', 'every container has a read-only root filesystem');
}

/** Every container sets a non-root user. */
export function nonRootItem(add: Add, cs: ContainerDefinition[]): void {
  const root = cs.filter((c) => c.user !== undefined && isRootUser(c.user));
  const unset = cs.filter((c) => c.user === undefined);
  if (root.length) {
    add('container.non-root', 'non-root user', 'fail', `container(s) ${names(root)} run as root`, 'set "user" to an unprivileged uid:gid such as "1000:1000" (and make the image work as that user)');
  } else if (unset.length) {
    add('container.non-root', 'non-root user', 'warn', `container(s) ${names(unset)} set no user: the image's USER decides, and many images run as root`,
      'set "user" explicitly to a non-root uid:gid such as "1000:1000"');
  } else add('container.non-root', 'non-root user', 'pass', 'every container sets a non-root user');
}

/** No privileged container, no added capabilities, ALL dropped. */
export function capabilitiesItem(add: Add, cs: ContainerDefinition[]): void {
  const privileged = cs.filter((c) => c.privileged === true);
  const adds = cs.filter((c) => (c.linuxParameters?.capabilities?.add ?? []).length > 0);
  const noDrop = cs.filter((c) => !(c.linuxParameters?.capabilities?.drop ?? []).some((d) => d.toUpperCase() === 'ALL'));
  if (privileged.length) {
    add('container.capabilities', 'dropped capabilities', 'fail', `container(s) ${names(privileged)} are privileged`, 'remove "privileged": true');
  } else if (adds.length) {
    add('container.capabilities', 'dropped capabilities', 'warn', `container(s) ${names(adds)} add capabilities (${[...new Set(adds.flatMap((c) => c.linuxParameters!.capabilities!.add!))].join(', ')})`,
      'add SYS_PTRACE only while debugging; remove it for production');
  } else if (noDrop.length) {
    add('container.capabilities', 'dropped capabilities', 'warn', `container(s) ${names(noDrop)} keep the default capability set`,
      'set "linuxParameters": {"capabilities": {"drop": ["ALL"]}} (add back only what the app needs)');
  } else add('container.capabilities', 'dropped capabilities', 'pass', 'every container drops ALL capabilities and adds none');
}

/** Every essential container has a health check with a sane startPeriod. */
export function healthCheckItem(add: Add, cs: ContainerDefinition[]): void {
  const essential = cs.filter((c) => c.essential !== false);
  const noHc = essential.filter((c) => !c.healthCheck);
  const slowHc = cs.filter((c) => (c.healthCheck?.startPeriod ?? 0) > 120);
  if (noHc.length) {
    add('health-check', 'health checks configured', 'warn', `essential container(s) ${names(noHc)} have no healthCheck: a hung process looks healthy`,
      'add "healthCheck": {"command": ["CMD-SHELL", "wget -q -O- http://localhost:PORT/health || exit 1"], "interval": 30, "retries": 3, "startPeriod": 10}');
  } else if (slowHc.length) {
    add('health-check', 'health checks configured', 'warn', `container(s) ${names(slowHc)} have a startPeriod over 120 s: failures are ignored that long`, 'set startPeriod close to the real start time');
  } else add('health-check', 'health checks configured', 'pass', 'every essential container has a health check');
}

/** stopTimeout leaves time to drain and no PID 1 shell swallows SIGTERM. */
export function gracefulShutdownItem(add: Add, cs: ContainerDefinition[]): void {
  const shortStop = cs.filter((c) => c.stopTimeout !== undefined && c.stopTimeout < MIN_STOP_TIMEOUT);
  const swallow = cs.filter((c) => shellSwallowsSigterm(c) && c.linuxParameters?.initProcessEnabled !== true);
  if (swallow.length) {
    add('shutdown.graceful', 'stopTimeout and SIGTERM handling', 'warn', `container(s) ${names(swallow)} run a shell as PID 1 that neither execs the app nor traps SIGTERM: they are SIGKILLed after stopTimeout`,
      'start the app with `exec` in the script, trap TERM, or set linuxParameters.initProcessEnabled: true');
  } else if (shortStop.length) {
    add('shutdown.graceful', 'stopTimeout and SIGTERM handling', 'warn', `container(s) ${names(shortStop)} have stopTimeout under ${MIN_STOP_TIMEOUT} s: in-flight work may be cut off`,
      'give stopTimeout enough time to drain (30 s is the default; up to 120 s)');
  } else add('shutdown.graceful', 'stopTimeout and SIGTERM handling', 'pass', 'stop timeouts leave time to drain, and no PID 1 shell swallows SIGTERM');
}

/** Image size and layer count (from the family's latest start), and pinning. */
export function imageItem(add: Add, def: TaskDefinition, cs: ContainerDefinition[], facts: DoctorFacts): void {
  const unpinned = cs.filter((c) => !c.image?.includes('@') && (/:latest$/.test(c.image ?? '') || !/:[^/]+$/.test(c.image ?? '')));
  const img = facts.image;
  const problems: string[] = [];
  if (img && img.sizeBytes > 1000 * MB) problems.push(`the image is ${(img.sizeBytes / MB).toFixed(0)} MB (over 1000 MB)`);
  if (img && img.layers > 10) problems.push(`it has ${img.layers} layers (over 10)`);
  if (unpinned.length) problems.push(`container(s) ${names(unpinned)} use :latest or no tag`);
  if (problems.length) {
    add('image', 'image size and layer count', 'warn', problems.join('; '), 'use a minimal multi-stage image with few layers, pinned by a version tag or digest (see `skiff coldstart --family ' + def.family + '`)');
  } else if (!img) {
    add('image', 'image size and layer count', 'warn', facts.imageUnavailable ?? 'no task of this family has started on this server: image size and layers unknown', 'run the task once, then run doctor again');
  } else {
    add('image', 'image size and layer count', 'pass', `image is ${(img.sizeBytes / MB).toFixed(1)} MB in ${img.layers} layer(s), pinned by tag or digest`);
  }
}
