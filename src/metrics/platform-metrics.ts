/**
 * Skiff's Prometheus metrics (prom-client): what the platform does (task starts
 * and their latency, stops, image pulls and cache hits, API requests) and what
 * each running task and container uses (CPU, memory, network, storage).
 *
 * Platform counters are fed by small observers wired in `server.ts`:
 * `observeTask` on every stored task update (ObservedTasksRepo),
 * `observePull` around every image pull (InstrumentedImageStore),
 * `observeRequest` once per HTTP response (http-server's onRequestDone).
 * Per-task series are read fresh from the host at each scrape (`render`), so a
 * stopped task's series disappear with it.
 *
 * Names follow Prometheus conventions: base units (seconds, bytes), `_total`
 * for counters. Labels of task series: task_id, cluster, family, service (the
 * service name for service tasks, else empty); container series add container.
 */
import { TASK_STATUS_ORDER, isTerminal } from '../model/task-status.ts';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { TaskRecord, TaskStatusName } from '../model/task-record.ts';
import type { TaskResources } from './task-resources.ts';

export const ACTIVE_STATES: TaskStatusName[] = TASK_STATUS_ORDER.filter((s) => !isTerminal(s));

const TASK_LABELS = ['task_id', 'cluster', 'family', 'service'] as const;
const CONTAINER_LABELS = [...TASK_LABELS, 'container'] as const;

export interface RequestObservation {
  /** The ECS/Secrets Manager operation (`RunTask`) or the route (`GET /skiff/v1/tasks/:taskId`). */
  operation: string;
  /** The AWS error type of a failed request (`ClusterNotFoundException`), else undefined. */
  errorType?: string;
  status: number;
  seconds: number;
}

export interface PullObservation {
  outcome: 'success' | 'error';
  /** Every layer was already on the host: nothing downloaded. */
  cacheHit: boolean;
  downloadedBytes: number;
  seconds: number;
}

export function taskLabels(t: TaskRecord): Record<(typeof TASK_LABELS)[number], string> {
  return { task_id: t.id, cluster: t.clusterName, family: t.family, service: t.group?.startsWith('service:') ? t.group.slice(8) : '' };
}

export class PlatformMetrics {
  readonly registry = new Registry();
  /** Tasks seen by observeTask: id → last status (bounded by forgetting STOPPED ones). */
  private readonly lastSeen = new Map<string, TaskStatusName>();

  private readonly tasksByState: Gauge;
  private readonly starts: Counter;
  private readonly startLatency: Histogram;
  private readonly stops: Counter;
  private readonly pulls: Counter;
  private readonly cacheHits: Counter;
  private readonly pullBytes: Counter;
  private readonly pullSeconds: Histogram;
  private readonly requests: Counter;
  private readonly requestSeconds: Histogram;
  private readonly task: Record<string, Gauge | Counter>;
  private readonly container: Record<string, Gauge | Counter>;

  /** `since`: epoch ms; transitions with timestamps before it (tasks adopted after a restart) are not counted again. */
  constructor(private readonly since: number = Date.now()) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'skiff_server_' });
    this.tasksByState = new Gauge({ name: 'skiff_tasks', help: 'Tasks on this host that are not STOPPED, by cluster and lastStatus.', labelNames: ['cluster', 'state'], registers });
    this.starts = new Counter({ name: 'skiff_task_starts_total', help: 'Task starts since the server started: outcome started (reached RUNNING) or failed (TaskFailedToStart).', labelNames: ['outcome'], registers });
    this.startLatency = new Histogram({
      name: 'skiff_task_start_latency_seconds',
      help: 'createdAt to startedAt of tasks that reached RUNNING.',
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.stops = new Counter({ name: 'skiff_task_stops_total', help: 'Tasks that reached STOPPED, by stop code.', labelNames: ['stop_code'], registers });
    this.pulls = new Counter({ name: 'skiff_image_pulls_total', help: 'Image pulls (one per image per task start), by outcome.', labelNames: ['outcome'], registers });
    this.cacheHits = new Counter({ name: 'skiff_image_cache_hits_total', help: 'Successful image pulls served entirely from the host cache (nothing downloaded).', registers });
    this.pullBytes = new Counter({ name: 'skiff_image_pull_downloaded_bytes_total', help: 'Bytes downloaded from registries by image pulls.', registers });
    this.pullSeconds = new Histogram({ name: 'skiff_image_pull_duration_seconds', help: 'Duration of image pulls.', buckets: [0.005, 0.025, 0.1, 0.25, 1, 2.5, 10, 30, 120], labelNames: ['outcome'], registers });
    this.requests = new Counter({ name: 'skiff_api_requests_total', help: 'API requests by operation and error type ("" when it succeeded).', labelNames: ['operation', 'error_type'], registers });
    this.requestSeconds = new Histogram({ name: 'skiff_api_request_duration_seconds', help: 'API request duration by operation.', labelNames: ['operation'], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5], registers });

    const g = (name: string, help: string, labelNames: readonly string[]) => new Gauge({ name, help, labelNames: [...labelNames], registers });
    const c = (name: string, help: string, labelNames: readonly string[]) => new Counter({ name, help, labelNames: [...labelNames], registers });
    this.task = {
      cpu: c('skiff_task_cpu_seconds_total', 'CPU time used by all containers of the task (cgroup cpuacct).', TASK_LABELS),
      cpuLimit: g('skiff_task_cpu_limit_vcpus', 'The task size in vCPUs (cpu units / 1024).', TASK_LABELS),
      mem: g('skiff_task_memory_working_set_bytes', 'Memory in use (usage minus inactive file cache), all containers of the task.', TASK_LABELS),
      rss: g('skiff_task_memory_rss_bytes', 'Anonymous memory (RSS) of the task.', TASK_LABELS),
      memLimit: g('skiff_task_memory_limit_bytes', 'The task size in bytes of memory.', TASK_LABELS),
      rxBytes: c('skiff_task_network_receive_bytes_total', "Bytes received on the task's interfaces (its network namespace, loopback excluded).", TASK_LABELS),
      txBytes: c('skiff_task_network_transmit_bytes_total', "Bytes sent on the task's interfaces (loopback excluded).", TASK_LABELS),
      rxPackets: c('skiff_task_network_receive_packets_total', 'Packets received (loopback excluded).', TASK_LABELS),
      txPackets: c('skiff_task_network_transmit_packets_total', 'Packets sent (loopback excluded).', TASK_LABELS),
      rxErrors: c('skiff_task_network_receive_errors_total', 'Receive errors (loopback excluded).', TASK_LABELS),
      txErrors: c('skiff_task_network_transmit_errors_total', 'Transmit errors (loopback excluded).', TASK_LABELS),
      storage: g('skiff_task_storage_writable_bytes', "Disk used by the task's writable layers (all containers).", TASK_LABELS),
      storageLimit: g('skiff_task_storage_limit_bytes', 'The task\'s ephemeral storage size in bytes.', TASK_LABELS),
    };
    this.container = {
      cpu: c('skiff_container_cpu_seconds_total', 'CPU time used by the container.', CONTAINER_LABELS),
      mem: g('skiff_container_memory_working_set_bytes', 'Memory in use by the container (usage minus inactive file cache).', CONTAINER_LABELS),
      rss: g('skiff_container_memory_rss_bytes', 'Anonymous memory (RSS) of the container.', CONTAINER_LABELS),
      storage: g('skiff_container_storage_writable_bytes', "Disk used by the container's writable layer.", CONTAINER_LABELS),
    };
  }

  /** Called with a task's record after every stored change. */
  observeTask = (t: TaskRecord): void => {
    const before = this.lastSeen.get(t.id);
    if (before === t.lastStatus) return;
    if (t.lastStatus === 'STOPPED') this.lastSeen.delete(t.id);
    else this.lastSeen.set(t.id, t.lastStatus);
    if (t.lastStatus === 'RUNNING' && t.startedAt !== undefined && t.startedAt >= this.since) {
      this.starts.inc({ outcome: 'started' });
      this.startLatency.observe(Math.max(0, (t.startedAt - t.createdAt) / 1000));
    }
    if (t.lastStatus === 'STOPPED' && (t.stoppedAt ?? t.executionStoppedAt ?? Infinity) >= this.since) {
      this.stops.inc({ stop_code: t.stopCode ?? '' });
      if (t.stopCode === 'TaskFailedToStart') this.starts.inc({ outcome: 'failed' });
    }
  };

  observePull = (p: PullObservation): void => {
    this.pulls.inc({ outcome: p.outcome });
    this.pullSeconds.observe({ outcome: p.outcome }, p.seconds);
    if (p.outcome === 'success' && p.cacheHit) this.cacheHits.inc();
    if (p.downloadedBytes > 0) this.pullBytes.inc(p.downloadedBytes);
  };

  observeRequest = (r: RequestObservation): void => {
    this.requests.inc({ operation: r.operation, error_type: r.errorType ?? '' });
    this.requestSeconds.observe({ operation: r.operation }, r.seconds);
  };

  /** Replaces the per-task series and the task-state gauge with what was just read. */
  setTasks(unfinished: TaskRecord[], resources: TaskResources[]): void {
    this.tasksByState.reset();
    const clusters = new Set(['default', ...unfinished.map((t) => t.clusterName)]);
    for (const cluster of clusters) for (const state of ACTIVE_STATES) this.tasksByState.set({ cluster, state }, 0);
    for (const t of unfinished) this.tasksByState.inc({ cluster: t.clusterName, state: t.lastStatus });

    for (const m of [...Object.values(this.task), ...Object.values(this.container)]) m.reset();
    const set = (m: Gauge | Counter, labels: Record<string, string>, v: number | undefined) => {
      if (v === undefined || !Number.isFinite(v)) return;
      if (m instanceof Counter) m.inc(labels, v);
      else m.set(labels, v);
    };
    for (const r of resources) {
      const l = taskLabels(r.task);
      set(this.task.cpuLimit, l, r.task.cpu / 1024);
      set(this.task.memLimit, l, r.task.memory * 1024 * 1024);
      set(this.task.storageLimit, l, r.task.ephemeralStorageGiB * 1024 ** 3);
      if (r.usage) {
        set(this.task.cpu, l, r.usage.cpuUsageUs / 1e6);
        set(this.task.mem, l, r.usage.workingSetBytes);
        set(this.task.rss, l, r.usage.rssBytes);
      }
      if (r.network) {
        set(this.task.rxBytes, l, r.network.rxBytes);
        set(this.task.txBytes, l, r.network.txBytes);
        set(this.task.rxPackets, l, r.network.rxPackets);
        set(this.task.txPackets, l, r.network.txPackets);
        set(this.task.rxErrors, l, r.network.rxErrors);
        set(this.task.txErrors, l, r.network.txErrors);
      }
      const stored = r.containers.map((c) => c.writableLayerBytes).filter((b): b is number => b !== undefined);
      if (stored.length) set(this.task.storage, l, stored.reduce((a, b) => a + b, 0));
      for (const c of r.containers) {
        const cl = { ...l, container: c.name };
        if (c.usage) {
          set(this.container.cpu, cl, c.usage.cpuUsageUs / 1e6);
          set(this.container.mem, cl, c.usage.workingSetBytes);
          set(this.container.rss, cl, c.usage.rssBytes);
        }
        set(this.container.storage, cl, c.writableLayerBytes);
      }
    }
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
