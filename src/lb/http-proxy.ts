/**
 * One listener: an HTTP reverse proxy on a host port that spreads requests
 * over its registered targets, as an Application Load Balancer does.
 *
 * Contract:
 * - Every request is routed on its own (round robin over the targets in
 *   service), so a client's keep-alive connection to the listener is never
 *   bound to one target: taking a target out of service is exact, and no
 *   client connection is cut when it goes.
 * - Each target has its own keep-alive connection pool.
 * - A request is retried on another target only when it was never delivered:
 *   the connection to the target failed (refused, unreachable, timed out), or
 *   a pooled keep-alive connection turned out to be closed by the target
 *   before it answered a request without a body (Node's documented reuse race).
 *   A target whose connection failed is skipped for a few seconds (passive
 *   health). No target in service: 503; every attempt failed: 502.
 * - A target silent for the idle timeout (default 60 s, as ALB) gets 504.
 * - `deregister(id, delayMs)` takes the target out of service at once (no new
 *   requests), closes its idle pooled connections, lets in-flight requests
 *   finish, and resolves after the deregistration delay, when the target can
 *   be stopped. Requests still running then are left to the task's own stop.
 * - Upgrade requests (WebSocket) are tunnelled to one target for the life of
 *   the connection, which counts as one request in flight.
 * - With a health check (`setHealthCheck`), each target in service is checked
 *   over HTTP every interval (target-health.ts) and gets requests only while
 *   `healthy`; a new target is `initial` until it passes one check. When every
 *   target in service is unhealthy, requests go to all of them (ALB fails open).
 *   Without one, a target is healthy on registration.
 */
import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TargetAddress } from './targets.ts';
import type { TargetHealthCheck } from '../model/load-balancer.ts';
import { afterCheck, initialHealth, probe, type HealthState, type HealthTrack } from './target-health.ts';

/** Hop-by-hop headers (RFC 9110 §7.6.1), never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
/** A target whose connection failed gets no new requests for this long. */
export const PASSIVE_FAILURE_MS = 5000;
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'EHOSTDOWN']);

export type TargetState = 'in-service' | 'draining';

export interface TargetView {
  id: string;
  address: string;
  state: TargetState;
  /** Its health check's verdict (`healthy` when the listener has no health check). */
  health: HealthState;
  /** Why the last check failed (ELB reason code and description). */
  healthReason?: string;
  healthDescription?: string;
  inFlight: number;
  requests: number;
  /** Draining: when the deregistration delay ends (epoch ms). */
  drainEndsAt?: number;
}

class Target {
  state: TargetState = 'in-service';
  inFlight = 0;
  requests = 0;
  failedUntil = 0;
  drainEndsAt?: number;
  drained?: Promise<void>;
  timer?: NodeJS.Timeout;
  removed = false;
  health: HealthTrack = { state: 'healthy', streak: 0 };
  checkTimer?: NodeJS.Timeout;
  readonly agent = new http.Agent({ keepAlive: true, scheduling: 'lifo' });
  constructor(readonly addr: TargetAddress) {}

  closeIdleConnections(): void {
    for (const list of Object.values(this.agent.freeSockets)) for (const s of list ?? []) s.destroy();
  }
}

export interface ListenerOptions {
  host: string;
  /** 0: the system picks one. */
  port: number;
  connectTimeoutMs?: number;
  /** Client keep-alive idle timeout (ALB: 60 s). */
  idleTimeoutMs?: number;
  now?: () => number;
  /** Told when a target is registered, starts draining, and is deregistered (its delay over). */
  onTargetEvent?: (event: TargetEvent, targetId: string) => void;
  /** Told when a target's health check verdict changes. */
  onHealthChange?: (targetId: string, health: HealthTrack) => void;
}

export type TargetEvent = 'registered' | 'draining' | 'deregistered';

export class HttpListener {
  private readonly server: http.Server;
  private readonly targets = new Map<string, Target>();
  private next = 0;
  private readonly now: () => number;
  private healthCheck: TargetHealthCheck | undefined;
  private closed = false;
  port = 0;

  constructor(private readonly opts: ListenerOptions) {
    this.now = opts.now ?? Date.now;
    this.server = http.createServer((req, res) => this.route(req, res));
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.tunnel(req, socket, head));
    this.server.keepAliveTimeout = opts.idleTimeoutMs ?? 60_000;
  }

  /** Binds the port; rejects (EADDRINUSE, EACCES...) when it cannot. */
  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => reject(err);
      this.server.once('error', fail);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', fail);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  get address(): string {
    return `${this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host}:${this.port}`;
  }

  /** Puts a target in service (no-op if it is there; a draining one finishes draining first). */
  register(addr: TargetAddress): void {
    const t = this.targets.get(addr.id);
    if (t && t.addr.host === addr.host && t.addr.port === addr.port) return;
    if (t && t.state === 'in-service') void this.deregister(addr.id, 0); // moved: should not happen for a task
    if (this.targets.get(addr.id)?.state === 'draining') return;
    const target = new Target(addr);
    this.targets.set(addr.id, target);
    this.opts.onTargetEvent?.('registered', addr.id);
    if (this.healthCheck) {
      target.health = initialHealth();
      this.check(target);
    }
  }

  /** Turns the HTTP health check on, changes it, or (undefined) turns it off: targets are healthy again. */
  setHealthCheck(hc: TargetHealthCheck | undefined): void {
    if (JSON.stringify(hc) === JSON.stringify(this.healthCheck)) return;
    const wasOn = this.healthCheck !== undefined;
    this.healthCheck = hc;
    for (const t of this.targets.values()) {
      clearTimeout(t.checkTimer);
      t.checkTimer = undefined;
      if (t.state !== 'in-service') continue;
      if (!hc) t.health = { state: 'healthy', streak: 0 };
      else {
        if (!wasOn) t.health = initialHealth();
        this.check(t);
      }
    }
  }

  /** Checks the target now, then every interval while it is in service. */
  private check(t: Target): void {
    const hc = this.healthCheck;
    if (!hc || this.closed || t.state !== 'in-service' || this.targets.get(t.addr.id) !== t) return;
    void probe(t.addr.host, t.addr.port, hc).then((r) => {
      if (this.closed || t.state !== 'in-service' || this.healthCheck !== hc) return;
      const before = t.health.state;
      t.health = afterCheck(t.health, r, hc);
      if (t.health.state !== before) this.opts.onHealthChange?.(t.addr.id, t.health);
      t.checkTimer = setTimeout(() => this.check(t), hc.intervalSeconds * 1000);
    });
  }

  /** Takes a target out of service; resolves after `delayMs` (at once if it is not registered). */
  deregister(id: string, delayMs: number): Promise<void> {
    const t = this.targets.get(id);
    if (!t) return Promise.resolve();
    if (t.drained) return t.drained;
    t.state = 'draining';
    clearTimeout(t.checkTimer);
    t.drainEndsAt = this.now() + delayMs;
    t.closeIdleConnections();
    this.opts.onTargetEvent?.('draining', id);
    t.drained = new Promise<void>((resolve) => {
      t.timer = setTimeout(() => {
        t.removed = true;
        if (this.targets.get(id) === t) this.targets.delete(id);
        if (t.inFlight === 0) t.agent.destroy();
        this.opts.onTargetEvent?.('deregistered', id);
        resolve();
      }, delayMs);
    });
    return t.drained;
  }

  /** Makes `wanted` the targets in service: new ones registered, the others deregistered with `delayMs`. */
  setTargets(wanted: TargetAddress[], delayMs: number): void {
    const ids = new Set(wanted.map((w) => w.id));
    for (const [id, t] of this.targets) if (!ids.has(id) && t.state === 'in-service') void this.deregister(id, delayMs);
    for (const w of wanted) this.register(w);
  }

  targetsView(): TargetView[] {
    return [...this.targets.values()].map((t) => ({
      id: t.addr.id,
      address: `${t.addr.host}:${t.addr.port}`,
      state: t.state,
      health: t.health.state,
      ...(t.health.state !== 'healthy' && t.health.reason ? { healthReason: t.health.reason, healthDescription: t.health.description } : {}),
      inFlight: t.inFlight,
      requests: t.requests,
      ...(t.drainEndsAt !== undefined ? { drainEndsAt: t.drainEndsAt } : {}),
    }));
  }

  /** Whether any target is still draining. */
  get draining(): boolean {
    return [...this.targets.values()].some((t) => t.state === 'draining');
  }

  /** Stops listening and drops every connection. Pending drains never resolve (the server is going away). */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.targets.values()) {
      clearTimeout(t.timer);
      clearTimeout(t.checkTimer);
      t.agent.destroy();
    }
    this.targets.clear();
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  /**
   * Round robin over healthy targets in service (all of them when every one is
   * unhealthy: fail open), skipping those that failed recently (unless that leaves none).
   */
  private pick(exclude: Set<string>): Target | undefined {
    const candidates = [...this.targets.values()].filter((t) => t.state === 'in-service' && !exclude.has(t.addr.id));
    const healthy = candidates.filter((t) => t.health.state === 'healthy');
    const inService = healthy.length || !candidates.every((t) => t.health.state === 'unhealthy') ? healthy : candidates;
    if (inService.length === 0) return undefined;
    const now = this.now();
    const ok = inService.filter((t) => t.failedUntil <= now);
    const pool = ok.length ? ok : inService;
    return pool[this.next++ % pool.length];
  }

  /** An upgrade request: a TCP connection to one target carrying the request head, then bytes both ways. */
  private tunnel(req: http.IncomingMessage, client: Duplex, head: Buffer): void {
    const tried = new Set<string>();
    client.on('error', () => client.destroy());
    const attempt = (): void => {
      const t = this.pick(tried);
      if (!t) {
        client.end(`HTTP/1.1 ${tried.size ? '502 Bad Gateway' : '503 Service Unavailable'}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
        return;
      }
      t.inFlight++;
      t.requests++;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        t.inFlight--;
        if (t.removed && t.inFlight === 0) t.agent.destroy();
      };
      let connected = false;
      const up = net.connect({ host: t.addr.host, port: t.addr.port });
      const timer = setTimeout(() => up.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })), this.opts.connectTimeoutMs ?? 5000);
      up.once('connect', () => {
        connected = true;
        clearTimeout(timer);
        const headers = { ...forwardedHeaders(req, this.port), connection: 'Upgrade', upgrade: String(req.headers.upgrade ?? '') };
        const lines = [`${req.method} ${req.url} HTTP/1.1`, ...Object.entries(headers).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}: ${x}`))];
        up.write(lines.join('\r\n') + '\r\n\r\n');
        if (head.length) up.write(head);
        up.pipe(client);
        client.pipe(up);
      });
      up.on('error', () => {
        clearTimeout(timer);
        if (!connected && !client.destroyed) {
          finish();
          t.failedUntil = this.now() + PASSIVE_FAILURE_MS;
          tried.add(t.addr.id);
          return attempt();
        }
        client.destroy();
      });
      up.on('close', () => {
        if (!connected) return; // a failed connect was handled by 'error'
        client.destroy();
        finish();
      });
      client.on('close', () => {
        up.destroy();
        finish();
      });
    };
    attempt();
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse): void {
    const tried = new Set<string>();
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    const headers = forwardedHeaders(req, this.port);
    let attempts = 0;

    const attempt = (): void => {
      const t = this.pick(tried);
      if (!t) {
        if (attempts === 0) return reply(res, 503, 'Service Unavailable: no healthy targets.\n');
        return reply(res, 502, 'Bad Gateway: no target could be reached.\n');
      }
      attempts++;
      t.inFlight++;
      t.requests++;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        t.inFlight--;
        if (t.removed && t.inFlight === 0) t.agent.destroy();
      };
      let delivered = false; // the request reached a connected socket
      let answered = false;
      const up = http.request({ host: t.addr.host, port: t.addr.port, method: req.method, path: req.url, headers, agent: t.agent, setHost: false });
      const connectTimer = setTimeout(() => up.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })), this.opts.connectTimeoutMs ?? 5000);
      up.on('socket', (s: Socket) => {
        const connected = () => {
          clearTimeout(connectTimer);
          delivered = true;
          if (hasBody) req.pipe(up);
        };
        if (s.connecting) s.once('connect', connected);
        else connected();
      });
      if (!hasBody) up.end();
      // ALB's idle timeout: a target silent for that long gets the request answered 504.
      up.setTimeout(this.opts.idleTimeoutMs ?? 60_000, () => up.destroy(Object.assign(new Error('the target did not answer in time'), { code: 'ERESPONSETIMEOUT' })));
      up.on('response', (ur) => {
        answered = true;
        clearTimeout(connectTimer);
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(ur.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
        res.writeHead(ur.statusCode ?? 502, ur.statusMessage, out);
        ur.pipe(res);
        ur.on('error', () => res.destroy());
        ur.on('aborted', () => res.destroy());
      });
      up.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(connectTimer);
        finish();
        if (answered || res.headersSent) return void res.destroy();
        const neverConnected = !delivered && CONNECT_ERRORS.has(err.code ?? '');
        const staleKeepAlive = delivered && up.reusedSocket && !hasBody && err.code === 'ECONNRESET';
        if (neverConnected) {
          t.failedUntil = this.now() + PASSIVE_FAILURE_MS;
          tried.add(t.addr.id);
        }
        if ((neverConnected || staleKeepAlive) && !res.destroyed && attempts <= this.targets.size + 1) return attempt();
        if (err.code === 'ERESPONSETIMEOUT') return reply(res, 504, 'Gateway Timeout: the target did not answer in time.\n');
        reply(res, 502, `Bad Gateway: the target failed (${err.code ?? err.message}).\n`);
      });
      res.once('close', () => {
        if (!res.writableFinished && !finished) up.destroy();
        if (answered || res.writableFinished) finish();
      });
      res.once('finish', finish);
    };
    attempt();
  }
}

function reply(res: http.ServerResponse, status: number, body: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The request's end-to-end headers plus X-Forwarded-For/-Proto/-Port, as ALB adds them. */
export function forwardedHeaders(req: http.IncomingMessage, listenerPort: number): Record<string, string | string[]> {
  const connectionTokens = new Set(
    String(req.headers.connection ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || connectionTokens.has(k)) continue;
    out[k] = v;
  }
  const client = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  out['x-forwarded-for'] = prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${client}` : client;
  out['x-forwarded-proto'] = 'http';
  out['x-forwarded-port'] = String(listenerPort);
  return out;
}
