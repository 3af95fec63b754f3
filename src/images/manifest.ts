/**
 * Media types and validation of manifests, indexes and image configs.
 *
 * Contract: every function here takes attacker-controlled JSON bytes and returns plain,
 * type-checked values, or throws ImagePullError. Descriptor `urls` are dropped: layers
 * are only ever fetched from the registry the image was pulled from, by digest.
 */
import { ImagePullError, type ImageRuntimeConfig } from './images.ts';
import { parseDigest } from './digest.ts';

export const MT = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  ociLayerTar: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNdTar: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNdGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociLayerNdZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
} as const;

export const MANIFEST_ACCEPT = [MT.dockerManifest, MT.dockerList, MT.ociManifest, MT.ociIndex];
export const INDEX_TYPES: readonly string[] = [MT.dockerList, MT.ociIndex];
export const IMAGE_MANIFEST_TYPES: readonly string[] = [MT.dockerManifest, MT.ociManifest];
const CONFIG_TYPES: readonly string[] = [MT.dockerConfig, MT.ociConfig];
const LAYER_TYPES: readonly string[] = [
  MT.dockerLayerGzip, MT.dockerForeignLayerGzip, MT.ociLayerTar, MT.ociLayerGzip, MT.ociLayerZstd,
  MT.ociLayerNdTar, MT.ociLayerNdGzip, MT.ociLayerNdZstd,
];

/** Largest manifest or index accepted. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Largest image config accepted. */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;
/** More layers than overlayfs comfortably stacks. */
export const MAX_LAYERS = 127;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ImageIndex {
  mediaType: string;
  manifests: Array<Descriptor & { platform?: Platform }>;
}

export interface ImageManifest {
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ParsedConfig {
  os: string;
  architecture: string;
  diffIds: string[];
  runtime: ImageRuntimeConfig;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new ImagePullError(`${what} is not valid JSON`);
  }
  if (!isObject(v)) throw new ImagePullError(`${what} is not a JSON object`);
  return v;
}

function parseDescriptor(v: unknown, what: string): Descriptor {
  if (!isObject(v)) throw new ImagePullError(`${what} is not an object`);
  if (typeof v.mediaType !== 'string' || v.mediaType.length === 0) throw new ImagePullError(`${what} has no mediaType`);
  parseDigest(v.digest, `${what} digest`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) {
    throw new ImagePullError(`${what} has an invalid size`);
  }
  // `urls` is deliberately not copied: we never fetch from a descriptor's foreign URLs.
  return { mediaType: v.mediaType, digest: v.digest as string, size: v.size };
}

/**
 * Decides the media type of a fetched manifest: the body's `mediaType` field if present
 * (it must then agree with a known Content-Type), else the Content-Type header.
 */
export function manifestMediaType(bytes: Uint8Array, contentType: string | null): string {
  const body = parseJson(bytes, 'manifest');
  const header = (contentType ?? '').split(';')[0].trim().toLowerCase();
  const fromBody = typeof body.mediaType === 'string' ? body.mediaType : undefined;
  const mt = fromBody ?? header;
  if (!mt) throw new ImagePullError('manifest has no mediaType (neither in its body nor in its Content-Type)');
  if (fromBody && MANIFEST_ACCEPT.includes(header as never) && header !== fromBody) {
    throw new ImagePullError(`manifest mediaType ${fromBody} does not match its Content-Type ${header}`);
  }
  if (mt.startsWith('application/vnd.docker.distribution.manifest.v1')) {
    throw new ImagePullError('image manifest schema 1 is not supported; push the image again with a current client');
  }
  if (!MANIFEST_ACCEPT.includes(mt as never)) throw new ImagePullError(`unsupported manifest media type ${JSON.stringify(mt)}`);
  return mt;
}

export function parseIndex(bytes: Uint8Array, mediaType: string): ImageIndex {
  const body = parseJson(bytes, 'manifest list');
  if (!Array.isArray(body.manifests)) throw new ImagePullError('manifest list has no manifests array');
  if (body.manifests.length > 1000) throw new ImagePullError('manifest list has too many entries');
  const manifests = body.manifests.map((m: unknown, i: number) => {
    const d = parseDescriptor(m, `manifest list entry ${i}`);
    const p = isObject(m) ? m.platform : undefined;
    let platform: Platform | undefined;
    if (isObject(p) && typeof p.os === 'string' && typeof p.architecture === 'string') {
      platform = { os: p.os, architecture: p.architecture, variant: typeof p.variant === 'string' ? p.variant : undefined };
    }
    return { ...d, platform };
  });
  return { mediaType, manifests };
}

/** Picks the linux/amd64 entry of an index (an entry without variant preferred). */
export function selectPlatform(index: ImageIndex, os = 'linux', architecture = 'amd64'): Descriptor {
  const candidates = index.manifests.filter(
    (m) => m.platform?.os === os && m.platform.architecture === architecture && IMAGE_MANIFEST_TYPES.includes(m.mediaType),
  );
  const chosen = candidates.find((m) => !m.platform?.variant) ?? candidates[0];
  if (!chosen) {
    const have = index.manifests.map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}` : 'unknown')).join(', ');
    throw new ImagePullError(`no matching manifest for ${os}/${architecture} in the manifest list entries (found: ${have || 'none'})`);
  }
  return { mediaType: chosen.mediaType, digest: chosen.digest, size: chosen.size };
}

export function parseImageManifest(bytes: Uint8Array, mediaType: string): ImageManifest {
  const body = parseJson(bytes, 'manifest');
  const config = parseDescriptor(body.config, 'manifest config');
  if (!CONFIG_TYPES.includes(config.mediaType)) {
    throw new ImagePullError(`manifest config has unsupported media type ${JSON.stringify(config.mediaType)} (not a container image)`);
  }
  if (config.size > MAX_CONFIG_BYTES) throw new ImagePullError(`image config is too large (${config.size} bytes)`);
  if (!Array.isArray(body.layers)) throw new ImagePullError('manifest has no layers array');
  if (body.layers.length > MAX_LAYERS) throw new ImagePullError(`image has ${body.layers.length} layers; at most ${MAX_LAYERS} are supported`);
  const layers = body.layers.map((l: unknown, i: number) => {
    const d = parseDescriptor(l, `layer ${i}`);
    if (!LAYER_TYPES.includes(d.mediaType)) throw new ImagePullError(`layer ${i} has unsupported media type ${JSON.stringify(d.mediaType)}`);
    return d;
  });
  return { mediaType, config, layers };
}

function stringArray(v: unknown, what: string): string[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new ImagePullError(`invalid image config: ${what} must be an array of strings`);
  return v as string[];
}

function optString(v: unknown, what: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new ImagePullError(`invalid image config: ${what} must be a string`);
  return v;
}

/** Parses an image config into plain values. Nothing here is interpreted on the host. */
export function parseImageConfig(bytes: Uint8Array): ParsedConfig {
  const body = parseJson(bytes, 'image config');
  const os = optString(body.os, 'os');
  const architecture = optString(body.architecture, 'architecture');
  const rootfs = body.rootfs;
  if (!isObject(rootfs) || rootfs.type !== 'layers' || !Array.isArray(rootfs.diff_ids)) {
    throw new ImagePullError('invalid image config: rootfs must be {type: "layers", diff_ids: [...]}');
  }
  const diffIds = rootfs.diff_ids.map((d: unknown, i: number) => {
    parseDigest(d, `image config diff_id ${i}`);
    return d as string;
  });
  const c = body.config === undefined || body.config === null ? {} : body.config;
  if (!isObject(c)) throw new ImagePullError('invalid image config: config must be an object');
  const labels: Record<string, string> = {};
  if (c.Labels !== undefined && c.Labels !== null) {
    if (!isObject(c.Labels)) throw new ImagePullError('invalid image config: Labels must be an object');
    for (const [k, v] of Object.entries(c.Labels)) {
      if (typeof v !== 'string') throw new ImagePullError(`invalid image config: label ${JSON.stringify(k)} must be a string`);
      labels[k] = v;
    }
  }
  let exposedPorts: string[] = [];
  if (c.ExposedPorts !== undefined && c.ExposedPorts !== null) {
    if (!isObject(c.ExposedPorts)) throw new ImagePullError('invalid image config: ExposedPorts must be an object');
    exposedPorts = Object.keys(c.ExposedPorts);
  }
  const runtime: ImageRuntimeConfig = {
    entrypoint: stringArray(c.Entrypoint, 'Entrypoint'),
    cmd: stringArray(c.Cmd, 'Cmd'),
    env: stringArray(c.Env, 'Env') ?? [],
    workingDir: optString(c.WorkingDir, 'WorkingDir'),
    user: optString(c.User, 'User'),
    labels,
    exposedPorts,
  };
  const stopSignal = optString(c.StopSignal, 'StopSignal');
  if (stopSignal) runtime.stopSignal = stopSignal;
  return { os, architecture, diffIds, runtime };
}
