/**
 * The contract between the agent's task runner and a container runtime (a
 * "driver"), modelled on Nomad's driver plugins.
 *
 * One task = one resource boundary holding the task-level CPU, memory and pids
 * limits (for runc a cgroup parent), and one container per container definition
 * inside it, all joined to the task's network namespace. Containers must outlive
 * the Skiff server: each has a small supervisor that owns its stdio, log file and
 * exit status, so a new driver over the same state adopts them (`listContainers`,
 * `inspect`, `waitContainer` are the recovery path).
 *
 * Ids: container ids are runtime ids (src/model/runtime-id.ts), task ids the task's
 * 32 hex digits; the driver takes them as they are. Everything else about a driver
 * (its files, paths, cgroup and container naming) stays inside its folder
 * `src/drivers/<name>/`: callers reach it only through this interface. Drivers are
 * made through the registry (src/drivers/registry.ts), never imported directly.
 *
 * Errors: methods reject with a plain Error whose message says what failed; reads
 * of something that went away (stats of a stopped container) answer `undefined`
 * instead of rejecting.
 */

/** What a driver can do on this host, and if it cannot, why (Nomad's Fingerprint). */
export interface DriverFingerprint {
  /** The driver's registry name (`runc`, `gvisor`, `microvm`, `fake`). */
  name: string;
  /** True when the driver can run tasks here (`reasons` is then empty). */
  available: boolean;
  /** Each thing that is missing and how to get it, for the operator. */
  reasons: string[];
  /**
   * How the task is isolated from the host:
   * `namespaces` (shares the host kernel), `application-kernel` (a user-space
   * kernel such as gVisor), `vm` (its own guest kernel), `none` (nothing really
   * runs: the fake driver of tests and scale measurements).
   */
  isolation: 'namespaces' | 'application-kernel' | 'vm' | 'none';
  /** The variant in use where a driver has several (gVisor `ptrace`|`kvm`; microVM `kvm`|`tcg`). */
  platform?: string;
  /** Optional parts of this interface that return real data here (the others answer undefined / fail clearly). */
  features: {
    exec: boolean;
    stats: boolean;
    writableLayerUsage: boolean;
  };
  /** Free-form facts for diagnostics (versions, paths), e.g. { runc: '1.1.5' }. */
  attributes?: Record<string, string>;
}

/**
 * Resource use from the runtime's own accounting (cgroups for runc), cumulative
 * counters since the task/container started. CPU in µs, memory in bytes.
 */
export interface ResourceUsage {
  /** CPU time used, user + system, µs. */
  cpuUsageUs: number;
  /** Of which in user mode / in the kernel, µs, where the runtime splits it. */
  cpuUserUs?: number;
  cpuSystemUs?: number;
  /** CFS throttling under the CPU limit, where known. */
  throttling?: { periods: number; throttledPeriods: number; throttledUs: number };
  /** Memory charged now (page cache included), bytes. */
  memoryUsageBytes?: number;
  /** usage − inactive file cache (never negative): what an OOM decision and right-sizing look at. */
  workingSetBytes: number;
  /** Anonymous memory (rss), bytes. */
  rssBytes: number;
  /** Page cache, bytes. */
  cacheBytes: number;
  /** The hard memory limit in force, bytes (undefined: unlimited or unknown). */
  memoryLimitBytes?: number;
  /** Processes (tasks, in the kernel's sense) now. */
  pids?: number;
  /** Block I/O done by the cgroup since it started, per device, where the runtime measures it. */
  blkio?: BlkioUsage;
}

/** One counter of one block device, in Docker's shape (`op`: Read, Write, Sync, Async, Discard, Total). */
export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

/** Bytes and operations per device and op (cgroup v1 blkio.throttle.*_recursive, v2 io.stat). */
export interface BlkioUsage {
  serviceBytes: BlkioEntry[];
  serviced: BlkioEntry[];
}

/** A container's usage plus a way into its namespaces from the host. */
export interface ContainerUsage extends ResourceUsage {
  /**
   * Host pid of one process of the container, if any runs: `/proc/<pid>/net/dev`
   * shows the task's network namespace (Skiff reads traffic counters through it).
   */
  pid?: number;
}

/** Space used by a container's writable layer (what it wrote over its image), like `du`. */
export interface WritableLayerUsage {
  /** Allocated bytes, hard links counted once. */
  bytes: number;
  /** Files, directories and links. */
  inodes: number;
}

/** The read-only usage side of a driver: what stats, metrics and the metadata endpoint need. */
export type DriverStats = Pick<Driver, 'taskStats' | 'containerStats' | 'writableLayerUsage'>;

export interface TaskResources {
  /** ECS CPU units (1024 = one vCPU). Becomes the CFS quota of the task cgroup. */
  cpuUnits: number;
  /** Hard memory limit of the whole task, MiB. */
  memoryMiB: number;
  /** Max processes in the task (all containers together). */
  pidsLimit: number;
}

export interface ContainerLaunchSpec {
  /** Runtime id, unique on the host: `<taskId>-<containerName>` sanitised. */
  id: string;
  taskId: string;
  containerName: string;
  /** Image layer directories, lowest first (already unpacked, shared read-only). */
  layerDirs: string[];
  /** The process, already merged from image config + container definition. */
  args: string[];
  env: string[]; // KEY=VALUE
  cwd: string;
  /** Numeric uid/gid to run as (resolved from `user` and the image's /etc/passwd). */
  uid: number;
  gid: number;
  additionalGids?: number[];
  /** Path of the task's network namespace, e.g. /var/run/netns/skiff-<id>. */
  netnsPath: string;
  /** Container hostname. */
  hostname: string;
  /**
   * The task's own limits, repeated on the container's cgroup (a container never
   * gets more than its task) so that a process inside sees the limits it runs under.
   */
  taskLimits: { cpuUnits: number; memoryMiB: number };
  /** Container-level hard memory limit, MiB (ECS `memory`), if set. */
  memoryMiB?: number;
  /** Container-level soft limit, MiB (ECS `memoryReservation`), if set. */
  memoryReservationMiB?: number;
  /** Container-level CPU units (ECS `cpu`), 0 = share equally. Becomes cpu.shares. */
  cpuUnits?: number;
  readonlyRootFilesystem?: boolean;
  /** ECS linuxParameters.capabilities: names like SYS_PTRACE added to / dropped from Docker's default set (ALL drops every one). */
  capAdd?: string[];
  capDrop?: string[];
  /** ECS ulimits (name: nofile, nproc, core, ...); nofile replaces the default 65535. */
  ulimits?: { name: string; softLimit: number; hardLimit: number }[];
  /** ECS linuxParameters.initProcessEnabled: an init (tini) runs as PID 1, reaping zombies and forwarding signals. */
  initProcessEnabled?: boolean;
  /** Files the runtime bind-mounts read-only into the container (e.g. /etc/hosts, /etc/resolv.conf). */
  extraMounts?: { source: string; destination: string; readonly: boolean }[];
}

export interface ContainerExit {
  exitCode: number;
  /** Set when the kernel OOM killer ended the container (its cgroup recorded an OOM kill). */
  oomKilled: boolean;
  /** Epoch ms of the exit, as recorded by the supervisor (file mtime). */
  exitedAt: number;
}

export interface ExecResult {
  exitCode: number;
  timedOut: boolean;
  output: string;
}

// ---------------------------------------------------------------- exec sessions (skiff exec / ECS ExecuteCommand)

/** How an exec session's process gets its stdio. */
export interface ExecSessionOptions {
  /** A pseudo-terminal from the container's own devpts (stdout and stderr merged, as a terminal has them). */
  tty: boolean;
  /** Initial window size with `tty`. */
  cols?: number;
  rows?: number;
}

/** A running exec session's process. Whoever starts one must end it (`kill`) if it is abandoned. */
export interface ExecSession {
  /** Bytes for the process's stdin; `end()` is EOF (with a tty: ^D on an empty line). */
  stdin: NodeJS.WritableStream;
  stdout: NodeJS.ReadableStream;
  /** Empty with `tty` (a terminal has one output stream). */
  stderr: NodeJS.ReadableStream;
  /** Sets the terminal's window size (the process gets SIGWINCH). No-op without `tty`. */
  resize(cols: number, rows: number): void;
  /** Ends the process and everything it started in the session (SIGKILL). Idempotent. */
  kill(): void;
  /** Its exit status: the code, or 128 + signal number when a signal ended it. Settles after the output streams end. */
  exited: Promise<number>;
}

export type ContainerStatus = 'created' | 'running' | 'stopped' | 'missing';

export interface ContainerState {
  id: string;
  status: ContainerStatus;
  pid?: number;
  exit?: ContainerExit;
}

export interface Driver {
  /** The registry name of this driver (`runc`, ...). */
  readonly name: string;
  /** What this driver can do on this host and, if it cannot run tasks, why. Cheap enough to call at start-up. */
  fingerprint(): Promise<DriverFingerprint>;
  /** Creates the task's resource boundary with its limits. Idempotent. */
  createTask(taskId: string, res: TaskResources): Promise<void>;
  /** Prepares the rootfs, writes the bundle, starts the supervisor and creates the container. Resolves once created. */
  createContainer(spec: ContainerLaunchSpec): Promise<{ pid: number }>;
  /** The process begins executing. */
  startContainer(id: string): Promise<void>;
  /** Resolves when the container has exited (also for one that exited before the call). */
  waitContainer(id: string): Promise<ContainerExit>;
  /** Sends `signal`; if still running after `timeoutMs`, SIGKILL. Resolves once exited. */
  stopContainer(id: string, signal: string, timeoutMs: number): Promise<ContainerExit>;
  /**
   * Runs `args` inside the running container (its namespaces, cgroup, user,
   * environment and working directory, as `runc exec` / `docker exec`); kills it
   * after `timeoutMs`. Resolves with its exit code (non-zero when it could not
   * run or timed out) and the first 4 KiB of its output.
   */
  exec(id: string, args: string[], opts: { timeoutMs: number }): Promise<ExecResult>;
  /**
   * Starts `args` inside the running container as an interactive session
   * (same identity and confinement as `exec`: namespaces, cgroup, user,
   * environment, working directory), with streaming stdio. Rejects when the
   * container is not running.
   */
  startExec(id: string, args: string[], opts: ExecSessionOptions): Promise<ExecSession>;
  /** Current state as the runtime and the supervisor see it. */
  inspect(id: string): Promise<ContainerState>;
  /** Removes the container: runtime state, rootfs, bundle and writable layer (the log stays). Idempotent. */
  destroyContainer(id: string): Promise<void>;
  /** Removes the task's resource boundary (after all its containers are destroyed). Idempotent. */
  destroyTask(taskId: string): Promise<void>;
  /** Ids of every container this driver created that still exists on the host (for reconciliation). */
  listContainers(): Promise<string[]>;
  /** Task ids that still have a resource boundary on the host. */
  listTasks(): Promise<string[]>;
  /** Usage of a whole task (all its containers); undefined when the task is gone. */
  taskStats(taskId: string): Promise<ResourceUsage | undefined>;
  /** Usage of one container; undefined when it is gone. */
  containerStats(id: string): Promise<ContainerUsage | undefined>;
  /** Space used by the container's writable layer; undefined when it is gone. May walk the layer: callers cache. */
  writableLayerUsage(id: string): Promise<WritableLayerUsage | undefined>;
  /** Path of the container's log file (k8s-file format lines: `<RFC3339Nano> <stdout|stderr> <F|P> <text>`); kept after destroy. */
  logPath(id: string): string;
  /**
   * Host state the driver keeps outside the data dir besides its containers
   * (e.g. a memory filesystem dir): removed (unless `dryRun`) once no container
   * is left, for `skiff host reset`. Returns the paths removed (or that would be).
   */
  purgeHostState(opts: { dryRun: boolean }): Promise<string[]>;
  /**
   * Optional: moves a host process that serves a task from outside its
   * containers (the bindfs behind an EFS access point) out of the server's
   * cgroups into one of its own named `name`, as the driver keeps its container
   * supervisors, so a service manager stopping the server leaves it running.
   */
  adoptHelper?(pid: number, name: string): Promise<void>;
  /** Optional: removes the cgroup of `adoptHelper` once its process exited (idempotent). */
  releaseHelper?(name: string): Promise<void>;
}

/**
 * The host settings every driver is made from (resolved once by the server's
 * config). A driver ignores what does not apply to it.
 */
export interface DriverHostConfig {
  /**
   * The agent's runtime directory, `<data>/runtime`. The runc driver keeps its
   * state directly in it (its layout predates other drivers, and restarted servers
   * adopt from it); every other driver keeps its own under `<runtimeDir>/<name>/`.
   */
  runtimeDir: string;
  /** Name of the host-level parent of every task's resource boundary (the cgroup parent `/<cgroupRoot>/<taskId>`). */
  cgroupRoot: string;
  /** Map container ids 0..size-1 to host ids hostId.. (user namespace), where the driver supports it. */
  userns?: { hostId: number; size: number };
  /** Cap of one container's log file, bytes (the supervisor starts it afresh past it). */
  logSizeMaxBytes?: number;
  /** Containers created at once on this host. */
  maxConcurrentCreates?: number;
  /** Executables by name where not at the driver's default path, e.g. { runc: '/usr/sbin/runc', conmon: '/usr/bin/conmon' }. */
  tools?: Record<string, string | undefined>;
}

/**
 * What a driver folder exports as `driver` from its index.ts; the registry
 * (src/drivers/registry.ts) lists one line per folder.
 */
export interface DriverDefinition {
  /** Registry name, equal to the folder name under src/drivers/. */
  name: string;
  /** One line for operators (`skiff doctor`, logs). */
  description: string;
  /**
   * True when the driver runs containers in DriverHostConfig.userns (image
   * layers must then be stored with ids shifted into it); false/absent: it
   * needs layers stored as the image has them.
   */
  userNamespaces?: boolean;
  /** Makes the driver; touches nothing on the host (files and processes come with use). */
  create(config: DriverHostConfig): Driver;
}
