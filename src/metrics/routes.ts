/**
 * HTTP routes of the metrics module:
 *
 *   GET /metrics                Prometheus text format; SigV4-signed (skiff:GetMetrics)
 *                               or `Authorization: Bearer <SKIFF_METRICS_TOKEN>` (see config/sections.ts)
 *   GET /skiff/v1/task-usage    cumulative CPU, memory, network and storage of every RUNNING task now (for `skiff top`)
 *   GET /skiff/v1/pulls         image pulls in flight with bytes downloaded (for the CLI's progress bars)
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, ErrorCode } from '../api/errors.ts';
import { sendError } from '../api/http-server.ts';
import type { TaskRecord } from '../model/task-record.ts';
import { taskLabels, type PlatformMetrics } from './platform-metrics.ts';
import type { TaskResourceReader, TaskResources } from './task-resources.ts';
import type { InstrumentedImageStore } from './observers.ts';
import type { MetricsSettings } from '../config/sections.ts';

export interface MetricsRouteDeps {
  metrics: PlatformMetrics;
  reader: TaskResourceReader;
  images: InstrumentedImageStore;
  /** Every task that is not STOPPED. */
  unfinished: () => TaskRecord[];
  settings: MetricsSettings;
}

export const METRICS_PATH = '/metrics';

const isMetricsRequest = (req: FastifyRequest) => (req.method === 'GET' || req.method === 'HEAD') && (req.raw.url ?? '').split('?')[0] === METRICS_PATH;

/**
 * The bearer-token door to /metrics, registered before the SigV4 guard: a
 * request carrying `Authorization: Bearer ...` is answered here (and never
 * reaches the guard); every other request goes on to the guard as usual.
 */
export function metricsBearerHook(app: FastifyInstance, deps: MetricsRouteDeps): void {
  const expected = deps.settings.bearerToken ? Buffer.from(deps.settings.bearerToken) : undefined;
  app.addHook('onRequest', async (req, reply) => {
    if (!isMetricsRequest(req)) return;
    const auth = req.headers.authorization;
    if (typeof auth !== 'string' || !/^bearer /i.test(auth)) return;
    const given = Buffer.from(auth.slice(7).trim());
    if (!expected) {
      return sendError(reply, new ApiError(ErrorCode.UnrecognizedClientException, 'This server has no metrics token: start it with SKIFF_METRICS_TOKEN (or SKIFF_METRICS_TOKEN_FILE) to let scrapers use a bearer token, or sign the request with SigV4.', { status: 403 }));
    }
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return sendError(reply, new ApiError(ErrorCode.UnrecognizedClientException, 'The bearer token is not the metrics token this server was started with (SKIFF_METRICS_TOKEN).', { status: 403 }));
    }
    return sendMetrics(reply, deps);
  });
}

/** Scrapes of one server run one after another (they reset and refill the same series). */
const scrapes = new WeakMap<MetricsRouteDeps, Promise<unknown>>();

async function sendMetrics(reply: FastifyReply, deps: MetricsRouteDeps): Promise<FastifyReply> {
  const run = (scrapes.get(deps) ?? Promise.resolve()).then(async () => {
    const unfinished = deps.unfinished();
    const resources = await deps.reader.read(unfinished.filter((t) => t.lastStatus === 'RUNNING'));
    deps.metrics.setTasks(unfinished, resources);
    return deps.metrics.text();
  });
  scrapes.set(deps, run.catch(() => undefined));
  const text = await run;
  return reply.code(200).header('content-type', deps.metrics.contentType).send(text);
}

export interface TaskUsage {
  taskId: string;
  taskArn: string;
  cluster: string;
  family: string;
  revision: number;
  service: string;
  cpuLimitVcpus: number;
  memoryLimitBytes: number;
  cpuSeconds?: number;
  memoryWorkingSetBytes?: number;
  network?: { rxBytes: number; txBytes: number };
  storageWritableBytes?: number;
  containers: { name: string; cpuSeconds?: number; memoryWorkingSetBytes?: number; storageWritableBytes?: number }[];
}

export function taskUsageView(r: TaskResources): TaskUsage {
  const t = r.task;
  const stored = r.containers.map((c) => c.writableLayerBytes).filter((b): b is number => b !== undefined);
  return {
    taskId: t.id,
    taskArn: t.arn,
    cluster: t.clusterName,
    family: t.family,
    revision: t.revision,
    service: taskLabels(t).service,
    cpuLimitVcpus: t.cpu / 1024,
    memoryLimitBytes: t.memory * 1024 * 1024,
    cpuSeconds: r.usage ? r.usage.cpuUsageUs / 1e6 : undefined,
    memoryWorkingSetBytes: r.usage?.workingSetBytes,
    network: r.network ? { rxBytes: r.network.rxBytes, txBytes: r.network.txBytes } : undefined,
    storageWritableBytes: stored.length ? stored.reduce((a, b) => a + b, 0) : undefined,
    containers: r.containers.map((c) => ({
      name: c.name,
      cpuSeconds: c.usage ? c.usage.cpuUsageUs / 1e6 : undefined,
      memoryWorkingSetBytes: c.usage?.workingSetBytes,
      storageWritableBytes: c.writableLayerBytes,
    })),
  };
}

export function metricsRoutes(app: FastifyInstance, deps: MetricsRouteDeps): void {
  // Reached only with a valid SigV4 signature (the guard ran); bearer requests were answered by metricsBearerHook.
  app.get(METRICS_PATH, async (_req, reply) => sendMetrics(reply, deps));

  app.get<{ Querystring: { cluster?: string } }>('/skiff/v1/task-usage', async (req) => {
    const running = deps.unfinished().filter((t) => t.lastStatus === 'RUNNING' && (!req.query.cluster || t.clusterName === req.query.cluster));
    const resources = await deps.reader.read(running);
    return { timestamp: Date.now(), tasks: resources.map(taskUsageView) };
  });

  app.get('/skiff/v1/pulls', async () => ({ pulls: deps.images.inFlight() }));
}
