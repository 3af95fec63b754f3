/**
 * The running server's mark on its data dir: `<data>/server.pid` holds
 * `<pid> <start time>` (the process start time, field 22 of /proc/<pid>/stat,
 * in clock ticks since boot). Node has no flock, and a bare pid can be reused
 * by an unrelated process after a crash; the pair (pid, start time) names one
 * process for the life of the boot, so `holder()` is reliable:
 *
 * - the server writes the file when it starts and removes it when it closes;
 * - a server killed with -9 leaves the file: its pid is then dead, or belongs to
 *   a process with another start time, and the lock counts as free (stale);
 * - `skiff host reset` refuses while `holder()` names a live process.
 *
 * Contract: `acquireServerLock` refuses (throws, naming the pid) when another
 * live process holds the data dir; its own process re-acquires freely.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE = 'server.pid';

export interface LockHolder {
  pid: number;
  startTime: string;
}

/** Field 22 (starttime) of a /proc/<pid>/stat text; the command (field 2) may hold spaces and parentheses. */
export function parseStartTime(statText: string): string | undefined {
  const close = statText.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = statText.slice(close + 2).trim().split(/\s+/); // fields[0] is field 3 (state)
  return fields[19];
}

/** Parses `<pid> <startTime>`; undefined when the text is not such a pair. */
export function parseLock(text: string): LockHolder | undefined {
  const m = /^(\d+) (\d+)\s*$/.exec(text);
  if (!m) return undefined;
  return { pid: Number(m[1]), startTime: m[2]! };
}

function readStat(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
}

/** True when `holder` names a live process: its pid exists with the recorded start time. */
export function isLive(holder: LockHolder, stat: (pid: number) => string | undefined = readStat): boolean {
  const text = stat(holder.pid);
  return text !== undefined && parseStartTime(text) === holder.startTime;
}

/** The live server process holding `dataDir`, or undefined (no file, unreadable, or stale). */
export function lockHolder(dataDir: string, stat: (pid: number) => string | undefined = readStat): LockHolder | undefined {
  let text: string;
  try {
    text = readFileSync(join(dataDir, LOCK_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const holder = parseLock(text);
  return holder && isLive(holder, stat) ? holder : undefined;
}

/** Marks `dataDir` as this process's; throws (naming the pid) when another live process holds it. */
export function acquireServerLock(dataDir: string): void {
  const other = lockHolder(dataDir);
  if (other && other.pid !== process.pid) {
    throw new Error(`another Skiff server (pid ${other.pid}) is running with data dir ${dataDir}: stop it first, or use another --data-dir`);
  }
  const startTime = parseStartTime(readStat(process.pid) ?? '');
  if (!startTime) throw new Error(`cannot read this process's start time from /proc/${process.pid}/stat`);
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, LOCK_FILE), `${process.pid} ${startTime}\n`);
}

/** Removes the mark if it is this process's (a later server may already hold the dir). */
export function releaseServerLock(dataDir: string): void {
  const path = join(dataDir, LOCK_FILE);
  try {
    const holder = parseLock(readFileSync(path, 'utf8'));
    if (holder?.pid === process.pid) rmSync(path, { force: true });
  } catch {
    /* no lock file */
  }
}
