/**
 * Exit tracking: reads the exit status conmon records in `exits/<id>` (and the
 * OOM verdict from the container's memory cgroup), remembers it until the
 * container is destroyed, and wakes `waitContainer` callers. One inotify watcher
 * on the exit directory serves every waiter, with a poll as the fallback; a
 * waiter whose conmon died without recording an exit gets UNKNOWN_EXIT_CODE.
 */
import { promises as fsp, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { ContainerExit } from '../driver.ts';
import { readOomKillCount } from './cgroups.ts';
import { conmonAlive } from './conmon.ts';
import type { MetaStore, RuncPaths } from './paths.ts';
import type { RuncCli } from './runc-cli.ts';

/** Exit code reported when the supervisor vanished without recording one. */
export const UNKNOWN_EXIT_CODE = -1;

/** With a working exit-dir watcher, every waiter is polled only every this many ticks (see addWaiter). */
const WAKE_ALL_EVERY = 6;

export interface ExitTrackerDeps {
  paths: RuncPaths;
  meta: MetaStore;
  cli: RuncCli;
  /** Mount point of the v1 memory cgroup hierarchy, if any. */
  memoryHierarchy(): Promise<string | undefined>;
  /** Poll interval of the exit-file fallback, ms. */
  pollIntervalMs: number;
}

export class ExitTracker {
  private readonly cache = new Map<string, ContainerExit>();
  /** waitContainer listeners by container id; woken by the exit-dir watcher or the poll. */
  private readonly waiters = new Map<string, Set<() => void>>();
  private watcher?: FSWatcher;
  private pollTimer?: NodeJS.Timeout;

  constructor(private readonly deps: ExitTrackerDeps) {}

  /** The exit recorded by conmon, or undefined if the container has not exited (or is unknown). */
  async read(id: string): Promise<ContainerExit | undefined> {
    const cached = this.cache.get(id);
    if (cached) return cached;
    let text: string;
    let mtimeMs: number;
    try {
      const p = this.deps.paths.exit(id);
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
    this.cache.set(id, exit);
    return exit;
  }

  /** Forgets a remembered exit (a new container under the same id is being created). */
  forget(id: string): void {
    this.cache.delete(id);
  }

  /** After destroy: pending waiters pick up the remembered exit synchronously on wake; then it is forgotten. */
  settleDestroyed(id: string): void {
    this.wake(id);
    this.cache.delete(id);
  }

  /**
   * True when the kernel OOM killer killed a process of this container. In cgroup v1
   * the `oom_kill` counter is kept in the victim's own memory cgroup (the container's),
   * whether the container's or the task's limit was hit; the task cgroup is checked too
   * for processes placed there directly. The cgroup lives until `runc delete`.
   */
  private async oomKilled(id: string): Promise<boolean> {
    const meta = await this.deps.meta.read(id);
    if (!meta) return false;
    const mem = await this.deps.memoryHierarchy().catch(() => undefined);
    if (!mem) return false;
    const ctr = path.join(mem, meta.cgroupsPath);
    const [own, parent] = await Promise.all([readOomKillCount(ctr), readOomKillCount(path.dirname(ctr))]);
    return own > 0 || parent > 0;
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
        this.watcher = watch(this.deps.paths.exitDir, (_event, filename) => {
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
        void fsp.readdir(this.deps.paths.exitDir).then(
          (names) => names.forEach((n) => this.waiters.has(n) && this.wake(n)),
          () => {},
        );
      }, this.deps.pollIntervalMs);
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

  /** Resolves with the container's exit (see Driver.waitContainer); the exit directory must exist. */
  async wait(id: string): Promise<ContainerExit> {
    const { meta, cli, paths } = this.deps;
    const fast = await this.read(id);
    if (fast) return fast;
    if (!(await meta.read(id)) && !(await cli.knows(id))) throw new Error(`container ${id} not found`);
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
            const exit = await this.read(id);
            if (exit) {
              remove();
              return resolve(exit);
            }
            // Every few polls, make sure someone is still going to write the exit file.
            if (++polls % 5 === 0) {
              if (!(await meta.exists(id)) && !(await cli.knows(id))) {
                remove();
                return reject(new Error(`container ${id} was removed before it exited`));
              }
              if ((await conmonAlive(paths, id)) === false) {
                const late = await this.read(id);
                if (late) {
                  remove();
                  return resolve(late);
                }
                const st = await cli.state(id);
                if (!st || st.status === 'stopped') {
                  // The supervisor died without recording the exit (e.g. killed): report it as unknown.
                  const exit: ContainerExit = { exitCode: UNKNOWN_EXIT_CODE, oomKilled: await this.oomKilled(id), exitedAt: Date.now() };
                  this.cache.set(id, exit);
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
}
