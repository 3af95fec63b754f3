/**
 * Builds the OCI runtime spec (config.json, runtime-spec 1.0.2) for one container.
 * Pure function: no I/O, so it is unit-testable and cheap on the start path.
 */
import type { ContainerLaunchSpec } from '../driver.ts';
import { seccompProfile } from './seccomp.ts';

/** Docker's default capability set (no NET_RAW, as Fargate). */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** As `runc spec` (1.1.5) writes them. */
export const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/sys/firmware',
  '/proc/scsi',
];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** ECS/Fargate default nofile limit. */
export const NOFILE_LIMIT = 65535;
/** Minimum cpu.shares the kernel accepts; what the ECS agent uses for containers with cpu 0. */
export const MIN_CPU_SHARES = 2;

const MiB = 1024 * 1024;

/**
 * cpu.shares for a container: its ECS `cpu` units (at least 2). An unset or 0 value
 * gets the minimum (2), as the ECS agent does, so containers that all leave `cpu`
 * unset share the task's quota equally, and containers that set it get their ratio.
 */
export function cpuSharesFor(cpuUnits: number | undefined): number {
  if (!cpuUnits || cpuUnits <= 0) return MIN_CPU_SHARES;
  return Math.max(MIN_CPU_SHARES, Math.floor(cpuUnits));
}

/** The capabilities Fargate lets a container add (everything else may only be dropped). */
export const ADDABLE_CAPABILITIES = ['CAP_SYS_PTRACE'];

/** Every capability name the kernel knows, for `drop: ["ALL"]`-style checks and validation. */
const CAP_NAME_RE = /^(CAP_)?[A-Z][A-Z_]{1,30}$/;

/**
 * The container's final capability set: Docker's default, minus `drop` (ALL = every
 * one), plus `add` (only what Fargate allows; anything else is an error here, as
 * registration should have refused it).
 */
export function finalCapabilities(add: readonly string[] = [], drop: readonly string[] = []): string[] {
  const norm = (c: string) => {
    const u = c.toUpperCase();
    if (!CAP_NAME_RE.test(u)) throw new Error(`invalid capability name ${JSON.stringify(c)}`);
    return u === 'ALL' ? 'ALL' : u.startsWith('CAP_') ? u : `CAP_${u}`;
  };
  const dropped = new Set(drop.map(norm));
  const caps = dropped.has('ALL') ? [] : DEFAULT_CAPABILITIES.filter((c) => !dropped.has(c));
  for (const c of add.map(norm)) {
    if (!ADDABLE_CAPABILITIES.includes(c)) throw new Error(`capability ${c} cannot be added (Fargate allows adding only ${ADDABLE_CAPABILITIES.join(', ')})`);
    if (!caps.includes(c)) caps.push(c);
  }
  return caps;
}

/** ECS ulimit names → OCI rlimit types. */
const RLIMITS: Record<string, string> = {
  core: 'RLIMIT_CORE', cpu: 'RLIMIT_CPU', data: 'RLIMIT_DATA', fsize: 'RLIMIT_FSIZE', locks: 'RLIMIT_LOCKS',
  memlock: 'RLIMIT_MEMLOCK', msgqueue: 'RLIMIT_MSGQUEUE', nice: 'RLIMIT_NICE', nofile: 'RLIMIT_NOFILE', nproc: 'RLIMIT_NPROC',
  rss: 'RLIMIT_RSS', rtprio: 'RLIMIT_RTPRIO', rttime: 'RLIMIT_RTTIME', sigpending: 'RLIMIT_SIGPENDING', stack: 'RLIMIT_STACK',
};

/** Where the init binary appears inside a container with initProcessEnabled (Docker's path for `--init`). */
export const INIT_PATH_IN_CONTAINER = '/sbin/docker-init';

export interface OciSpecOptions {
  /** linux.cgroupsPath, e.g. /skiff/<taskId>/<name>. */
  cgroupsPath: string;
  /** RLIMIT_NOFILE soft and hard; default NOFILE_LIMIT. */
  nofile?: number;
  /** Run in a user namespace: container ids 0..size-1 are host ids hostId..hostId+size-1. */
  userns?: { hostId: number; size: number };
  /** Host path of a static init binary (tini-static), bind-mounted when initProcessEnabled. */
  initPath?: string;
  /**
   * A sysfs already mounted (by the host, for the task's network namespace) to bind
   * at /sys. Needed in a user namespace: the kernel lets a container mount sysfs only
   * if its user namespace owns the network namespace, and task namespaces are the host's.
   */
  sysfsSource?: string;
}

export const CFS_PERIOD_US = 100_000;

/** CFS quota and period for `cpuUnits` ECS CPU units (1024 = one CPU). */
export function cfsQuotaFor(cpuUnits: number): { quota: number; period: number } {
  return { quota: Math.max(1000, Math.round((cpuUnits / 1024) * CFS_PERIOD_US)), period: CFS_PERIOD_US };
}

export function buildOciSpec(spec: ContainerLaunchSpec, opts: OciSpecOptions): Record<string, unknown> {
  const nofile = opts.nofile ?? NOFILE_LIMIT;
  const env = [...spec.env];
  if (!env.some((e) => e.startsWith('PATH='))) env.push(DEFAULT_PATH);

  const memory: Record<string, number> = {};
  const limitMiB = Math.min(spec.memoryMiB && spec.memoryMiB > 0 ? spec.memoryMiB : Infinity, spec.taskLimits.memoryMiB);
  if (Number.isFinite(limitMiB)) memory.limit = Math.floor(limitMiB * MiB);
  if (spec.memoryReservationMiB && spec.memoryReservationMiB > 0) memory.reservation = Math.floor(spec.memoryReservationMiB * MiB);

  const mounts: Record<string, unknown>[] = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    opts.sysfsSource
      ? { destination: '/sys', type: 'bind', source: opts.sysfsSource, options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
      : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
  ];
  for (const m of spec.extraMounts ?? []) {
    mounts.push({
      destination: m.destination,
      type: 'bind',
      source: m.source,
      options: ['rbind', 'rprivate', 'nosuid', 'nodev', m.readonly ? 'ro' : 'rw'],
    });
  }

  let args = [...spec.args];
  if (spec.initProcessEnabled) {
    if (!opts.initPath) throw new Error('initProcessEnabled needs an init binary (install tini: apt-get install tini)');
    mounts.push({ destination: INIT_PATH_IN_CONTAINER, type: 'bind', source: opts.initPath, options: ['bind', 'ro', 'nosuid', 'nodev'] });
    args = [INIT_PATH_IN_CONTAINER, '--', ...args];
  }

  const capabilities = finalCapabilities(spec.capAdd, spec.capDrop);
  const rlimits = new Map<string, { type: string; hard: number; soft: number }>([['RLIMIT_NOFILE', { type: 'RLIMIT_NOFILE', hard: nofile, soft: nofile }]]);
  for (const u of spec.ulimits ?? []) {
    const type = RLIMITS[u.name];
    if (!type) throw new Error(`unknown ulimit ${JSON.stringify(u.name)} (use one of ${Object.keys(RLIMITS).join(', ')})`);
    rlimits.set(type, { type, hard: u.hardLimit, soft: u.softLimit });
  }

  const user: Record<string, unknown> = { uid: spec.uid, gid: spec.gid };
  if (spec.additionalGids && spec.additionalGids.length > 0) user.additionalGids = [...spec.additionalGids];

  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user,
      args,
      env,
      cwd: spec.cwd || '/',
      // Docker's rule: a non-root user keeps only the bounding set (it gains capabilities only through file capabilities, which no_new_privileges blocks).
      capabilities: {
        bounding: capabilities,
        effective: spec.uid === 0 ? capabilities : [],
        permitted: spec.uid === 0 ? capabilities : [],
      },
      rlimits: [...rlimits.values()],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: !!spec.readonlyRootFilesystem },
    hostname: spec.hostname,
    mounts,
    linux: {
      cgroupsPath: opts.cgroupsPath,
      resources: {
        // Deny all devices, then runc adds its default allow list (null, zero, full, random, urandom, tty, ptmx, pts).
        devices: [{ allow: false, access: 'rwm' }],
        ...(Object.keys(memory).length ? { memory } : {}),
        cpu: { shares: cpuSharesFor(spec.cpuUnits), ...cfsQuotaFor(spec.taskLimits.cpuUnits) },
      },
      ...(opts.userns
        ? {
            uidMappings: [{ containerID: 0, hostID: opts.userns.hostId, size: opts.userns.size }],
            gidMappings: [{ containerID: 0, hostID: opts.userns.hostId, size: opts.userns.size }],
          }
        : {}),
      seccomp: seccompProfile(capabilities),
      namespaces: [
        ...(opts.userns ? [{ type: 'user' }] : []),
        { type: 'pid' },
        { type: 'network', path: spec.netnsPath },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
      ],
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
    },
  };
}

/**
 * The NOFILE limit containers can get on this host: NOFILE_LIMIT, unless Skiff lacks
 * CAP_SYS_RESOURCE (some sandboxes and nested containers) and its own hard limit is
 * lower, since runc cannot raise a hard limit without that capability.
 */
export function effectiveNofile(procStatus: string, procLimits: string): number {
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(procStatus)?.[1];
  const CAP_SYS_RESOURCE = 24n;
  if (capEff && (BigInt(`0x${capEff}`) >> CAP_SYS_RESOURCE) & 1n) return NOFILE_LIMIT;
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(procLimits);
  if (!m) return NOFILE_LIMIT;
  const hard = m[2] === 'unlimited' ? Infinity : Number(m[2]);
  return Number.isFinite(hard) && hard > 0 ? Math.min(NOFILE_LIMIT, hard) : NOFILE_LIMIT;
}
