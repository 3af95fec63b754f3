/**
 * The contract between the agent's task runner and a container runtime.
 *
 * One task = one cgroup parent (`/skiff/<taskId>`) holding the task-level CPU,
 * memory and pids limits, and one container per container definition below it,
 * all joined to the task's network namespace. Containers must outlive the Skiff
 * server: each has a small supervisor (conmon) that owns its stdio, log file and
 * exit status, so `recover` can adopt them after a restart.
 */

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
  /** Checks this host can run tasks; returns problems (each: what is missing and how to get it). */
  fingerprint(): Promise<string[]>;
  /** Creates the task cgroup with its limits. Idempotent. */
  createTask(taskId: string, res: TaskResources): Promise<void>;
  /** Mounts the rootfs, writes the OCI bundle, starts the supervisor and `runc create`. Resolves once created. */
  createContainer(spec: ContainerLaunchSpec): Promise<{ pid: number }>;
  /** `runc start`: the process begins executing. */
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
  /** Current state as runc and the supervisor see it. */
  inspect(id: string): Promise<ContainerState>;
  /** Removes the container: runc delete, unmount rootfs, remove bundle and writable layer. Idempotent. */
  destroyContainer(id: string): Promise<void>;
  /** Removes the task cgroup (after all its containers are destroyed). Idempotent. */
  destroyTask(taskId: string): Promise<void>;
  /** Ids of every container this driver created that still exists on the host (for reconciliation). */
  listContainers(): Promise<string[]>;
  /** Task ids that still have a cgroup on the host. */
  listTasks(): Promise<string[]>;
  /** Path of the container's log file (k8s-file format lines: `<RFC3339Nano> <stdout|stderr> <F|P> <text>`). */
  logPath(id: string): string;
}
