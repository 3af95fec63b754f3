/**
 * FAKE, for tests and scheduler-scale measurement only: nothing here runs a
 * process, limits a resource or isolates anything.
 *
 * The in-memory "machine" under the fake driver: its task cgroups, its
 * containers (each running a fake program, program.ts), their exits and log
 * files. It plays the part of the kernel, runc and conmon together, so it
 * outlives any one FakeDriver instance: a new FakeDriver over the same host is
 * a restarted Skiff server adopting what still runs.
 *
 * A test steers it: `exit` ends a running container as if its process exited,
 * `oomKill` as if the OOM killer ended it, `lose` makes a container vanish
 * without a recorded exit (its supervisor died), and `failNext` makes the next
 * call of a driver operation fail.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerExit, ContainerLaunchSpec, TaskResources } from '../driver.ts';
import { parseProgram, signalExitCode, signalName, type Program } from './program.ts';

export type FakeContainerStatus = 'created' | 'running' | 'stopped';

/** What a fake container "uses", as a test sets it (`setUsage`); zero unless set. */
export interface FakeUsage {
  cpuUsageUs: number;
  memoryBytes: number;
  pids: number;
  writableLayerBytes: number;
  writableLayerInodes: number;
  /** Block I/O, reported on one fake device (254:0). */
  readBytes: number;
  writeBytes: number;
}

export interface FakeContainer {
  readonly spec: ContainerLaunchSpec;
  readonly program: Program;
  readonly pid: number;
  readonly createdAt: number;
  status: FakeContainerStatus;
  exit?: ContainerExit;
  usage: FakeUsage;
  /** Signal → exit code or 'ignore', as the program's trap steps set them. */
  readonly traps: Map<string, number | 'ignore'>;
  /** Next program step. */
  pc: number;
  timer?: NodeJS.Timeout;
}

/** Driver operations a test can make fail (`failNext`). */
export type FaultableOp = 'createTask' | 'createContainer' | 'startContainer' | 'stopContainer' | 'destroyContainer' | 'destroyTask';

interface Fault {
  op: FaultableOp;
  message: string;
  /** Matches the container or task id; absent: any. */
  match?: (id: string) => boolean;
  times: number;
}

export interface FakeHostOptions {
  /** Directory for container log files (default: a new temp dir, removed by `dispose`). */
  logDir?: string;
  /**
   * Whether a network namespace path exists on this host (e.g. a FakeNetworkState's
   * `hasNamespacePath`): containers refuse to be created in one that does not, as runc
   * does. Absent: every path exists.
   */
  netnsExists?: (path: string) => boolean;
}

export class FakeHost {
  readonly logDir: string;
  readonly netnsExists: (path: string) => boolean;
  readonly containers = new Map<string, FakeContainer>();
  readonly tasks = new Map<string, TaskResources>();
  private readonly ownsLogDir: boolean;
  private readonly exitListeners = new Map<string, Set<(exit: ContainerExit | undefined) => void>>();
  private faults: Fault[] = [];
  private nextPid = 4000;

  constructor(opts: FakeHostOptions = {}) {
    this.ownsLogDir = !opts.logDir;
    this.logDir = opts.logDir ?? mkdtempSync(join(tmpdir(), 'skiff-fake-host-'));
    mkdirSync(this.logDir, { recursive: true });
    this.netnsExists = opts.netnsExists ?? (() => true);
  }

  // ---------------------------------------------------------------- what a test steers

  /** The next `times` calls of `op` (on an id `match` accepts) fail with `message`. */
  failNext(op: FaultableOp, message: string, opts: { match?: (id: string) => boolean; times?: number } = {}): void {
    this.faults.push({ op, message, match: opts.match, times: opts.times ?? 1 });
  }

  /** Ends a created or running container as if its process exited with `exitCode`. */
  exit(id: string, exitCode: number, opts: { oomKilled?: boolean } = {}): void {
    const c = this.containers.get(id);
    if (!c) throw new Error(`fake host: no container ${id}`);
    if (c.status === 'stopped') throw new Error(`fake host: container ${id} has already exited`);
    this.finish(c, exitCode, opts.oomKilled ?? false);
  }

  /** Sets what a container reports as its usage (stats, writable layer). */
  setUsage(id: string, usage: Partial<FakeUsage>): void {
    const c = this.containers.get(id);
    if (!c) throw new Error(`fake host: no container ${id}`);
    Object.assign(c.usage, usage);
  }

  /** Ends a created or running container as the kernel's OOM killer would (137, oomKilled). */
  oomKill(id: string): void {
    this.exit(id, 137, { oomKilled: true });
  }

  /** The container vanishes with no exit recorded (its supervisor was killed, its state lost). */
  lose(id: string): void {
    const c = this.containers.get(id);
    if (!c) throw new Error(`fake host: no container ${id}`);
    clearTimeout(c.timer);
    this.containers.delete(id);
    this.notify(id, undefined);
  }

  /** Containers whose status is `status` (all when absent). */
  containerIds(status?: FakeContainerStatus): string[] {
    return [...this.containers.values()].filter((c) => !status || c.status === status).map((c) => c.spec.id).sort();
  }

  /** Stops every program timer and removes the log dir it made. Containers are forgotten. */
  dispose(): void {
    for (const c of this.containers.values()) clearTimeout(c.timer);
    this.containers.clear();
    this.tasks.clear();
    this.exitListeners.clear();
    if (this.ownsLogDir) rmSync(this.logDir, { recursive: true, force: true });
  }

  // ---------------------------------------------------------------- what the driver calls

  /** Throws the first matching fault for `op` on `id`, if any. */
  checkFault(op: FaultableOp, id: string): void {
    const f = this.faults.find((x) => x.op === op && (!x.match || x.match(id)));
    if (!f) return;
    if (--f.times <= 0) this.faults = this.faults.filter((x) => x !== f);
    throw new Error(f.message);
  }

  logPath(id: string): string {
    return join(this.logDir, `${id}.log`);
  }

  /** Makes the container (status created). Throws what runc would: an existing id, a missing namespace, a bad program. */
  create(spec: ContainerLaunchSpec): FakeContainer {
    if (this.containers.has(spec.id)) throw new Error(`container ${spec.id} already exists`);
    if (!this.netnsExists(spec.netnsPath)) throw new Error(`network namespace ${spec.netnsPath} does not exist`);
    const program = parseProgram(spec.args);
    if (program.failCreate !== undefined) throw new Error(program.failCreate);
    const c: FakeContainer = { spec: structuredClone(spec), program, pid: this.nextPid++, createdAt: Date.now(), status: 'created', traps: new Map(), pc: 0, usage: { cpuUsageUs: 0, memoryBytes: 0, pids: 0, writableLayerBytes: 0, writableLayerInodes: 0, readBytes: 0, writeBytes: 0 } };
    this.containers.set(spec.id, c);
    writeFileSync(this.logPath(spec.id), '', { flag: 'a' });
    return c;
  }

  /** The process begins: its program runs. */
  start(c: FakeContainer): void {
    if (c.status !== 'created') throw new Error(`cannot start container ${c.spec.id}: it is ${c.status}, not created`);
    if (c.program.failStart !== undefined) {
      this.finish(c, 127, false);
      throw new Error(c.program.failStart);
    }
    c.status = 'running';
    this.advance(c);
  }

  /** Delivers a signal: a trap decides, else the process dies of it (128 + its number). */
  signal(c: FakeContainer, signal: string): void {
    const sig = signalName(signal);
    if (!sig) throw new Error(`invalid signal ${JSON.stringify(signal)}`);
    if (c.status === 'stopped') return;
    const trap = c.status === 'running' && sig !== 'SIGKILL' ? c.traps.get(sig) : undefined;
    if (trap === 'ignore') return;
    this.finish(c, trap ?? signalExitCode(sig), false);
  }

  /** Waits for the container's exit; `undefined` when it vanished first. Returns the unsubscribe. */
  onExit(id: string, fn: (exit: ContainerExit | undefined) => void): () => void {
    let set = this.exitListeners.get(id);
    if (!set) this.exitListeners.set(id, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  /** Removes the container (killing it first if it still runs); its log file stays. */
  remove(id: string): void {
    const c = this.containers.get(id);
    if (!c) return;
    if (c.status !== 'stopped') this.finish(c, 137, false);
    this.containers.delete(id);
  }

  appendLog(id: string, stream: 'stdout' | 'stderr', text: string): void {
    // k8s-file format, as conmon writes it: <RFC3339Nano> <stream> F <text>
    const ts = new Date().toISOString().replace(/Z$/, '000000+00:00');
    appendFileSync(this.logPath(id), `${ts} ${stream} F ${text}\n`);
  }

  // ---------------------------------------------------------------- the "process"

  private advance(c: FakeContainer): void {
    c.timer = undefined;
    while (c.status === 'running' && c.pc < c.program.steps.length) {
      const step = c.program.steps[c.pc++]!;
      switch (step.op) {
        case 'echo':
          this.appendLog(c.spec.id, step.stream, step.text);
          break;
        case 'trap':
          c.traps.set(step.signal, step.code);
          break;
        case 'sleep':
          c.timer = setTimeout(() => this.advance(c), step.ms);
          return;
        case 'exit':
          return this.finish(c, step.code, false);
        case 'oom':
          return this.finish(c, 137, true);
        case 'run':
          c.pc--; // stays on `run` until a signal or the test ends it
          return;
      }
    }
    if (c.status === 'running') this.finish(c, 0, false);
  }

  private finish(c: FakeContainer, exitCode: number, oomKilled: boolean): void {
    if (c.status === 'stopped') return;
    clearTimeout(c.timer);
    c.timer = undefined;
    c.status = 'stopped';
    c.exit = { exitCode, oomKilled, exitedAt: Date.now() };
    this.notify(c.spec.id, c.exit);
  }

  private notify(id: string, exit: ContainerExit | undefined): void {
    const set = this.exitListeners.get(id);
    if (!set) return;
    this.exitListeners.delete(id);
    for (const fn of set) fn(exit && { ...exit });
  }
}
