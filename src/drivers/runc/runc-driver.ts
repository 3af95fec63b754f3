/**
 * The default Skiff driver: runc containers supervised by conmon, cgroup v1 limits.
 *
 * On-disk layout under `stateDir` (everything a restarted Skiff needs to adopt):
 *   bundles/<id>.json   metadata, written first (reconciliation finds half-made containers)
 *   bundles/<id>/       OCI bundle: config.json, rootfs (overlay mount), upper/ + work/
 *                       (the container's ephemeral writable layer), pidfile, conmon.pid
 *   exits/<id>          exit status written by conmon when the container ends
 *   logs/<id>.log       stdout/stderr in k8s-file format; kept after destroy
 *   sock/               conmon attach-socket symlinks
 *   runc/               runc --root (Skiff's own, so `runc list` never mixes with others)
 *
 * conmon double-forks and setsid()s, so containers and their supervisors outlive
 * the Node process; a new RuncDriver over the same stateDir adopts them.
 */
import { spawn } from 'node:child_process';
import { constants as fsc, mkdirSync, promises as fsp, readFileSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { availableParallelism } from 'node:os';
import { Semaphore } from '../../util/semaphore.ts';
import type { ContainerExit, ContainerLaunchSpec, ContainerState, Driver, ExecResult, ExecSession, ExecSessionOptions, TaskResources } from '../driver.ts';
import { startExecSession } from './exec-session.ts';
import { parseMountinfo, readCgroupLayout, readOomKillCount, removeCgroupTree, type CgroupLayout } from './cgroups.ts';
import { run, sleep, spawnPiped } from '../../util/exec.ts';
import { buildOciSpec, cfsQuotaFor, effectiveNofile } from './spec.ts';

export interface RuncDriverOptions {
  /** Directory for bundles, exit files, logs and runc state, e.g. `<data>/runtime`. */
  stateDir: string;
  /** Default `/usr/sbin/runc`. */
  runcPath?: string;
  /** Default `/usr/bin/conmon`. */
  conmonPath?: string;
  /** Name of the cgroup parent of all tasks (`/<cgroupRoot>/<taskId>`). Default `skiff`. */
  cgroupRoot?: string;
  /** runc `--root` (its state dir). Default `<stateDir>/runc`. */
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

/** With a working exit-dir watcher, every waiter is polled only every this many ticks (see addWaiter). */
const WAKE_ALL_EVERY = 6;

/** Metadata file beside each bundle. */
export interface ContainerMeta {
  id: string;
  taskId: string;
  containerName: string;
  /** Epoch ms. */
  createdAt: number;
  /** OCI linux.cgroupsPath, e.g. /skiff/<taskId>/<name>. */
  cgroupsPath: string;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$/;
const MiB = 1024 * 1024;
/** Exit code reported when the supervisor vanished without recording one. */
export const UNKNOWN_EXIT_CODE = -1;

function checkId(kind: string, id: string): void {
  if (typeof id !== 'string' || !ID_RE.test(id)) {
    throw new Error(`invalid ${kind} ${JSON.stringify(id)}: use 1-128 characters from [A-Za-z0-9_.+-], starting with a letter or digit`);
  }
}

/** A container name as a cgroup/path component. */
export function sanitizeName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 128);
  return /^[A-Za-z0-9]/.test(s) ? s : `c${s}`.slice(0, 128);
}

function isErrno(e: unknown, ...codes: string[]): boolean {
  return codes.includes((e as NodeJS.ErrnoException)?.code ?? '');
}

const NOT_EXIST_RE = /does not exist|not exist|no such file/i;

export class RuncDriver implements Driver {
  readonly stateDir: string;
  readonly runcPath: string;
  readonly conmonPath: string;
  readonly cgroupRoot: string;
  readonly runcRoot: string;
  private readonly bundlesDir: string;
  private readonly exitDir: string;
  private readonly logsDir: string;
  private readonly sockDir: string;
  private readonly pollIntervalMs: number;
  private readonly createTimeoutMs: number;
  readonly userns?: { hostId: number; size: number };
  private readonly initPath: string;
  private readonly logSizeMaxBytes?: number;

  private dirsReady?: Promise<void>;
  private nofile?: number;
  private layout?: Promise<CgroupLayout>;
  private readonly metaCache = new Map<string, ContainerMeta>();
  private readonly exitCache = new Map<string, ContainerExit>();
  /** waitContainer listeners by container id; woken by the exit-dir watcher or the poll. */
  private readonly waiters = new Map<string, Set<() => void>>();
  private watcher?: FSWatcher;
  private pollTimer?: NodeJS.Timeout;
  private readonly creates: Semaphore;

  constructor(opts: RuncDriverOptions) {
    if (!opts?.stateDir || !path.isAbsolute(opts.stateDir)) throw new Error('RuncDriver: stateDir must be an absolute path');
    this.stateDir = opts.stateDir;
    this.runcPath = opts.runcPath ?? '/usr/sbin/runc';
    this.conmonPath = opts.conmonPath ?? '/usr/bin/conmon';
    this.cgroupRoot = opts.cgroupRoot ?? 'skiff';
    checkId('cgroupRoot', this.cgroupRoot);
    this.runcRoot = opts.runcRoot ?? path.join(this.stateDir, 'runc');
    this.bundlesDir = path.join(this.stateDir, 'bundles');
    this.exitDir = path.join(this.stateDir, 'exits');
    this.logsDir = path.join(this.stateDir, 'logs');
    this.sockDir = path.join(this.stateDir, 'sock');
    this.pollIntervalMs = opts.pollIntervalMs ?? 1000;
    this.createTimeoutMs = opts.createTimeoutMs ?? 60_000;
    this.creates = new Semaphore(opts.maxConcurrentCreates ?? 4 * availableParallelism());
    this.logSizeMaxBytes = opts.logSizeMaxBytes;
    if (opts.userns) {
      const { hostId, size } = opts.userns;
      if (!Number.isInteger(hostId) || hostId < 1 || !Number.isInteger(size) || size < 1 || hostId + size > 2 ** 32 - 1) {
        throw new Error(`RuncDriver: invalid userns range ${hostId}+${size}`);
      }
      this.userns = { hostId, size };
    }
    this.initPath = opts.initPath ?? '/usr/bin/tini-static';
  }

  // ---------------------------------------------------------------- paths

  logPath(id: string): string {
    checkId('container id', id);
    return path.join(this.logsDir, `${id}.log`);
  }
  private bundlePath(id: string): string {
    return path.join(this.bundlesDir, id);
  }
  private metaPath(id: string): string {
    return path.join(this.bundlesDir, `${id}.json`);
  }
  private exitPath(id: string): string {
    return path.join(this.exitDir, id);
  }
  private runcArgs(...args: string[]): string[] {
    return ['--root', this.runcRoot, ...args];
  }

  private ensureDirs(): Promise<void> {
    this.dirsReady ??= Promise.all(
      [this.bundlesDir, this.exitDir, this.logsDir, this.sockDir, this.runcRoot].map((d) => fsp.mkdir(d, { recursive: true, mode: 0o700 })),
    ).then(
      () => (this.userns ? this.allowTraversal(this.bundlesDir) : undefined),
      (e) => {
        this.dirsReady = undefined;
        throw e;
      },
    );
    return this.dirsReady;
  }

  /**
   * With a user namespace, runc's init (an unprivileged host uid by then) must walk
   * the path to the bundle's rootfs: give `dir` and every ancestor search (x)
   * permission for others where it lacks it. Search only: nothing becomes listable
   * or readable.
   */
  private async allowTraversal(dir: string): Promise<void> {
    for (let d = dir; ; d = path.dirname(d)) {
      const st = await fsp.stat(d);
      if ((st.mode & 0o001) === 0) await fsp.chmod(d, (st.mode & 0o7777) | 0o001);
      if (d === path.dirname(d)) break;
    }
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

  private cgroups(): Promise<CgroupLayout> {
    this.layout ??= readCgroupLayout().catch((e) => {
      this.layout = undefined;
      throw e;
    });
    return this.layout;
  }

  // ---------------------------------------------------------------- fingerprint

  async fingerprint(): Promise<string[]> {
    const problems: string[] = [];
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      problems.push('Skiff must run as root to create namespaces and cgroups: run it with sudo');
    }
    const executable = async (p: string) => fsp.access(p, fsc.X_OK).then(() => true, () => false);
    if (!(await executable(this.runcPath))) problems.push(`runc not found at ${this.runcPath}: install it with \`apt-get install runc\``);
    if (!(await executable(this.conmonPath))) problems.push(`conmon not found at ${this.conmonPath}: install it with \`apt-get install conmon\``);
    for (const tool of ['/usr/bin/mount', '/usr/bin/umount']) {
      const alt = tool.replace('/usr', '');
      if (!(await executable(tool)) && !(await executable(alt))) problems.push(`${path.basename(tool)} not found: install it with \`apt-get install mount\``);
    }

    let layout: CgroupLayout | undefined;
    try {
      layout = await readCgroupLayout();
    } catch (e) {
      problems.push(`cannot read /proc/self/mountinfo (${(e as Error).message}): is /proc mounted?`);
    }
    if (layout) {
      const needed = ['cpu', 'cpuacct', 'memory', 'pids'];
      const missing = needed.filter((c) => !layout!.v1.has(c));
      if (missing.length === needed.length) {
        const v2 = layout.hierarchies.find((h) => h.version === 2 && needed.filter((c) => c !== 'cpuacct').every((c) => h.controllers.includes(c)));
        if (v2) {
          problems.push(
            `this host uses cgroup v2 only (${v2.mountPoint}); the runc driver supports cgroup v1 for now: boot with \`systemd.unified_cgroup_hierarchy=0\` on the kernel command line`,
          );
        } else {
          problems.push('no cgroup v1 controllers are mounted: mount cpu, cpuacct, memory and pids under /sys/fs/cgroup (e.g. install cgroupfs-mount)');
        }
      } else if (missing.length) {
        problems.push(`cgroup v1 controller(s) not mounted: ${missing.join(', ')}: mount them under /sys/fs/cgroup (e.g. \`mount -t cgroup -o ${missing[0]} cgroup /sys/fs/cgroup/${missing[0]}\`)`);
      }
      const mem = layout.v1.get('memory');
      if (mem) {
        try {
          await fsp.access(path.join(mem, 'memory.oom_control'));
        } catch {
          problems.push('the memory cgroup has no memory.oom_control: OOM kills cannot be detected (kernel too old?)');
        }
      }
    }
    try {
      const fs = await fsp.readFile('/proc/filesystems', 'utf8');
      if (!/\toverlay$/m.test(fs)) problems.push('overlayfs is not available: load it with `modprobe overlay` (and add `overlay` to /etc/modules)');
    } catch {
      problems.push('cannot read /proc/filesystems to check for overlayfs: is /proc mounted?');
    }
    return problems;
  }

  // ---------------------------------------------------------------- tasks

  async createTask(taskId: string, res: TaskResources): Promise<void> {
    checkId('task id', taskId);
    if (!Number.isFinite(res.cpuUnits) || res.cpuUnits <= 0) throw new Error(`invalid cpuUnits ${res.cpuUnits}: must be > 0`);
    if (!Number.isFinite(res.memoryMiB) || res.memoryMiB < 4) throw new Error(`invalid memoryMiB ${res.memoryMiB}: must be >= 4`);
    if (!Number.isInteger(res.pidsLimit) || res.pidsLimit <= 0) throw new Error(`invalid pidsLimit ${res.pidsLimit}: must be a positive integer`);
    const layout = await this.cgroups();
    const dirFor = (ctrl: string) => {
      const mp = layout.v1.get(ctrl);
      if (!mp) throw new Error(`cgroup v1 controller ${ctrl} is not mounted`);
      return path.join(mp, this.cgroupRoot, taskId);
    };
    const cpu = dirFor('cpu');
    const memory = dirFor('memory');
    const pids = dirFor('pids');
    const cpuacct = dirFor('cpuacct');
    // cgroupfs is kernel memory: these few calls take microseconds each, done
    // synchronously; through the thread pool they took milliseconds on a busy start path.
    for (const d of new Set([cpu, memory, pids, cpuacct])) mkdirSync(d, { recursive: true });
    const { quota, period } = cfsQuotaFor(res.cpuUnits);
    writeFileSync(path.join(cpu, 'cpu.cfs_period_us'), String(period));
    writeFileSync(path.join(cpu, 'cpu.cfs_quota_us'), String(quota));
    writeFileSync(path.join(memory, 'memory.limit_in_bytes'), String(Math.floor(res.memoryMiB * MiB)));
    writeFileSync(path.join(pids, 'pids.max'), String(res.pidsLimit));
  }

  async destroyTask(taskId: string): Promise<void> {
    checkId('task id', taskId);
    const layout = await this.cgroups();
    await Promise.all(layout.hierarchies.map((h) => removeCgroupTree(path.join(h.mountPoint, this.cgroupRoot, taskId))));
  }

  async listTasks(): Promise<string[]> {
    const layout = await this.cgroups();
    const ids = new Set<string>();
    await Promise.all(
      layout.hierarchies.map(async (h) => {
        try {
          for (const d of await fsp.readdir(path.join(h.mountPoint, this.cgroupRoot), { withFileTypes: true })) {
            if (d.isDirectory() && ID_RE.test(d.name)) ids.add(d.name);
          }
        } catch (e) {
          if (!isErrno(e, 'ENOENT')) throw e;
        }
      }),
    );
    return [...ids].sort();
  }

  // ---------------------------------------------------------------- containers

  private validateSpec(spec: ContainerLaunchSpec): void {
    checkId('container id', spec.id);
    checkId('task id', spec.taskId);
    if (!spec.containerName) throw new Error('containerName is required');
    if (!Array.isArray(spec.layerDirs) || spec.layerDirs.length === 0) throw new Error('layerDirs must list at least one layer directory');
    for (const l of spec.layerDirs) {
      if (!path.isAbsolute(l) || /[,:\n\\]/.test(l)) throw new Error(`invalid layer dir ${JSON.stringify(l)}: must be absolute and free of , : \\ and newlines`);
    }
    if (!Array.isArray(spec.args) || spec.args.length === 0) throw new Error('args must hold the command to run');
    if (!path.isAbsolute(spec.netnsPath)) throw new Error(`netnsPath must be absolute, got ${JSON.stringify(spec.netnsPath)}`);
    if (spec.cwd && !path.posix.isAbsolute(spec.cwd)) throw new Error(`cwd must be absolute, got ${JSON.stringify(spec.cwd)}`);
    for (const n of [spec.uid, spec.gid, ...(spec.additionalGids ?? [])]) {
      if (!Number.isInteger(n) || n < 0 || n > 0xfffffffe) throw new Error(`invalid uid/gid ${n}`);
    }
    for (const m of spec.extraMounts ?? []) {
      if (!path.isAbsolute(m.source) || !path.posix.isAbsolute(m.destination)) throw new Error(`extra mount paths must be absolute: ${m.source} -> ${m.destination}`);
    }
  }

  async createContainer(spec: ContainerLaunchSpec): Promise<{ pid: number }> {
    this.validateSpec(spec);
    return this.creates.run(() => this.create(spec));
  }

  private async create(spec: ContainerLaunchSpec): Promise<{ pid: number }> {
    const id = spec.id;
    await this.ensureDirs();
    const bundle = this.bundlePath(id);
    const meta: ContainerMeta = {
      id,
      taskId: spec.taskId,
      containerName: spec.containerName,
      createdAt: Date.now(),
      cgroupsPath: `/${this.cgroupRoot}/${spec.taskId}/${sanitizeName(spec.containerName)}`,
    };
    // The metadata file is both the record for reconciliation and the lock: 'wx' fails if the id exists.
    try {
      await fsp.writeFile(this.metaPath(id), JSON.stringify(meta), { flag: 'wx' });
    } catch (e) {
      if (isErrno(e, 'EEXIST')) throw new Error(`container ${id} already exists`);
      throw e;
    }
    this.metaCache.set(id, meta);
    this.exitCache.delete(id);
    try {
      const rootfs = path.join(bundle, 'rootfs');
      const upper = path.join(bundle, 'upper');
      const work = path.join(bundle, 'work');
      await fsp.mkdir(bundle, { mode: this.userns ? 0o701 : 0o700 });
      if (this.userns) await fsp.chmod(bundle, 0o701);
      const sysfs = path.join(bundle, 'sys');
      const config = JSON.stringify(
        buildOciSpec(spec, { cgroupsPath: meta.cgroupsPath, nofile: this.nofileLimit(), userns: this.userns, initPath: this.initPath, sysfsSource: this.userns ? sysfs : undefined }),
      );
      // conmon starts now and blocks on its start pipe, so its exec overlaps the rootfs
      // mount and config write; it runs `runc create` once released.
      const conmon = this.spawnConmon(id, bundle);
      const prepared = Promise.all([
        (async () => {
          await Promise.all([rootfs, upper, work].map((d) => fsp.mkdir(d)));
          // The writable layer's root is the container's "/": owned by the (mapped) container root.
          if (this.userns) await Promise.all([upper, work].map((d) => fsp.chown(d, this.userns!.hostId, this.userns!.hostId)));
          // The two mounts are independent: one `mount` process each, at the same time.
          await Promise.all([
            this.userns ? this.mountTaskSysfs(spec.netnsPath, sysfs) : undefined,
            this.mountOverlay(spec.layerDirs, upper, work, rootfs),
          ]);
        })(),
        // Owner-only: the process environment in it may hold secrets.
        fsp.writeFile(path.join(bundle, 'config.json'), config, { mode: 0o600 }),
        fsp.rm(this.exitPath(id), { force: true }),
      ]);
      try {
        await prepared;
      } catch (e) {
        conmon.abort();
        throw e;
      }
      conmon.release();
      const pid = await conmon.pid;
      await this.detachHostMounts(this.userns ? [rootfs, sysfs] : [rootfs]);
      return { pid };
    } catch (e) {
      await this.destroyContainer(id).catch(() => {});
      throw e;
    }
  }

  /**
   * Once `runc create` has returned, the container's mount namespace holds its own
   * copies of the rootfs and sysfs mounts (both are mounted private, so unmounting
   * the host's copies does not propagate to them). The host's copies are then only cost: every new
   * mount namespace — every container start on this host — copies the host's whole
   * mount table, so each one left there makes all later starts slower (at 5,000
   * tasks, 10,000 extra mounts). Detach them; the container keeps its root.
   * Best effort: on failure they stay, and destroy unmounts them as before.
   */
  private async detachHostMounts(targets: string[]): Promise<void> {
    await run('umount', ['-l', '-n', ...targets]);
  }

  /**
   * A read-only sysfs of the task's network namespace at `target` (inside the bundle,
   * so destroy unmounts it): mounted from the host side with only the network
   * namespace entered, so /sys/class/net shows the task's interfaces, not the host's.
   */
  private async mountTaskSysfs(netnsPath: string, target: string): Promise<void> {
    await fsp.mkdir(target);
    const r = await run('nsenter', [`--net=${netnsPath}`, 'mount', '-n', '--make-private', '-t', 'sysfs', '-o', 'ro,nosuid,nodev,noexec', 'sysfs', target]);
    if (r.code !== 0) throw new Error(`cannot mount the task's sysfs: ${(r.stderr || r.stdout).trim()}`);
  }

  private async mountOverlay(layerDirs: string[], upper: string, work: string, target: string): Promise<void> {
    // overlay wants the highest layer first.
    let lowers = [...layerDirs].reverse();
    let cwd: string | undefined;
    let data = `lowerdir=${lowers.join(':')},upperdir=${upper},workdir=${work}`;
    if (data.length > 3500) {
      // Mount data is limited to one page: use paths relative to the layers' common parent.
      cwd = commonParent(lowers);
      lowers = lowers.map((l) => path.relative(cwd!, l));
      data = `lowerdir=${lowers.join(':')},upperdir=${upper},workdir=${work}`;
    }
    const r = await run('mount', ['-n', '--make-private', '-t', 'overlay', 'overlay', '-o', data, target], { cwd });
    if (r.code !== 0) throw new Error(`cannot mount the container rootfs (overlay): ${(r.stderr || r.stdout).trim()}`);
  }

  /**
   * Spawns conmon held on its start pipe (`_OCI_STARTPIPE`): `release()` lets it run
   * `runc create`, `abort()` kills it before it forks. `pid` resolves from conmon's
   * sync pipe (`_OCI_SYNCPIPE`) with the container pid, or rejects with runc's error.
   */
  private spawnConmon(id: string, bundle: string): { pid: Promise<number>; release(): void; abort(): void } {
    const args = [
      '--api-version', '1',
      '-c', id,
      '-u', id,
      '-n', id,
      '-r', this.runcPath,
      `--runtime-arg=--root=${this.runcRoot}`,
      '-b', bundle,
      '-p', path.join(bundle, 'pidfile'),
      '--conmon-pidfile', path.join(bundle, 'conmon.pid'),
      '--exit-dir', this.exitDir,
      '-l', `k8s-file:${this.logPath(id)}`,
      ...(this.logSizeMaxBytes ? ['--log-size-max', String(this.logSizeMaxBytes)] : []),
      '--log-level', 'warning',
      '--socket-dir-path', this.sockDir,
      '--syslog',
    ];
    // Through the spawn helper when the server runs one (util/exec.ts): a fork of the server blocks its event loop.
    const child = spawnPiped(this.conmonPath, args, {
      cwd: bundle,
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' },
      pipes: 3, // fd 2 stderr, fd 3 sync pipe, fd 4 start pipe
      detached: true,
    });
    const pid = new Promise<number>((resolve, reject) => {
      let buf = '';
      let stderr = '';
      let done = false;
      const finish = (err: Error | null, pid?: number) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        child.release();
        if (err) reject(err);
        else resolve(pid!);
      };
      const timer = setTimeout(() => finish(new Error(`conmon did not report \`runc create\` for ${id} within ${this.createTimeoutMs} ms`)), this.createTimeoutMs);
      child.onData((fd, d) => {
        if (fd === 2) {
          if (stderr.length < 8192) stderr += d.toString('utf8');
          return;
        }
        if (fd !== 3) return;
        buf += d.toString('utf8');
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        let msg: { data?: number; message?: string };
        try {
          msg = JSON.parse(buf.slice(0, nl));
        } catch {
          return finish(new Error(`conmon sent an unreadable sync message: ${buf.slice(0, nl)}`));
        }
        if (typeof msg.data === 'number' && msg.data > 0) return finish(null, msg.data);
        finish(new Error(`runc create failed for ${id}: ${(msg.message ?? 'no message').trim()}`));
      });
      child.onError((e) => finish(new Error(`cannot start conmon (${this.conmonPath}): ${e.message}`)));
      child.onClose((code) => {
        finish(new Error(`conmon exited (status ${code}) before reporting the container: ${stderr.trim() || 'no output'}`));
      });
    });
    pid.catch(() => {}); // observed by the caller after release(); avoid an unhandled rejection meanwhile
    return {
      pid,
      release: () => {
        child.write(4, '0', true);
      },
      abort: () => {
        // Still the first conmon process, blocked reading the start pipe: it has not forked.
        child.kill('SIGKILL');
      },
    };
  }

  async startContainer(id: string): Promise<void> {
    checkId('container id', id);
    if (await this.startThroughExecFifo(id)) return;
    const r = await run(this.runcPath, this.runcArgs('start', id));
    if (r.code !== 0) throw new Error(`runc start ${id} failed: ${(r.stderr || r.stdout).trim()}`);
  }

  /**
   * Starts a created container the way `runc start` does, without running runc:
   * a created container's init waits to open `<runcRoot>/<id>/exec.fifo` for
   * writing; opening it for reading lets init write one byte and exec the
   * process (closing its end: EOF); removing the fifo is what makes runc report
   * the container as running (libcontainer's exec(), unchanged since runc 1.0).
   * The fifo is opened non-blocking and polled, so no thread ever blocks on a
   * container that died. Returns false (the caller runs `runc start`) when there
   * is no fifo or init never writes within the time limit.
   */
  private async startThroughExecFifo(id: string, timeoutMs = 2000): Promise<boolean> {
    const fifo = path.join(this.runcRoot, id, 'exec.fifo');
    let fh: import('node:fs/promises').FileHandle;
    try {
      const st = await fsp.lstat(fifo);
      if (!st.isFIFO()) return false;
      fh = await fsp.open(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
    } catch {
      return false;
    }
    try {
      const buf = Buffer.alloc(16);
      const deadline = Date.now() + timeoutMs;
      let got = 0;
      for (;;) {
        let n: number;
        try {
          n = (await fh.read(buf, 0, buf.length, null)).bytesRead;
        } catch (e) {
          if (!isErrno(e, 'EAGAIN', 'EWOULDBLOCK')) throw e;
          n = -1; // init holds the fifo open and has not written yet
        }
        if (n > 0) {
          got += n;
          continue;
        }
        if (n === 0 && got > 0) break; // init wrote, then exec closed its end: the process runs
        if (Date.now() > deadline) {
          if (got === 0) return false;
          break;
        }
        // EAGAIN, or EOF with nothing read (init has not opened its end yet): look again shortly.
        await sleep(1);
      }
    } finally {
      await fh.close();
    }
    await fsp.rm(fifo, { force: true });
    return true;
  }

  // ---------------------------------------------------------------- exit tracking

  private async readMeta(id: string): Promise<ContainerMeta | undefined> {
    const cached = this.metaCache.get(id);
    if (cached) return cached;
    try {
      const meta = JSON.parse(await fsp.readFile(this.metaPath(id), 'utf8')) as ContainerMeta;
      this.metaCache.set(id, meta);
      return meta;
    } catch {
      return undefined;
    }
  }

  /** The exit recorded by conmon, or undefined if the container has not exited (or is unknown). */
  private async readExit(id: string): Promise<ContainerExit | undefined> {
    const cached = this.exitCache.get(id);
    if (cached) return cached;
    let text: string;
    let mtimeMs: number;
    try {
      const p = this.exitPath(id);
      const [st, t] = await Promise.all([fsp.stat(p), fsp.readFile(p, 'utf8')]);
      text = t;
      mtimeMs = st.mtimeMs;
    } catch {
      return undefined;
    }
    const exitCode = Number.parseInt(text.trim(), 10);
    const exit: ContainerExit = {
      exitCode: Number.isFinite(exitCode) ? exitCode : UNKNOWN_EXIT_CODE,
      oomKilled: await this.oomKilled(id),
      exitedAt: Math.round(mtimeMs),
    };
    this.exitCache.set(id, exit);
    return exit;
  }

  /**
   * True when the kernel OOM killer killed a process of this container. In cgroup v1
   * the `oom_kill` counter is kept in the victim's own memory cgroup (the container's),
   * whether the container's or the task's limit was hit; the task cgroup is checked too
   * for processes placed there directly. The cgroup lives until `runc delete`.
   */
  private async oomKilled(id: string): Promise<boolean> {
    const meta = await this.readMeta(id);
    if (!meta) return false;
    const layout = await this.cgroups().catch(() => undefined);
    const mem = layout?.v1.get('memory');
    if (!mem) return false;
    const ctr = path.join(mem, meta.cgroupsPath);
    const [own, parent] = await Promise.all([readOomKillCount(ctr), readOomKillCount(path.dirname(ctr))]);
    return own > 0 || parent > 0;
  }

  /** true/false if conmon.pid names a live (non-zombie) conmon or not; undefined when there is no pid file. */
  private async conmonAlive(id: string): Promise<boolean | undefined> {
    let pid: number;
    try {
      pid = Number.parseInt(await fsp.readFile(path.join(this.bundlePath(id), 'conmon.pid'), 'utf8'), 10);
    } catch {
      return undefined;
    }
    return pid > 1 ? processIsLiveConmon(pid) : undefined;
  }

  private wake(id: string): void {
    const set = this.waiters.get(id);
    if (set) for (const fn of [...set]) fn();
  }

  private addWaiter(id: string, fn: () => void): () => void {
    let set = this.waiters.get(id);
    if (!set) this.waiters.set(id, (set = new Set()));
    set.add(fn);
    if (!this.watcher) {
      try {
        this.watcher = watch(this.exitDir, (_event, filename) => {
          if (filename) this.wake(filename.toString());
        });
        this.watcher.on('error', () => {
          this.watcher?.close();
          this.watcher = undefined;
        });
      } catch {
        /* the poll below still finds it */
      }
    }
    if (!this.pollTimer) {
      // The fallback for a missed inotify event: one readdir of the exit files per tick
      // wakes just the waiters whose container exited. Every waiter is woken (and so,
      // every fifth time, checks that its conmon still lives) every tick only while
      // there is no watcher, else every WAKE_ALL_EVERY ticks: at 5,000 containers,
      // reading 5,000 files a second was a large share of the server's CPU.
      let tick = 0;
      this.pollTimer = setInterval(() => {
        if (!this.watcher || ++tick % WAKE_ALL_EVERY === 0) {
          for (const id of [...this.waiters.keys()]) this.wake(id);
          return;
        }
        void fsp.readdir(this.exitDir).then(
          (names) => names.forEach((n) => this.waiters.has(n) && this.wake(n)),
          () => {},
        );
      }, this.pollIntervalMs);
    }
    return () => {
      set!.delete(fn);
      if (set!.size === 0) this.waiters.delete(id);
      if (this.waiters.size === 0) {
        this.watcher?.close();
        this.watcher = undefined;
        if (this.pollTimer) clearInterval(this.pollTimer);
        this.pollTimer = undefined;
      }
    };
  }

  async waitContainer(id: string): Promise<ContainerExit> {
    checkId('container id', id);
    await this.ensureDirs();
    const fast = await this.readExit(id);
    if (fast) return fast;
    if (!(await this.readMeta(id)) && !(await this.runcKnows(id))) throw new Error(`container ${id} not found`);
    return new Promise<ContainerExit>((resolve, reject) => {
      let checking = false;
      let again = false;
      let polls = 0;
      const check = async () => {
        if (checking) {
          again = true;
          return;
        }
        checking = true;
        try {
          do {
            again = false;
            const exit = await this.readExit(id);
            if (exit) {
              remove();
              return resolve(exit);
            }
            // Every few polls, make sure someone is still going to write the exit file.
            if (++polls % 5 === 0) {
              const meta = await fsp.access(this.metaPath(id)).then(() => true, () => false);
              if (!meta && !(await this.runcKnows(id))) {
                remove();
                return reject(new Error(`container ${id} was removed before it exited`));
              }
              if ((await this.conmonAlive(id)) === false) {
                const late = await this.readExit(id);
                if (late) {
                  remove();
                  return resolve(late);
                }
                const st = await this.runcState(id);
                if (!st || st.status === 'stopped') {
                  // The supervisor died without recording the exit (e.g. killed): report it as unknown.
                  const exit: ContainerExit = { exitCode: UNKNOWN_EXIT_CODE, oomKilled: await this.oomKilled(id), exitedAt: Date.now() };
                  this.exitCache.set(id, exit);
                  remove();
                  return resolve(exit);
                }
              }
            }
          } while (again);
        } catch (e) {
          remove();
          reject(e as Error);
        } finally {
          checking = false;
        }
      };
      const remove = this.addWaiter(id, () => void check());
      // Re-check after the watcher is in place, so an exit between the first read and now is not missed.
      void check();
    });
  }

  private async runcState(id: string): Promise<{ status: string; pid: number } | undefined> {
    const r = await run(this.runcPath, this.runcArgs('state', id));
    if (r.code !== 0) {
      if (NOT_EXIST_RE.test(r.stderr)) return undefined;
      throw new Error(`runc state ${id} failed: ${r.stderr.trim()}`);
    }
    const st = JSON.parse(r.stdout) as { status: string; pid: number };
    return st;
  }

  private async runcKnows(id: string): Promise<boolean> {
    return fsp.access(path.join(this.runcRoot, id, 'state.json')).then(() => true, () => false);
  }

  // ---------------------------------------------------------------- stop / inspect / destroy

  async stopContainer(id: string, signal: string, timeoutMs: number): Promise<ContainerExit> {
    checkId('container id', id);
    const sig = String(signal ?? 'SIGTERM').trim().toUpperCase() || 'SIGTERM';
    if (!/^(SIG)?[A-Z][A-Z0-9+-]*$|^\d{1,2}$/.test(sig)) throw new Error(`invalid signal ${JSON.stringify(signal)}`);
    const already = await this.readExit(id);
    if (already) return already;
    const exited = this.waitContainer(id);
    exited.catch(() => {}); // awaited below; don't let an early rejection go unhandled meanwhile
    const st = await this.runcState(id);
    if (st && st.status !== 'stopped') {
      // A created container has not exec'd the process yet: nothing to be graceful with.
      const first = st.status === 'created' ? 'SIGKILL' : sig;
      await this.kill(id, first);
      if (first !== 'SIGKILL' && first !== 'KILL' && first !== '9') {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), Math.max(0, timeoutMs))));
        const winner = await Promise.race([exited, timedOut]);
        clearTimeout(timer);
        if (winner !== 'timeout') return winner;
        await this.kill(id, 'SIGKILL');
      }
    }
    return exited;
  }

  private async kill(id: string, sig: string): Promise<void> {
    const r = await run(this.runcPath, this.runcArgs('kill', id, sig));
    // "container not running" / "process already finished": the exit is on its way.
    if (r.code !== 0 && !/not running|already finished|no such process|does not exist/i.test(r.stderr)) {
      throw new Error(`runc kill ${id} ${sig} failed: ${r.stderr.trim()}`);
    }
  }

  /**
   * Without a user namespace: `runc exec`, which starts from the container's own
   * process spec (env, cwd, user, capabilities, seccomp, cgroup). With one,
   * runc 1.1 cannot exec (it joins the user namespace first and may then not
   * join the host-made network namespace), so `nsenter` joins the container
   * process's namespaces (the user namespace last), root and working directory
   * with the spec's uid/gid and environment, under no_new_privs: container root
   * there is the unprivileged mapped host user. Either way the command runs in
   * its own process group, killed as a whole on timeout.
   */
  async exec(id: string, args: string[], opts: { timeoutMs: number }): Promise<ExecResult> {
    checkId('container id', id);
    if (args.length === 0) throw new Error('exec needs a command');
    if (!this.userns) return this.spawnExec(this.runcPath, this.runcArgs('exec', id, ...args), { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' }, opts.timeoutMs);
    const st = await this.runcState(id);
    if (!st || st.status !== 'running') return { exitCode: 126, timedOut: false, output: `container ${id} is not running` };
    const config = JSON.parse(await fsp.readFile(path.join(this.bundlePath(id), 'config.json'), 'utf8')) as {
      process: { env?: string[]; cwd?: string; user?: { uid: number; gid: number } };
    };
    const env: Record<string, string> = {};
    for (const kv of config.process.env ?? []) {
      const eq = kv.indexOf('=');
      if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    const u = config.process.user ?? { uid: 0, gid: 0 };
    const nsenter = ['--no-new-privs', '--', '/usr/bin/nsenter', '-t', String(st.pid), '-m', '-u', '-i', '-n', '-p', '-C', '-U', '-r', '-W', config.process.cwd ?? '/'];
    return this.spawnExec('/usr/bin/setpriv', [...nsenter, '-S', String(u.uid), '-G', String(u.gid), '--', ...args], env, opts.timeoutMs);
  }

  /** Exec sessions (`skiff exec`): see exec-session.ts. */
  async startExec(id: string, args: string[], opts: ExecSessionOptions): Promise<ExecSession> {
    checkId('container id', id);
    const st = await this.runcState(id);
    if (!st || st.status !== 'running') throw new Error(`container ${id} is not running`);
    return startExecSession({ pid: st.pid, bundleDir: this.bundlePath(id), layout: await this.cgroups() }, args, opts);
  }

  private spawnExec(file: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<ExecResult> {
    return new Promise((resolve) => {
      const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let output = '';
      let timedOut = false;
      const take = (d: Buffer) => {
        if (output.length < 4096) output = (output + d.toString('utf8')).slice(0, 4096);
      };
      child.stdout!.on('data', take);
      child.stderr!.on('data', take);
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch { /* already gone */ }
      }, timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        resolve({ exitCode: 127, timedOut: false, output: e.message });
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ exitCode: timedOut ? 137 : (code ?? (signal ? 128 : 1)), timedOut, output });
      });
    });
  }

  async inspect(id: string): Promise<ContainerState> {
    checkId('container id', id);
    const [st, exit, meta] = await Promise.all([this.runcState(id), this.readExit(id), this.readMeta(id)]);
    if (exit) return { id, status: 'stopped', exit };
    if (st) {
      const status = st.status === 'created' ? 'created' : st.status === 'running' || st.status === 'paused' ? 'running' : 'stopped';
      return status === 'stopped' ? { id, status } : { id, status, pid: st.pid };
    }
    if (meta) return { id, status: 'stopped' };
    return { id, status: 'missing' };
  }

  async destroyContainer(id: string): Promise<void> {
    checkId('container id', id);
    const bundle = this.bundlePath(id);
    // Remember the exit (and its OOM verdict) before the cgroup goes away.
    await this.readExit(id).catch(() => undefined);
    const r = await run(this.runcPath, this.runcArgs('delete', '--force', id));
    if (r.code !== 0 && !NOT_EXIST_RE.test(r.stderr)) {
      throw new Error(`runc delete ${id} failed: ${r.stderr.trim()}`);
    }
    // conmon writes the exit file when it sees the container die; let it finish so
    // it does not recreate the file after we remove it.
    await this.waitConmonGone(id);
    // If delete killed it, conmon has just recorded the exit: remember it for pending waiters.
    await this.readExit(id).catch(() => undefined);
    if (await this.hasMountsOf(bundle)) await this.unmountUnder(bundle);
    await Promise.all([
      fsp.rm(bundle, { recursive: true, force: true }),
      fsp.rm(this.exitPath(id), { force: true }),
      fsp.rm(path.join(this.sockDir, id), { recursive: true, force: true }),
    ]);
    await fsp.rm(this.metaPath(id), { force: true });
    this.metaCache.delete(id);
    // Waiters pick up the remembered exit synchronously on wake; then forget it.
    this.wake(id);
    this.exitCache.delete(id);
  }

  private async waitConmonGone(id: string): Promise<void> {
    let pid: number;
    try {
      pid = Number.parseInt(await fsp.readFile(path.join(this.bundlePath(id), 'conmon.pid'), 'utf8'), 10);
    } catch {
      return;
    }
    if (!(pid > 1)) return;
    const alive = () => processIsLiveConmon(pid);
    for (let i = 0; i < 300; i++) {
      if (!(await alive())) return;
      await sleep(10);
    }
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }

  /**
   * Whether the bundle's rootfs or sysfs is still a mount point on the host (a
   * create that failed before they were detached): a mount point has another
   * device than its parent. Two stats instead of reading the host's whole mount
   * table, which every stop of thousands would otherwise do.
   */
  private async hasMountsOf(bundle: string): Promise<boolean> {
    const parent = await fsp.stat(bundle).catch(() => undefined);
    if (!parent) return false;
    for (const sub of ['rootfs', 'sys']) {
      const st = await fsp.stat(path.join(bundle, sub)).catch(() => undefined);
      if (st && st.dev !== parent.dev) return true;
    }
    return false;
  }

  private async unmountUnder(dir: string): Promise<void> {
    const text = await fsp.readFile('/proc/self/mountinfo', 'utf8');
    const targets = parseMountinfo(text)
      .map((m) => m.mountPoint)
      .filter((mp) => mp === dir || mp.startsWith(dir + '/'))
      .sort((a, b) => b.length - a.length);
    for (const t of [...new Set(targets)]) {
      const r = await run('umount', [t]);
      if (r.code !== 0) {
        const lazy = await run('umount', ['-l', t]);
        if (lazy.code !== 0 && !/not mounted|no mount point/i.test(lazy.stderr)) {
          throw new Error(`cannot unmount ${t}: ${lazy.stderr.trim()}`);
        }
      }
    }
  }

  async listContainers(): Promise<string[]> {
    const ids = new Set<string>();
    const scan = async (dir: string, pick: (name: string, isDir: boolean) => string | undefined) => {
      try {
        for (const d of await fsp.readdir(dir, { withFileTypes: true })) {
          const id = pick(d.name, d.isDirectory());
          if (id && ID_RE.test(id)) ids.add(id);
        }
      } catch (e) {
        if (!isErrno(e, 'ENOENT')) throw e;
      }
    };
    await Promise.all([
      scan(this.bundlesDir, (n, isDir) => (!isDir && n.endsWith('.json') ? n.slice(0, -5) : isDir ? n : undefined)),
      scan(this.runcRoot, (n, isDir) => (isDir ? n : undefined)),
    ]);
    return [...ids].sort();
  }
}

/** True if `pid` is a running conmon. A zombie counts as gone: its exit is final (our init may reap slowly). */
async function processIsLiveConmon(pid: number): Promise<boolean> {
  try {
    const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const state = stat.slice(close + 2, close + 3);
    return comm === 'conmon' && state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function commonParent(paths: string[]): string {
  const split = paths.map((p) => path.resolve(p).split('/'));
  const first = split[0]!;
  let n = 0;
  while (n < first.length - 1 && split.every((s) => s[n] === first[n] && s.length > n + 1)) n++;
  return first.slice(0, n).join('/') || '/';
}
