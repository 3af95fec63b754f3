/**
 * FAKE image store, for tests and scale measurement only: nothing is pulled or
 * unpacked. Every reference "exists" with a small config (CMD `run`: under the
 * fake driver, a process that runs until stopped) unless the test gives it
 * another config, makes its pull fail (`failPull`), or holds its pulls
 * (`holdPulls`) to catch a task half-way through its start.
 */
import { createHash } from 'node:crypto';
import { ImagePullError, type ImageRuntimeConfig, type ImageStore, type PulledImage, type PullOptions } from '../images/images.ts';

const DEFAULT_CONFIG: ImageRuntimeConfig = {
  entrypoint: null,
  cmd: ['run'],
  env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
  workingDir: '',
  user: '',
  labels: {},
  exposedPorts: [],
};

export class FakeImageStore implements ImageStore {
  /** References pulled, in order (one entry per pull). */
  readonly pulls: string[] = [];
  private readonly configs = new Map<string, ImageRuntimeConfig>();
  private readonly failures = new Map<string, string>();
  private held: { refs: Set<string>; release: Promise<void>; open: () => void } | undefined;

  /** Gives `reference` its own image config (merged over the default). */
  define(reference: string, config: Partial<ImageRuntimeConfig>): void {
    this.configs.set(reference, { ...DEFAULT_CONFIG, ...config });
  }

  /** Pulls of `reference` fail with `message` (the task's `CannotPullContainerError: <message>`). */
  failPull(reference: string, message: string): void {
    this.failures.set(reference, message);
  }

  /** Pulls of these references wait until the returned function is called. */
  holdPulls(...references: string[]): () => void {
    let open = () => {};
    const release = new Promise<void>((r) => (open = r));
    this.held = { refs: new Set(references), release, open };
    return () => {
      this.held = undefined;
      open();
    };
  }

  async pull(reference: string, _opts?: PullOptions): Promise<PulledImage> {
    this.pulls.push(reference);
    if (this.held?.refs.has(reference)) await this.held.release;
    const failure = this.failures.get(reference);
    if (failure !== undefined) throw new ImagePullError(failure);
    const digest = `sha256:${createHash('sha256').update(reference).digest('hex')}`;
    return {
      reference,
      manifestDigest: digest,
      config: structuredClone(this.configs.get(reference) ?? DEFAULT_CONFIG),
      layerDirs: [`/fake/images/${digest.slice(7, 19)}/layer`],
      sizeBytes: 1024,
      downloadedBytes: 0,
      layerCount: 1,
      cachedLayers: 1,
      timings: { resolveMs: 0, downloadMs: 0, unpackMs: 0 },
    };
  }
}
