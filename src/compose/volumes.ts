/**
 * Compose volumes on Skiff: every named volume (top-level `volumes:`) becomes
 * an EFS file system of the project, and every bind mount of a folder becomes
 * one too, with the folder's contents copied in once (the first `up`; later
 * runs leave the file system's files alone, as a named volume keeps its data).
 * Services mount them through `efsVolumeConfiguration`, so their data outlives
 * tasks, is shared by every task that mounts it and survives `down`
 * (file systems are kept, as `docker compose down` keeps named volumes).
 *
 * Reading (`readTopVolumes`, `readServiceMounts`) checks the Compose syntax;
 * `planFileSystems` names each file system (creation token, ECS volume name);
 * the ECS task definition carries a placeholder file system id that
 * `fileSystemIdPlaceholder` makes and `up` replaces (compose-volumes-up.ts).
 */
import { createHash } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface ComposeMount {
  kind: 'volume' | 'bind';
  /** The named volume, or the bind mount's absolute host folder. */
  source: string;
  target: string;
  readOnly: boolean;
}

const TOP_VOLUME_KEYS = new Set(['name', 'labels']);
const LONG_KEYS = new Set(['type', 'source', 'target', 'read_only', 'volume', 'bind']);

/** Top-level `volumes:` → the declared names. */
export function readTopVolumes(v: unknown, problems: string[], warnings: string[]): string[] {
  if (v === undefined || v === null) return [];
  if (!isObj(v)) {
    problems.push('volumes must be a mapping of volume name → {} (or nothing)');
    return [];
  }
  for (const [name, def] of Object.entries(v)) {
    if (def === null || def === undefined) continue;
    if (!isObj(def)) {
      problems.push(`volumes.${name} must be a mapping (or empty)`);
      continue;
    }
    if (def.external === true) problems.push(`volumes.${name}.external: external volumes are not supported; let Skiff make it (an EFS file system)`);
    for (const k of Object.keys(def)) {
      if (!TOP_VOLUME_KEYS.has(k) && k !== 'external' && !k.startsWith('x-')) warnings.push(`volumes.${name}.${k} is not supported by Skiff and was ignored (a named volume is an EFS file system)`);
    }
  }
  return Object.keys(v);
}

/** A service's `volumes:` (short `SRC:DST[:ro]` or long syntax) → its mounts; `named` are the declared volumes. */
export function readServiceMounts(v: unknown, path: string, cx: { baseDir: string; named: Set<string>; problems: string[]; warnings: string[] }): ComposeMount[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    cx.problems.push(`${path}.volumes must be a list`);
    return [];
  }
  const out: ComposeMount[] = [];
  v.forEach((item, i) => {
    const at = `${path}.volumes[${i}]`;
    let type: string | undefined;
    let source: string | undefined;
    let target: string | undefined;
    let readOnly = false;
    if (typeof item === 'string') {
      const parts = item.split(':');
      if (parts.length === 1) [target] = parts;
      else {
        [source, target] = parts;
        const mode = parts[2];
        if (parts.length > 3 || (mode !== undefined && !/^(ro|rw)(,.*)?$/.test(mode))) {
          cx.problems.push(`${at}: ${JSON.stringify(item)} is not SOURCE:TARGET[:ro|rw]`);
          return;
        }
        readOnly = mode?.split(',')[0] === 'ro';
      }
      type = source === undefined ? 'volume' : /^[./~]/.test(source) ? 'bind' : 'volume';
    } else if (isObj(item)) {
      for (const k of Object.keys(item)) if (!LONG_KEYS.has(k) && !k.startsWith('x-')) cx.warnings.push(`${at}.${k} is not supported by Skiff and was ignored`);
      type = typeof item.type === 'string' ? item.type : undefined;
      source = typeof item.source === 'string' ? item.source : undefined;
      target = typeof item.target === 'string' ? item.target : undefined;
      readOnly = item.read_only === true;
    } else {
      cx.problems.push(`${at} must be "SOURCE:TARGET[:ro]" or a mapping {type, source, target, read_only}`);
      return;
    }
    if (!target || !target.startsWith('/')) {
      cx.problems.push(`${at}: the target (path in the container) must be absolute; got ${JSON.stringify(target)}`);
      return;
    }
    if (type !== 'volume' && type !== 'bind') {
      cx.warnings.push(`${at}: volumes of type ${JSON.stringify(type)} are not supported by Skiff and were ignored (use a named volume or a bind mount of a folder)`);
      return;
    }
    if (source === undefined) {
      cx.warnings.push(`${at}: anonymous volumes are not supported by Skiff and were ignored (name it under the top-level volumes:)`);
      return;
    }
    if (type === 'volume') {
      if (!cx.named.has(source)) {
        cx.problems.push(`${at}: volume ${JSON.stringify(source)} is not declared under the top-level volumes:`);
        return;
      }
      out.push({ kind: 'volume', source, target, readOnly });
      return;
    }
    if (source.startsWith('~')) source = (process.env.HOME ?? '') + source.slice(1);
    out.push({ kind: 'bind', source: isAbsolute(source) ? resolve(source) : resolve(cx.baseDir, source), target, readOnly });
  });
  return out;
}

export interface PlannedFileSystem {
  /** Key of the placeholder in the task definitions. */
  key: string;
  /** EFS CreationToken: one file system per project and volume (or bind folder), found again by it. */
  creationToken: string;
  /** Its Name tag. */
  name: string;
  /** A bind mount's host folder: its contents are copied in once. */
  seedFrom?: string;
}

/** The ECS volume name and the file system of a mount. */
export function fileSystemFor(project: string, m: ComposeMount): { volumeName: string; fs: PlannedFileSystem } {
  if (m.kind === 'volume') {
    const key = `vol-${m.source.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    return { volumeName: key.slice(0, 255), fs: { key, creationToken: token(`compose:${project}:volume:${m.source}`), name: `${project}_${m.source}` } };
  }
  const hash = createHash('sha256').update(m.source).digest('hex').slice(0, 16);
  const key = `bind-${hash}`;
  return { volumeName: key, fs: { key, creationToken: token(`compose:${project}:bind:${hash}`), name: `${project}_bind_${m.source.split('/').filter(Boolean).pop() ?? 'root'}`, seedFrom: m.source } };
}

/** What the task definition holds until `up` knows the file system's id. */
export function fileSystemIdPlaceholder(key: string): string {
  return `\${efs:${key}}`;
}

/** Creation tokens are at most 64 characters: a long one ends with a hash. */
function token(s: string): string {
  return s.length <= 64 ? s : `${s.slice(0, 47)}:${createHash('sha256').update(s).digest('hex').slice(0, 16)}`;
}
