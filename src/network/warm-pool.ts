/**
 * A warm pool of ready task networks: per subnet, a few network namespaces with
 * their veth in the bridge and an address configured, made in the background so
 * that a task start does not wait for `ip`.
 *
 * Identity: a pooled namespace is made for a task id chosen in advance (a fresh
 * 32-hex id). RunTask takes a ready entry and stores the task under that id, so
 * the namespace, veth and address are exactly what `attach(taskId, ...)` would
 * have made, and teardown, adoption and the agent's sweep need nothing new.
 *
 * Persist before acting: an entry's address is reserved in the store
 * (ip_allocations, task_id = the reserved id) before its namespace is created, so
 * an address is never handed to two tasks: the store's primary key forbids it,
 * and a reserved address is only ever given to the task stored under that id (in
 * RunTask's transaction). A reservation with no task record is a pool entry; after
 * a crash, `recover()` removes every such namespace, then frees the address.
 * Draining removes the namespace first and frees the address after, so a crash in
 * between leaves a reservation that the next `recover()` cleans up.
 *
 * Refills run one namespace at a time, after starts in flight have settled (they
 * would compete with them for the CPU), and only for subnets RunTask has used
 * (plus any `warm()` names at start).
 */
import type { Network, SubnetSpec, TaskAttachment } from './network.ts';

/** What the pool needs from the store's IPAM. */
export interface PoolAddressBook {
  /** Reserves the lowest free address of the subnet for `id` (durably); undefined when full. */
  reserve(subnetId: string, id: string): string | undefined;
  /** Frees the address held by `id`. Idempotent. */
  release(id: string): void;
  /** Ids holding an address without being a task: pool reservations (and leftovers of a crash). */
  reservationsWithoutTask(): { id: string; subnetId: string; ipv4: string }[];
}

export interface WarmPoolDeps {
  network: Network;
  addresses: PoolAddressBook;
  subnet(subnetId: string): SubnetSpec;
  newId(): string;
  log(msg: string): void;
  /** Starts in flight: refills wait while this is above zero. Default: never wait. */
  busy?(): number;
  /**
   * The ledger to keep (default: a new one of the pool's size). Given when task
   * runners claim handed-over attachments (`ledger.claim`) and must exist
   * before the pool, which waits on their starts (`busy`).
   */
  ledger?: PoolLedger;
}

export interface WarmPoolOptions {
  /** Ready namespaces kept per subnet in use (0 disables the pool). */
  size: number;
  /** Pause after a failed fill before the next attempt, ms (default 2000). */
  retryMs?: number;
  /** How often a refill re-checks for starts in flight, ms (default 20). */
  idlePollMs?: number;
}

export interface PoolEntry {
  id: string;
  subnetId: string;
  ipv4: string;
}

interface ReadyEntry extends PoolEntry {
  attachment: TaskAttachment;
}

/**
 * The pool's in-memory ledger (pure): ready entries per subnet, entries being
 * filled, and attachments handed over but not yet claimed by their task runner.
 */
export class PoolLedger {
  private readonly ready = new Map<string, ReadyEntry[]>();
  private readonly filling = new Map<string, number>();
  private readonly handedOver = new Map<string, TaskAttachment>();
  readonly wanted = new Set<string>();

  constructor(readonly size: number) {}

  readyCount(subnetId: string): number {
    return this.ready.get(subnetId)?.length ?? 0;
  }

  /** How many more entries the subnet needs (ready + filling below size). */
  deficit(subnetId: string): number {
    return Math.max(0, this.size - this.readyCount(subnetId) - (this.filling.get(subnetId) ?? 0));
  }

  /** The subnet that needs an entry most, if any. */
  nextToFill(): string | undefined {
    let best: string | undefined;
    let most = 0;
    for (const s of this.wanted) {
      const d = this.deficit(s);
      if (d > most) {
        most = d;
        best = s;
      }
    }
    return best;
  }

  startFill(subnetId: string): void {
    this.filling.set(subnetId, (this.filling.get(subnetId) ?? 0) + 1);
  }

  endFill(subnetId: string): void {
    const n = (this.filling.get(subnetId) ?? 1) - 1;
    if (n > 0) this.filling.set(subnetId, n);
    else this.filling.delete(subnetId);
  }

  add(entry: ReadyEntry): void {
    const list = this.ready.get(entry.subnetId) ?? [];
    list.push(entry);
    this.ready.set(entry.subnetId, list);
  }

  /** Takes the oldest ready entry of the subnet; its attachment waits for `claim(id)`. */
  take(subnetId: string): PoolEntry | undefined {
    const e = this.ready.get(subnetId)?.shift();
    if (!e) return undefined;
    this.handedOver.set(e.id, e.attachment);
    return { id: e.id, subnetId: e.subnetId, ipv4: e.ipv4 };
  }

  /** Puts entries taken by a RunTask that did not commit back at the front. */
  giveBack(entries: PoolEntry[]): void {
    for (const e of [...entries].reverse()) {
      const attachment = this.handedOver.get(e.id);
      if (!attachment) continue;
      this.handedOver.delete(e.id);
      const list = this.ready.get(e.subnetId) ?? [];
      list.unshift({ ...e, attachment });
      this.ready.set(e.subnetId, list);
    }
  }

  claim(id: string): TaskAttachment | undefined {
    const a = this.handedOver.get(id);
    this.handedOver.delete(id);
    return a;
  }

  /** Removes and returns the ready entries of one subnet. */
  takeReady(subnetId: string): ReadyEntry[] {
    const list = this.ready.get(subnetId) ?? [];
    this.ready.delete(subnetId);
    return list;
  }

  /** Removes and returns every ready entry. */
  takeAllReady(): ReadyEntry[] {
    const all = [...this.ready.values()].flat();
    this.ready.clear();
    return all;
  }

  counts(): { subnetId: string; ready: number; filling: number }[] {
    const ids = new Set([...this.wanted, ...this.ready.keys(), ...this.filling.keys()]);
    return [...ids].sort().map((s) => ({ subnetId: s, ready: this.readyCount(s), filling: this.filling.get(s) ?? 0 }));
  }
}

export class WarmPool {
  private readonly ledger: PoolLedger;
  private draining = false;
  private filler: Promise<void> | undefined;
  private readonly retryMs: number;
  private readonly idlePollMs: number;

  constructor(
    private readonly deps: WarmPoolDeps,
    opts: WarmPoolOptions,
  ) {
    if (!Number.isInteger(opts.size) || opts.size < 0) throw new Error(`warm pool size must be a whole number ≥ 0 (got ${opts.size})`);
    this.ledger = deps.ledger ?? new PoolLedger(opts.size);
    if (this.ledger.size !== opts.size) throw new Error(`warm pool ledger size ${this.ledger.size} is not the pool size ${opts.size}`);
    this.retryMs = opts.retryMs ?? 2000;
    this.idlePollMs = opts.idlePollMs ?? 20;
  }

  get size(): number {
    return this.ledger.size;
  }

  /**
   * After a (re)start, before anything is taken: removes the namespace of every
   * address reservation without a task (a previous run's pool), then frees the
   * address. Returns how many it removed.
   */
  async recover(): Promise<number> {
    const left = this.deps.addresses.reservationsWithoutTask();
    for (const r of left) {
      await this.deps.network.detach(r.id);
      this.deps.addresses.release(r.id);
    }
    return left.length;
  }

  /** Keeps `size` ready namespaces for this subnet from now on. */
  warm(subnetId: string): void {
    if (this.ledger.size === 0 || this.draining) return;
    this.ledger.wanted.add(subnetId);
    this.kick();
  }

  readyCount(subnetId: string): number {
    return this.ledger.readyCount(subnetId);
  }

  /** Stops keeping the subnet warm and removes its ready entries (before the subnet is deleted). */
  async forgetSubnet(subnetId: string): Promise<void> {
    this.ledger.wanted.delete(subnetId);
    await this.filler; // a fill of this subnet may be under way
    for (const e of this.ledger.takeReady(subnetId)) await this.remove(e);
  }

  /**
   * Takes a ready entry (synchronous: called inside RunTask's transaction). The
   * caller stores a task under `entry.id`, or gives the entry back if it does not.
   */
  take(subnetId: string): PoolEntry | undefined {
    if (this.draining) return undefined;
    const e = this.ledger.take(subnetId);
    if (e) this.kick();
    return e;
  }

  giveBack(entries: PoolEntry[]): void {
    this.ledger.giveBack(entries);
  }

  /** The ready attachment of a task that was given a pooled id (once), else undefined. */
  claim(taskId: string): TaskAttachment | undefined {
    return this.ledger.claim(taskId);
  }

  status(): { size: number; draining: boolean; subnets: { subnetId: string; ready: number; filling: number }[] } {
    return { size: this.ledger.size, draining: this.draining, subnets: this.ledger.counts() };
  }

  /**
   * Stops refilling and removes every ready entry (namespace, then address).
   * Entries being filled are removed as they finish. With `resume`, the pool
   * fills again afterwards (for the subnets it kept warm).
   */
  async drain(opts: { resume?: boolean } = {}): Promise<number> {
    this.draining = true;
    let removed = 0;
    try {
      await this.filler;
      for (const e of this.ledger.takeAllReady()) {
        await this.remove(e);
        removed++;
      }
    } finally {
      if (opts.resume) {
        this.draining = false;
        this.kick();
      }
    }
    return removed;
  }

  private kick(): void {
    if (this.filler || this.draining || this.ledger.size === 0) return;
    this.filler = this.fillLoop().finally(() => {
      this.filler = undefined;
      // Something may have been taken after the loop's last look.
      if (!this.draining && this.ledger.nextToFill()) this.kick();
    });
  }

  private async fillLoop(): Promise<void> {
    for (;;) {
      if (this.draining) return;
      const subnetId = this.ledger.nextToFill();
      if (!subnetId) return;
      while ((this.deps.busy?.() ?? 0) > 0 && !this.draining) await sleep(this.idlePollMs);
      if (this.draining) return;
      const ok = await this.fillOne(subnetId);
      if (!ok) await sleep(this.retryMs);
    }
  }

  /** Reserves an address (durably), then makes the namespace. False when it could not. */
  private async fillOne(subnetId: string): Promise<boolean> {
    const id = this.deps.newId();
    let spec: SubnetSpec;
    let ipv4: string | undefined;
    try {
      spec = this.deps.subnet(subnetId);
      ipv4 = this.deps.addresses.reserve(subnetId, id);
    } catch (err) {
      this.deps.log(`warm pool: cannot reserve an address in ${subnetId}: ${errMessage(err)}`);
      return false;
    }
    if (!ipv4) {
      this.ledger.wanted.delete(subnetId); // full: tasks need the addresses more; warm() again on the next RunTask
      return true;
    }
    this.ledger.startFill(subnetId);
    try {
      await this.deps.network.ensureSubnet(spec);
      const attachment = await this.deps.network.attach(id, spec, ipv4);
      const entry: ReadyEntry = { id, subnetId, ipv4, attachment };
      if (this.draining) await this.remove(entry);
      else this.ledger.add(entry);
      return true;
    } catch (err) {
      this.deps.log(`warm pool: cannot prepare a namespace in ${subnetId}: ${errMessage(err)}`);
      await this.deps.network.detach(id).then(
        () => this.deps.addresses.release(id),
        () => {}, // left reserved: recover() removes it on the next start
      );
      return false;
    } finally {
      this.ledger.endFill(subnetId);
    }
  }

  private async remove(e: PoolEntry): Promise<void> {
    await this.deps.network.detach(e.id);
    this.deps.addresses.release(e.id);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
