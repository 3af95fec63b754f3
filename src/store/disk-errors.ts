/**
 * Telling "the disk is full" apart from other failures, for every writer of the
 * data dir (the store, the log store, the audit log, background loops).
 *
 * Contract: a write that fails because the disk holding the data dir is full
 * (or failing) is never fatal to the process. API writes answer a clear error
 * (src/api/http-server.ts maps these to a ServerException naming the data dir
 * and its free space); background writers keep what they could not write when
 * they can, log once per outage (`WriteFailureNotice`) and try again later.
 */

/** SQLite and errno codes that mean "the disk cannot take this write now". */
const DISK_CODES = new Set(['SQLITE_FULL', 'ENOSPC', 'EDQUOT', 'EIO', 'EROFS']);

/**
 * Whether `err` is a write failing for lack of disk (SQLITE_FULL, ENOSPC,
 * EDQUOT), or the disk failing under it (SQLITE_IOERR_*, EIO, EROFS):
 * conditions outside the process that a later retry may get past.
 */
export function isDiskFullError(err: unknown): boolean {
  if (err instanceof DiskFullError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (DISK_CODES.has(code) || code.startsWith('SQLITE_IOERR'));
}

/**
 * Skiff refuses a write because the disk holding its data dir is (nearly) full.
 * The message is meant for the API caller: it names the directory, the free
 * space and what to do.
 */
export class DiskFullError extends Error {
  readonly code = 'SKIFF_DISK_FULL';
  constructor(message: string) {
    super(message);
    this.name = 'DiskFullError';
  }
}

/**
 * Logs a background writer's disk failure once per outage (not every tick) and
 * its recovery once; other errors are left to the caller.
 */
export class WriteFailureNotice {
  private failing = false;
  constructor(
    private readonly what: string,
    private readonly log: (msg: string) => void,
  ) {}

  /** Whether the writer is between a failure and the next success. */
  get down(): boolean {
    return this.failing;
  }

  /** Call with a failure; returns false (and logs nothing) when it is not a disk failure. */
  failed(err: unknown): boolean {
    if (!isDiskFullError(err)) return false;
    if (!this.failing) {
      this.failing = true;
      this.log(`${this.what}: cannot write (${err instanceof Error ? err.message : String(err)}); retrying quietly until the disk takes writes again`);
    }
    return true;
  }

  /** Call after a write went through. */
  succeeded(): void {
    if (!this.failing) return;
    this.failing = false;
    this.log(`${this.what}: writing again`);
  }
}

/**
 * Runs `write` until it goes through: a disk failure is reported to `notice`
 * (logged once) and retried after a back-off (200 ms doubling to 5 s); any
 * other error is thrown. For writes that must not be lost (a task's state).
 */
export async function retryWhileDiskFull<T>(write: () => T, notice: WriteFailureNotice): Promise<T> {
  for (let delayMs = 200; ; delayMs = Math.min(delayMs * 2, 5000)) {
    try {
      const result = write();
      notice.succeeded();
      return result;
    } catch (err) {
      if (!notice.failed(err)) throw err;
    }
    await new Promise((r) => setTimeout(r, delayMs));
  }
}
