/**
 * Unpacked layers: `<root>/layers/<diffid-hex>/{fs/,layer.json}`.
 *
 * Contract: a layer directory exists under its diff_id only if it was completely
 * unpacked and its content hashed to that diff_id: unpacking happens in
 * `<root>/tmp/unpack-*` and the whole directory is renamed into place at the end, so a
 * crash never leaves a half layer that looks complete (leftover temp dirs are removed at
 * start-up). Each layer is unpacked once; concurrent requests share one unpack. The
 * `fs/` directory is what overlayfs uses as a lowerdir; it is never written again.
 */
import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDigest } from './digest.ts';
import { SingleFlight } from './singleflight.ts';
import { unpackLayer, type UnpackBudget } from './unpack.ts';

export interface LayerInfo {
  diffId: string;
  /** The layer's root directory (overlay lowerdir). */
  dir: string;
  /** Regular-file bytes in the layer. */
  bytes: number;
  inodes: number;
}

export class LayerStore {
  readonly layersDir: string;
  readonly tmpDir: string;
  private readonly flights = new SingleFlight<LayerInfo>();

  /**
   * With `idShift`, layers are stored with uids/gids shifted into the tasks' user
   * namespace range once, at unpack time, so every task shares them read-only; they
   * live in their own directory (`layers-userns-<base>-<size>`) so unshifted and
   * shifted copies never mix.
   */
  constructor(
    root: string,
    private readonly maxDepth?: number,
    private readonly idShift?: { base: number; size: number },
  ) {
    this.layersDir = join(root, idShift ? `layers-userns-${idShift.base}-${idShift.size}` : 'layers');
    this.tmpDir = join(root, 'tmp');
  }

  async init(): Promise<void> {
    // 0700: layers hold setuid binaries that host users must not reach.
    await mkdir(this.layersDir, { recursive: true, mode: 0o700 });
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    for (const name of await readdir(this.tmpDir)) {
      if (name.startsWith('unpack-')) await rm(join(this.tmpDir, name), { recursive: true, force: true });
    }
  }

  /** The unpacked layer for a diff_id, or undefined when it is not (completely) there. */
  async get(diffId: string): Promise<LayerInfo | undefined> {
    const hex = parseDigest(diffId, 'diff_id');
    const base = join(this.layersDir, hex);
    try {
      const meta = JSON.parse(await readFile(join(base, 'layer.json'), 'utf8'));
      if (meta.diffId !== diffId || typeof meta.bytes !== 'number') return undefined;
      return { diffId, dir: join(base, 'fs'), bytes: meta.bytes, inodes: meta.inodes ?? 0 };
    } catch {
      return undefined;
    }
  }

  /** Unpacks `blobPath` as the layer `diffId` unless it is already there. */
  async ensure(diffId: string, blobPath: string, budget: UnpackBudget, signal?: AbortSignal): Promise<{ info: LayerInfo; unpacked: boolean }> {
    const existing = await this.get(diffId);
    if (existing) return { info: existing, unpacked: false };
    let unpacked = false;
    const info = await this.flights.run(diffId, signal, async (sig) => {
      const again = await this.get(diffId);
      if (again) return again;
      const hex = parseDigest(diffId, 'diff_id');
      const tmp = await mkdtemp(join(this.tmpDir, 'unpack-'));
      try {
        const fsDir = join(tmp, 'fs');
        await mkdir(fsDir, { mode: 0o755 });
        const r = await unpackLayer(blobPath, fsDir, { budget, expectedDiffId: diffId, maxDepth: this.maxDepth, signal: sig, idShift: this.idShift });
        await writeFile(join(tmp, 'layer.json'), JSON.stringify({ diffId, bytes: r.bytes, inodes: r.inodes, unpackedAt: new Date().toISOString() }));
        const final = join(this.layersDir, hex);
        try {
          await rename(tmp, final);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
          // Another process won the race; its copy is equally verified.
          await rm(tmp, { recursive: true, force: true });
          const other = await this.get(diffId);
          if (other) return other;
          throw e;
        }
        unpacked = true;
        return { diffId, dir: join(final, 'fs'), bytes: r.bytes, inodes: r.inodes };
      } catch (e) {
        await rm(tmp, { recursive: true, force: true });
        throw e;
      }
    });
    return { info, unpacked };
  }
}
