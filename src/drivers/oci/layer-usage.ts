/**
 * Disk use of a container's writable layer (its overlay upper directory), like
 * `du`: allocated blocks, hard links counted once, bounded walk.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { WritableLayerUsage } from '../driver.ts';

const gone = (e: unknown) => ['ENOENT', 'ESRCH', 'EINVAL'].includes((e as NodeJS.ErrnoException)?.code ?? '');

/** Disk use of a directory tree, at most `maxEntries` entries walked; undefined when `dir` is missing. */
export async function diskUsage(dir: string, maxEntries = 200_000): Promise<WritableLayerUsage | undefined> {
  let bytes = 0;
  let entries = 0;
  let inodes = 0;
  const seen = new Set<string>();
  const stack = [dir];
  try {
    await fsp.lstat(dir);
  } catch (e) {
    if (gone(e)) return undefined;
    throw e;
  }
  while (stack.length && entries < maxEntries) {
    const d = stack.pop()!;
    let names: string[];
    try {
      names = await fsp.readdir(d);
    } catch (e) {
      if (gone(e) || (e as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
      throw e;
    }
    for (const n of names) {
      const p = path.join(d, n);
      const st = await fsp.lstat(p).catch((e) => (gone(e) ? undefined : Promise.reject(e)));
      if (!st) continue;
      entries++;
      if (st.nlink > 1 && !st.isDirectory()) {
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      inodes++;
      bytes += st.blocks * 512;
      if (st.isDirectory()) stack.push(p);
    }
  }
  return { bytes, inodes };
}
