/**
 * Observation points the metrics hang on, as thin wrappers around the real
 * parts (so the parts themselves stay unaware of metrics):
 *
 * - ObservedTasksRepo: a TasksRepo that reports each task's record after every
 *   stored update (the TaskRunner is the only writer of lastStatus, and writes
 *   through the repository);
 * - InstrumentedImageStore: an ImageStore that times and classifies each pull
 *   and keeps the pulls in flight with their download progress, for
 *   `GET /skiff/v1/pulls` (the CLI's progress bars).
 */
import type { Db } from '../store/db.ts';
import { TasksRepo } from '../store/tasks-repo.ts';
import type { TaskRecord } from '../model/task-record.ts';
import type { ImageStore, PulledImage, PullOptions } from '../images/images.ts';
import type { PullObservation } from './platform-metrics.ts';

export class ObservedTasksRepo extends TasksRepo {
  constructor(db: Db, private readonly onUpdate: (t: TaskRecord) => void) {
    super(db);
  }

  override update(id: string, mutate: (t: TaskRecord) => void, opts: { durable?: boolean } = {}): TaskRecord {
    const t = super.update(id, mutate, opts);
    try {
      this.onUpdate(t);
    } catch {
      /* an observer must never fail a state change */
    }
    return t;
  }
}

/** One image pull in flight. */
export interface PullProgress {
  reference: string;
  /** Epoch ms. */
  startedAt: number;
  downloadedBytes: number;
  /** Bytes this pull has to download (layers not cached); 0 until the manifest is resolved. */
  totalBytes: number;
}

export class InstrumentedImageStore implements ImageStore {
  private readonly active = new Map<number, PullProgress>();
  private seq = 0;

  constructor(
    private readonly inner: ImageStore,
    private readonly observe: (p: PullObservation) => void,
    private readonly now: () => number = Date.now,
  ) {}

  async pull(reference: string, opts: PullOptions = {}): Promise<PulledImage> {
    const id = ++this.seq;
    const p: PullProgress = { reference, startedAt: this.now(), downloadedBytes: 0, totalBytes: 0 };
    this.active.set(id, p);
    const t0 = performance.now();
    try {
      const image = await this.inner.pull(reference, {
        ...opts,
        onProgress: (x) => {
          p.downloadedBytes = x.downloadedBytes;
          p.totalBytes = x.totalBytes;
          opts.onProgress?.(x);
        },
      });
      this.observe({ outcome: 'success', cacheHit: image.downloadedBytes === 0 && image.cachedLayers === image.layerCount, downloadedBytes: image.downloadedBytes, seconds: (performance.now() - t0) / 1000 });
      return image;
    } catch (e) {
      this.observe({ outcome: 'error', cacheHit: false, downloadedBytes: p.downloadedBytes, seconds: (performance.now() - t0) / 1000 });
      throw e;
    } finally {
      this.active.delete(id);
    }
  }

  /** Pulls in flight, oldest first. */
  inFlight(): PullProgress[] {
    return [...this.active.values()].map((p) => ({ ...p }));
  }
}
