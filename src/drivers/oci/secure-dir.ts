/**
 * Where the runc driver keeps what holds a container's process environment
 * (secrets included): each bundle's config.json and runc's `--root` state
 * (runc's state.json embeds the whole config). These live on a memory
 * filesystem, never under the data dir:
 *
 *   <memory dir>/<sha256(stateDir)[0..16]>/runc/          runc --root
 *   <memory dir>/<sha256(stateDir)[0..16]>/specs/<id>.json a bundle's config.json
 *
 * The memory dir is `/run/skiff` when /run is a tmpfs (Debian/systemd), else
 * `/dev/shm/skiff`; both survive a server restart (adoption finds the same
 * path, derived from the state dir) but not a reboot, which containers do not
 * survive either. The data dir keeps only symlinks to them (`<stateDir>/runc`,
 * `bundles/<id>/config.json`), so every path callers and runc use is unchanged.
 *
 * Upgrade: a state dir whose `runc` is already a real directory (made by an
 * older Skiff) keeps using it, so tasks running across the upgrade are still
 * adopted; new containers' specs still go to memory. Removing that old
 * directory (once no task runs) moves runc's state to memory too.
 */
import { createHash } from 'node:crypto';
import { promises as fsp, statfsSync } from 'node:fs';
import path from 'node:path';

/** statfs f_type of tmpfs. */
export const TMPFS_MAGIC = 0x01021994;

export function isTmpfs(dir: string): boolean {
  try {
    return statfsSync(dir).type === TMPFS_MAGIC;
  } catch {
    return false;
  }
}

/** `/run/skiff` if /run is a tmpfs, else `/dev/shm/skiff`. */
export function memoryBase(): string {
  return isTmpfs('/run') ? '/run/skiff' : '/dev/shm/skiff';
}

/** The memory directory of one state dir (pure: same state dir, same answer). */
export function secureDirOf(base: string, stateDir: string): string {
  return path.join(base, createHash('sha256').update(path.resolve(stateDir)).digest('hex').slice(0, 16));
}

/**
 * Makes the memory dir (0700) and points `<stateDir>/runc` at its `runc/`,
 * unless `runcLink` already is a real directory (older layout, kept).
 */
export async function prepareSecureDir(dir: string, runcLink: string | undefined): Promise<void> {
  await fsp.mkdir(path.dirname(dir), { recursive: true, mode: 0o700 });
  await Promise.all(['runc', 'specs'].map((d) => fsp.mkdir(path.join(dir, d), { recursive: true, mode: 0o700 })));
  if (!runcLink) return;
  const st = await fsp.lstat(runcLink).catch(() => undefined);
  if (!st) {
    await fsp.symlink(path.join(dir, 'runc'), runcLink).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
}
