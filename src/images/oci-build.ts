/**
 * A tiny image builder and pusher, for tests and demos.
 *
 * Contract: builds single- or multi-layer images from file lists (host files or
 * in-memory content, with modes, owners, symlinks, hardlinks) into gzip layers, an
 * image config and a manifest (Docker v2 schema2 or OCI), optionally an index, and
 * pushes them with the distribution API (monolithic blob upload, then manifest PUT),
 * anonymously, with Basic or with Bearer auth. `rawLayer` wraps exact tar bytes so
 * security tests can push hostile layers. Output is deterministic for equal input.
 */
import { execFileSync } from 'node:child_process';
import { openSync, readSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { posix } from 'node:path';
import * as tar from 'tar-stream';
import type { RegistryCredentials } from './images.ts';
import { sha256Digest } from './digest.ts';
import { MT } from './manifest.ts';
import { parseReference, type ImageReference } from './reference.ts';
import { RegistryClient, TokenCache } from './registry-client.ts';

export type ManifestFormat = 'docker' | 'oci';

export interface ImageFile {
  /** Path inside the image, e.g. `/bin/busybox` or `etc/passwd`. */
  path: string;
  /** Default: 'file' ('dir' when the path ends with '/'). */
  type?: 'file' | 'dir' | 'symlink' | 'hardlink';
  content?: string | Buffer;
  /** Read the content from this host file at build time. */
  hostPath?: string;
  /** Default 0644 for files, 0755 for dirs, 0777 for symlinks. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Symlink target (kept verbatim) or hardlink target path. */
  target?: string;
  mtime?: Date;
}

export interface ImageConfigInput {
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
  labels?: Record<string, string>;
  exposedPorts?: string[];
  stopSignal?: string;
  os?: string;
  architecture?: string;
  variant?: string;
}

export interface BuiltLayer {
  mediaType: string;
  /** Digest of the blob as pushed (compressed when gzip). */
  digest: string;
  size: number;
  /** Digest of the uncompressed tar. */
  diffId: string;
  blob: Buffer;
}

export interface BuiltImage {
  kind: 'image';
  format: ManifestFormat;
  mediaType: string;
  manifest: Buffer;
  manifestDigest: string;
  config: Buffer;
  configDigest: string;
  layers: BuiltLayer[];
  platform: { os: string; architecture: string; variant?: string };
}

export interface BuiltIndex {
  kind: 'index';
  mediaType: string;
  manifest: Buffer;
  manifestDigest: string;
  images: BuiltImage[];
}

export interface BuildImageOptions {
  /** Files of a single-layer image. */
  files?: ImageFile[];
  /** Layers, lowest first: file lists and/or prebuilt layers (see `rawLayer`). */
  layers?: Array<ImageFile[] | BuiltLayer>;
  config?: ImageConfigInput;
  /** Default 'docker' (Docker v2 schema2). */
  format?: ManifestFormat;
}

export interface PushOptions {
  credentials?: RegistryCredentials;
  insecureRegistries?: string[];
  timeoutMs?: number;
}

const FIXED_MTIME = new Date('2024-01-01T00:00:00Z');

/** Builds an uncompressed tar from a file list, adding missing parent directories. */
export async function tarFiles(files: ImageFile[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const ended = new Promise<void>((resolve, reject) => {
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  const seenDirs = new Set<string>();
  const add = (h: tar.Header | Partial<tar.Header> & { name: string }, body?: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const cb = (e?: Error | null) => (e ? reject(e) : resolve());
      if (body) pack.entry(h, body, cb);
      else pack.entry(h, cb);
    });
  for (const f of files) {
    const type = f.type ?? (f.path.endsWith('/') ? 'dir' : 'file');
    const name = posix.normalize(f.path).replace(/^\/+/, '').replace(/\/+$/, '');
    if (!name || name === '.') continue;
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (seenDirs.has(dir)) continue;
      seenDirs.add(dir);
      await add({ name: `${dir}/`, type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: FIXED_MTIME });
    }
    const common = { uid: f.uid ?? 0, gid: f.gid ?? 0, mtime: f.mtime ?? FIXED_MTIME };
    if (type === 'dir') {
      seenDirs.add(name);
      await add({ name: `${name}/`, type: 'directory', mode: f.mode ?? 0o755, ...common });
    } else if (type === 'symlink') {
      await add({ name, type: 'symlink', linkname: f.target ?? '', mode: f.mode ?? 0o777, ...common });
    } else if (type === 'hardlink') {
      await add({ name, type: 'link', linkname: (f.target ?? '').replace(/^\/+/, ''), mode: f.mode ?? 0o644, ...common });
    } else {
      const body = f.hostPath !== undefined ? readFileSync(f.hostPath) : Buffer.from(f.content ?? '');
      await add({ name, type: 'file', size: body.length, mode: f.mode ?? 0o644, ...common }, body);
    }
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/**
 * Wraps exact tar bytes as a layer. `compression: 'gzip'` (default) gzips them here;
 * 'none' pushes the tar as is. `diffId` overrides the computed diff_id (to test the
 * diff_id check), `blob` replaces the pushed bytes entirely (e.g. a hand-made gzip).
 */
export function rawLayer(
  tarBytes: Buffer,
  opts: { compression?: 'gzip' | 'none'; format?: ManifestFormat; diffId?: string; blob?: Buffer; mediaType?: string } = {},
): BuiltLayer {
  const gz = (opts.compression ?? 'gzip') === 'gzip';
  const blob = opts.blob ?? (gz ? gzipSync(tarBytes) : tarBytes);
  const format = opts.format ?? 'docker';
  const mediaType =
    opts.mediaType ?? (format === 'oci' ? (gz ? MT.ociLayerGzip : MT.ociLayerTar) : gz ? MT.dockerLayerGzip : MT.ociLayerTar);
  return { mediaType, digest: sha256Digest(blob), size: blob.length, diffId: opts.diffId ?? sha256Digest(tarBytes), blob };
}

export async function buildLayer(files: ImageFile[], format: ManifestFormat = 'docker'): Promise<BuiltLayer> {
  return rawLayer(await tarFiles(files), { format });
}

/** Builds config + manifest for the given layers. */
export async function buildImage(opts: BuildImageOptions): Promise<BuiltImage> {
  const format = opts.format ?? 'docker';
  const specs = opts.layers ?? (opts.files ? [opts.files] : []);
  const layers: BuiltLayer[] = [];
  for (const s of specs) layers.push(Array.isArray(s) ? await buildLayer(s, format) : s);
  const c = opts.config ?? {};
  const platform = { os: c.os ?? 'linux', architecture: c.architecture ?? 'amd64', ...(c.variant ? { variant: c.variant } : {}) };
  const runtime: Record<string, unknown> = {};
  if (c.entrypoint) runtime.Entrypoint = c.entrypoint;
  if (c.cmd) runtime.Cmd = c.cmd;
  runtime.Env = c.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];
  if (c.workingDir) runtime.WorkingDir = c.workingDir;
  if (c.user) runtime.User = c.user;
  if (c.labels) runtime.Labels = c.labels;
  if (c.exposedPorts) runtime.ExposedPorts = Object.fromEntries(c.exposedPorts.map((p) => [p, {}]));
  if (c.stopSignal) runtime.StopSignal = c.stopSignal;
  const config = Buffer.from(
    JSON.stringify({
      created: FIXED_MTIME.toISOString(),
      ...platform,
      config: runtime,
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created: FIXED_MTIME.toISOString(), created_by: 'skiff oci-build' })),
    }),
  );
  const configDigest = sha256Digest(config);
  const mediaType = format === 'oci' ? MT.ociManifest : MT.dockerManifest;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: format === 'oci' ? MT.ociConfig : MT.dockerConfig, digest: configDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    }),
  );
  return { kind: 'image', format, mediaType, manifest, manifestDigest: sha256Digest(manifest), config, configDigest, layers, platform };
}

/** Builds an index (OCI) or manifest list (Docker) over several platform images. */
export function buildIndex(images: BuiltImage[], format: ManifestFormat = 'oci'): BuiltIndex {
  const mediaType = format === 'oci' ? MT.ociIndex : MT.dockerList;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: images.map((i) => ({ mediaType: i.mediaType, digest: i.manifestDigest, size: i.manifest.length, platform: i.platform })),
    }),
  );
  return { kind: 'index', mediaType, manifest, manifestDigest: sha256Digest(manifest), images };
}

function clientFor(ref: ImageReference, opts: PushOptions): RegistryClient {
  return new RegistryClient(ref.domain, ref.path, {
    credentials: opts.credentials,
    insecureRegistries: opts.insecureRegistries,
    timeoutMs: opts.timeoutMs,
    tokenCache: new TokenCache(),
  });
}

async function failure(what: string, reply: { status: number; bytes(max: number, w: string): Promise<Buffer> }): Promise<Error> {
  let body = '';
  try {
    body = (await reply.bytes(64 * 1024, 'error body')).toString('utf8').slice(0, 500);
  } catch { /* ignore */ }
  return new Error(`${what} failed: HTTP ${reply.status} ${body}`.trim());
}

/** Uploads one blob (skipped when the registry already has it). */
export async function pushBlob(client: RegistryClient, digest: string, bytes: Buffer): Promise<void> {
  const base = `/v2/${client.repository}/blobs`;
  const head = await client.request('HEAD', `${base}/${digest}`, { actions: 'pull,push' });
  await head.discard();
  if (head.status === 200) return;
  const start = await client.request('POST', `${base}/uploads/`, { actions: 'pull,push' });
  await start.discard();
  const location = start.headers.get('location');
  if (start.status !== 202 || !location) throw await failure(`starting upload of ${digest}`, start);
  const url = new URL(location, client.origin);
  url.searchParams.set('digest', digest);
  const put = await client.request('PUT', url.toString(), {
    actions: 'pull,push',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length) },
    body: bytes,
  });
  if (put.status !== 201) throw await failure(`upload of ${digest}`, put);
  await put.discard();
}

/** PUTs a manifest under a tag or digest. */
export async function pushManifest(client: RegistryClient, reference: string, bytes: Buffer, mediaType: string): Promise<void> {
  const put = await client.request('PUT', `/v2/${client.repository}/manifests/${reference}`, {
    actions: 'pull,push',
    headers: { 'Content-Type': mediaType },
    body: bytes,
  });
  if (put.status !== 201) throw await failure(`manifest push of ${client.name}:${reference}`, put);
  await put.discard();
}

async function pushOne(client: RegistryClient, image: BuiltImage, reference: string): Promise<void> {
  for (const l of image.layers) await pushBlob(client, l.digest, l.blob);
  await pushBlob(client, image.configDigest, image.config);
  await pushManifest(client, reference, image.manifest, image.mediaType);
}

/**
 * Pushes an image or index to `ref` (`host[:port]/name[:tag]`). Returns the normalised
 * reference and the manifest digest that was pushed.
 */
export async function pushImage(image: BuiltImage | BuiltIndex, ref: string, opts: PushOptions = {}): Promise<{ reference: string; digest: string }> {
  const r = parseReference(ref);
  const client = clientFor(r, opts);
  const tagOrDigest = r.digest ?? r.tag ?? 'latest';
  if (image.kind === 'index') {
    for (const child of image.images) await pushOne(client, child, child.manifestDigest);
    await pushManifest(client, tagOrDigest, image.manifest, image.mediaType);
  } else {
    await pushOne(client, image, tagOrDigest);
  }
  return { reference: `${r.domain}/${r.path}:${r.tag ?? 'latest'}`, digest: image.manifestDigest };
}

/** Pushes a single-layer image whose layer is exactly `tarBytes` (hostile-layer tests). */
export async function pushRawLayerImage(
  ref: string,
  tarBytes: Buffer,
  opts: PushOptions & { compression?: 'gzip' | 'none'; format?: ManifestFormat; config?: ImageConfigInput; diffId?: string } = {},
): Promise<{ reference: string; digest: string; image: BuiltImage }> {
  const layer = rawLayer(tarBytes, { compression: opts.compression, format: opts.format, diffId: opts.diffId });
  const image = await buildImage({ layers: [layer], config: opts.config, format: opts.format });
  const pushed = await pushImage(image, ref, opts);
  return { ...pushed, image };
}

/** True when the ELF file has no PT_INTERP program header (statically linked). */
export function isStaticElf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const h = Buffer.alloc(64);
    readSync(fd, h, 0, 64, 0);
    if (h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2) return false; // ELF64 only
    const phoff = Number(h.readBigUInt64LE(0x20));
    const phentsize = h.readUInt16LE(0x36);
    const phnum = h.readUInt16LE(0x38);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3) return false;
    return true;
  } finally {
    closeSync(fd);
  }
}

/** Finds a statically linked busybox on this host (Debian's busybox-static). */
export function staticBusyboxPath(): string {
  for (const p of ['/bin/busybox', '/usr/bin/busybox', '/usr/local/bin/busybox', '/sbin/busybox']) {
    if (existsSync(p) && isStaticElf(p)) return p;
  }
  throw new Error('no statically linked busybox found; install the Debian package busybox-static');
}

/**
 * Files of a minimal busybox image: /bin/busybox (static), a symlink to it for every
 * applet, /etc/passwd and /etc/group with root and nobody (65534), /tmp (1777),
 * /root (0700) and empty mount points.
 */
export function busyboxImageFiles(): ImageFile[] {
  const bin = staticBusyboxPath();
  const applets = execFileSync(bin, ['--list-full'], { encoding: 'utf8' })
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s && s !== 'bin/busybox' && /^[a-z0-9/._\[-]+$/.test(s));
  const files: ImageFile[] = [
    { path: '/bin/busybox', hostPath: bin, mode: 0o755 },
    ...applets.map((a): ImageFile => ({ path: `/${a}`, type: 'symlink', target: '/bin/busybox' })),
    { path: '/etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' },
    { path: '/etc/group', content: 'root:x:0:\nnogroup:x:65534:\n' },
    { path: '/tmp', type: 'dir', mode: 0o1777 },
    { path: '/root', type: 'dir', mode: 0o700 },
  ];
  for (const d of ['/proc', '/sys', '/dev', '/run', '/var', '/home']) files.push({ path: d, type: 'dir' });
  return files;
}
