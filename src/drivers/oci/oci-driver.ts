/**
 * A driver over an OCI runtime with runc's command line (runc itself, gVisor's
 * runsc), each container supervised by conmon, cgroup v1 limits. The runc and
 * gvisor driver folders make one of these with their own runtime profile
 * (OciRuntimeProfile: name, binary, flags, fingerprint, how exec sessions enter).
 * This class is the façade: it checks ids, owns the shared state (paths, metadata
 * records, exit tracker, cgroups) and hands each operation to the file of its
 * concern:
 *
 *   paths.ts         on-disk layout, ids, metadata records
 *   fingerprint.ts   what the host must have
 *   task-cgroups.ts  task cgroups (limits, listing, usage);  cgroup-usage.ts, cgroups.ts
 *   create.ts        bundle + rootfs + `runc create` through conmon;  rootfs.ts, conmon.ts, spec.ts
 *   start.ts         exec fifo / `runc start`
 *   exits.ts         exit files, OOM verdicts, waiters
 *   stop.ts          signal, grace period, SIGKILL
 *   exec.ts          commands inside a container
 *   destroy.ts       delete, unmount, remove
 *   listing.ts       what exists (recovery), inspect
 *   layer-usage.ts   writable-layer disk use
 *
 * conmon double-forks and setsid()s, so containers and their supervisors outlive
 * the Node process; a new driver over the same stateDir adopts them.
 */
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { availableParallelism } from 'node:os';
import { Semaphore } from '../../util/semaphore.ts';
import type {
  ContainerExit, ContainerLaunchSpec, ContainerState, ContainerUsage, Driver, DriverFingerprint, ExecResult, ExecSession, ExecSessionOptions, ResourceUsage, TaskResources,
  WritableLayerUsage,
} from '../driver.ts';
import type { ConmonSettings } from './conmon.ts';
import { createContainer, validateSpec } from './create.ts';
import { destroyContainer } from './destroy.ts';
import { execInContainer } from './exec.ts';
import { startExecSession } from './exec-session.ts';
import { ExitTracker } from './exits.ts';
import { runcFingerprint } from './fingerprint.ts';
import { runtimeExec, startRuntimeExecSession } from './runtime-exec-session.ts';
import { diskUsage } from './layer-usage.ts';
import { inspectContainer, listContainers } from './listing.ts';
import { checkId, MetaStore, RuncPaths } from './paths.ts';
import { memoryBase, prepareSecureDir, secureDirOf } from './secure-dir.ts';
import { RuncCli } from './runc-cli.ts';
import { effectiveNofile } from './spec.ts';
import { startContainer } from './start.ts';
import { stopContainer } from './stop.ts';
import { moveToOwnCgroup, removeOwnCgroup } from './supervisor-cgroup.ts';
import { TaskCgroups } from './task-cgroups.ts';

export { sanitizeName, type ContainerMeta } from './paths.ts';
export { UNKNOWN_EXIT_CODE } from './exits.ts';

/**
 * What makes one OCI runtime differ from runc's defaults. The runc driver uses
 * none of it; a sandboxed runtime (gVisor) sets each.
 */
export interface OciRuntimeProfile {
  /** The registry name the driver reports. */
  name: string;
  /** Global flags before `create` (e.g. runsc's `--platform`, `--network`); asked once per container create. */
  createArgs?(): Promise<string[]>;
  /** What the host offers this runtime; default: runc's checks. */
  fingerprint?(): Promise<DriverFingerprint>;
  /**
   * How exec sessions and health checks enter a container: `nsenter` (the
   * container's host namespaces: right for runc, whose processes are host
   * processes) or `runtime` (the runtime's own `exec`: a sandboxed runtime's
   * processes live in its own kernel, and the host namespaces of its sandbox
   * process are not the container).
   */
  execVia?: 'nsenter' | 'runtime';
  /** Check the command's executable on the host at create (runtimes that would only fail at start). */
  checkExecutable?: boolean;
  /** Whether the spec may ask for a user namespace (userns). Default true. */
  userns?: boolean;
}

export interface RuncDriverOptions {
  /** The runtime profile; default runc's. */
  profile?: OciRuntimeProfile;
  /** Directory for bundles, exit files, logs and runc state, e.g. `<data>/runtime` (layout: paths.ts). */
  stateDir: string;
  /** Default `/usr/sbin/runc`. */
  runcPath?: string;
  /** Default `/usr/bin/conmon`. */
  conmonPath?: string;
  /** Name of the cgroup parent of all tasks (`/<cgroupRoot>/<taskId>`). Default `skiff`. */
  cgroupRoot?: string;
  /** Memory-filesystem dir for runtime specs and runc state. Default: secure-dir.ts's choice for stateDir. */
  secureDir?: string;
  /** runc `--root` (its state dir). Default `<stateDir>/runc`, a symlink into secureDir. */
  runcRoot?: string;
  /** Poll interval of the exit-file fallback in waitContainer, ms. Default 1000. */
  pollIntervalMs?: number;
  /** How long createContainer waits for conmon to report `runc create`, ms. Default 60000. */
  createTimeoutMs?: number;
  /**
   * Containers created at once; more callers wait their turn. `runc create`
   * serialises on kernel locks (mount and network namespaces, cgroups): hundreds
   * at once only thrash the host. Default 4 per CPU core.
   */
  maxConcurrentCreates?: number;
  /**
   * Run every container in a user namespace mapping container ids 0..size-1 to host
   * ids hostId.. (one range for all tasks, as Docker's userns-remap): container root
   * is an unprivileged host user. Image layers must then be stored shifted by hostId
   * (LayerStore's idShift); each container's writable layer is owned by hostId.
   */
  userns?: { hostId: number; size: number };
  /** Static init run as PID 1 for initProcessEnabled. Default /usr/bin/tini-static (Debian `tini`). */
  initPath?: string;
  /**
   * conmon `--log-size-max`: when a container's log file would grow past this many
   * bytes, conmon starts it afresh (the host disk is protected). Default: no cap.
   */
  logSizeMaxBytes?: number;
}

export class OciDriver implements Driver {
  readonly name: string;
  private readonly profile: OciRuntimeProfile;
  readonly stateDir: string;
  readonly runcPath: string;
  readonly conmonPath: string;
  readonly cgroupRoot: string;
  readonly runcRoot: string;
  readonly userns?: { hostId: number; size: number };
  private readonly initPath: string;
  private readonly conmon: ConmonSettings;
  private readonly paths: RuncPaths;
  /** Memory-filesystem dir for what holds process envs (secure-dir.ts). */
  readonly secureDir: string;
  private readonly defaultRoot: boolean;
  private readonly cli: RuncCli;
  private readonly meta: MetaStore;
  private readonly exits: ExitTracker;
  private readonly cgroups: TaskCgroups;
  private readonly creates: Semaphore;
  private dirsReady?: Promise<void>;
  private nofile?: number;

  constructor(opts: RuncDriverOptions) {
    if (!opts?.stateDir || !path.isAbsolute(opts.stateDir)) throw new Error('RuncDriver: stateDir must be an absolute path');
    this.profile = opts.profile ?? { name: 'runc' };
    this.name = this.profile.name;
    this.stateDir = opts.stateDir;
    this.runcPath = opts.runcPath ?? '/usr/sbin/runc';
    this.conmonPath = opts.conmonPath ?? '/usr/bin/conmon';
    this.cgroupRoot = opts.cgroupRoot ?? 'skiff';
    checkId('cgroupRoot', this.cgroupRoot);
    this.runcRoot = opts.runcRoot ?? path.join(this.stateDir, 'runc');
    this.defaultRoot = !opts.runcRoot;
    if (opts.userns && this.profile.userns === false) throw new Error(`${this.name}: user namespaces are not supported by this runtime`);
    if (opts.userns) {
      const { hostId, size } = opts.userns;
      if (!Number.isInteger(hostId) || hostId < 1 || !Number.isInteger(size) || size < 1 || hostId + size > 2 ** 32 - 1) {
        throw new Error(`RuncDriver: invalid userns range ${hostId}+${size}`);
      }
      this.userns = { hostId, size };
    }
    this.initPath = opts.initPath ?? '/usr/bin/tini-static';
    this.conmon = { conmonPath: this.conmonPath, runcPath: this.runcPath, createTimeoutMs: opts.createTimeoutMs ?? 60_000, logSizeMaxBytes: opts.logSizeMaxBytes };
    this.secureDir = opts.secureDir ?? secureDirOf(memoryBase(), this.stateDir);
    this.paths = new RuncPaths(this.stateDir, this.runcRoot, this.secureDir);
    this.cli = new RuncCli(this.runcPath, this.paths);
    this.meta = new MetaStore(this.paths);
    this.cgroups = new TaskCgroups(this.cgroupRoot, this.stateDir);
    this.exits = new ExitTracker({
      paths: this.paths,
      meta: this.meta,
      cli: this.cli,
      memoryHierarchy: () => this.cgroups.memoryHierarchy(),
      pollIntervalMs: opts.pollIntervalMs ?? 1000,
    });
    this.creates = new Semaphore(opts.maxConcurrentCreates ?? 4 * availableParallelism());
  }

  // ---------------------------------------------------------------- host

  fingerprint(): Promise<DriverFingerprint> {
    if (this.profile.fingerprint) return this.profile.fingerprint();
    return runcFingerprint({ runcPath: this.runcPath, conmonPath: this.conmonPath }, { userns: !!this.userns });
  }

  logPath(id: string): string {
    checkId('container id', id);
    return this.paths.logPath(id);
  }

  private ensureDirs(): Promise<void> {
    const p = this.paths;
    this.dirsReady ??= Promise.all([p.bundlesDir, p.exitDir, p.logsDir, p.sockDir].map((d) => fsp.mkdir(d, { recursive: true, mode: 0o700 })))
      // The default runc root links to the memory dir; an explicit one is made as given.
      .then(() => prepareSecureDir(p.secureDir, this.defaultRoot ? p.runcRoot : undefined))
      .then(() => fsp.mkdir(p.runcRoot, { recursive: true, mode: 0o700 }))
      .then(
      () => (this.userns ? allowTraversal(p.bundlesDir) : undefined),
      (e) => {
        this.dirsReady = undefined;
        throw e;
      },
    );
    return this.dirsReady;
  }

  /** RLIMIT_NOFILE for containers (65535 unless this process cannot raise limits). Computed once. */
  private nofileLimit(): number {
    if (this.nofile === undefined) {
      try {
        this.nofile = effectiveNofile(readFileSync('/proc/self/status', 'utf8'), readFileSync('/proc/self/limits', 'utf8'));
      } catch {
        this.nofile = 65535;
      }
    }
    return this.nofile;
  }

  // ---------------------------------------------------------------- tasks

  createTask(taskId: string, res: TaskResources): Promise<void> {
    return this.cgroups.create(taskId, res);
  }

  destroyTask(taskId: string): Promise<void> {
    return this.cgroups.destroy(taskId);
  }

  listTasks(): Promise<string[]> {
    return this.cgroups.list();
  }

  // ---------------------------------------------------------------- containers

  async createContainer(spec: ContainerLaunchSpec): Promise<{ pid: number }> {
    validateSpec(spec);
    const runtimeArgs = (await this.profile.createArgs?.()) ?? [];
    return this.creates.run(() =>
      createContainer(
        {
          paths: this.paths,
          meta: this.meta,
          exits: this.exits,
          cgroups: this.cgroups,
          conmon: runtimeArgs.length ? { ...this.conmon, runtimeArgs } : this.conmon,
          userns: this.userns,
          initPath: this.initPath,
          nofile: () => this.nofileLimit(),
          ensureDirs: () => this.ensureDirs(),
          checkExecutable: this.profile.checkExecutable,
          destroy: (id) => this.destroyContainer(id),
        },
        spec,
      ),
    );
  }

  async startContainer(id: string): Promise<void> {
    checkId('container id', id);
    await startContainer(this.paths, this.cli, id, (await this.profile.createArgs?.()) ?? []);
  }

  async waitContainer(id: string): Promise<ContainerExit> {
    checkId('container id', id);
    await this.ensureDirs();
    return this.exits.wait(id);
  }

  async stopContainer(id: string, signal: string, timeoutMs: number): Promise<ContainerExit> {
    checkId('container id', id);
    return stopContainer({ exits: this.exits, cli: this.cli, wait: (cid) => this.waitContainer(cid) }, id, signal, timeoutMs);
  }

  async exec(id: string, args: string[], opts: { timeoutMs: number }): Promise<ExecResult> {
    checkId('container id', id);
    if (this.profile.execVia === 'runtime') {
      const st = await this.cli.state(id);
      if (!st || st.status !== 'running') return { exitCode: 126, timedOut: false, output: `container ${id} is not running` };
      return runtimeExec({ cli: this.cli, id, bundleDir: this.paths.bundle(id), execDir: this.paths.secureDir }, args, opts.timeoutMs);
    }
    return execInContainer({ paths: this.paths, cli: this.cli, userns: !!this.userns }, id, args, opts.timeoutMs);
  }

  /** Exec sessions (`skiff exec`): see exec-session.ts. */
  async startExec(id: string, args: string[], opts: ExecSessionOptions): Promise<ExecSession> {
    checkId('container id', id);
    const st = await this.cli.state(id);
    if (!st || st.status !== 'running') throw new Error(`container ${id} is not running`);
    if (this.profile.execVia === 'runtime') {
      return startRuntimeExecSession({ cli: this.cli, id, bundleDir: this.paths.bundle(id), execDir: this.paths.secureDir }, args, opts);
    }
    return startExecSession({ pid: st.pid, bundleDir: this.paths.bundle(id), layout: await this.cgroups.hierarchies() }, args, opts);
  }

  async inspect(id: string): Promise<ContainerState> {
    checkId('container id', id);
    return inspectContainer({ cli: this.cli, exits: this.exits, meta: this.meta }, id);
  }

  async destroyContainer(id: string): Promise<void> {
    checkId('container id', id);
    await destroyContainer({ paths: this.paths, meta: this.meta, exits: this.exits, cli: this.cli, cgroupRoot: this.cgroupRoot }, id);
  }

  listContainers(): Promise<string[]> {
    return listContainers(this.paths);
  }

  // ---------------------------------------------------------------- usage

  taskStats(taskId: string): Promise<ResourceUsage | undefined> {
    return this.cgroups.taskUsage(taskId);
  }

  async containerStats(id: string): Promise<ContainerUsage | undefined> {
    checkId('container id', id);
    const meta = await this.meta.read(id);
    return meta ? this.cgroups.containerUsage(meta.cgroupsPath) : undefined;
  }

  async writableLayerUsage(id: string): Promise<WritableLayerUsage | undefined> {
    checkId('container id', id);
    return diskUsage(this.paths.upper(id));
  }

  /** The memory-filesystem dir of runtime specs and runc state (secure-dir.ts), once no container is left. */
  async adoptHelper(pid: number, name: string): Promise<void> {
    await moveToOwnCgroup(pid, name, { cgroupRoot: this.cgroupRoot });
  }

  async releaseHelper(name: string): Promise<void> {
    await removeOwnCgroup(name, { cgroupRoot: this.cgroupRoot });
  }

  async purgeHostState(opts: { dryRun: boolean }): Promise<string[]> {
    if (!existsSync(this.secureDir)) return [];
    if (!opts.dryRun) {
      if ((await this.listContainers()).length > 0) throw new Error(`containers are left: ${this.secureDir} holds their specs`);
      await fsp.rm(this.secureDir, { recursive: true, force: true });
    }
    return [this.secureDir];
  }
}

/**
 * With a user namespace, runc's init (an unprivileged host uid by then) must walk
 * the path to the bundle's rootfs: give `dir` and every ancestor search (x)
 * permission for others where it lacks it. Search only: nothing becomes listable
 * or readable.
 */
async function allowTraversal(dir: string): Promise<void> {
  for (let d = dir; ; d = path.dirname(d)) {
    const st = await fsp.stat(d);
    if ((st.mode & 0o001) === 0) await fsp.chmod(d, (st.mode & 0o7777) | 0o001);
    if (d === path.dirname(d)) break;
  }
}
