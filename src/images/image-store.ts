/**
 * LocalImageStore: the host's image cache and puller (implements `ImageStore`).
 *
 * Layout under `root` (all 0700):
 *   blobs/sha256/<hex>        verified manifests, configs and compressed layers
 *   layers/<hex>/fs           unpacked layers by diff_id (overlay lowerdirs), read-only by convention
 *   tmp/                      in-progress downloads/unpacks (cleared at start)
 *   refs.json                 reference -> manifest digest of the last successful pull
 *
 * Contract:
 * - A `:tag` pull asks the registry for the manifest (one small GET) and serves the
 *   rest from cache, unless this store resolved the same tag less than `tagTtlMs`
 *   ago (default 0: always ask); an `@sha256:` pull whose manifest, config and
 *   layers are cached needs no network at all. Within the TTL a tag moved in the
 *   registry is not seen, and (as for digests) the cached resolution is shared
 *   across credentials.
 * - Layers are downloaded and unpacked in parallel (at most `concurrency`), each at
 *   most once on this host, shared by every task and every concurrent pull.
 * - What a pull stores is durable when it returns: the fsyncs of the manifest, config
 *   and layer blobs run while the layers unpack, and the pull awaits them at the end.
 *   A cached layer blob that fails verification when unpacked (torn by a power loss
 *   before its fsync ended) is dropped and downloaded once more.
 * - Every failure is an ImagePullError. Config is returned as plain values only.
 * - Cached content is shared across credentials: once an image is on this host, a
 *   digest pull of it does not re-check the registry's authorization.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ImagePullError, type ImageStore, type PullOptions, type PulledImage } from './images.ts';
import { parseReference, formatReference, type ImageReference } from './reference.ts';
import { RegistryClient, TokenCache } from './registry-client.ts';
import { BlobCache } from './blob-cache.ts';
import { LayerStore, type LayerInfo } from './layer-store.ts';
import { UnpackBudget, DEFAULT_MAX_INODES } from './unpack.ts';
import {
  INDEX_TYPES, IMAGE_MANIFEST_TYPES, MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES, MT,
  manifestMediaType, parseImageConfig, parseImageManifest, parseIndex, selectPlatform,
  type Descriptor,
} from './manifest.ts';

export interface LocalImageStoreOptions {
  /** Directory for blobs, layers and the reference index. */
  root: string;
  /** Registries (host[:port]) reached over plain HTTP. Loopback always is. */
  insecureRegistries?: string[];
  /** Milliseconds without progress before a registry request fails (default 30 s). */
  timeoutMs?: number;
  /** Layers downloaded/unpacked at once per pull (default 4). */
  concurrency?: number;
  /** Byte budget when a pull gives no maxUnpackedBytes (default 200 GiB). */
  defaultMaxUnpackedBytes?: number;
  /** Files/dirs per image (default 2,000,000). */
  maxInodes?: number;
  /** Path depth inside a layer (default 256). */
  maxDepth?: number;
  /** Store layers with ids shifted into the tasks' user namespace range (see LayerStore). */
  idShift?: { base: number; size: number };
  /** How long a tag's resolution is reused without asking the registry, ms (default 0). */
  tagTtlMs?: number;
  /** Time source for the tag TTL (tests); default performance.now. */
  now?: () => number;
}

export interface RefRecord {
  /** Digest of what the reference resolved to (an index or a manifest). */
  digest: string;
  /** Digest of the linux/amd64 manifest used. */
  manifestDigest: string;
  pulledAt: string;
}

interface Manifestish {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

const GiB = 1024 ** 3;

export class LocalImageStore implements ImageStore {
  private readonly blobs: BlobCache;
  private readonly layers: LayerStore;
  private readonly tokens = new TokenCache();
  private ready?: Promise<void>;
  private refsWrite: Promise<void> = Promise.resolve();
  /** Recent tag resolutions: reference name → manifest digest and when it was asked. */
  private readonly tagCache = new Map<string, { digest: string; at: number }>();
  /**
   * Images whose every layer is unpacked, by the digest their reference resolved
   * to: a repeat pull of a cached image (by digest, or by a tag within its TTL)
   * is answered from memory, without touching the disk. Unpacked layers are
   * never changed or removed while the store is open.
   */
  private readonly complete = new Map<string, { image: PulledImage; unpackedBytes: number }>();

  constructor(private readonly opts: LocalImageStoreOptions) {
    this.blobs = new BlobCache(opts.root);
    this.layers = new LayerStore(opts.root, opts.maxDepth, opts.idShift);
  }

  private init(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(this.opts.root, { recursive: true, mode: 0o700 });
      await this.blobs.init();
      await this.layers.init();
    })();
    return this.ready;
  }

  async pull(reference: string, opts: PullOptions = {}): Promise<PulledImage> {
    try {
      return await this.pullInner(reference, opts);
    } catch (e) {
      if (e instanceof ImagePullError) throw e;
      const code = (e as NodeJS.ErrnoException)?.code;
      if (code === 'ENOSPC') throw new ImagePullError('no space left on device for the image');
      throw new ImagePullError(`failed to store image ${reference}: ${(e as Error)?.message ?? String(e)}`);
    }
  }

  /** What a reference resolved to at its last successful pull on this host. */
  async lookup(reference: string): Promise<RefRecord | undefined> {
    await this.refsWrite;
    const refs = await this.readRefs();
    return refs[formatReference(parseReference(reference))];
  }

  private async pullInner(reference: string, opts: PullOptions): Promise<PulledImage> {
    const ref = parseReference(reference);
    const name = formatReference(ref);
    const known = this.complete.get(ref.digest ?? this.freshTag(name) ?? '');
    if (known) {
      const maxBytes = opts.maxUnpackedBytes ?? this.opts.defaultMaxUnpackedBytes ?? 200 * GiB;
      if (known.unpackedBytes > maxBytes) {
        throw new ImagePullError(`image is larger than the task's ephemeral storage: ${name} unpacked exceeds the limit of ${maxBytes} bytes`);
      }
      const i = known.image;
      return { ...i, reference: name, downloadedBytes: 0, cachedLayers: i.layerCount, timings: { resolveMs: 0, downloadMs: 0, unpackMs: 0 } };
    }
    await this.init();
    // Cache writes (fsyncs) run beside the pull; it returns once they are done, and
    // never leaves one running behind a failure.
    const writes: Promise<unknown>[] = [];
    try {
      const done = await this.pullNew(ref, name, opts, writes);
      await Promise.all(writes);
      this.complete.set(done.topDigest, { image: done.image, unpackedBytes: done.unpackedBytes });
      return done.image;
    } catch (e) {
      await Promise.allSettled(writes);
      throw e;
    }
  }

  private async pullNew(ref: ImageReference, name: string, opts: PullOptions, writes: Promise<unknown>[]): Promise<{ image: PulledImage; topDigest: string; unpackedBytes: number }> {
    const t0 = performance.now();
    let client: RegistryClient | undefined;
    const registry = () =>
      (client ??= new RegistryClient(ref.domain, ref.path, {
        credentials: opts.credentials,
        insecureRegistries: this.opts.insecureRegistries,
        timeoutMs: this.opts.timeoutMs,
        tokenCache: this.tokens,
        signal: opts.signal,
      }));
    let downloaded = 0;

    // 1. Resolve: reference -> (index ->) manifest -> config.
    const top = ref.digest ? await this.manifestByDigest(ref.digest, registry, writes) : await this.manifestByTag(ref, name, registry, writes);
    let manifest = top;
    if (INDEX_TYPES.includes(top.mediaType)) {
      const chosen = selectPlatform(parseIndex(top.bytes, top.mediaType));
      manifest = await this.manifestByDigest(chosen.digest, registry, writes);
      if (!IMAGE_MANIFEST_TYPES.includes(manifest.mediaType)) {
        throw new ImagePullError(`the linux/amd64 entry of ${name} is not an image manifest (${manifest.mediaType})`);
      }
    }
    const m = parseImageManifest(manifest.bytes, manifest.mediaType);
    let configBytes = await this.blobs.read(m.config.digest, MAX_CONFIG_BYTES);
    if (!configBytes) {
      configBytes = await registry().getBlobBytes(m.config.digest, Math.min(m.config.size, MAX_CONFIG_BYTES));
      writes.push(this.blobs.put(m.config.digest, configBytes));
      downloaded += configBytes.length;
    }
    const cfg = parseImageConfig(configBytes);
    if (cfg.os && cfg.os !== 'linux') throw new ImagePullError(`image ${name} is for ${cfg.os}, not linux`);
    if (cfg.architecture && cfg.architecture !== 'amd64') {
      throw new ImagePullError(`image ${name} is for ${cfg.os || 'linux'}/${cfg.architecture}; this host runs linux/amd64`);
    }
    if (cfg.diffIds.length !== m.layers.length) {
      throw new ImagePullError(`image ${name} is inconsistent: ${m.layers.length} layers but ${cfg.diffIds.length} diff_ids in its config`);
    }
    const resolveMs = performance.now() - t0;

    // 2. Layers: what is unpacked already, and the byte budget left for the rest.
    const maxBytes = opts.maxUnpackedBytes ?? this.opts.defaultMaxUnpackedBytes ?? 200 * GiB;
    const infos: Array<LayerInfo | undefined> = await Promise.all(cfg.diffIds.map((d) => this.layers.get(d)));
    const cachedLayers = infos.filter(Boolean).length;
    const cachedBytes = infos.reduce((s, i) => s + (i?.bytes ?? 0), 0);
    const tooBig = () =>
      new ImagePullError(`image is larger than the task's ephemeral storage: ${name} unpacked exceeds the limit of ${maxBytes} bytes`);
    if (cachedBytes > maxBytes) throw tooBig();
    const budget = new UnpackBudget(maxBytes - cachedBytes, this.opts.maxInodes ?? DEFAULT_MAX_INODES, maxBytes);

    const span = { download: new Span(), unpack: new Span() };
    const todo = cfg.diffIds.map((d, i) => i).filter((i) => !infos[i]);
    const progress = { downloadedBytes: 0, totalBytes: todo.reduce((s, i) => s + m.layers[i].size, 0) };
    opts.onProgress?.({ ...progress });
    const counted = async function* (chunks: AsyncIterable<Uint8Array>) {
      for await (const c of chunks) {
        progress.downloadedBytes += c.byteLength;
        opts.onProgress?.({ ...progress });
        yield c;
      }
    };
    await runBounded(todo, this.opts.concurrency ?? 4, async (i) => {
      const desc: Descriptor = m.layers[i];
      const diffId = cfg.diffIds[i];
      const fetchBlob = async () => {
        span.download.start();
        try {
          const r = await this.blobs.fetch(desc.digest, desc.size, {
            open: async (sig) => counted((await registry().openBlob(desc.digest, sig)).chunks()),
          }, opts.signal);
          downloaded += r.downloaded;
          writes.push(r.synced);
          return r;
        } finally {
          span.download.end();
        }
      };
      const unpack = async (path: string) => {
        span.unpack.start();
        try {
          return (await this.layers.ensure(diffId, path, budget, opts.signal)).info;
        } finally {
          span.unpack.end();
        }
      };
      const blob = await fetchBlob();
      try {
        infos[i] = await unpack(blob.path);
      } catch (e) {
        // A blob cached earlier that no longer unpacks to its diff_id (torn by a crash): fetch it again, once.
        if (blob.downloaded > 0 || !(e instanceof ImagePullError) || opts.signal?.aborted) throw e;
        await this.blobs.drop(desc.digest);
        infos[i] = await unpack((await fetchBlob()).path);
      }
    });
    const layerInfos = infos as LayerInfo[];
    if (layerInfos.reduce((s, i) => s + i.bytes, 0) > maxBytes) throw tooBig();

    // Not awaited: the index is a convenience, written in order in the background (lookup waits for it).
    void this.recordRef(name, { digest: top.digest, manifestDigest: manifest.digest, pulledAt: new Date().toISOString() });
    const image: PulledImage = {
      reference: name,
      manifestDigest: manifest.digest,
      config: cfg.runtime,
      layerDirs: layerInfos.map((l) => l.dir),
      sizeBytes: m.layers.reduce((s, l) => s + l.size, 0),
      downloadedBytes: downloaded,
      layerCount: m.layers.length,
      cachedLayers,
      timings: { resolveMs: Math.round(resolveMs), downloadMs: span.download.ms(), unpackMs: span.unpack.ms() },
    };
    return { image, topDigest: top.digest, unpackedBytes: layerInfos.reduce((s, i) => s + i.bytes, 0) };
  }

  /** The digest a tag resolved to less than tagTtlMs ago, if any. */
  private freshTag(name: string): string | undefined {
    const ttl = this.opts.tagTtlMs ?? 0;
    const hit = ttl > 0 ? this.tagCache.get(name) : undefined;
    return hit && (this.opts.now ?? (() => performance.now()))() - hit.at < ttl ? hit.digest : undefined;
  }

  /** A manifest by digest: from the cache when present, else fetched, verified and cached. */
  private async manifestByDigest(digest: string, registry: () => RegistryClient, writes: Promise<unknown>[]): Promise<Manifestish> {
    const cached = await this.blobs.read(digest, MAX_MANIFEST_BYTES);
    if (cached) return { digest, mediaType: cachedMediaType(cached), bytes: cached };
    const fetched = await registry().getManifest(digest);
    writes.push(this.blobs.put(fetched.digest, fetched.bytes));
    return fetched;
  }

  /** A manifest by tag: asks the registry (tags move), unless it did less than tagTtlMs ago. */
  private async manifestByTag(ref: ImageReference, name: string, registry: () => RegistryClient, writes: Promise<unknown>[]): Promise<Manifestish> {
    const ttl = this.opts.tagTtlMs ?? 0;
    const now = this.opts.now ?? (() => performance.now());
    const fresh = this.freshTag(name);
    if (fresh) {
      const cached = await this.blobs.read(fresh, MAX_MANIFEST_BYTES);
      if (cached) return { digest: fresh, mediaType: cachedMediaType(cached), bytes: cached };
    }
    const asked = now();
    const fetched = await registry().getManifest(ref.tag ?? 'latest');
    if (!(await this.blobs.has(fetched.digest))) writes.push(this.blobs.put(fetched.digest, fetched.bytes));
    if (ttl > 0) this.tagCache.set(name, { digest: fetched.digest, at: asked });
    return fetched;
  }

  private refsPath(): string {
    return join(this.opts.root, 'refs.json');
  }

  private async readRefs(): Promise<Record<string, RefRecord>> {
    try {
      const v = JSON.parse(await readFile(this.refsPath(), 'utf8'));
      return typeof v === 'object' && v !== null ? v : {};
    } catch {
      return {};
    }
  }

  private recordRef(name: string, rec: RefRecord): Promise<void> {
    this.refsWrite = this.refsWrite.then(async () => {
      const refs = await this.readRefs();
      refs[name] = rec;
      const tmp = `${this.refsPath()}.tmp-${randomBytes(4).toString('hex')}`;
      await writeFile(tmp, JSON.stringify(refs, null, 1), { mode: 0o600 });
      await rename(tmp, this.refsPath());
    }).catch(() => { /* the index is a convenience; a failed write must not fail pulls */ });
    return this.refsWrite;
  }
}

/** Media type of a manifest read back from the cache (verified when it was stored). */
function cachedMediaType(bytes: Buffer): string {
  try {
    return manifestMediaType(bytes, null);
  } catch {
    const body = JSON.parse(bytes.toString('utf8'));
    return Array.isArray(body?.manifests) ? MT.ociIndex : MT.ociManifest;
  }
}

/** Wall-clock time during which at least one operation of a kind was running. */
class Span {
  private active = 0;
  private since = 0;
  private total = 0;
  start(): void {
    if (this.active++ === 0) this.since = performance.now();
  }
  end(): void {
    if (--this.active === 0) this.total += performance.now() - this.since;
  }
  ms(): number {
    return Math.round(this.total);
  }
}

/** Runs `fn` over items with at most `limit` in flight; rejects with the first error after all settle. */
async function runBounded<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let firstError: unknown;
  const worker = async () => {
    while (next < items.length && firstError === undefined) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (e) {
        firstError ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (firstError !== undefined) throw firstError;
}
