/**
 * Skiff's load balancers: one HTTP listener (http-proxy.ts) per `loadBalancers`
 * entry of every live service, kept in step with the store.
 *
 * It holds no state of its own that matters across a restart: every `sync()`
 * (on start, every `syncIntervalMs`, and before each drain) reads the services
 * and their tasks from the store, binds listeners that are missing, registers
 * tasks that became targets (targets.ts) and drains those that stopped being
 * one. So a restarted server rebuilds each listener, on the port stored with
 * the service, with the running healthy tasks as targets.
 *
 * The service scheduler calls `drain(serviceId, taskId)` after it has stored
 * a task as desired STOPPED and stops the task only when that resolves: the
 * task receives no new requests from then on, and keeps running for the
 * service's deregistration delay.
 */
import type { TaskRecord } from '../model/task-record.ts';
import { HttpListener, type TargetEvent, type TargetView } from './http-proxy.ts';
import { targetsOf } from './targets.ts';
import { taskHealth } from '../model/task-health.ts';
import {
  loadBalancerView,
  type ServiceLoadBalancer,
  type TargetHealthCheck,
  type TaskTargetHealth,
} from '../model/load-balancer.ts';
import type { HealthTrack } from './target-health.ts';
import type { LoadBalancerSettings } from '../config/sections.ts';

/** What the load balancers read from the store about one live service with loadBalancers. */
export interface LoadBalancedService {
  id: string;
  name: string;
  arn: string;
  loadBalancers: ServiceLoadBalancer[];
  /** From the service's tag; undefined: the server default. */
  deregistrationDelaySeconds?: number;
  /** The HTTP target health check its tags configure (undefined: none, targets are healthy on registration). */
  healthCheck?: TargetHealthCheck;
  /** Its tasks not yet STOPPED. */
  tasks: TaskRecord[];
}

export interface LoadBalancerSource {
  /** Every live (ACTIVE or DRAINING) service that has loadBalancers. */
  services(): LoadBalancedService[];
  /** Adds events to a service, as ECS reports target (de)registration (best effort). */
  addEvents?(serviceId: string, messages: string[]): void;
}

export type { LoadBalancerSettings };

export interface ListenerView {
  serviceArn: string;
  serviceName: string;
  targetGroupArn?: string;
  loadBalancerName?: string;
  containerName: string;
  containerPort: number;
  /** host:port clients connect to. */
  listener: string;
  /** The listener as a URL (http://host:port). */
  url: string;
  /** Whether the port is bound (false: binding failed, retried every sync; see `error`). */
  listening: boolean;
  error?: string;
  deregistrationDelaySeconds: number;
  /**
   * Its targets (in service or draining), then the service's other RUNNING
   * tasks it sends nothing to yet (state `out-of-service`), each with its
   * health in the words of ELB DescribeTargetHealth: `healthy` (in service),
   * `draining`, `initial` (health check not passed yet), `unhealthy`.
   */
  targets: ListenerTargetView[];
}

export type { TaskTargetHealth };

export function targetGroupOf(lb: Pick<ServiceLoadBalancer, 'targetGroupArn' | 'loadBalancerName'>): string {
  return lb.targetGroupArn ? `(target-group ${lb.targetGroupArn})` : `(load-balancer ${lb.loadBalancerName})`;
}

export type TargetHealthState = 'healthy' | 'draining' | 'initial' | 'unhealthy';
export interface ListenerTargetView extends Omit<TargetView, 'state' | 'health'> {
  state: TargetView['state'] | 'out-of-service';
  health: TargetHealthState;
}

/** What the ECS API handlers may ask of the load balancers. */
export interface LoadBalancerDirectory {
  /** A free port for a new listener (`port`: check that one is free). Rejects with a message when it is not. */
  reservePort(port?: number): Promise<number>;
  /** `host:port` of a listener. */
  listenerAddress(port: number): string;
  /** Brings targets in step with the store now. */
  wake(): void;
  /**
   * Takes a task (already stored as desired STOPPED) out of every listener of
   * its service; resolves when it may be stopped: after the deregistration
   * delay, at once if it was no target.
   */
  drain(serviceId: string, taskId: string): Promise<void>;
}

interface Entry {
  key: string;
  port: number;
  listener: HttpListener;
  bound: boolean;
  binding: boolean;
  error?: string;
  service: LoadBalancedService;
  index: number;
}

export class LoadBalancers implements LoadBalancerDirectory {
  private readonly entries = new Map<string, Entry>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Target events not yet reported, per service then message key → count. */
  private pendingEvents = new Map<string, Map<string, { count: number; message: (n: number) => string }>>();

  constructor(
    private readonly source: LoadBalancerSource,
    private readonly settings: LoadBalancerSettings,
    private readonly log: (msg: string) => void,
  ) {}

  start(): void {
    this.sync();
    this.timer = setInterval(() => this.sync(), this.settings.syncIntervalMs);
  }

  wake(): void {
    if (!this.closed) this.sync();
  }

  listenerAddress(port: number): string {
    const h = this.settings.host;
    return `${h.includes(':') ? `[${h}]` : h}:${port}`;
  }

  async reservePort(port?: number): Promise<number> {
    if (port !== undefined && [...this.entries.values()].some((e) => e.port === port)) {
      throw new Error(`port ${port} is already the listener of another service`);
    }
    const probe = new HttpListener({ host: this.settings.host, port: port ?? 0 });
    try {
      return await probe.listen();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new Error(`port ${port} on ${this.settings.host} cannot be bound (${code ?? (err as Error).message})`);
    } finally {
      await probe.close();
    }
  }

  private delayMs(s: LoadBalancedService): number {
    return (s.deregistrationDelaySeconds ?? this.settings.deregistrationDelaySeconds) * 1000;
  }

  /** One pass: listeners for every entry, targets from the tasks. Listeners of services gone are closed once nothing drains. */
  sync(): void {
    if (this.closed) return;
    let services: LoadBalancedService[];
    try {
      services = this.source.services();
    } catch (err) {
      this.log(`load balancers: reading services failed: ${err instanceof Error ? err.message : err}`);
      return;
    }
    const seen = new Set<string>();
    for (const s of services) {
      s.loadBalancers.forEach((lb, index) => {
        const key = `${s.id}/${index}/${lb.listenerPort}`;
        seen.add(key);
        let e = this.entries.get(key);
        if (!e) {
          const listener = new HttpListener({
            host: this.settings.host,
            port: lb.listenerPort,
            onTargetEvent: (ev) => this.noteEvent(s, lb, ev),
            onHealthChange: (id, h) => this.noteHealth(s, lb, id, h),
          });
          e = { key, port: lb.listenerPort, listener, bound: false, binding: false, service: s, index };
          this.entries.set(key, e);
        }
        e.service = s;
        if (!e.bound && !e.binding) this.bind(e);
        e.listener.setHealthCheck(s.healthCheck);
        e.listener.setTargets(targetsOf(s.tasks, lb.containerPort), this.delayMs(s));
      });
    }
    for (const [key, e] of this.entries) {
      if (seen.has(key)) continue;
      e.listener.setTargets([], this.delayMs(e.service));
      if (!e.listener.draining) {
        this.entries.delete(key);
        void e.listener.close();
      }
    }
  }

  /** ECS's wording: "(service web) registered 1 targets in (target-group arn:...)". */
  private noteEvent(s: LoadBalancedService, lb: ServiceLoadBalancer, ev: TargetEvent): void {
    const where = targetGroupOf(lb);
    const key = ev === 'draining' ? ev : `${ev} ${where}`;
    const message =
      ev === 'draining'
        ? (n: number) => `(service ${s.name}) has begun draining connections on ${n} tasks.`
        : (n: number) => `(service ${s.name}) ${ev} ${n} targets in ${where}`;
    this.queueEvent(s.id, key, message);
  }

  /** ECS's wording: "(service web) (task ID) (port 8080) is unhealthy in (target-group arn:...) due to (reason Health checks failed with these codes: [500])." */
  private noteHealth(s: LoadBalancedService, lb: ServiceLoadBalancer, taskId: string, h: HealthTrack): void {
    if (h.state !== 'unhealthy') return;
    const message = `(service ${s.name}) (task ${taskId}) (port ${lb.containerPort}) is unhealthy in ${targetGroupOf(lb)} due to (reason ${h.description ?? h.reason ?? 'Health checks failed'}).`;
    this.queueEvent(s.id, `unhealthy ${taskId} ${targetGroupOf(lb)}`, () => message);
  }

  private queueEvent(serviceId: string, key: string, message: (n: number) => string): void {
    let forService = this.pendingEvents.get(serviceId);
    if (!forService) this.pendingEvents.set(serviceId, (forService = new Map()));
    const had = this.pendingEvents.size > 1 || forService.size > 0;
    const cur = forService.get(key);
    if (cur) cur.count++;
    else forService.set(key, { count: 1, message });
    if (!had) queueMicrotask(() => this.flushEvents());
  }

  private flushEvents(): void {
    const pending = this.pendingEvents;
    this.pendingEvents = new Map();
    if (!this.source.addEvents) return;
    for (const [serviceId, byKey] of pending) {
      try {
        this.source.addEvents(serviceId, [...byKey.values()].map((v) => v.message(v.count)));
      } catch (err) {
        this.log(`load balancers: recording events failed: ${err instanceof Error ? err.message : err}`);
      }
    }
  }

  private bind(e: Entry): void {
    e.binding = true;
    e.listener.listen().then(
      () => {
        e.binding = false;
        e.bound = true;
        e.error = undefined;
        this.log(`load balancer of service ${e.service.name} listening on ${e.listener.address}`);
        if (this.closed || !this.entries.has(e.key)) void e.listener.close();
      },
      (err: NodeJS.ErrnoException) => {
        e.binding = false;
        const msg = `cannot listen on ${this.listenerAddress(e.port)}: ${err.code ?? err.message}`;
        if (e.error !== msg) this.log(`load balancer of service ${e.service.name}: ${msg} (retrying)`);
        e.error = msg;
      },
    );
  }

  /**
   * Takes the task out of every listener of the service (after a fresh sync,
   * so tasks that just became healthy are in service first) and resolves once
   * its deregistration delay has passed; at once if it was no target.
   */
  async drain(serviceId: string, taskId: string): Promise<void> {
    this.sync();
    const mine = [...this.entries.values()].filter((e) => e.service.id === serviceId);
    await Promise.all(mine.map((e) => e.listener.deregister(taskId, this.delayMs(e.service))));
  }

  /**
   * The target health of the service's tasks, for the scheduler (ECS counts a
   * task healthy only once its target groups do, and replaces one they find
   * unhealthy): undefined when the service has no HTTP health check; else per
   * registered task UNHEALTHY (and where) if any listener finds it unhealthy,
   * HEALTHY if every listener does, else INITIAL. Tasks not listed are not
   * registered (yet).
   */
  targetHealth(serviceId: string): Map<string, TaskTargetHealth> | undefined {
    const mine = [...this.entries.values()].filter((e) => e.service.id === serviceId);
    if (!mine.length || !mine[0].service.healthCheck) return undefined;
    const out = new Map<string, TaskTargetHealth>();
    const seen = new Map<string, number>();
    for (const e of mine) {
      const lb = e.service.loadBalancers[e.index];
      for (const t of e.listener.targetsView()) {
        if (t.state !== 'in-service') continue;
        seen.set(t.id, (seen.get(t.id) ?? 0) + 1);
        const cur = out.get(t.id);
        if (cur?.state === 'UNHEALTHY') continue;
        if (t.health === 'unhealthy') out.set(t.id, { state: 'UNHEALTHY', targetGroup: targetGroupOf(lb) });
        else if (t.health === 'initial' || cur?.state === 'INITIAL') out.set(t.id, { state: 'INITIAL' });
        else out.set(t.id, { state: 'HEALTHY' });
      }
    }
    for (const [id, n] of seen) if (n < mine.length && out.get(id)?.state === 'HEALTHY') out.set(id, { state: 'INITIAL' });
    return out;
  }

  /** Every listener with its targets (GET /skiff/v1/load-balancers). */
  describe(): ListenerView[] {
    return [...this.entries.values()].map((e) => {
      const lb = e.service.loadBalancers[e.index];
      return {
        serviceArn: e.service.arn,
        serviceName: e.service.name,
        ...loadBalancerView(lb),
        listener: this.listenerAddress(e.port),
        url: `http://${this.listenerAddress(e.port)}`,
        listening: e.bound,
        ...(e.error ? { error: e.error } : {}),
        deregistrationDelaySeconds: this.delayMs(e.service) / 1000,
        targets: listenerTargets(e.listener.targetsView(), e.service.tasks, lb.containerPort),
      };
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await Promise.all([...this.entries.values()].map((e) => e.listener.close()));
    this.entries.clear();
  }
}

/** A listener's targets with their health, then the service's RUNNING tasks that are no target (yet). */
export function listenerTargets(targets: TargetView[], tasks: TaskRecord[], containerPort: number): ListenerTargetView[] {
  const out: ListenerTargetView[] = targets.map((t) => ({ ...t, health: t.state === 'draining' ? 'draining' : t.health }));
  const listed = new Set(targets.map((t) => t.id));
  for (const t of tasks) {
    if (listed.has(t.id) || t.desiredStatus !== 'RUNNING' || t.lastStatus !== 'RUNNING' || !t.network?.ipv4) continue;
    out.push({
      id: t.id,
      address: `${t.network.ipv4}:${containerPort}`,
      state: 'out-of-service',
      health: taskHealth(t) === 'UNHEALTHY' ? 'unhealthy' : 'initial',
      inFlight: 0,
      requests: 0,
    });
  }
  return out;
}
