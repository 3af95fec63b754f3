/**
 * Content-addressed blob store: `<root>/blobs/sha256/<hex>`.
 *
 * Contract: a file exists under its digest's name only if its content hashed to that
 * digest when it was written (download to a temp file in the same directory, hash while
 * streaming, rename on success). `put` makes the bytes durable (fsync) before the
 * rename. `fetch` renames as soon as the content is verified and hands back `synced`,
 * the fsync still running, so a caller overlaps it with other work (unpacking the
 * layer) and awaits it before it reports the blob stored: a power loss in between
 * can leave a torn file under the digest's name, which is why readers of cached layer
 * blobs verify what they read (the unpacker checks the diff_id; LocalImageStore then
 * drops the blob and downloads it again). Concurrent downloads of one digest share a
 * single transfer. Digests are validated before they become paths.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ImagePullError } from './images.ts';
import { parseDigest, sha256Digest } from './digest.ts';
import { SingleFlight } from './singleflight.ts';

export interface BlobSource {
  /** Body chunks of the blob, e.g. `Reply.chunks()` from the registry client. */
  open(signal: AbortSignal): Promise<AsyncIterable<Uint8Array>>;
}

export interface FetchResult {
  path: string;
  /** Bytes downloaded by this call's transfer (0 when the blob was already cached). */
  downloaded: number;
  /** Resolves once the blob's bytes are on disk (fsync); rejects if that failed. */
  synced: Promise<void>;
}

const SYNCED = Promise.resolve();

export class BlobCache {
  readonly dir: string;
  private readonly flights = new SingleFlight<FetchResult>();

  constructor(root: string) {
    this.dir = join(root, 'blobs', 'sha256');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // Temp files from a crashed process are never valid blobs.
    for (const name of await readdir(this.dir)) {
      if (name.includes('.tmp-')) await rm(join(this.dir, name), { force: true });
    }
  }

  path(digest: string): string {
    return join(this.dir, parseDigest(digest, 'blob digest'));
  }

  async has(digest: string): Promise<boolean> {
    try {
      return (await stat(this.path(digest))).isFile();
    } catch {
      return false;
    }
  }

  /** Removes a cached blob (one that failed verification when it was used). */
  async drop(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }

  /** Reads a cached blob (small ones: manifests, configs), or undefined when absent. */
  async read(digest: string, max: number): Promise<Buffer | undefined> {
    const p = this.path(digest);
    try {
      const s = await stat(p);
      if (s.size > max) throw new ImagePullError(`cached blob ${digest} is too large`);
      return await readFile(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** Stores bytes under their digest, after checking they hash to it. */
  async put(digest: string, bytes: Uint8Array): Promise<string> {
    const path = this.path(digest);
    const got = sha256Digest(bytes);
    if (got !== digest) throw new ImagePullError(`digest mismatch for blob ${digest}: content has digest ${got}`);
    const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(bytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return path;
  }

  /**
   * Ensures a blob is cached, downloading it from `source` if needed. The transfer
   * is capped at `expectedSize` bytes (the descriptor's size) and must hash to `digest`.
   */
  async fetch(digest: string, expectedSize: number, source: BlobSource, signal?: AbortSignal): Promise<FetchResult> {
    const path = this.path(digest);
    if (await this.has(digest)) return { path, downloaded: 0, synced: SYNCED };
    let mine = false; // only the caller whose transfer ran reports its bytes
    const r = await this.flights.run(digest, signal, async (sig): Promise<FetchResult> => {
      mine = true;
      if (await this.has(digest)) return { path, downloaded: 0, synced: SYNCED };
      const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
      const hash = createHash('sha256');
      let n = 0;
      const fh = await open(tmp, 'wx', 0o600);
      try {
        for await (const chunk of await source.open(sig)) {
          n += chunk.byteLength;
          if (n > expectedSize) {
            throw new ImagePullError(`blob ${digest} is larger than the ${expectedSize} bytes its descriptor declares`);
          }
          hash.update(chunk);
          await fh.write(chunk);
        }
        if (sig.aborted) throw new ImagePullError('the pull was cancelled');
        const got = `sha256:${hash.digest('hex')}`;
        if (got !== digest) throw new ImagePullError(`digest mismatch for blob ${digest}: downloaded content has digest ${got}`);
        if (n !== expectedSize) throw new ImagePullError(`blob ${digest} is ${n} bytes, but its descriptor declares ${expectedSize}`);
        await rename(tmp, path);
      } catch (e) {
        await fh.close();
        await rm(tmp, { force: true });
        throw e;
      }
      const synced = fh.sync().finally(() => fh.close());
      synced.catch(() => {}); // reported to whoever awaits it
      return { path, downloaded: n, synced };
    });
    return mine ? r : { ...r, downloaded: 0 };
  }
}
