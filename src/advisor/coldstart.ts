/**
 * Cold-start breakdown: turns the phases a task runner timed (task.timings)
 * into a waterfall that accounts for every millisecond from `createdAt` to
 * `startedAt`, plus tips from what was measured and from the image.
 *
 * Phases overlap (network and image pull run in parallel), so each row has its
 * measured duration and its *critical* share: the time by which it pushed the
 * start later (the part not already covered by earlier phases). Gaps between
 * steps (store writes, bookkeeping) are `overhead`; the time before the first
 * step is `scheduling`. Critical shares add up exactly to the measured start;
 * arithmetic is in integer microseconds.
 */
import type { PhaseTiming, TaskRecord } from '../model/task-record.ts';
import { FIRST_HEALTHY_PHASE } from '../model/task-health.ts';

export interface WaterfallRow {
  phase: string;
  /** Set on the sub-steps of a phase (image-pull:resolve, :download, :unpack); their time is counted in the parent's criticalMs. */
  partOf?: string;
  /** ms after createdAt when the phase began. */
  offsetMs: number;
  /** ms the phase took (measured). */
  durationMs: number;
  /** ms the phase added to the start (critical path share). */
  criticalMs: number;
  detail?: PhaseTiming['detail'];
}

export interface Waterfall {
  taskId: string;
  family: string;
  createdAt: number;
  startedAt?: number;
  /** The runtime that ran the task (`runc`, `gvisor`, ...) and its variant, e.g. `gvisor (ptrace)`: start cost depends on it. */
  isolation?: string;
  /** startedAt − createdAt, ms; undefined when the task never started. */
  totalMs?: number;
  rows: WaterfallRow[];
  /** Σ criticalMs — equals totalMs. */
  sumCriticalMs?: number;
  note?: string;
}

/** What the image store knows about an image (from its manifest). */
export interface ImageFacts {
  reference: string;
  /** Compressed layer sizes, base layer first. */
  layerSizes: number[];
}

/** Container health-check facts from the task definition. */
export interface HealthCheckFacts {
  container: string;
  startPeriodSec?: number;
  intervalSec?: number;
  retries?: number;
}

const us = (ms: number) => Math.round(ms * 1000);
const ms = (u: number) => u / 1000;

export function waterfall(task: Pick<TaskRecord, 'id' | 'family' | 'createdAt' | 'startedAt' | 'timings' | 'isolation' | 'isolationPlatform'>, healthChecks: HealthCheckFacts[] = []): Waterfall {
  const isolation = `${task.isolation ?? 'runc'}${task.isolationPlatform ? ` (${task.isolationPlatform})` : ''}`;
  const base = { taskId: task.id, family: task.family, createdAt: task.createdAt, isolation };
  const healthy = task.timings.find((p) => p.phase === FIRST_HEALTHY_PHASE);
  const phases = task.timings
    .filter((p) => p !== healthy)
    .map((p, i) => ({ p, i, start: us(p.startedAt - task.createdAt), end: us(p.startedAt - task.createdAt) + us(p.durationMs) }))
    .sort((a, b) => a.start - b.start || a.i - b.i);
  if (task.startedAt === undefined) {
    return {
      ...base,
      rows: phases.map(({ p, start }) => ({ phase: p.phase, offsetMs: ms(start), durationMs: p.durationMs, criticalMs: 0, ...(p.detail ? { detail: p.detail } : {}) })),
      note: 'the task never reached RUNNING: no start to break down (the rows are the steps it did)',
    };
  }
  const total = us(task.startedAt - task.createdAt);
  const clamp = (x: number) => Math.min(total, Math.max(0, x));
  const rows: WaterfallRow[] = [];
  let cursor = 0;
  let overhead = 0;
  const first = phases.length ? clamp(phases[0].start) : total;
  rows.push({ phase: 'scheduling', offsetMs: 0, durationMs: ms(first), criticalMs: ms(first) });
  cursor = first;
  let lastStartEnd = first;
  for (const { p, start, end } of phases) {
    const s = clamp(start);
    const e = clamp(end);
    if (s > cursor) {
      overhead += s - cursor;
      cursor = s;
    }
    const critical = Math.max(0, e - cursor);
    cursor = Math.max(cursor, e);
    if (p.phase.startsWith('container-start:')) lastStartEnd = Math.max(lastStartEnd, e);
    rows.push({ phase: p.phase, offsetMs: ms(start), durationMs: p.durationMs, criticalMs: ms(critical), ...(p.detail ? { detail: p.detail } : {}) });
    if (p.phase === 'image-pull' && p.detail) rows.push(...pullParts(start, p.detail));
  }
  overhead += total - cursor;
  // After the start (startedAt), so outside the critical path: measured from the start to the task's first HEALTHY.
  rows.push({
    phase: FIRST_HEALTHY_PHASE,
    offsetMs: healthy ? ms(total) : ms(lastStartEnd),
    durationMs: healthy?.durationMs ?? 0,
    criticalMs: 0,
    detail: !healthChecks.length
      ? { healthCheck: false, note: 'no health check: healthy when the process starts' }
      : healthy
        ? { healthCheck: true, note: 'from the start to the first passing health check of every essential container' }
        : { healthCheck: true, note: 'not healthy yet' },
  });
  rows.push({ phase: 'overhead', offsetMs: 0, durationMs: ms(overhead), criticalMs: ms(overhead), detail: { note: 'between steps: state writes and bookkeeping' } });
  const sum = rows.reduce((a, r) => a + us(r.criticalMs), 0);
  return { ...base, startedAt: task.startedAt, totalMs: ms(total), rows, sumCriticalMs: ms(sum) };
}

/**
 * The image pull's own steps, from its detail: manifest resolve first, then
 * layer download and unpack (which overlap, layer by layer). Informational:
 * criticalMs 0, the parent row carries their time.
 */
function pullParts(startUs: number, d: NonNullable<PhaseTiming['detail']>): WaterfallRow[] {
  const resolve = Number(d.resolveMs ?? 0);
  const after = ms(startUs + us(resolve));
  const layers = Number(d.layers ?? 0);
  const cached = Number(d.cachedLayers ?? 0);
  return [
    { phase: 'image-pull:resolve', partOf: 'image-pull', offsetMs: ms(startUs), durationMs: resolve, criticalMs: 0, detail: { note: 'manifest (and index) resolution' } },
    {
      phase: 'image-pull:download', partOf: 'image-pull', offsetMs: after, durationMs: Number(d.downloadMs ?? 0), criticalMs: 0,
      detail: { downloadedBytes: Number(d.downloadedBytes ?? 0), layersDownloaded: layers - cached, layersCached: cached },
    },
    { phase: 'image-pull:unpack', partOf: 'image-pull', offsetMs: after, durationMs: Number(d.unpackMs ?? 0), criticalMs: 0, detail: { note: 'layers not yet unpacked on this host; overlaps the download' } },
  ];
}

export interface PhaseSummary {
  phase: string;
  count: number;
  criticalP50Ms: number;
  criticalP95Ms: number;
  durationP50Ms: number;
  durationP95Ms: number;
}

export interface FamilySummary {
  family: string;
  starts: number;
  totalP50Ms?: number;
  totalP95Ms?: number;
  phases: PhaseSummary[];
  /** Starts whose image pull downloaded layers not yet cached on this host. */
  uncachedStarts: number;
}

function pctl(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length))) - 1];
}

/** p50/p95 per phase over several starts of one family. */
export function summarise(family: string, falls: Waterfall[]): FamilySummary {
  const started = falls.filter((w) => w.totalMs !== undefined);
  const byPhase = new Map<string, { c: number[]; d: number[] }>();
  const order: string[] = [];
  for (const w of started) {
    for (const r of w.rows) {
      let e = byPhase.get(r.phase);
      if (!e) {
        byPhase.set(r.phase, (e = { c: [], d: [] }));
        order.push(r.phase);
      }
      e.c.push(r.criticalMs);
      e.d.push(r.durationMs);
    }
  }
  const totals = started.map((w) => w.totalMs!);
  return {
    family,
    starts: started.length,
    ...(totals.length ? { totalP50Ms: pctl(totals, 50), totalP95Ms: pctl(totals, 95) } : {}),
    phases: order.map((phase) => {
      const e = byPhase.get(phase)!;
      return { phase, count: e.c.length, criticalP50Ms: pctl(e.c, 50), criticalP95Ms: pctl(e.c, 95), durationP50Ms: pctl(e.d, 50), durationP95Ms: pctl(e.d, 95) };
    }),
    uncachedStarts: started.filter((w) => pullDetail(w) && Number(pullDetail(w)!.downloadedBytes ?? 0) > 0).length,
  };
}

const pullDetail = (w: Waterfall) => w.rows.find((r) => r.phase === 'image-pull')?.detail;
const MB = 1_000_000;
const mb = (b: number) => `${(b / MB).toFixed(b < 10 * MB ? 1 : 0)} MB`;
const fmtMs = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`);

/** Thresholds the tips use (documented so the numbers in a tip can be traced). */
export const TIP_LIMITS = Object.freeze({
  imageBytes: 1000 * MB,
  layers: 10,
  baseLayerBytes: 100 * MB,
  slowPhaseMs: 1000,
  pullShare: 0.5,
  startPeriodSec: 30,
});

/** Concrete tips for one start, from its waterfall, its images and its health checks. */
export function coldStartTips(w: Waterfall, images: ImageFacts[] = [], healthChecks: HealthCheckFacts[] = []): string[] {
  const tips: string[] = [];
  const pull = w.rows.find((r) => r.phase === 'image-pull');
  const d = pull?.detail ?? {};
  const size = Number(d.sizeBytes ?? 0);
  const layers = Number(d.layers ?? 0);
  const cached = Number(d.cachedLayers ?? 0);
  const downloaded = Number(d.downloadedBytes ?? 0);
  if (size > TIP_LIMITS.imageBytes) {
    tips.push(`the image is ${mb(size)} compressed (over 1000 MB): a multi-stage build that ships only the runtime and the app pulls and unpacks several times faster`);
  }
  if (layers > TIP_LIMITS.layers) {
    tips.push(`the image has ${layers} layers (more than 10): combine RUN steps or use a multi-stage build; every layer is a separate download, unpack and overlay mount`);
  }
  for (const img of images) {
    const base = img.layerSizes[0] ?? 0;
    if (base > TIP_LIMITS.baseLayerBytes) {
      tips.push(`${img.reference} sits on a large base layer (${mb(base)}): a minimal base (distroless, alpine, busybox, or scratch for a static binary) would do for most services`);
    }
  }
  if (pull && layers > 0 && cached < layers) {
    tips.push(
      `${layers - cached} of ${layers} layer(s) were not cached on this host and were downloaded (${mb(downloaded)} in ${fmtMs(Number(d.downloadMs ?? 0))}): later starts here reuse them — run the image once on a host (pre-pull) before scaling out`,
    );
  }
  if (w.totalMs && pull && pull.criticalMs / w.totalMs > TIP_LIMITS.pullShare) {
    tips.push(`the image pull is ${Math.round((pull.criticalMs / w.totalMs) * 100)}% of the start (${fmtMs(pull.criticalMs)} of ${fmtMs(w.totalMs)}): a smaller image or a warm cache is the biggest win`);
  }
  if (Number(d.unpackMs ?? 0) > TIP_LIMITS.slowPhaseMs && Number(d.unpackMs) > Number(d.downloadMs ?? 0)) {
    tips.push(`unpacking (${fmtMs(Number(d.unpackMs))}) took longer than downloading: the image has many small files; remove caches, docs and package-manager state from the image`);
  }
  const sched = w.rows.find((r) => r.phase === 'scheduling');
  if (sched && sched.criticalMs > TIP_LIMITS.slowPhaseMs) tips.push(`the task waited ${fmtMs(sched.criticalMs)} before its first step: the server was busy starting other tasks`);
  const net = w.rows.find((r) => r.phase === 'network');
  if (net && net.criticalMs > TIP_LIMITS.slowPhaseMs) tips.push(`network setup added ${fmtMs(net.criticalMs)}: check the host's load and the number of tasks on the subnet bridge`);
  for (const r of w.rows.filter((x) => x.phase.startsWith('container-create:') || x.phase.startsWith('container-start:'))) {
    if (r.durationMs > TIP_LIMITS.slowPhaseMs) tips.push(`${r.phase} took ${fmtMs(r.durationMs)}: a slow runtime step; check host load and the size of the container's mounts`);
  }
  for (const h of healthChecks) {
    if ((h.startPeriodSec ?? 0) > TIP_LIMITS.startPeriodSec) {
      tips.push(`container ${h.container} has a health check startPeriod of ${h.startPeriodSec} s: it is not counted healthy for that long; set it near the app's real start time`);
    }
  }
  if (tips.length === 0 && w.totalMs !== undefined) tips.push(`no slow phase stands out: the task started in ${fmtMs(w.totalMs)}`);
  return tips;
}
