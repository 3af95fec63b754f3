/**
 * The microVM driver: each task in its own QEMU `-M microvm` virtual machine,
 * with its own guest kernel — Firecracker's design with Debian's parts.
 *
 * Why this shape:
 * - QEMU microvm (virtio-mmio only, no PCI, no firmware beyond qboot) is the
 *   closest packaged thing to Firecracker. KVM when a test boot under KVM works
 *   (a /dev/kvm can exist and refuse standard guests: PVM hosts), else TCG —
 *   slower (seconds to boot) but the same isolation: a kernel of its own.
 * - Guest kernel: Debian's own (linux-image-cloud-amd64 first); its virtio
 *   modules go into an initramfs Skiff builds with busybox-static and a shell
 *   init (guest-init.ts). Nothing compiled, nothing downloaded.
 * - Files: virtio-fs (QEMU's virtiofsd), one share per task. Each container's
 *   rootfs is an overlay on the host — the image layers read-only and shared
 *   by every task, its own writable layer — mounted inside that share, so
 *   containers created after boot appear in the running guest (microvm has no
 *   device hotplug, which rules out a block device per container), the
 *   writable layer's usage is measured on the host as with runc, and no image
 *   is copied or converted per task. (9p is not in Debian's cloud kernel;
 *   virtio-fs is Kata Containers' choice for the same job.)
 * - Control: files in the share. The host writes commands to ctl/, the guest
 *   init polls it (100 ms, no process per poll) and writes acks, exit codes and stats to st/, which
 *   the host reads. The same files are the VM's durable state: QEMU and
 *   virtiofsd run detached (their own sessions) and outlive the server, and a
 *   new driver instance adopts a VM from its pid files and st/ (QEMU itself is
 *   the VM's supervisor, as conmon is a runc container's).
 * - Logs: the guest appends k8s-file lines to c/<dir>/log, a hard link of
 *   logs/<id>.log, which therefore outlives the container and the task.
 * - Limits: the guest has ceil(cpu/1024) vCPUs and the task's memory plus a
 *   fixed overhead for its own kernel; the task's containers share a guest
 *   cgroup holding exactly the task's memory, pids and CPU fraction, so a
 *   memory hog is OOM-killed by the guest kernel (137, oomKilled from the
 *   cgroup's memory.events) and the VM goes on.
 * - Network: see vm.ts (tap ⇄ eth0 in the task's namespace; the guest takes
 *   eth0's address, MAC and routes).
 *
 * - User namespaces: with the host's userns-remap on, image layers are stored
 *   shifted (container root = host uid 100000); the guest then runs each
 *   container in a user namespace with the same mapping, so layers, writable
 *   layers and file owners look exactly as with runc.
 *
 * What does not apply inside the VM: the runc driver's capability sets,
 * seccomp profile and ulimits (the VM is the boundary; the containers of one
 * task share its guest kernel as they share a runc task's network).
 * Interactive exec sessions are refused; `exec` (health checks) works.
 */
import { existsSync, promises as fsp, linkSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type {
  ContainerExit, ContainerLaunchSpec, ContainerState, ContainerUsage, Driver, DriverFingerprint, ExecResult, ExecSession, ResourceUsage, TaskResources, WritableLayerUsage,
} from '../driver.ts';
import { ensureInitramfs, findGuestKernel, hostTscKhz, missingParts, probeAccel, type BootTools } from './boot-files.ts';
import { bootableKernel } from './vmlinux.ts';
import { execSh, runSh, specSh, type MountPlan } from './guest-spec.ts';
import { bindInto, findExecutable, mountOverlay, treeUsage, unmountUnder } from './host-fs.ts';
import { checkId, Layout, pollFor, readJson, sleep, writeAtomic, type ContainerRecord, type TaskRecord } from './layout.ts';
import { parseStats } from './stats.ts';
import { Vm, type VmSettings } from './vm.ts';

export interface MicrovmDriverOptions {
  /** `<data>/runtime`: the driver keeps its state in `<runtimeDir>/microvm/`. */
  runtimeDir: string;
  tools?: Partial<BootTools>;
  /** Guest memory beyond the task's, MiB. Default 96. */
  overheadMiB?: number;
  /** How long a VM may take from QEMU's start to the guest init's ready, ms. Default 60000 (TCG on a busy host). */
  bootTimeoutMs?: number;
  /** Force an accelerator instead of probing (tests). */
  accel?: 'kvm' | 'tcg';
  /**
   * Run each container in a user namespace of the guest mapping container ids
   * 0..size-1 to hostId.. — the layout of image layers stored shifted for
   * runc's userns-remap, so the same layers serve both runtimes.
   */
  userns?: { hostId: number; size: number };
}

/** Exit code when a container's VM ended without the guest recording the container's exit. */
export const UNKNOWN_EXIT_CODE = -1;
const SIGNAL_RE = /^(SIG)?[A-Z][A-Z0-9+-]*$|^\d{1,2}$/;

export class MicrovmDriver implements Driver {
  readonly name = 'microvm';
  private readonly layout: Layout;
  private readonly tools: BootTools;
  private readonly overheadMiB: number;
  private readonly bootTimeoutMs: number;
  private readonly forcedAccel?: 'kvm' | 'tcg';
  private readonly userns?: { hostId: number; size: number };
  private readonly boots = new Map<string, Promise<void>>();
  /** The exits of containers destroyed lately, for waits that were polling when their files went (see destroyContainer). */
  private readonly destroyedExits = new Map<string, ContainerExit>();
  private settings?: Promise<VmSettings>;
  private seq = 0;

  constructor(opts: MicrovmDriverOptions) {
    if (!opts?.runtimeDir || !path.isAbsolute(opts.runtimeDir)) throw new Error('MicrovmDriver: runtimeDir must be an absolute path');
    this.layout = new Layout(opts.runtimeDir);
    this.tools = {
      qemu: opts.tools?.qemu ?? '/usr/bin/qemu-system-x86_64',
      virtiofsd: opts.tools?.virtiofsd ?? '/usr/lib/qemu/virtiofsd',
      busybox: opts.tools?.busybox ?? '/bin/busybox',
      kernel: opts.tools?.kernel,
    };
    this.overheadMiB = opts.overheadMiB ?? 96;
    this.bootTimeoutMs = opts.bootTimeoutMs ?? 60_000;
    this.forcedAccel = opts.accel;
    if (opts.userns) {
      const { hostId, size } = opts.userns;
      if (!Number.isInteger(hostId) || hostId < 1 || !Number.isInteger(size) || size < 1 || hostId + size > 2 ** 32 - 1) throw new Error(`MicrovmDriver: invalid userns range ${hostId}+${size}`);
      this.userns = { hostId, size };
    }
  }

  // ---------------------------------------------------------------- host

  async fingerprint(): Promise<DriverFingerprint> {
    const reasons = await missingParts(this.tools);
    const fp: DriverFingerprint = {
      name: this.name,
      available: reasons.length === 0,
      reasons,
      isolation: 'vm',
      features: { exec: true, stats: true, writableLayerUsage: true },
    };
    if (reasons.length === 0) {
      try {
        const s = await this.vmSettings();
        fp.platform = s.accel;
        fp.attributes = { kernel: s.kernel.version, qemu: this.tools.qemu, accel: s.accel, accelReason: s.accelWhy };
      } catch (e) {
        fp.available = false;
        fp.reasons.push(`cannot prepare the guest: ${(e as Error).message}`);
      }
    }
    return fp;
  }

  private vmSettings(): Promise<VmSettings & { accelWhy: string }> {
    this.settings ??= (async () => {
      const kernel = findGuestKernel(this.tools.kernel);
      if (!kernel) throw new Error('no guest kernel: install linux-image-cloud-amd64');
      const initramfs = await ensureInitramfs(this.layout.bootDir, kernel, this.tools.busybox);
      const probe = this.forcedAccel
        ? { accel: this.forcedAccel, why: 'chosen by the operator' }
        : await probeAccel(this.layout.bootDir, kernel, initramfs, this.tools.qemu);
      return {
        qemu: this.tools.qemu, virtiofsd: this.tools.virtiofsd, kernel, initramfs, accel: probe.accel, accelWhy: probe.why,
        kernelImage: await bootableKernel(this.layout.bootDir, kernel.vmlinuz, kernel.version).catch(() => kernel.vmlinuz),
        tscKhz: hostTscKhz(), overheadMiB: this.overheadMiB, bootTimeoutMs: this.bootTimeoutMs,
      };
    })().catch((e) => {
      this.settings = undefined;
      throw e;
    });
    return this.settings as Promise<VmSettings & { accelWhy: string }>;
  }

  logPath(id: string): string {
    checkId('container id', id);
    return this.layout.log(id);
  }

  async purgeHostState(): Promise<string[]> {
    return []; // everything lives under the runtime dir
  }

  private vm(taskId: string): Vm {
    return new Vm(taskId, this.layout.vm(taskId), this.layout.share(taskId));
  }

  // ---------------------------------------------------------------- tasks

  async createTask(taskId: string, res: TaskResources): Promise<void> {
    checkId('task id', taskId);
    if (!Number.isInteger(res.cpuUnits) || res.cpuUnits < 1) throw new Error(`invalid cpuUnits ${res.cpuUnits}: at least 1`);
    if (!Number.isInteger(res.memoryMiB) || res.memoryMiB < 6) throw new Error(`invalid memoryMiB ${res.memoryMiB}: at least 6`);
    if (!Number.isInteger(res.pidsLimit) || res.pidsLimit < 1) throw new Error(`invalid pidsLimit ${res.pidsLimit}: at least 1`);
    await fsp.mkdir(this.layout.task(taskId), { recursive: true, mode: 0o700 });
    const rec: TaskRecord = { cpuUnits: res.cpuUnits, memoryMiB: res.memoryMiB, pidsLimit: res.pidsLimit };
    if (!existsSync(this.layout.taskRecord(taskId))) await writeAtomic(this.layout.taskRecord(taskId), JSON.stringify(rec));
  }

  async destroyTask(taskId: string): Promise<void> {
    checkId('task id', taskId);
    const dir = this.layout.task(taskId);
    if (!existsSync(dir)) return;
    const vm = this.vm(taskId);
    await vm.kill();
    await vm.unjoin().catch(() => {});
    await unmountUnder(dir);
    await fsp.rm(dir, { recursive: true, force: true });
  }

  async listTasks(): Promise<string[]> {
    const names = await fsp.readdir(this.layout.tasksDir).catch(() => [] as string[]);
    return names.filter((n) => existsSync(this.layout.taskRecord(n))).sort();
  }

  /** Boots the task's VM unless it runs; one boot at a time per task. */
  private ensureVm(taskId: string, netnsPath: string): Promise<void> {
    const prev = this.boots.get(taskId) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(async () => {
      const vm = this.vm(taskId);
      if (await vm.qemuPid()) return;
      const res = await readJson<TaskRecord>(this.layout.taskRecord(taskId));
      if (!res) throw new Error(`task ${taskId} does not exist: createTask first`);
      await vm.kill(); // a virtiofsd left from a VM that died
      await vm.boot(await this.vmSettings(), res, netnsPath);
    });
    this.boots.set(taskId, next);
    return next;
  }

  /** Sends a command line to the task's guest init (guest-init.ts). */
  private async send(taskId: string, line: string): Promise<void> {
    const name = `${Date.now().toString().padStart(14, '0')}-${process.pid}-${(++this.seq).toString().padStart(8, '0')}`;
    const ctl = path.join(this.layout.share(taskId), 'ctl');
    // The guest's glob skips dot files: the command appears whole.
    await fsp.writeFile(path.join(ctl, `.${name}`), `${line}\n`);
    await fsp.rename(path.join(ctl, `.${name}`), path.join(ctl, name));
  }

  // ---------------------------------------------------------------- containers

  async createContainer(spec: ContainerLaunchSpec): Promise<{ pid: number }> {
    validateSpec(spec);
    if (!existsSync(this.layout.taskRecord(spec.taskId))) throw new Error(`task ${spec.taskId} does not exist: createTask first`);
    await fsp.mkdir(this.layout.containersDir, { recursive: true, mode: 0o700 });
    await fsp.mkdir(this.layout.logsDir, { recursive: true, mode: 0o700 });
    const dir = `${spec.containerName.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[._-]+/, '').slice(0, 40) || 'c'}-${randomBytes(4).toString('hex')}`;
    const rec: ContainerRecord = {
      id: spec.id, taskId: spec.taskId, containerName: spec.containerName, dir, uid: spec.uid, gid: spec.gid, cwd: spec.cwd, env: spec.env, createdAt: Date.now(),
    };
    try {
      await fsp.writeFile(this.layout.record(spec.id), JSON.stringify(rec), { flag: 'wx', mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`container ${spec.id} already exists`);
      throw e;
    }
    try {
      const cdir = this.layout.cdir(spec.taskId, dir);
      const layers = this.layout.layers(spec.taskId, dir);
      const rootfs = path.join(cdir, 'rootfs');
      await fsp.mkdir(rootfs, { recursive: true, mode: 0o755 });
      await fsp.mkdir(path.join(layers, 'upper'), { recursive: true, mode: 0o755 });
      await fsp.mkdir(path.join(layers, 'work'), { recursive: true, mode: 0o700 });
      // With a user namespace the writable layer belongs to the container's root, as with runc.
      if (this.userns) await fsp.chown(path.join(layers, 'upper'), this.userns.hostId, this.userns.hostId);
      await mountOverlay(spec.layerDirs, path.join(layers, 'upper'), path.join(layers, 'work'), rootfs);
      if (!(await findExecutable(rootfs, spec.args[0]!, spec.env))) {
        throw new Error(`exec: ${JSON.stringify(spec.args[0])}: executable file not found in the image (PATH or path)`);
      }
      const mounts: MountPlan[] = [];
      for (const [i, m] of (spec.extraMounts ?? []).entries()) {
        await fsp.mkdir(path.join(cdir, 'm'), { recursive: true });
        const kind = await bindInto(m.source, path.join(cdir, 'm', String(i)), m.readonly);
        mounts.push({ source: `m/${i}`, destination: m.destination, readonly: m.readonly, kind });
      }
      await fsp.writeFile(path.join(cdir, 'spec.sh'), specSh(dir, spec, mounts, this.userns), { mode: 0o600 });
      await fsp.writeFile(path.join(cdir, 'run.sh'), runSh(dir, spec), { mode: 0o600 });
      await fsp.writeFile(this.layout.log(spec.id), '', { flag: 'a', mode: 0o600 });
      linkSync(this.layout.log(spec.id), path.join(cdir, 'log'));
      await this.ensureVm(spec.taskId, spec.netnsPath);
      await this.send(spec.taskId, `create ${dir}`);
      const st = (f: string) => this.layout.status(spec.taskId, f);
      const ack = await pollFor(async () => {
        if (existsSync(st(`${dir}.created`))) return 'ok';
        if (existsSync(st(`${dir}.failed`))) return `failed: ${(await fsp.readFile(st(`${dir}.failed`), 'utf8')).trim()}`;
        if (!(await this.vm(spec.taskId).qemuPid())) return 'the VM ended';
        return undefined;
      }, 30_000, 20);
      if (ack !== 'ok') throw new Error(`the guest could not create container ${spec.id}: ${ack ?? 'no answer in 30 s'}`);
      return { pid: (await this.vm(spec.taskId).qemuPid()) ?? 0 };
    } catch (e) {
      await this.removeContainer(rec).catch(() => {});
      throw e;
    }
  }

  private async record(id: string): Promise<ContainerRecord | undefined> {
    checkId('container id', id);
    return readJson<ContainerRecord>(this.layout.record(id));
  }

  private async mustRecord(id: string): Promise<ContainerRecord> {
    const rec = await this.record(id);
    if (!rec) throw new Error(`container ${id} not found`);
    return rec;
  }

  async startContainer(id: string): Promise<void> {
    const rec = await this.mustRecord(id);
    if (rec.startedAt || (await this.exitOf(rec))) throw new Error(`container ${id} was already started`);
    await writeAtomic(this.layout.record(id), JSON.stringify({ ...rec, startedAt: Date.now() }));
    await this.send(rec.taskId, `start ${rec.dir}`);
    // As `runc start`: resolve once the process runs (a stop right after then reaches it, not the runner).
    const started = await pollFor(
      async () => (existsSync(this.layout.status(rec.taskId, `${rec.dir}.started`)) || (await this.exitOf(rec, true)) ? true : undefined),
      30_000,
      20,
    );
    if (!started) throw new Error(`container ${id} did not start in 30 s`);
  }

  /** The container's exit: what the guest recorded, or — once its VM is gone — an unknown one (recorded then). */
  private async exitOf(rec: ContainerRecord, checkVm = false): Promise<ContainerExit | undefined> {
    const file = this.layout.status(rec.taskId, `${rec.dir}.exit`);
    const text = await fsp.readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined) {
      const [code, oom] = text.trim().split(/\s+/);
      const st = await fsp.stat(file);
      return { exitCode: Number(code), oomKilled: oom === '1', exitedAt: Math.round(st.mtimeMs) };
    }
    if (checkVm && !(await this.vm(rec.taskId).qemuPid())) {
      await writeAtomic(file, `${UNKNOWN_EXIT_CODE} 0\n`).catch(() => {});
      return this.exitOf(rec);
    }
    return undefined;
  }

  async waitContainer(id: string): Promise<ContainerExit> {
    const rec = await this.mustRecord(id);
    for (let i = 0; ; i++) {
      const exit = await this.exitOf(rec, i % 10 === 0);
      if (exit) return exit;
      if (!existsSync(this.layout.record(id))) {
        const destroyed = i > 0 ? this.destroyedExits.get(id) : undefined; // only a wait begun before the destroy
        if (destroyed) return destroyed;
        throw new Error(`container ${id} not found`);
      }
      await sleep(100);
    }
  }

  async stopContainer(id: string, signal: string, timeoutMs: number): Promise<ContainerExit> {
    if (!SIGNAL_RE.test(signal)) throw new Error(`invalid signal ${JSON.stringify(signal)}`);
    const rec = await this.mustRecord(id);
    const done = await this.exitOf(rec, true);
    if (done) return done;
    const sig = /^\d+$/.test(signal) ? signal : signal.replace(/^SIG/, '');
    await this.send(rec.taskId, `signal ${rec.dir} ${rec.startedAt ? sig : 'KILL'}`);
    const graceful = await pollFor(() => this.exitOf(rec, true), rec.startedAt ? timeoutMs : 10_000, 50);
    if (graceful) return graceful;
    await this.send(rec.taskId, `signal ${rec.dir} KILL`);
    return this.waitContainer(id);
  }

  async exec(id: string, args: string[], opts: { timeoutMs: number }): Promise<ExecResult> {
    const rec = await this.mustRecord(id);
    if (!Array.isArray(args) || args.length === 0) throw new Error('exec: args must not be empty');
    if (!rec.startedAt || (await this.exitOf(rec, true))) return { exitCode: 126, timedOut: false, output: `container ${id} is not running` };
    const xdir = path.join(this.layout.share(rec.taskId), 'x');
    const n = `${rec.dir}-${randomBytes(6).toString('hex')}`;
    const x = path.join(xdir, n);
    const t0 = Date.now();
    try {
      await fsp.writeFile(`${x}.sh`, execSh(rec.dir, rec, args));
      await this.send(rec.taskId, `exec ${rec.dir} ${n} ${Math.max(1, Math.ceil(opts.timeoutMs / 1000))}`);
      // The guest kills the command at the timeout; the slack covers a slow (TCG) guest's turnaround.
      const code = await pollFor(async () => {
        const t = await fsp.readFile(`${x}.exit`, 'utf8').catch(() => undefined);
        return t === undefined ? undefined : Number(t.trim());
      }, opts.timeoutMs + 15_000, 25);
      const out = await fsp.readFile(`${x}.out`).catch(() => Buffer.alloc(0));
      const output = out.subarray(0, 4096).toString('utf8');
      if (code === undefined) return { exitCode: 137, timedOut: true, output };
      return { exitCode: code, timedOut: code === 137 && Date.now() - t0 >= opts.timeoutMs, output };
    } finally {
      for (const ext of ['sh', 'out', 'exit']) await fsp.rm(`${x}.${ext}`, { force: true });
    }
  }

  async startExec(id: string): Promise<ExecSession> {
    await this.mustRecord(id);
    throw new Error('interactive exec sessions are not available on the microvm runtime: use a runc task, or a non-interactive command (health checks work)');
  }

  async inspect(id: string): Promise<ContainerState> {
    const rec = await this.record(id);
    if (!rec) return { id, status: 'missing' };
    const exit = await this.exitOf(rec, true);
    if (exit) return { id, status: 'stopped', exit };
    const pid = (await this.vm(rec.taskId).qemuPid()) ?? 0;
    return { id, status: rec.startedAt ? 'running' : 'created', pid };
  }

  async destroyContainer(id: string): Promise<void> {
    const rec = await this.record(id);
    if (!rec) return;
    let exit = await this.exitOf(rec, true);
    if (!exit) {
      await this.send(rec.taskId, `signal ${rec.dir} KILL`).catch(() => {});
      exit = await pollFor(() => this.exitOf(rec, true), 15_000, 50);
      if (!exit) {
        await writeAtomic(this.layout.status(rec.taskId, `${rec.dir}.exit`), '137 0\n');
        exit = await this.exitOf(rec);
      }
    }
    // A wait still polling learns the exit here even when the files are gone before its next look.
    if (exit) this.destroyedExits.set(id, exit);
    if (this.destroyedExits.size > 1000) this.destroyedExits.delete(this.destroyedExits.keys().next().value!);
    await this.removeContainer(rec);
  }

  /** Everything of a container but its log. */
  private async removeContainer(rec: ContainerRecord): Promise<void> {
    const cdir = this.layout.cdir(rec.taskId, rec.dir);
    await unmountUnder(cdir);
    await fsp.rm(cdir, { recursive: true, force: true });
    await fsp.rm(this.layout.layers(rec.taskId, rec.dir), { recursive: true, force: true });
    for (const ext of ['created', 'failed', 'exit', 'started', 'log']) await fsp.rm(this.layout.status(rec.taskId, `${rec.dir}.${ext}`), { force: true });
    await fsp.rm(this.layout.record(rec.id), { force: true });
  }

  async listContainers(): Promise<string[]> {
    const names = await fsp.readdir(this.layout.containersDir).catch(() => [] as string[]);
    return names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)).sort();
  }

  // ---------------------------------------------------------------- usage (the guest's cgroups, sampled every ~5 s)

  private async stats(taskId: string) {
    const text = await fsp.readFile(this.layout.status(taskId, 'stats'), 'utf8').catch(() => undefined);
    return text === undefined ? undefined : parseStats(text);
  }

  async taskStats(taskId: string): Promise<ResourceUsage | undefined> {
    checkId('task id', taskId);
    const res = await readJson<TaskRecord>(this.layout.taskRecord(taskId));
    const s = res && (await this.vm(taskId).qemuPid()) ? await this.stats(taskId) : undefined;
    return s?.task && { ...s.task, memoryLimitBytes: res!.memoryMiB * 1024 * 1024 };
  }

  async containerStats(id: string): Promise<ContainerUsage | undefined> {
    const rec = await this.record(id);
    if (!rec || (await this.exitOf(rec))) return undefined;
    const pid = await this.vm(rec.taskId).qemuPid();
    const s = pid ? await this.stats(rec.taskId) : undefined;
    const c = s?.containers.get(rec.dir);
    return c && { ...c, pid };
  }

  async writableLayerUsage(id: string): Promise<WritableLayerUsage | undefined> {
    const rec = await this.record(id);
    return rec ? treeUsage(path.join(this.layout.layers(rec.taskId, rec.dir), 'upper')) : undefined;
  }
}

function validateSpec(spec: ContainerLaunchSpec): void {
  checkId('container id', spec.id);
  checkId('task id', spec.taskId);
  if (!Array.isArray(spec.args) || spec.args.length === 0 || !spec.args[0]) throw new Error('invalid container spec: args must name a command');
  if (!Array.isArray(spec.layerDirs) || spec.layerDirs.length === 0 || !spec.layerDirs.every((d) => path.isAbsolute(d))) {
    throw new Error('invalid container spec: layerDirs must list absolute image layer directories');
  }
  if (typeof spec.netnsPath !== 'string' || !path.isAbsolute(spec.netnsPath)) throw new Error(`invalid container spec: netnsPath must be absolute, not ${JSON.stringify(spec.netnsPath)}`);
  for (const k of ['uid', 'gid'] as const) {
    if (!Number.isInteger(spec[k]) || spec[k] < 0 || spec[k] > 2 ** 32 - 2) throw new Error(`invalid container spec: ${k} ${spec[k]}`);
  }
  if (typeof spec.cwd !== 'string' || spec.cwd.includes('\0')) throw new Error('invalid container spec: cwd');
  if (spec.args.some((a) => a.includes('\0')) || spec.env.some((e) => e.includes('\0'))) throw new Error('invalid container spec: args and env must not hold NUL');
}
