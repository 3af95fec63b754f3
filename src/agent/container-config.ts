/**
 * Merges an image's config with a container definition the way Docker (and so
 * ECS) does, into the process a container runs. Pure apart from reading the
 * image's /etc/passwd and /etc/group to resolve a user name.
 *
 * Image config is attacker data: its values only shape the process inside the
 * container (argv, env, working directory inside the rootfs, uid/gid); none of
 * them drives anything on the host.
 */
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageRuntimeConfig } from '../images/images.ts';
import type { ContainerRecord } from '../model/task-record.ts';

export interface ProcessConfig {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
}

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Thrown when the definition and image together do not describe a runnable process. */
export class ContainerConfigError extends Error {}

/**
 * Docker rules: an entryPoint in the definition replaces the image's ENTRYPOINT and
 * drops the image's CMD; a command replaces CMD. Env: image env, then definition
 * env by name, then the platform's variables.
 */
export function mergeProcess(
  c: Pick<ContainerRecord, 'name' | 'entryPoint' | 'command' | 'environment' | 'workingDirectory' | 'user'>,
  image: ImageRuntimeConfig,
  layerDirs: string[],
  platformEnv: Record<string, string>,
): ProcessConfig {
  const entry = c.entryPoint ?? image.entrypoint ?? [];
  const cmd = c.command ?? (c.entryPoint ? [] : (image.cmd ?? []));
  const args = [...entry, ...cmd];
  if (args.length === 0) {
    throw new ContainerConfigError(
      `container ${c.name} has no command: the image defines no ENTRYPOINT or CMD, so set "command" in the container definition`,
    );
  }

  const env = new Map<string, string>();
  for (const kv of image.env) {
    const eq = kv.indexOf('=');
    if (eq > 0) env.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  for (const e of c.environment) env.set(e.name, e.value);
  for (const [k, v] of Object.entries(platformEnv)) env.set(k, v);
  if (!env.has('PATH')) env.set('PATH', DEFAULT_PATH.slice(5));

  let cwd = c.workingDirectory || image.workingDir || '/';
  if (!cwd.startsWith('/')) cwd = '/' + cwd;

  const ids = resolveUser(c.user || image.user || '', layerDirs);
  return { args, env: [...env].map(([k, v]) => `${k}=${v}`), cwd, ...ids };
}

/**
 * Resolves `user`, `uid`, `user:group`, `uid:gid` against the image's passwd/group
 * files. Names that don't exist are an error, as in Docker.
 */
export function resolveUser(user: string, layerDirs: string[]): { uid: number; gid: number; additionalGids: number[] } {
  if (user === '') return { uid: 0, gid: 0, additionalGids: [] };
  const [u, g] = user.split(':', 2);
  const passwd = parseColonFile(readImageFile(layerDirs, 'etc/passwd'));
  const groups = parseColonFile(readImageFile(layerDirs, 'etc/group'));

  let uid: number;
  let gid: number | undefined;
  let userName: string | undefined;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    const entry = passwd.find((p) => p[2] === u);
    if (entry) {
      gid = Number(entry[3]);
      userName = entry[0];
    }
  } else {
    const entry = passwd.find((p) => p[0] === u);
    if (!entry) throw new ContainerConfigError(`unable to find user ${u}: no matching entries in the image's /etc/passwd`);
    uid = Number(entry[2]);
    gid = Number(entry[3]);
    userName = u;
  }
  if (g !== undefined && g !== '') {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const entry = groups.find((e) => e[0] === g);
      if (!entry) throw new ContainerConfigError(`unable to find group ${g}: no matching entries in the image's /etc/group`);
      gid = Number(entry[2]);
    }
  }
  const additionalGids = userName
    ? groups.filter((e) => (e[3] ?? '').split(',').includes(userName!)).map((e) => Number(e[2]))
    : [];
  const valid = (n: number) => Number.isInteger(n) && n >= 0 && n < 2 ** 32 - 1;
  if (!valid(uid) || (gid !== undefined && !valid(gid))) throw new ContainerConfigError(`invalid user ${user}`);
  return { uid, gid: gid ?? 0, additionalGids: additionalGids.filter(valid) };
}

/** Reads a small regular file from the top-most layer that has it, never following symlinks. */
function readImageFile(layerDirs: string[], rel: string): string {
  for (let i = layerDirs.length - 1; i >= 0; i--) {
    const p = join(layerDirs[i], rel);
    try {
      // Every parent must be a real directory: a symlinked /etc must not lead to the host's files.
      const parts = rel.split('/');
      for (let k = 1; k < parts.length; k++) {
        if (!lstatSync(join(layerDirs[i], ...parts.slice(0, k))).isDirectory()) throw new Error('not a directory');
      }
      const st = lstatSync(p);
      if (st.isCharacterDevice()) return ''; // overlay whiteout: deleted in this layer
      if (!st.isFile() || st.size > 1024 * 1024) return '';
      return readFileSync(p, 'utf8');
    } catch {
      continue;
    }
  }
  return '';
}

function parseColonFile(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'));
}
