/**
 * Headroom for the store on the disk that holds the data dir, which tasks'
 * writable layers share (DIR/runtime).
 *
 * Contract:
 *   - At start, and whenever there is room, a reserve file (`store-reserve`,
 *     `reserveBytes`, blocks really allocated) holds space for the store.
 *   - When the filesystem's free space drops under `criticalBytes`, or any
 *     writer reports a disk failure (`noteFailure`), the guard is `full`: it
 *     deletes the reserve at once, so the store can still record what tasks do
 *     (exits, stops, releases) even while something else keeps the disk full.
 *   - While `full`, API calls that write are refused (`assertWritable` throws a
 *     `DiskFullError` with a message for the caller), except `RESERVE_ACTIONS`
 *     (stopping tasks and services, revoking a key). Reads go on.
 *   - It is also `full` while the reserve is missing and cannot be made (a
 *     start on a nearly full disk, or after a release).
 *   - It recovers by itself: once free space reaches `reserveBytes + 2 ×
 *     criticalBytes` the reserve is made again and `full` ends. No restart.
 *   - New tasks are refused while free space is under `minFreeBytes`
 *     (`newTasksRefusal`), whether or not the disk is `full`.
 *   - Starting needs no free space: beside the reserve a small start reserve
 *     (`start-reserve`, a quarter of the reserve, at most 4 MiB) is kept and
 *     released only by a start that finds the disk full, so opening the stores
 *     (SQLite's WAL recovery and shared-memory index) and the start-up writes
 *     have room even when everything else was taken while the server was down.
 */
import { promises as fsp, rmSync, statfsSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DiskFullError, isDiskFullError } from './disk-errors.ts';
import { run } from '../util/exec.ts';

const MiB = 1024 * 1024;

export interface DiskSettings {
  /** Size of the reserve file kept for the store (0: none). SKIFF_STORE_RESERVE_MIB, default 64. */
  reserveBytes: number;
  /** New tasks are refused under this much free space. SKIFF_MIN_FREE_MIB, default 256. */
  minFreeBytes: number;
  /** Under this much free space the disk counts as full: max(1 MiB, min(8 MiB, reserve / 2)). */
  criticalBytes: number;
  /** How often free space is looked at. SKIFF_DISK_CHECK_MS, default 1000. */
  intervalMs: number;
}

/** Reads the settings from the environment; a value that is not a whole number ≥ 0 is an error naming the variable. */
export function diskSettingsFromEnv(env: NodeJS.ProcessEnv): DiskSettings {
  const num = (name: string, dflt: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number ≥ 0, got '${raw}'`);
    return n;
  };
  const reserveBytes = num('SKIFF_STORE_RESERVE_MIB', 64) * MiB;
  return {
    reserveBytes,
    minFreeBytes: num('SKIFF_MIN_FREE_MIB', 256) * MiB,
    criticalBytes: Math.max(MiB, Math.min(8 * MiB, Math.floor(reserveBytes / 2))),
    intervalMs: Math.max(50, num('SKIFF_DISK_CHECK_MS', 1000)),
  };
}

/**
 * API actions allowed while the disk is full, their state changes written from
 * the reserve: the ones that free space (stopping a task removes its writable
 * layer; UpdateService to scale in, DeleteService) and revoking an access key,
 * which must never wait for disk.
 */
export const RESERVE_ACTIONS: ReadonlySet<string> = new Set(['ecs:StopTask', 'ecs:UpdateService', 'ecs:DeleteService', 'skiff:RevokeAccessKey']);

export interface DiskGuardOptions {
  /** The data dir (the reserve file lives in it; its filesystem is the one watched). */
  dir: string;
  settings: DiskSettings;
  log(msg: string): void;
  /** Free bytes of the filesystem holding `dir` (tests replace it). */
  freeBytes?: (dir: string) => number;
}

export const RESERVE_FILE = 'store-reserve';
export const START_RESERVE_FILE = 'start-reserve';

export class DiskGuard {
  private isFull = false;
  private lastFree = Number.POSITIVE_INFINITY;
  private statFailed = false;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private readonly reservePath: string;
  private readonly startPath: string;
  private readonly statFree: (dir: string) => number;

  constructor(private readonly opts: DiskGuardOptions) {
    this.reservePath = join(opts.dir, RESERVE_FILE);
    this.startPath = join(opts.dir, START_RESERVE_FILE);
    this.statFree = opts.freeBytes ?? defaultFreeBytes;
  }

  /** True while writes are refused (from the disk filling until space returns). */
  get full(): boolean {
    return this.isFull;
  }

  /** Whether both reserve files are in place. */
  get reserved(): boolean {
    return this.missing().length === 0;
  }

  /** First look (releases the start reserve if the disk is full, makes missing reserves), then every `intervalMs`. */
  async start(): Promise<void> {
    if (this.measure() < this.opts.settings.criticalBytes && existsSync(this.startPath)) {
      rmSync(this.startPath, { force: true });
      this.opts.log(`disk: the disk holding ${this.opts.dir} is full; released the start reserve to open the store`);
    }
    await this.check();
    this.timer = setInterval(() => void this.check(), this.opts.settings.intervalMs);
    this.timer.unref();
  }

  /** Stops watching; waits for a check in progress. The reserve file stays for the next start. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.checking;
  }

  /** One look at free space: enter or leave `full`, release or make the reserve. Never throws. */
  check(): Promise<void> {
    return (this.checking ??= this.checkOnce()
      .catch((e) => this.opts.log(`disk guard: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => (this.checking = undefined)));
  }

  private async checkOnce(): Promise<void> {
    const s = this.opts.settings;
    const free = this.measure();
    if (free < s.criticalBytes) return this.enterFull(`only ${mib(free)} MiB free`);
    // Full for as long as the reserve is not in place: the space left is the store's, not the callers'.
    const missing = this.missing();
    if (missing.length > 0) {
      const wanted = missing.reduce((n, m) => n + m.bytes, 0);
      if (free < wanted + 2 * s.criticalBytes || !(await this.makeReserves(missing))) {
        return this.enterFull(`${mib(free)} MiB free, not enough to keep the ${mib(s.reserveBytes)} MiB store reserve`);
      }
    }
    if (this.isFull) {
      this.isFull = false;
      this.opts.log(`disk: ${mib(this.measure())} MiB free on the disk holding ${this.opts.dir}; the store reserve is in place and writes are accepted again`);
    }
  }

  /**
   * A writer hit `err`. If it is a disk failure, the guard becomes `full` (and
   * releases the reserve) at once; returns whether it was one.
   */
  noteFailure(err: unknown): boolean {
    if (!isDiskFullError(err)) return false;
    this.enterFull(err instanceof Error ? err.message : String(err));
    return true;
  }

  /** The caller-facing message for a write Skiff cannot make. */
  fullMessage(): string {
    return `Skiff cannot write its store: the disk holding ${this.opts.dir} is full (${mib(this.measure())} MiB free). Free space on it or stop tasks writing to it; Skiff accepts writes again by itself once there is room.`;
  }

  /** Throws a `DiskFullError` if `action` (e.g. `ecs:RunTask`) writes and the disk is full. */
  assertWritable(action: string): void {
    if (this.isFull && !RESERVE_ACTIONS.has(action)) throw new DiskFullError(this.fullMessage());
  }

  /** Why new tasks may not start now (undefined: they may). */
  newTasksRefusal(): string | undefined {
    const free = this.measure();
    const min = this.opts.settings.minFreeBytes;
    if (!this.isFull && free >= min) return undefined;
    return `Skiff is not starting new tasks: the disk holding ${this.opts.dir} has ${mib(free)} MiB free, under the ${mib(min)} MiB it keeps for running tasks and its store (SKIFF_MIN_FREE_MIB). Free space on it or stop tasks writing to it, then try again.`;
  }

  /** Free bytes now; if the filesystem cannot say (logged once), the last figure. */
  private measure(): number {
    try {
      this.lastFree = this.statFree(this.opts.dir);
      this.statFailed = false;
    } catch (e) {
      if (!this.statFailed) this.opts.log(`disk guard: cannot read the free space of ${this.opts.dir}: ${e instanceof Error ? e.message : String(e)}`);
      this.statFailed = true;
    }
    return this.lastFree;
  }

  private enterFull(why: string): void {
    const released = this.releaseReserve();
    if (this.isFull) return;
    this.isFull = true;
    this.opts.log(
      `disk: the disk holding ${this.opts.dir} is full (${why}); ${released ? `released the ${mib(this.opts.settings.reserveBytes)} MiB store reserve, ` : ''}refusing API writes and new tasks until space returns`,
    );
  }

  private releaseReserve(): boolean {
    if (!existsSync(this.reservePath)) return false;
    rmSync(this.reservePath, { force: true });
    return true;
  }

  /** The reserve files not in place, with their sizes. */
  private missing(): { path: string; bytes: number }[] {
    const reserve = this.opts.settings.reserveBytes;
    const files = [
      { path: this.startPath, bytes: Math.min(4 * MiB, Math.floor(reserve / 4)) },
      { path: this.reservePath, bytes: reserve },
    ];
    return files.filter((f) => f.bytes > 0 && !(existsSync(f.path) && statSync(f.path).size >= f.bytes));
  }

  private async makeReserves(files: { path: string; bytes: number }[]): Promise<boolean> {
    for (const f of files) if (!(await makeFile(f.path, f.bytes))) return false;
    return true;
  }
}

/**
 * Makes a file holding `bytes` of the disk under a temporary name, then renames
 * it in place; false if the disk is full. `fallocate` reserves the blocks
 * without writing them (milliseconds); where it is missing or unsupported,
 * zeros are written and synced.
 */
async function makeFile(path: string, bytes: number): Promise<boolean> {
  const tmp = `${path}.tmp`;
  const fallocated = await run('fallocate', ['-l', String(bytes), tmp]).catch(() => undefined);
  if (fallocated?.code === 0) {
    await fsp.chmod(tmp, 0o600);
    await fsp.rename(tmp, path);
    return true;
  }
  await fsp.rm(tmp, { force: true });
  if (fallocated && /no space left|quota/i.test(fallocated.stderr)) return false;
  const chunk = Buffer.alloc(Math.min(MiB, bytes));
  try {
    const fh = await fsp.open(tmp, 'w', 0o600);
    try {
      for (let done = 0; done < bytes; ) {
        const n = Math.min(chunk.length, bytes - done);
        await fh.write(chunk, 0, n);
        done += n;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, path);
    return true;
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    if (!isDiskFullError(e)) throw e;
    return false; // something took the space meanwhile: next time
  }
}

function defaultFreeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

function mib(bytes: number): number {
  return Math.floor(bytes / MiB);
}
