/**
 * The secure layer unpacker.
 *
 * Contract: `unpackLayer(blob, dest, ...)` extracts one layer (gzip or plain tar) into
 * the empty directory `dest`, which becomes that layer's own directory for overlayfs.
 * Nothing is ever written outside `dest`:
 * - entry paths are normalised lexically; absolute paths are taken relative to `dest`;
 *   `..` that would climb above `dest` is refused;
 * - every existing path component is checked: a symlink (or non-directory) in the
 *   middle of a path is refused, so nothing is written through a symlink planted by an
 *   earlier entry. `dest` starts empty and only this unpacker writes into it, so what
 *   exists there is known exactly without asking the disk: every entry made or removed
 *   is recorded in an in-memory view of the tree, and the checks read that view
 *   (no lstat per path component: a 400-entry layer unpacks with ~3 syscalls per entry);
 * - an existing entry is unlinked and recreated, never written into (files are opened
 *   with O_CREAT|O_EXCL|O_NOFOLLOW);
 * - hardlinks must point at a regular file or symlink already unpacked in this layer;
 * - device nodes and FIFOs from the tar are skipped (counted, never created);
 * - whiteouts become overlayfs whiteouts: `.wh.<name>` -> char device 0/0 `<name>`,
 *   `.wh..wh..opq` -> xattr `trusted.overlay.opaque=y` on the directory;
 * - bytes (regular file content), inodes and path depth are budgeted;
 * - the sha256 of the uncompressed tar (diff_id) is computed and, when given, checked.
 * Modes (incl. setuid), uid/gid and mtimes are preserved; symlink targets are kept
 * verbatim (they are resolved inside the container at run time). Extended attributes
 * from PAX headers are ignored, so a layer cannot plant `trusted.overlay.*` itself.
 */
import { createHash } from 'node:crypto';
import { chownSync, linkSync, lchownSync, lutimesSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { open, readdir, chmod, chown, utimes, constants as fsc } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { ImagePullError } from './images.ts';
import { decompressed, type LayerSource } from './layer-stream.ts';

const execFileP = promisify(execFile);

export const DEFAULT_MAX_INODES = 2_000_000;
export const DEFAULT_MAX_DEPTH = 256;

/** A byte/inode allowance, possibly shared by all layers of one pull. */
export class UnpackBudget {
  bytesUsed = 0;
  inodesUsed = 0;
  /**
   * @param maxBytes regular-file bytes this budget allows
   * @param shownLimit the limit named in the error (the whole image's, when this budget
   *   is what is left of it after cached layers)
   */
  constructor(
    readonly maxBytes: number,
    readonly maxInodes: number = DEFAULT_MAX_INODES,
    private readonly shownLimit: number = maxBytes,
  ) {}
  takeBytes(n: number): void {
    this.bytesUsed += n;
    if (this.bytesUsed > this.maxBytes) {
      throw new ImagePullError(
        `image is larger than the task's ephemeral storage: its unpacked size exceeds the limit of ${this.shownLimit} bytes`,
      );
    }
  }
  takeInode(): void {
    this.inodesUsed += 1;
    if (this.inodesUsed > this.maxInodes) {
      throw new ImagePullError(`image has too many files: more than ${this.maxInodes} entries`);
    }
  }
}

export interface UnpackOptions {
  budget: UnpackBudget;
  maxDepth?: number;
  /** When set, the uncompressed tar must hash to this digest. */
  expectedDiffId?: string;
  signal?: AbortSignal;
  /**
   * Store ownership shifted into a user namespace's range (Docker's userns-remap):
   * a file of uid/gid n is written as base+n; ids at or above `size` cannot be
   * mapped and fail the layer.
   */
  idShift?: { base: number; size: number };
}

export interface UnpackResult {
  /** sha256 of the uncompressed tar stream. */
  diffId: string;
  /** Regular file content bytes written. */
  bytes: number;
  /** Entries created (files, dirs, links, whiteouts). */
  inodes: number;
  whiteouts: number;
  opaqueDirs: number;
  /** Device nodes and FIFOs that were not created. */
  skippedSpecial: number;
}

type TarHeader = Omit<tar.Header, 'pax'> & { pax?: Record<string, string> | null };

/** What an unpacked path is: a directory, a regular file, a symlink, or a whiteout. */
type Kind = 'dir' | 'file' | 'symlink' | 'other';

interface DirMeta {
  abs: string;
  depth: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
}

function refuse(msg: string): never {
  throw new ImagePullError(`invalid layer: ${msg}`);
}

/** Splits an entry name into safe components relative to the layer root. */
export function entryComponents(name: string, maxDepth: number): string[] {
  if (name.includes('\0')) refuse(`entry name contains a NUL byte`);
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) refuse(`entry ${JSON.stringify(name)} escapes the layer root`);
      out.pop();
      continue;
    }
    if (Buffer.byteLength(part) > 255) refuse(`entry ${JSON.stringify(name.slice(0, 100))} has a path component longer than 255 bytes`);
    out.push(part);
  }
  if (out.length > maxDepth) refuse(`entry ${JSON.stringify(name.slice(0, 100))}... is nested deeper than ${maxDepth} levels`);
  return out;
}

function intOr(v: unknown, fallback: number): number {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n < 2 ** 32 - 1 ? n : fallback;
}

function mtimeOf(h: TarHeader): Date {
  const pax = h.pax?.mtime !== undefined ? Number(h.pax.mtime) : NaN;
  if (Number.isFinite(pax)) return new Date(pax * 1000);
  const t = h.mtime instanceof Date ? h.mtime.getTime() : NaN;
  return Number.isFinite(t) && t >= 0 ? new Date(t) : new Date(0);
}

let xattrTool: Promise<'setfattr' | 'python3'> | undefined;
async function findXattrTool(): Promise<'setfattr' | 'python3'> {
  xattrTool ??= (async () => {
    try {
      await execFileP('setfattr', ['--version']);
      return 'setfattr' as const;
    } catch {
      try {
        await execFileP('python3', ['-c', 'import os; os.setxattr']);
        return 'python3' as const;
      } catch {
        throw new ImagePullError('cannot mark opaque directories: neither setfattr (Debian package attr) nor python3 is installed');
      }
    }
  })();
  return xattrTool;
}

/** Sets `trusted.overlay.opaque=y` on each directory (never following symlinks). */
async function markOpaque(dirs: string[]): Promise<void> {
  if (dirs.length === 0) return;
  const tool = await findXattrTool();
  for (let i = 0; i < dirs.length; i += 200) {
    const batch = dirs.slice(i, i + 200);
    if (tool === 'setfattr') {
      await execFileP('setfattr', ['-h', '-n', 'trusted.overlay.opaque', '-v', 'y', '--', ...batch]);
    } else {
      await execFileP('python3', [
        '-c',
        "import os,sys\nfor p in sys.argv[1:]: os.setxattr(p, 'trusted.overlay.opaque', b'y', follow_symlinks=False)",
        ...batch,
      ]);
    }
  }
}

/** Creates an overlayfs whiteout (char device 0/0). Needs CAP_MKNOD. */
async function mknodWhiteout(path: string): Promise<void> {
  try {
    await execFileP('mknod', ['-m', '0', '--', path, 'c', '0', '0']);
  } catch (e) {
    throw new ImagePullError(`cannot create overlay whiteout (needs root): ${(e as Error).message.split('\n')[0]}`);
  }
}

/**
 * Extracts one layer into `dest` (an existing, empty directory). See the module
 * comment for the guarantees. Throws ImagePullError on anything refused.
 */
/** A layer's uid/gid as stored on the host: shifted into the user namespace range when one is used. */
export function shiftId(id: number, shift: UnpackOptions['idShift'], what: string, name: string): number {
  if (!shift) return id;
  if (id < 0 || id >= shift.size) {
    throw new ImagePullError(`layer entry ${JSON.stringify(name)} has ${what} ${id}, outside the ${shift.size} ids a task's user namespace maps`);
  }
  return shift.base + id;
}

export async function unpackLayer(src: LayerSource, dest: string, opts: UnpackOptions): Promise<UnpackResult> {
  if ((await readdir(dest)).length > 0) throw new Error(`unpackLayer: ${dest} is not empty`);
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const budget = opts.budget;
  const result: UnpackResult = { diffId: '', bytes: 0, inodes: 0, whiteouts: 0, opaqueDirs: 0, skippedSpecial: 0 };
  const dirMeta = new Map<string, DirMeta>();
  const opaque = new Set<string>();
  // The decompressed stream may be longer than its file content (headers, padding);
  // cap it so a stream of empty blocks cannot spin forever.
  const streamCap = budget.maxBytes - budget.bytesUsed + 64 * 1024 * 1024 + 2048 * (budget.maxInodes - budget.inodesUsed);

  if (opts.idShift) await chown(dest, opts.idShift.base, opts.idShift.base);

  const countInode = () => {
    budget.takeInode();
    result.inodes++;
  };

  /**
   * What exists under `dest`, by absolute path: everything this unpack made, minus what
   * it removed. Exact, because `dest` started empty and nothing else writes into it.
   * The metadata calls below are synchronous (each a few µs); every entry still yields
   * to the event loop while its tar stream is read.
   */
  const tree = new Map<string, Kind>([[dest, 'dir']]);
  const forget = (abs: string) => {
    tree.delete(abs);
    const below = abs + '/';
    for (const p of tree.keys()) if (p.startsWith(below)) tree.delete(p);
  };

  /** Makes sure every component in `comps` is a real directory, creating missing ones. */
  const ensureDirs = (comps: string[], name: string): string => {
    let abs = dest;
    for (let i = 0; i < comps.length; i++) {
      abs = join(abs, comps[i]);
      const kind = tree.get(abs);
      if (kind === undefined) {
        countInode();
        mkdirSync(abs, { mode: 0o755 });
        tree.set(abs, 'dir');
        // Implicit parents belong to the container's root, in the namespace's range when shifted.
        if (opts.idShift) chownSync(abs, opts.idShift.base, opts.idShift.base);
      } else if (kind === 'symlink') {
        refuse(`entry ${JSON.stringify(name)} would be written through the symlink ${JSON.stringify(comps.slice(0, i + 1).join('/'))}`);
      } else if (kind !== 'dir') {
        refuse(`entry ${JSON.stringify(name)}: ${JSON.stringify(comps.slice(0, i + 1).join('/'))} is not a directory`);
      }
    }
    return abs;
  };

  /** Removes whatever exists at `abs` (never following a symlink). */
  const clear = (abs: string, keepDir: boolean): 'dir' | 'none' => {
    const kind = tree.get(abs);
    if (kind === undefined) return 'none';
    if (keepDir && kind === 'dir') return 'dir';
    rmSync(abs, { recursive: true, force: true });
    forget(abs);
    return 'none';
  };

  const drain = async (stream: Readable) => {
    for await (const _ of stream) { /* discard */ }
  };

  const handleEntry = async (h: TarHeader, stream: Readable): Promise<void> => {
    if (opts.signal?.aborted) throw new ImagePullError('the pull was cancelled');
    const name = h.name;
    const comps = entryComponents(name, maxDepth);
    const type = h.type;
    const uid = shiftId(intOr(h.pax?.uid ?? h.uid, 0), opts.idShift, 'uid', name);
    const gid = shiftId(intOr(h.pax?.gid ?? h.gid, 0), opts.idShift, 'gid', name);
    const mode = (h.mode ?? 0o644) & 0o7777;
    const mtime = mtimeOf(h);

    // aufs metadata (.wh..wh.plnk, .wh..wh.aufs and anything below them) is not content.
    if (comps.some((c) => c.startsWith('.wh..wh.') && c !== '.wh..wh..opq')) return drain(stream);

    const base = comps[comps.length - 1];
    if (base !== undefined && base.startsWith('.wh.')) {
      await drain(stream);
      const parent = ensureDirs(comps.slice(0, -1), name);
      if (base === '.wh..wh..opq') {
        opaque.add(parent);
        return;
      }
      const hidden = base.slice(4);
      if (hidden === '' || hidden === '.' || hidden === '..') refuse(`invalid whiteout ${JSON.stringify(name)}`);
      const target = join(parent, hidden);
      // A whiteout hides lower layers only; content of this same layer stays.
      if (tree.has(target)) return;
      countInode();
      await mknodWhiteout(target);
      tree.set(target, 'other');
      result.whiteouts++;
      return;
    }

    if (comps.length === 0) {
      if (type !== 'directory') refuse(`entry ${JSON.stringify(name)} of type ${type} would replace the layer root`);
      await drain(stream);
      dirMeta.set(dest, { abs: dest, depth: 0, mode, uid, gid, mtime });
      return;
    }

    switch (type) {
      case 'directory': {
        await drain(stream);
        const parent = ensureDirs(comps.slice(0, -1), name);
        const abs = join(parent, base);
        if (clear(abs, true) === 'none') {
          countInode();
          mkdirSync(abs, { mode: 0o700 });
          tree.set(abs, 'dir');
        }
        dirMeta.set(abs, { abs, depth: comps.length, mode, uid, gid, mtime });
        return;
      }
      case 'file':
      case 'contiguous-file': {
        const size = h.size ?? 0;
        budget.takeBytes(size);
        const parent = ensureDirs(comps.slice(0, -1), name);
        const abs = join(parent, base);
        clear(abs, false);
        dirMeta.delete(abs);
        countInode();
        const fh = await open(abs, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
        tree.set(abs, 'file');
        try {
          for await (const chunk of stream) {
            await fh.write(chunk as Buffer);
          }
          await fh.chown(uid, gid);
          await fh.chmod(mode); // after chown, which clears setuid/setgid
          await fh.utimes(mtime, mtime);
        } finally {
          await fh.close();
        }
        result.bytes += size;
        return;
      }
      case 'symlink': {
        await drain(stream);
        const target = h.linkname ?? '';
        if (target === '' || target.includes('\0')) refuse(`symlink ${JSON.stringify(name)} has an empty or invalid target`);
        const parent = ensureDirs(comps.slice(0, -1), name);
        const abs = join(parent, base);
        clear(abs, false);
        dirMeta.delete(abs);
        countInode();
        symlinkSync(target, abs); // target kept verbatim
        tree.set(abs, 'symlink');
        lchownSync(abs, uid, gid);
        lutimesSync(abs, mtime, mtime);
        return;
      }
      case 'link': {
        await drain(stream);
        const tcomps = entryComponents(h.linkname ?? '', maxDepth);
        if (tcomps.length === 0) refuse(`hardlink ${JSON.stringify(name)} points at the layer root`);
        // The target must already exist in this layer, reached without symlinks.
        let tabs = dest;
        let tkind: Kind | undefined;
        for (let i = 0; i < tcomps.length; i++) {
          tabs = join(tabs, tcomps[i]);
          tkind = tree.get(tabs);
          const last = i === tcomps.length - 1;
          if (tkind === undefined) refuse(`hardlink ${JSON.stringify(name)} points at ${JSON.stringify(h.linkname)}, which is not in this layer`);
          if (!last && tkind !== 'dir') refuse(`hardlink ${JSON.stringify(name)} target ${JSON.stringify(h.linkname)} passes through a symlink or non-directory`);
          if (last && tkind !== 'file' && tkind !== 'symlink') refuse(`hardlink ${JSON.stringify(name)} must point at a regular file`);
        }
        const parent = ensureDirs(comps.slice(0, -1), name);
        const abs = join(parent, base);
        if (abs === tabs) return;
        clear(abs, false);
        dirMeta.delete(abs);
        countInode();
        linkSync(tabs, abs); // link(2) does not follow a final symlink
        tree.set(abs, tkind!);
        return;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo':
        // Never created: the runtime provides /dev, and a device node in a layer is
        // either useless or an attack (an overlay whiteout look-alike, raw disks).
        await drain(stream);
        result.skippedSpecial++;
        return;
      default:
        refuse(`entry ${JSON.stringify(name)} has an unsupported type (${type ?? 'unknown'})`);
    }
  };

  const hash = createHash('sha256');
  const input = await decompressed(src);
  const extract = tar.extract();
  let fatal: unknown;
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      stream.on('error', () => {}); // errors surface through `extract`; never unhandled
      handleEntry(header as unknown as TarHeader, stream as unknown as Readable).then(
        () => next(),
        (e) => {
          fatal ??= e;
          next(e);
        },
      );
    });
    extract.on('finish', () => resolve());
    extract.on('error', (e: unknown) => reject(fatal ?? e));
    extract.on('close', () => reject(fatal ?? new ImagePullError('invalid layer: the tar stream ended early')));
  });
  done.catch(() => {});

  const feed = async () => {
    let total = 0;
    try {
      for await (const chunk of input) {
        if (fatal) break;
        const c = chunk as Buffer;
        total += c.length;
        if (total > streamCap) {
          throw new ImagePullError(`image is larger than the task's ephemeral storage: the layer's uncompressed stream exceeds ${streamCap} bytes`);
        }
        hash.update(c);
        if (!extract.write(c)) {
          await Promise.race([new Promise<void>((r) => extract.once('drain', () => r())), done]);
        }
      }
      if (!fatal) extract.end(undefined);
    } catch (e) {
      fatal ??= e;
      extract.destroy(e as Error);
      throw e;
    } finally {
      input.destroy();
    }
  };

  try {
    await Promise.all([feed(), done]);
    if (fatal) throw fatal;
  } catch (e) {
    const err = fatal ?? e;
    if (err instanceof ImagePullError) throw err;
    const code = (err as NodeJS.ErrnoException)?.code;
    if (code === 'ENOSPC') throw new ImagePullError('no space left on device while unpacking the layer');
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR') throw new ImagePullError(`invalid layer: gzip data is corrupt (${(err as Error).message})`);
    throw new ImagePullError(`invalid layer: ${(err as Error)?.message ?? String(err)}`);
  }

  result.diffId = `sha256:${hash.digest('hex')}`;
  if (opts.expectedDiffId && result.diffId !== opts.expectedDiffId) {
    throw new ImagePullError(`layer diff_id mismatch: the image config says ${opts.expectedDiffId}, the layer's content is ${result.diffId}`);
  }

  // Finish directories last: opaque markers, then owner/mode/mtime deepest first.
  await markOpaque([...opaque]);
  result.opaqueDirs = opaque.size;
  const dirs = [...dirMeta.values()].sort((a, b) => b.depth - a.depth);
  for (const d of dirs) {
    if (tree.get(d.abs) !== 'dir') continue;
    await chown(d.abs, d.uid, d.gid);
    await chmod(d.abs, d.mode);
    await utimes(d.abs, d.mtime, d.mtime);
  }
  return result;
}
