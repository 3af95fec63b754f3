/**
 * The contract for getting a container image onto this host.
 *
 * Pull = resolve the reference to a manifest (picking linux/amd64 from an index),
 * fetch the config and layers by digest (verified against the digest, never
 * trusting the registry's headers), cache blobs content-addressed, and unpack each
 * layer once into its own directory, shared read-only by every task that uses it.
 * Image config is attacker data: it is returned to the caller as plain values and
 * never drives host-side behaviour here.
 */

export interface RegistryCredentials {
  username: string;
  password: string;
}

/** The parts of the OCI image config the runtime merges with a container definition. */
export interface ImageRuntimeConfig {
  entrypoint: string[] | null;
  cmd: string[] | null;
  env: string[];          // KEY=VALUE
  workingDir: string;     // '' when unset
  user: string;           // '' when unset
  stopSignal?: string;
  labels: Record<string, string>;
  exposedPorts: string[];
}

export interface PullPhaseTimings {
  /** Manifest (and index) resolution. */
  resolveMs: number;
  /** Downloading blobs that were not already cached. */
  downloadMs: number;
  /** Unpacking layers that were not already unpacked. */
  unpackMs: number;
}

export interface PulledImage {
  /** The reference as given, normalised (e.g. `localhost:5000/app:latest`). */
  reference: string;
  /** Digest of the platform manifest that was used. */
  manifestDigest: string;
  config: ImageRuntimeConfig;
  /** Unpacked layer directories, lowest first. */
  layerDirs: string[];
  /** Sum of compressed layer sizes. */
  sizeBytes: number;
  /** Bytes actually downloaded by this pull (0 when fully cached). */
  downloadedBytes: number;
  layerCount: number;
  cachedLayers: number;
  timings: PullPhaseTimings;
}

export interface PullOptions {
  credentials?: RegistryCredentials;
  /** Refuse images whose uncompressed size exceeds this many bytes. */
  maxUnpackedBytes?: number;
  signal?: AbortSignal;
  /** Called as layer bytes arrive: bytes downloaded so far by this pull, of `totalBytes` it has to download (cached layers excluded). */
  onProgress?: (p: { downloadedBytes: number; totalBytes: number }) => void;
}

export interface ImageStore {
  /** Pulls (or finds in cache) an image. Rejects with `ImagePullError` describing what failed. */
  pull(reference: string, opts?: PullOptions): Promise<PulledImage>;
}

/** A pull failure; `message` becomes the task's `CannotPullContainerError: <message>`. */
export class ImagePullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImagePullError';
  }
}
