/**
 * The agent's runtimes: one driver per isolation it uses (model/isolation.ts),
 * behind the single Driver interface the rest of the agent holds. Each call is
 * routed by the task it concerns: a container id's task (model/runtime-id.ts)
 * → the task record's `isolation` (absent: runc) → that isolation's driver.
 * Drivers are made when first needed (a host that never runs gVisor never
 * makes the gvisor driver); reading the host (listing, reconciliation) covers
 * every runtime in `names`.
 *
 * What each runtime can do here (its fingerprint) is asked once, when first
 * wanted, and kept: `availability` answers from that memory synchronously,
 * `ensure` asks.
 */
import type {
  ContainerExit, ContainerLaunchSpec, ContainerState, ContainerUsage, Driver, DriverDefinition, DriverFingerprint, DriverHostConfig, ExecResult, ExecSession,
  ExecSessionOptions, ResourceUsage, TaskResources, WritableLayerUsage,
} from '../drivers/driver.ts';
import { LEGACY_ISOLATION } from '../model/isolation.ts';
import { taskIdOfRuntimeId } from '../model/runtime-id.ts';

export interface RuntimeSetOptions {
  /** Driver definitions by isolation name (loaded through the registry). */
  definitions: ReadonlyMap<string, DriverDefinition>;
  config: DriverHostConfig;
  /** The server's default isolation (what `fingerprint` describes). */
  serverDefault?: string;
}

export class RuntimeSet implements Driver {
  readonly name = 'runtimes';
  private readonly drivers = new Map<string, Driver>();
  private readonly prints = new Map<string, Promise<DriverFingerprint>>();
  private readonly known = new Map<string, DriverFingerprint>();
  /** Which runtime listed a container whose task the store does not know (reconciliation of leftovers). */
  private readonly listedBy = new Map<string, string>();
  private readonly fallback = LEGACY_ISOLATION;
  private isolationOf: (taskId: string) => string | undefined = () => undefined;

  constructor(private readonly opts: RuntimeSetOptions) {}

  /**
   * Where each task's isolation is read from (the task store, opened after the
   * host passed preflight). Until then every task counts as runc's.
   */
  bindTasks(isolationOf: (taskId: string) => string | undefined): void {
    // A task's isolation never changes once stored: remember it (stats and log reads ask often).
    const seen = new Map<string, string>();
    this.isolationOf = (taskId) => {
      const hit = seen.get(taskId);
      if (hit) return hit;
      const v = isolationOf(taskId);
      if (v) {
        if (seen.size > 50_000) seen.clear();
        seen.set(taskId, v);
      }
      return v;
    };
  }

  /** The isolation names this set can run. */
  get names(): string[] {
    return [...this.opts.definitions.keys()];
  }

  /** The driver of isolation `name`, made on first use. */
  driver(name: string): Driver {
    let d = this.drivers.get(name);
    if (!d) {
      const def = this.opts.definitions.get(name);
      if (!def) throw new Error(`no runtime ${JSON.stringify(name)} on this host: it has ${this.names.join(', ')}`);
      d = def.create(this.opts.config);
      this.drivers.set(name, d);
    }
    return d;
  }

  /** What runtime `name` can do here, asked once. Unknown names: unavailable, with the reason. */
  ensure(name: string): Promise<DriverFingerprint> {
    let p = this.prints.get(name);
    if (!p) {
      p = this.opts.definitions.has(name)
        ? this.driver(name).fingerprint()
        : Promise.resolve<DriverFingerprint>({
            name, available: false, isolation: 'none', features: { exec: false, stats: false, writableLayerUsage: false },
            reasons: [`this Skiff has no ${name} runtime (it has ${this.names.join(', ')})`],
          });
      p = p.then((f) => {
        this.known.set(name, f);
        return f;
      });
      p.catch(() => this.prints.delete(name));
      this.prints.set(name, p);
    }
    return p;
  }

  /** Whether runtime `name` runs containers in the host config's user namespace (its layers are stored shifted). */
  usesUserNamespace(name: string | undefined): boolean {
    return !!this.opts.config.userns && !!this.opts.definitions.get(name ?? this.fallback)?.userNamespaces;
  }

  /** The remembered fingerprint of `name`, if it was asked for already. */
  availability(name: string): DriverFingerprint | undefined {
    return this.known.get(name);
  }

  private forTask(taskId: string): Driver {
    return this.driver(this.isolationOf(taskId) ?? this.fallback);
  }

  private forContainer(id: string): Driver {
    const taskId = taskIdOfRuntimeId(id);
    const stored = this.isolationOf(taskId);
    return this.driver(stored ?? this.listedBy.get(id) ?? this.fallback);
  }

  /** The runtimes to read the host with: every one made so far, plus each whose state may be on the host. */
  private all(): Driver[] {
    return this.names.map((n) => this.driver(n));
  }

  fingerprint(): Promise<DriverFingerprint> {
    return this.ensure(this.opts.serverDefault ?? this.fallback);
  }

  createTask(taskId: string, res: TaskResources): Promise<void> {
    return this.forTask(taskId).createTask(taskId, res);
  }
  createContainer(spec: ContainerLaunchSpec): Promise<{ pid: number }> {
    return this.forTask(spec.taskId).createContainer(spec);
  }
  startContainer(id: string): Promise<void> {
    return this.forContainer(id).startContainer(id);
  }
  waitContainer(id: string): Promise<ContainerExit> {
    return this.forContainer(id).waitContainer(id);
  }
  stopContainer(id: string, signal: string, timeoutMs: number): Promise<ContainerExit> {
    return this.forContainer(id).stopContainer(id, signal, timeoutMs);
  }
  exec(id: string, args: string[], opts: { timeoutMs: number }): Promise<ExecResult> {
    return this.forContainer(id).exec(id, args, opts);
  }
  startExec(id: string, args: string[], opts: ExecSessionOptions): Promise<ExecSession> {
    return this.forContainer(id).startExec(id, args, opts);
  }
  inspect(id: string): Promise<ContainerState> {
    return this.forContainer(id).inspect(id);
  }
  destroyContainer(id: string): Promise<void> {
    return this.forContainer(id).destroyContainer(id);
  }
  destroyTask(taskId: string): Promise<void> {
    return this.forTask(taskId).destroyTask(taskId);
  }
  async listContainers(): Promise<string[]> {
    const out = new Set<string>();
    for (const name of this.names) {
      for (const id of await this.driver(name).listContainers()) {
        out.add(id);
        this.listedBy.set(id, name);
      }
    }
    return [...out].sort();
  }
  async listTasks(): Promise<string[]> {
    const lists = await Promise.all(this.all().map((d) => d.listTasks()));
    return [...new Set(lists.flat())].sort();
  }
  taskStats(taskId: string): Promise<ResourceUsage | undefined> {
    return this.forTask(taskId).taskStats(taskId);
  }
  containerStats(id: string): Promise<ContainerUsage | undefined> {
    return this.forContainer(id).containerStats(id);
  }
  writableLayerUsage(id: string): Promise<WritableLayerUsage | undefined> {
    return this.forContainer(id).writableLayerUsage(id);
  }
  logPath(id: string): string {
    return this.forContainer(id).logPath(id);
  }
  /** Host-level helpers (EFS's bindfs) are kept as runc keeps its supervisors: the runc driver's (every OCI driver shares its cgroup root). */
  async adoptHelper(pid: number, name: string): Promise<void> {
    const d = this.driver(this.fallback);
    if (!d.adoptHelper) throw new Error(`the ${this.fallback} driver keeps no helper processes`);
    await d.adoptHelper(pid, name);
  }
  async releaseHelper(name: string): Promise<void> {
    await this.driver(this.fallback).releaseHelper?.(name);
  }
  async purgeHostState(opts: { dryRun: boolean }): Promise<string[]> {
    const out: string[] = [];
    for (const d of this.all()) out.push(...(await d.purgeHostState(opts)));
    return out;
  }
}
