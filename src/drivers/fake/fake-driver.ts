/**
 * FAKE DRIVER, for tests and scheduler-scale measurement only. It runs no
 * process, enforces no limit and isolates nothing: a container is an entry in
 * a FakeHost running a fake program (program.ts). Whatever uses it must say so.
 *
 * It keeps the Driver contract (driver.ts) exactly as the runc driver does, and
 * passes the same contract suite (driver-contract.ts): the same validation and
 * errors, exits with 128 + signal, SIGKILL after the stop timeout, `created`
 * containers killed outright, waits that survive a new driver instance, logs
 * in the k8s-file format. So the task runner, agent and scheduler above it are
 * tested through the real boundary, without root, in milliseconds.
 *
 * A new FakeDriver over the same FakeHost is a restarted server. `simulateCrash`
 * ends this instance as a kill -9 ends the server process: its pending waits
 * and every later call never settle, so the agent that used it is frozen.
 */
import { PassThrough } from 'node:stream';
import type {
  ContainerExit,
  ContainerLaunchSpec,
  ContainerState,
  ContainerUsage,
  Driver,
  DriverFingerprint,
  ExecResult,
  ExecSession,
  ExecSessionOptions,
  ResourceUsage,
  TaskResources,
  WritableLayerUsage,
} from '../driver.ts';
import { FakeHost, type FakeContainer } from './fake-host.ts';
import { parseProgram, signalName } from './program.ts';

export interface FakeDriverOptions {
  /** Added to each createContainer and startContainer (simulated runtime latency). Default 0. */
  latencyMs?: number;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$/;
const never = <T>() => new Promise<T>(() => {});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function checkId(kind: string, id: string): void {
  if (typeof id !== 'string' || !ID_RE.test(id)) {
    throw new Error(`invalid ${kind} ${JSON.stringify(id)}: use 1-128 characters from [A-Za-z0-9_.+-], starting with a letter or digit`);
  }
}

const isAbsolute = (p: unknown) => typeof p === 'string' && p.startsWith('/');

export class FakeDriver implements Driver {
  /** The registry name: tests and scale measurement only. */
  readonly name = 'fake';
  readonly host: FakeHost;
  private readonly latencyMs: number;
  private crashed = false;

  constructor(host: FakeHost = new FakeHost(), opts: FakeDriverOptions = {}) {
    this.host = host;
    this.latencyMs = opts.latencyMs ?? 0;
  }

  /** This instance dies as a killed server process: nothing it was asked settles, now or later. */
  simulateCrash(): void {
    this.crashed = true;
  }

  /** Runs `fn` unless crashed (then never settles). */
  private async op<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.crashed) return never<T>();
    const out = await fn();
    if (this.crashed) return never<T>();
    return out;
  }

  /** Always available: it needs nothing from the host. Isolation `none`: nothing really runs. */
  async fingerprint(): Promise<DriverFingerprint> {
    return this.op(() => ({
      name: this.name,
      available: true,
      reasons: [],
      isolation: 'none' as const,
      features: { exec: true, stats: true, writableLayerUsage: true },
      attributes: { note: 'fake driver: for tests and scale measurement only' },
    }));
  }

  async createTask(taskId: string, res: TaskResources): Promise<void> {
    return this.op(() => {
      checkId('task id', taskId);
      if (!Number.isFinite(res.cpuUnits) || res.cpuUnits <= 0) throw new Error(`invalid cpuUnits ${res.cpuUnits}: must be > 0`);
      if (!Number.isFinite(res.memoryMiB) || res.memoryMiB < 4) throw new Error(`invalid memoryMiB ${res.memoryMiB}: must be >= 4`);
      if (!Number.isInteger(res.pidsLimit) || res.pidsLimit <= 0) throw new Error(`invalid pidsLimit ${res.pidsLimit}: must be a positive integer`);
      this.host.checkFault('createTask', taskId);
      this.host.tasks.set(taskId, { ...res });
    });
  }

  async destroyTask(taskId: string): Promise<void> {
    return this.op(() => {
      checkId('task id', taskId);
      this.host.checkFault('destroyTask', taskId);
      this.host.tasks.delete(taskId);
    });
  }

  async listTasks(): Promise<string[]> {
    return this.op(() => [...this.host.tasks.keys()].sort());
  }

  async createContainer(spec: ContainerLaunchSpec): Promise<{ pid: number }> {
    return this.op(async () => {
      validateSpec(spec);
      if (this.latencyMs) await sleep(this.latencyMs);
      this.host.checkFault('createContainer', spec.id);
      return { pid: this.host.create(spec).pid };
    });
  }

  async startContainer(id: string): Promise<void> {
    return this.op(async () => {
      checkId('container id', id);
      if (this.latencyMs) await sleep(this.latencyMs);
      const c = this.host.containers.get(id);
      if (!c) throw new Error(`runc start ${id} failed: container does not exist`);
      this.host.checkFault('startContainer', id);
      this.host.start(c);
    });
  }

  async waitContainer(id: string): Promise<ContainerExit> {
    if (this.crashed) return never();
    checkId('container id', id);
    const c = this.host.containers.get(id);
    if (!c) throw new Error(`container ${id} not found`);
    if (c.exit) return { ...c.exit };
    return new Promise<ContainerExit>((resolve, reject) => {
      this.host.onExit(id, (exit) => {
        if (this.crashed) return; // a dead server hears nothing
        if (exit) resolve(exit);
        else reject(new Error(`container ${id} was removed before it exited`));
      });
    });
  }

  async stopContainer(id: string, signal: string, timeoutMs: number): Promise<ContainerExit> {
    if (this.crashed) return never();
    checkId('container id', id);
    const sig = signalName(String(signal ?? 'SIGTERM') || 'SIGTERM');
    if (!sig) throw new Error(`invalid signal ${JSON.stringify(signal)}`);
    const c = this.host.containers.get(id);
    if (c?.exit) return { ...c.exit };
    const exited = this.waitContainer(id); // rejects when the container is unknown
    exited.catch(() => {});
    if (!c) return exited;
    this.host.checkFault('stopContainer', id);
    // A created container has not exec'd its process yet: nothing to be graceful with.
    const first = c.status === 'created' ? 'SIGKILL' : sig;
    this.host.signal(c, first);
    if (first !== 'SIGKILL' && c.status !== 'stopped') {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), Math.max(0, timeoutMs))));
      const winner = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (winner !== 'timeout') return winner;
      if (this.crashed) return never();
      this.host.signal(c, 'SIGKILL');
    }
    return exited;
  }

  /**
   * Runs `args` as a fake program "inside" the container: echo steps are its
   * output, `exit` its code, `sleep` longer than `timeoutMs` a timeout (137).
   * A command that is not a fake program (`/bin/sh -c ...`) succeeds at once.
   */
  async exec(id: string, args: string[], opts: { timeoutMs: number }): Promise<ExecResult> {
    return this.op(async () => {
      checkId('container id', id);
      if (args.length === 0) throw new Error('exec needs a command');
      const c = this.host.containers.get(id);
      if (!c || c.status !== 'running') return { exitCode: 126, timedOut: false, output: `container ${id} is not running` };
      let program;
      try {
        program = parseProgram(args);
      } catch (e) {
        return { exitCode: 127, timedOut: false, output: (e as Error).message };
      }
      let output = '';
      let elapsed = 0;
      for (const step of program.steps) {
        if (step.op === 'echo') output = (output + step.text + '\n').slice(0, 4096);
        else if (step.op === 'exit') return { exitCode: step.code, timedOut: false, output };
        else if (step.op === 'sleep') {
          if (elapsed + step.ms >= opts.timeoutMs) {
            await sleep(Math.max(0, opts.timeoutMs - elapsed));
            return { exitCode: 137, timedOut: true, output };
          }
          await sleep(step.ms);
          elapsed += step.ms;
        }
      }
      return { exitCode: 0, timedOut: false, output };
    });
  }

  /**
   * An interactive session "inside" the container: a fake program's echo and
   * stderr steps are its output and `exit` its code; `run`, or a command that is
   * not a fake program (`/bin/sh`), copies stdin to stdout until stdin ends
   * (exit 0). `kill` ends it with 137.
   */
  async startExec(id: string, args: string[], opts: ExecSessionOptions): Promise<ExecSession> {
    return this.op(() => {
      checkId('container id', id);
      if (args.length === 0) throw new Error('exec needs a command');
      const c = this.host.containers.get(id);
      if (!c || c.status !== 'running') throw new Error(`container ${id} is not running`);
      const stdin = new PassThrough();
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let finish: (code: number) => void = () => {};
      const exited = new Promise<number>((resolve) => {
        finish = (code) => {
          finish = () => {};
          stdin.removeAllListeners('data');
          stdout.end();
          stderr.end();
          resolve(code);
        };
      });
      const run = async () => {
        let program;
        try {
          program = parseProgram(args);
        } catch (e) {
          (opts.tty ? stdout : stderr).write(`${(e as Error).message}\n`);
          return finish(127);
        }
        for (const step of program.steps) {
          if (step.op === 'echo') (step.stream === 'stderr' && !opts.tty ? stderr : stdout).write(`${step.text}\n`);
          else if (step.op === 'sleep') await sleep(step.ms);
          else if (step.op === 'exit') return finish(step.code);
          else if (step.op === 'oom') return finish(137);
          else if (step.op === 'run') {
            stdin.on('data', (d) => stdout.write(d));
            stdin.on('end', () => finish(0));
            return;
          }
        }
        finish(0);
      };
      void run();
      return { stdin, stdout, stderr, resize: () => {}, kill: () => finish(137), exited };
    });
  }

  async inspect(id: string): Promise<ContainerState> {
    return this.op(() => {
      checkId('container id', id);
      const c = this.host.containers.get(id);
      if (!c) return { id, status: 'missing' };
      if (c.exit) return { id, status: 'stopped', exit: { ...c.exit } };
      return { id, status: c.status, pid: c.pid };
    });
  }

  async destroyContainer(id: string): Promise<void> {
    return this.op(() => {
      checkId('container id', id);
      this.host.checkFault('destroyContainer', id);
      this.host.remove(id);
    });
  }

  /** A task's usage: the sum over its running containers (values a test set with FakeHost.setUsage); undefined once its task is gone. */
  async taskStats(taskId: string): Promise<ResourceUsage | undefined> {
    return this.op(() => {
      checkId('task id', taskId);
      const res = this.host.tasks.get(taskId);
      if (!res) return undefined;
      const mine = [...this.host.containers.values()].filter((c) => c.spec.taskId === taskId && c.status === 'running');
      const sum = (f: (u: FakeContainer['usage']) => number) => mine.reduce((n, c) => n + f(c.usage), 0);
      return usage({ cpuUsageUs: sum((u) => u.cpuUsageUs), memoryBytes: sum((u) => u.memoryBytes), pids: sum((u) => u.pids), readBytes: sum((u) => u.readBytes), writeBytes: sum((u) => u.writeBytes) }, res.memoryMiB);
    });
  }

  /** A running container's usage (and its pid); undefined when it is not running. */
  async containerStats(id: string): Promise<(ContainerUsage) | undefined> {
    return this.op(() => {
      checkId('container id', id);
      const c = this.host.containers.get(id);
      if (!c || c.status !== 'running') return undefined;
      return { ...usage(c.usage, c.spec.memoryMiB ?? c.spec.taskLimits.memoryMiB), pid: c.pid };
    });
  }

  /** What a test said the container wrote (FakeHost.setUsage); undefined once it is destroyed. */
  async writableLayerUsage(id: string): Promise<WritableLayerUsage | undefined> {
    return this.op(() => {
      checkId('container id', id);
      const c = this.host.containers.get(id);
      return c && { bytes: c.usage.writableLayerBytes, inodes: c.usage.writableLayerInodes };
    });
  }

  async listContainers(): Promise<string[]> {
    return this.op(() => this.host.containerIds());
  }

  /** The fake keeps nothing on the host beyond its containers' log files. */
  async purgeHostState(): Promise<string[]> {
    return [];
  }

  logPath(id: string): string {
    return this.host.logPath(id);
  }
}

type UsageFigures = Pick<FakeContainer['usage'], 'cpuUsageUs' | 'memoryBytes' | 'pids' | 'readBytes' | 'writeBytes'>;

/** The contract's figures from a fake's: all memory anonymous, block I/O on device 254:0 (writes counted Sync, reads Async, one op per 4 KiB). */
function usage(u: UsageFigures, limitMiB: number): ResourceUsage {
  const { cpuUsageUs, memoryBytes, pids, readBytes, writeBytes } = u;
  const entries = (read: number, write: number) =>
    (['Read', 'Write', 'Sync', 'Async', 'Total'] as const).map((op) => ({
      major: 254, minor: 0, op, value: { Read: read, Write: write, Sync: write, Async: read, Total: read + write }[op],
    }));
  const ops = (bytes: number) => Math.ceil(bytes / 4096);
  return {
    cpuUsageUs,
    memoryUsageBytes: memoryBytes, workingSetBytes: memoryBytes, rssBytes: memoryBytes, cacheBytes: 0, memoryLimitBytes: limitMiB * 1024 * 1024, pids,
    blkio: { serviceBytes: entries(readBytes, writeBytes), serviced: entries(ops(readBytes), ops(writeBytes)) },
  };
}

/** The checks the runc driver makes before it creates anything. */
function validateSpec(spec: ContainerLaunchSpec): void {
  checkId('container id', spec.id);
  checkId('task id', spec.taskId);
  if (!spec.containerName) throw new Error('containerName is required');
  if (!Array.isArray(spec.layerDirs) || spec.layerDirs.length === 0) throw new Error('layerDirs must list at least one layer directory');
  for (const l of spec.layerDirs) {
    if (!isAbsolute(l) || /[,:\n\\]/.test(l)) throw new Error(`invalid layer dir ${JSON.stringify(l)}: must be absolute and free of , : \\ and newlines`);
  }
  if (!Array.isArray(spec.args) || spec.args.length === 0) throw new Error('args must hold the command to run');
  if (!isAbsolute(spec.netnsPath)) throw new Error(`netnsPath must be absolute, got ${JSON.stringify(spec.netnsPath)}`);
  if (spec.cwd && !isAbsolute(spec.cwd)) throw new Error(`cwd must be absolute, got ${JSON.stringify(spec.cwd)}`);
  for (const n of [spec.uid, spec.gid, ...(spec.additionalGids ?? [])]) {
    if (!Number.isInteger(n) || n < 0 || n > 0xfffffffe) throw new Error(`invalid uid/gid ${n}`);
  }
  for (const m of spec.extraMounts ?? []) {
    if (!isAbsolute(m.source) || !isAbsolute(m.destination)) throw new Error(`extra mount paths must be absolute: ${m.source} -> ${m.destination}`);
  }
}
