/**
 * The host side of a microVM container's files: its overlay (image layers read-only
 * + its own writable layer), bind mounts of its extra mounts' sources into the
 * share, finding its executable inside the rootfs without ever leaving it, the
 * writable layer's size, and unmounting everything under a directory.
 */
import { promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import { run } from '../../util/exec.ts';

/** Mounts `layerDirs` (lowest first) with `upper`/`work` as an overlay at `target`. */
export async function mountOverlay(layerDirs: string[], upper: string, work: string, target: string): Promise<void> {
  const data = `lowerdir=${[...layerDirs].reverse().join(':')},upperdir=${upper},workdir=${work}`;
  if (data.length > 3900) throw new Error(`too many image layers for one overlay mount (${layerDirs.length})`);
  const r = await run('mount', ['-n', '--make-private', '-t', 'overlay', 'overlay', '-o', data, target]);
  if (r.code !== 0) throw new Error(`cannot mount the container rootfs (overlay): ${(r.stderr || r.stdout).trim()}`);
}

/** Bind-mounts `source` (file or directory) at `target` (created to match), read-only if asked. */
export async function bindInto(source: string, target: string, readonly: boolean): Promise<'file' | 'dir'> {
  const st = await fsp.stat(source);
  const kind = st.isDirectory() ? 'dir' : 'file';
  if (kind === 'dir') await fsp.mkdir(target, { recursive: true });
  else await fsp.writeFile(target, '', { flag: 'a' });
  let r = await run('mount', ['-n', '--bind', source, target]);
  if (r.code === 0) r = await run('mount', ['-n', '--make-private', target]);
  if (r.code === 0 && readonly) r = await run('mount', ['-n', '-o', 'remount,bind,ro', target]);
  if (r.code !== 0) throw new Error(`cannot mount ${source} for the container: ${(r.stderr || r.stdout).trim()}`);
  return kind;
}

/** Unmounts everything mounted at or below `dir`, deepest first (lazily when busy). */
export async function unmountUnder(dir: string): Promise<void> {
  const text = await fsp.readFile('/proc/self/mountinfo', 'utf8');
  const targets = text
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((mp): mp is string => !!mp)
    .map((mp) => mp.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((mp) => mp === dir || mp.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
  for (const t of [...new Set(targets)]) {
    const r = await run('umount', ['-n', t]);
    if (r.code !== 0) {
      const lazy = await run('umount', ['-n', '-l', t]);
      if (lazy.code !== 0 && !/not mounted|no mount point/i.test(lazy.stderr)) throw new Error(`cannot unmount ${t}: ${lazy.stderr.trim()}`);
    }
  }
}

/**
 * The host path of `p` inside the tree `root`, following symlinks as the guest
 * will after chroot (absolute ones from `root`, `..` never above it); undefined
 * when a component is missing. Never touches anything outside `root`.
 */
export async function resolveInRoot(root: string, p: string): Promise<{ hostPath: string; st: Stats } | undefined> {
  const todo = p.split('/').filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = path.join(root, ...done, part);
    const st = await fsp.lstat(host).catch(() => undefined);
    if (!st) return undefined;
    if (st.isSymbolicLink()) {
      if (++links > 40) return undefined;
      const target = await fsp.readlink(host);
      if (target.startsWith('/')) done.length = 0;
      todo.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    done.push(part);
  }
  const hostPath = path.join(root, ...done);
  const st = await fsp.lstat(hostPath).catch(() => undefined);
  return st ? { hostPath, st } : undefined;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Whether `cmd` names an executable file in `root` (searched on the container's PATH when it has no slash). */
export async function findExecutable(root: string, cmd: string, env: string[]): Promise<boolean> {
  const isExe = async (p: string) => {
    const r = await resolveInRoot(root, p);
    return !!r && r.st.isFile() && (r.st.mode & 0o111) !== 0;
  };
  if (cmd.includes('/')) return isExe(cmd);
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  for (const dir of pathVar.split(':')) if (dir.startsWith('/') && (await isExe(`${dir}/${cmd}`))) return true;
  return false;
}

/** Allocated bytes and entries under `dir`, hard links once (like `du`); undefined when it is gone. */
export async function treeUsage(dir: string): Promise<{ bytes: number; inodes: number } | undefined> {
  const top = await fsp.lstat(dir).catch(() => undefined);
  if (!top) return undefined;
  const seen = new Set<string>();
  let bytes = 0;
  let inodes = 0;
  const walk = async (d: string): Promise<void> => {
    const names = await fsp.readdir(d).catch(() => [] as string[]);
    for (const n of names) {
      const p = path.join(d, n);
      const st = await fsp.lstat(p).catch(() => undefined);
      if (!st) continue;
      const key = `${st.dev}:${st.ino}`;
      if (st.nlink > 1 && seen.has(key)) continue;
      seen.add(key);
      inodes++;
      bytes += st.blocks * 512;
      if (st.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return { bytes, inodes };
}
