/**
 * Whether a container's command names an executable its rootfs has, checked on
 * the host before the runtime is asked (runc finds a missing one at `create`;
 * runsc only when the sandbox starts it, after `create` has succeeded). The
 * rootfs is attacker data: every path, symlinks included, is resolved inside it
 * (an absolute link target restarts at the rootfs, `..` stops at its root), only
 * lstat/readlink are used, and at most 40 links are followed.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';

const MAX_LINKS = 40;

/** The host path of `p` (a path inside the container) resolved inside `rootfs`; undefined when it does not exist. */
export async function resolveInRootfs(rootfs: string, p: string): Promise<string | undefined> {
  let links = 0;
  const todo = p.split('/').filter(Boolean);
  const done: string[] = [];
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = path.join(rootfs, ...done, part);
    let st;
    try {
      st = await fsp.lstat(host);
    } catch {
      return undefined;
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) return undefined;
      const target = await fsp.readlink(host);
      if (target.startsWith('/')) done.length = 0;
      todo.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    done.push(part);
  }
  return path.join(rootfs, ...done);
}

/**
 * Throws (in the words runc uses) unless `cmd` is an executable regular file in
 * `rootfs`: a name with a slash is taken relative to `cwd`, one without is
 * looked up in the container's PATH.
 */
export async function assertExecutable(rootfs: string, cmd: string, env: string[], cwd: string): Promise<void> {
  const isExec = async (inner: string) => {
    const host = await resolveInRootfs(rootfs, inner);
    if (!host) return false;
    const st = await fsp.stat(host).catch(() => undefined);
    return !!st && st.isFile() && (st.mode & 0o111) !== 0;
  };
  if (cmd.includes('/')) {
    const inner = path.posix.resolve(cwd || '/', cmd);
    if (!(await isExec(inner))) throw new Error(`exec: "${cmd}": stat ${inner}: no such file or directory (or not executable)`);
    return;
  }
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  for (const dir of pathVar.split(':').filter((d) => d.startsWith('/'))) {
    if (await isExec(path.posix.join(dir, cmd))) return;
  }
  throw new Error(`exec: "${cmd}": executable file not found in $PATH`);
}
