/**
 * Skiff's metering and insight endpoints: prices, usage, cost reports,
 * right-sizing and cold-start breakdowns. Read-only; every answer is computed
 * from stored facts (task records, stats samples) at request time.
 *
 *   GET /skiff/v1/prices
 *   GET /skiff/v1/usage?from=&to=&cluster=
 *   GET /skiff/v1/costs?from=&to=&groupBy=cluster|service|family|tag:KEY|capacityProvider|day|architecture|task|none&cluster=
 *   GET /skiff/v1/rightsize?family=F | service=S [&cluster=&windowHours=]
 *   GET /skiff/v1/tasks/:taskId/coldstart
 *   GET /skiff/v1/coldstart?family=F[&limit=N&cluster=]
 *   GET /skiff/v1/tasks/:taskId/stats
 *
 * Times (`from`, `to`) are ISO 8601 (`2025-06-01`, `2025-06-01T12:00:00Z`),
 * `now`, or a duration ago (`30m`, `24h`, `7d`). `from` defaults to the start of
 * the current UTC month; `to` to now.
 */
import type { FastifyInstance } from 'fastify';
import type { TaskDefinition } from '@aws-sdk/client-ecs';
import { ApiError, ErrorCode, invalidParameter } from '../api/errors.ts';
import { sendError } from '../api/http-server.ts';
import type { TaskRecord } from '../model/task-record.ts';
import { ratesFor, type PriceBook } from '../metering/pricing.ts';
import { costReport, isGroupBy, usageCost, usageOf, utcMonthBounds, GROUP_BY, type GroupBy } from '../metering/usage.ts';
import { recommendSize } from '../advisor/rightsize.ts';
import { coldStartTips, summarise, waterfall, type HealthCheckFacts, type ImageFacts } from '../advisor/coldstart.ts';
import { BlobCache } from '../images/blob-cache.ts';
import type { Repos } from '../store/repos.ts';
import type { Clock } from '../util/clock.ts';

export interface CostRouteDeps extends Pick<Repos, 'tasks' | 'tags' | 'taskDefinitions' | 'metering'> {
  clock: Clock;
}

export interface CostRoutesOptions {
  prices: PriceBook;
  /** Where the price table came from (a file path, or 'defaults'). */
  pricesSource: string;
  /** Root of the local image store (for image facts: layer sizes from cached manifests). */
  imagesRoot: string;
}

const DURATION = /^(\d+)(m|h|d)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Parses a `from`/`to` query value; undefined when absent. */
export function parseTime(v: string | undefined, name: string, now: number): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (v === 'now') return now;
  const d = DURATION.exec(v);
  if (d) return now - Number(d[1]) * UNIT_MS[d[2] as keyof typeof UNIT_MS];
  if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
    const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
    if (Number.isFinite(ms)) return ms;
  }
  throw invalidParameter(`${name} '${v}' is not a time: use an ISO date or time (2025-06-01, 2025-06-01T12:00:00Z), 'now', or a duration ago (30m, 24h, 7d).`);
}

function intParam(v: string | undefined, name: string, min: number, max: number, dflt: number): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw invalidParameter(`${name} must be a whole number from ${min} to ${max} (got ${v}).`);
  return n;
}

export function costRoutes(app: FastifyInstance, deps: CostRouteDeps, opts: CostRoutesOptions): void {
  const metering = deps.metering;
  const blobs = new BlobCache(opts.imagesRoot);
  const book = opts.prices;

  const handle =
    <Q>(fn: (q: Q, params: Record<string, string>) => unknown | Promise<unknown>) =>
    async (req: { query: unknown; params: unknown }, reply: Parameters<typeof sendError>[0]) => {
      try {
        return await fn(req.query as Q, req.params as Record<string, string>);
      } catch (err) {
        return sendError(reply, err);
      }
    };

  const range = (q: { from?: string; to?: string }) => {
    const now = deps.clock.now();
    const from = parseTime(q.from, 'from', now) ?? utcMonthBounds(now).start;
    const to = parseTime(q.to, 'to', now);
    if (to !== undefined && to <= from) throw invalidParameter(`to (${new Date(to).toISOString()}) must be after from (${new Date(from).toISOString()}).`);
    return { now, from, to };
  };

  const taskOr404 = (id: string): TaskRecord => {
    const t = deps.tasks.get(id.split('/').pop()!);
    if (!t) throw new ApiError(ErrorCode.ResourceNotFoundException, `Task ${id} not found.`);
    return t;
  };

  app.get('/skiff/v1/prices', async () => ({ prices: book, source: opts.pricesSource }));

  app.get<{ Querystring: { from?: string; to?: string; cluster?: string } }>(
    '/skiff/v1/usage',
    handle<{ from?: string; to?: string; cluster?: string }>((q) => {
      const { now, from, to } = range(q);
      const usage = metering
        .tasksOverlapping(from, to, q.cluster)
        .map((t) => usageOf(t, now))
        .filter((u) => u !== undefined)
        .filter((u) => u.endMs > from && (to === undefined || u.startMs < to))
        .map((u) => ({ ...u, cost: usageCost(u, book) }));
      return { from: new Date(from).toISOString(), to: new Date(to ?? now).toISOString(), usage };
    }),
  );

  app.get<{ Querystring: { from?: string; to?: string; groupBy?: string; cluster?: string } }>(
    '/skiff/v1/costs',
    handle<{ from?: string; to?: string; groupBy?: string; cluster?: string }>((q) => {
      const groupBy = q.groupBy ?? 'family';
      if (!isGroupBy(groupBy)) throw invalidParameter(`groupBy '${groupBy}' is not known: use one of ${GROUP_BY.join(', ')} or tag:KEY.`);
      const { now, from, to } = range(q);
      const monthStart = utcMonthBounds(now).start;
      const usages = metering
        .tasksOverlapping(Math.min(from, monthStart), to === undefined ? undefined : Math.max(to, now), q.cluster)
        .map((t) => usageOf(t, now))
        .filter((u) => u !== undefined);
      const report = costReport(usages, { from, to, groupBy: groupBy as GroupBy, now }, book, (arn) => deps.tags.list(arn));
      return { ...report, ...(q.cluster ? { cluster: q.cluster } : {}), prices: { region: book.region, spotDiscount: book.spotDiscount, source: opts.pricesSource } };
    }),
  );

  app.get<{ Querystring: { family?: string; service?: string; cluster?: string; windowHours?: string; minSamples?: string } }>(
    '/skiff/v1/rightsize',
    handle<{ family?: string; service?: string; cluster?: string; windowHours?: string; minSamples?: string }>((q) => {
      if (q.family && q.service) throw invalidParameter('Give family or service, not both.');
      const windowHours = intParam(q.windowHours, 'windowHours', 1, 24 * 90, 24 * 14);
      const minSamples = intParam(q.minSamples, 'minSamples', 1, 100_000, 12);
      const since = deps.clock.now() - windowHours * 3_600_000;
      const scopes: { kind: 'family' | 'service'; name: string }[] = q.service
        ? [{ kind: 'service', name: q.service }]
        : q.family
          ? [{ kind: 'family', name: q.family }]
          : metering.sampledFamilies(since, q.cluster).map((name) => ({ kind: 'family' as const, name }));
      const results = scopes.map((s) => {
        const samples = metering.samples({ since, cluster: q.cluster, ...(s.kind === 'family' ? { family: s.name } : { group: `service:${s.name}` }) });
        const latest = samples.at(-1);
        const latestTask = latest ? deps.tasks.get(latest.taskId) : undefined;
        const current = latest
          ? { cpu: latest.cpuUnits, memory: latest.memoryMiB }
          : sizeOf(metering.latestTask(s.kind === 'family' ? { family: s.name } : { group: `service:${s.name}` }, q.cluster));
        const base = { [s.kind]: s.name, tasks: new Set(samples.map((x) => x.taskId)).size, windowHours };
        if (!current) {
          return { ...base, recommendation: { status: 'insufficient-data', message: `no task of ${s.kind} ${s.name} has run: nothing measured`, samples: { cpu: 0, memory: 0, needed: minSamples }, notes: [] } };
        }
        const arch = latestTask?.cpuArchitecture ?? 'X86_64';
        const provider = latestTask?.capacityProviderName ?? 'FARGATE';
        return {
          ...base,
          cpuArchitecture: arch,
          capacityProvider: provider,
          recommendation: recommendSize({
            current,
            cpuVcpus: samples.filter((x) => x.cpuVcpus !== undefined).map((x) => x.cpuVcpus!),
            memoryBytes: samples.map((x) => x.memoryBytes),
            prices: ratesFor(book, arch, provider),
            ephemeralStorageGiB: latestTask?.ephemeralStorageGiB,
            minSamples,
          }),
        };
      });
      return { windowHours, results };
    }),
  );

  /** Facts about the images of a task, from manifests in the local image cache. */
  async function imageFacts(t: TaskRecord): Promise<ImageFacts[]> {
    const out: ImageFacts[] = [];
    const seen = new Set<string>();
    for (const c of t.containers) {
      if (!c.imageDigest || seen.has(c.imageDigest)) continue;
      seen.add(c.imageDigest);
      try {
        const bytes = await blobs.read(c.imageDigest, 4 * 1024 * 1024);
        if (!bytes) continue;
        const m = JSON.parse(bytes.toString('utf8')) as { layers?: { size?: unknown }[] };
        if (!Array.isArray(m.layers)) continue;
        out.push({ reference: c.image, layerSizes: m.layers.map((l) => (typeof l.size === 'number' ? l.size : 0)) });
      } catch {
        /* an image no longer cached (or unreadable) gives no facts */
      }
    }
    return out;
  }

  function healthChecksOf(t: TaskRecord): HealthCheckFacts[] {
    const def = deps.taskDefinitions.get(t.family, t.revision) as TaskDefinition | undefined;
    return (def?.containerDefinitions ?? [])
      .filter((c) => c.healthCheck)
      .map((c) => ({ container: c.name!, startPeriodSec: c.healthCheck!.startPeriod, intervalSec: c.healthCheck!.interval, retries: c.healthCheck!.retries }));
  }

  app.get<{ Params: { taskId: string } }>(
    '/skiff/v1/tasks/:taskId/coldstart',
    handle(async (_q, p) => {
      const t = taskOr404(p.taskId);
      const hcs = healthChecksOf(t);
      const w = waterfall(t, hcs);
      const images = await imageFacts(t);
      return { waterfall: w, images, tips: coldStartTips(w, images, hcs) };
    }),
  );

  app.get<{ Querystring: { family?: string; limit?: string; cluster?: string } }>(
    '/skiff/v1/coldstart',
    handle<{ family?: string; limit?: string; cluster?: string }>(async (q) => {
      if (!q.family) throw invalidParameter('family is required: GET /skiff/v1/coldstart?family=NAME (or /skiff/v1/tasks/ID/coldstart for one task).');
      const limit = intParam(q.limit, 'limit', 1, 1000, 20);
      const starts = metering.recentStarts(q.family, limit, q.cluster);
      const falls = starts.map((t) => waterfall(t, healthChecksOf(t)));
      const latest = starts[0];
      const images = latest ? await imageFacts(latest) : [];
      const tips = latest ? coldStartTips(falls[0], images, healthChecksOf(latest)) : [];
      const summary = summarise(q.family, falls);
      if (summary.uncachedStarts > 0 && latest && !tips.some((x) => /not cached/.test(x))) {
        tips.push(`${summary.uncachedStarts} of ${summary.starts} recent start(s) downloaded layers not cached on this host: pre-pull the image before scaling out`);
      }
      const pull = falls[0]?.rows.find((r) => r.phase === 'image-pull')?.detail;
      return {
        summary,
        latest: falls[0] ?? null,
        image: pull ? { sizeBytes: Number(pull.sizeBytes ?? 0), layers: Number(pull.layers ?? 0) } : null,
        images,
        tips,
      };
    }),
  );

  app.get<{ Params: { taskId: string }; Querystring: { since?: string } }>(
    '/skiff/v1/tasks/:taskId/stats',
    handle<{ since?: string }>((q, p) => {
      const t = taskOr404(p.taskId);
      const since = parseTime(q.since, 'since', deps.clock.now()) ?? 0;
      return { taskId: t.id, samples: metering.samples({ taskId: t.id, since }) };
    }),
  );
}

const sizeOf = (t: TaskRecord | undefined) => (t ? { cpu: t.cpu, memory: t.memory } : undefined);
