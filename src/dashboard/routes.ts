/**
 * The web dashboard, served by `skiff server` under /dashboard:
 *
 *   GET  /dashboard/login                 the login page (access key id + secret)
 *   POST /dashboard/api/login             {accessKeyId, secretAccessKey} → session cookie
 *   POST /dashboard/api/logout            ends the session
 *   GET  /dashboard/ | /services | /tasks | /tasks/:taskId | /cost    pages (one shell; app.js draws the page)
 *   GET  /dashboard/static/:file          the page scripts and styles (no CDN, nothing from outside)
 *   GET  /dashboard/api/...               the pages' JSON, polled for live updates
 *
 * Authentication: a browser cannot sign with SigV4, so it proves once that it
 * knows a key's secret and gets a session (src/dashboard/sessions.ts) in an
 * HttpOnly SameSite=Strict cookie. No secret ever appears in a URL, in page
 * storage or in the session. Every data route calls Skiff's API as that key
 * (src/dashboard/api-gateway.ts), so the key's policy decides what the
 * dashboard may show and every call is in the audit log. Pages without a
 * session redirect to the login page; data routes answer 401.
 *
 * CSRF: the cookie is SameSite=Strict, and the two state-changing routes (login,
 * logout) accept only `application/json` bodies from this origin (a cross-site
 * form cannot send JSON without a CORS preflight Skiff never grants).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Cluster, Service, Task } from '@aws-sdk/client-ecs';
import type { AccessKey, KeyStore } from '../auth/keys.ts';
import type { AuditLog } from '../auth/audit.ts';
import { ApiGateway, GatewayError, KEY_GONE, type Caller } from './api-gateway.ts';
import { SessionStore, type Session, type SessionLimits } from './sessions.ts';
import { clearedSessionCookie, parseCookies, SESSION_COOKIE, sessionCookie } from './cookies.ts';
import { LoginThrottle } from './login-throttle.ts';
import { clusterRow, lastSegment, orderTasks, safeNext, serviceDayMatrix, serviceRow, taskRow } from './views.ts';

export const DASHBOARD_PREFIX = '/dashboard';

/** The paths the dashboard serves (and authenticates itself): /dashboard and everything under it. */
export const isDashboardPath = (path: string): boolean => path === DASHBOARD_PREFIX || path.startsWith(DASHBOARD_PREFIX + '/');

export interface DashboardOptions {
  keys: KeyStore;
  audit: AuditLog;
  region: string;
  /** The ARN the audit log names a key by (the guard's rule). */
  principalArn: (key: AccessKey) => string;
  /** Served over HTTPS: the cookie gets `Secure`. */
  secure: boolean;
  sessionLimits?: Partial<SessionLimits>;
  now?: () => number;
}

const STATIC_DIR = join(import.meta.dirname, 'static');
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Every static file, read once: only these names are ever served (no path from a request touches the file system). */
function loadStatic(): Map<string, { body: Buffer; type: string }> {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of readdirSync(STATIC_DIR)) {
    const type = TYPES[extname(name)];
    if (type) files.set(name, { body: readFileSync(join(STATIC_DIR, name)), type });
  }
  return files;
}

/** Headers on every dashboard response: nothing from other origins, no framing, no sniffing, no referrer. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

const PAGES = ['/', '/services', '/tasks', '/tasks/:taskId', '/cost'];

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string | undefined> }>;

export function dashboardRoutes(app: FastifyInstance, opts: DashboardOptions): void {
  const now = opts.now ?? Date.now;
  const sessions = new SessionStore(opts.sessionLimits, now);
  const throttle = new LoginThrottle({}, now);
  const gateway = new ApiGateway(app, opts.keys, opts.region);
  const files = loadStatic();
  const shell = files.get('app.html')!.body;
  const loginPage = files.get('login.html')!.body;

  const tokenOf = (req: FastifyRequest) => parseCookies(req.headers.cookie)[SESSION_COOKIE];
  const sessionOf = (req: FastifyRequest): Session | undefined => sessions.use(tokenOf(req));
  const caller = (req: FastifyRequest, s: Session): Caller => ({ accessKeyId: s.accessKeyId, sourceIp: req.ip });

  app.register(
    async (scope) => {
      // Bodies of any other type reach the handlers as text, so sameOriginJson refuses them with a clear 403.
      scope.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
      scope.addHook('onSend', async (_req, reply, payload) => {
        reply.headers(SECURITY_HEADERS);
        if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
        return payload;
      });

      // ---- static assets and pages -------------------------------------------------
      scope.get<{ Params: { file: string } }>('/static/:file', async (req, reply) => {
        const f = files.get(req.params.file);
        if (!f) return reply.code(404).type('text/plain').send('Not found');
        return reply.type(f.type).header('cache-control', 'no-cache').send(f.body);
      });

      scope.get('/login', async (_req, reply) => reply.type(TYPES['.html']).send(loginPage));

      for (const page of PAGES) {
        scope.get(page, async (req, reply) => {
          if (!sessionOf(req)) return reply.redirect(`${DASHBOARD_PREFIX}/login?next=${encodeURIComponent(safeNext(req.url))}`, 302);
          return reply.type(TYPES['.html']).send(shell);
        });
      }

      // ---- login and logout ----------------------------------------------------------
      scope.post<{ Body: { accessKeyId?: unknown; secretAccessKey?: unknown } }>('/api/login', { bodyLimit: 4096 }, async (req, reply) => {
        const refused = sameOriginJson(req);
        if (refused) return reply.code(403).send(problem('Forbidden', refused));
        const ip = req.ip;
        const wait = throttle.retryAfterMs(ip);
        if (wait > 0) {
          return reply
            .code(429)
            .header('retry-after', String(Math.ceil(wait / 1000)))
            .send(problem('ThrottlingException', `Too many failed logins from ${ip}; try again in ${Math.ceil(wait / 1000)} s.`));
        }
        const { accessKeyId, secretAccessKey } = req.body ?? {};
        if (typeof accessKeyId !== 'string' || typeof secretAccessKey !== 'string' || !accessKeyId || !secretAccessKey || accessKeyId.length > 128 || secretAccessKey.length > 256) {
          return reply.code(400).send(problem('InvalidParameterException', 'Give accessKeyId and secretAccessKey, the key you sign API calls with.'));
        }
        const found = opts.keys.secretFor(accessKeyId);
        const ok = found !== undefined && sameSecret(found.secret, secretAccessKey);
        opts.audit.record({
          ts: now(),
          accessKeyId,
          ...(ok ? { principal: opts.principalArn(found!.key) } : {}),
          sourceIp: ip,
          action: 'skiff:DashboardLogin',
          outcome: ok ? 'Success' : 'UnrecognizedClientException',
          status: ok ? 200 : 401,
        });
        if (!ok) {
          throttle.failed(ip);
          // One answer for an unknown key and a wrong secret: the page does not reveal which keys exist.
          return reply.code(401).send(problem('UnrecognizedClientException', 'The access key id or secret access key is not valid (or the key is revoked).'));
        }
        throttle.succeeded(ip);
        const { token, session } = sessions.create(found!.key.accessKeyId);
        reply.header('set-cookie', sessionCookie(token, { secure: opts.secure, maxAgeSec: (session.expiresAt - now()) / 1000 }));
        return { accessKeyId: found!.key.accessKeyId, name: found!.key.name, expiresAt: new Date(session.expiresAt).toISOString() };
      });

      scope.post('/api/logout', { bodyLimit: 1024 }, async (req, reply) => {
        const refused = sameOriginJson(req);
        if (refused) return reply.code(403).send(problem('Forbidden', refused));
        sessions.end(tokenOf(req));
        reply.header('set-cookie', clearedSessionCookie({ secure: opts.secure }));
        return { loggedOut: true };
      });

      // ---- data (each needs a session; each reads through the API as the session's key) ----
      /** Registers a JSON data route: a session is required, API errors become `{type, message}` with their status. */
      const data = (path: string, fn: (req: Req, c: Caller) => Promise<unknown>) =>
        scope.get(path, async (req: Req, reply: FastifyReply) => {
          const s = sessionOf(req);
          if (!s) return reply.code(401).send(problem('Unauthenticated', `Log in at ${DASHBOARD_PREFIX}/login first (or your session ended).`));
          try {
            return await fn(req, caller(req, s));
          } catch (err) {
            if (!(err instanceof GatewayError)) throw err;
            if (err.type === KEY_GONE) {
              sessions.endAllOf(s.accessKeyId);
              reply.header('set-cookie', clearedSessionCookie({ secure: opts.secure }));
            }
            return reply.code(statusFor(err)).send(problem(err.type, err.message));
          }
        });

      data('/api/session', async (req) => {
        const s = sessionOf(req)!;
        const key = opts.keys.get(s.accessKeyId);
        return { accessKeyId: s.accessKeyId, name: key?.name ?? s.accessKeyId, expiresAt: new Date(s.expiresAt).toISOString(), idleMinutes: sessions.limits.idleMs / 60_000 };
      });

      data('/api/clusters', async (_req, c) => {
        const arns = await listAll(c, 'ListClusters', 'clusterArns', {});
        const clusters: Cluster[] = [];
        for (const batch of chunks(arns, 100)) clusters.push(...(await gateway.ecs<{ clusters: Cluster[] }>(c, 'DescribeClusters', { clusters: batch })).clusters);
        return { clusters: clusters.map(clusterRow).sort((a, b) => a.name.localeCompare(b.name)) };
      });

      data('/api/services', async (req, c) => {
        const cluster = req.query.cluster || 'default';
        const arns = await listAll(c, 'ListServices', 'serviceArns', { cluster });
        const services: Service[] = [];
        for (const batch of chunks(arns, 10)) services.push(...(await gateway.ecs<{ services: Service[] }>(c, 'DescribeServices', { cluster, services: batch })).services);
        return { cluster, services: services.map((s) => serviceRow(s)).sort((a, b) => a.name.localeCompare(b.name)) };
      });

      data('/api/tasks', async (req, c) => {
        const cluster = req.query.cluster || 'default';
        const filter = req.query.service ? { serviceName: req.query.service } : {};
        const arns = [
          ...(await listAll(c, 'ListTasks', 'taskArns', { cluster, desiredStatus: 'RUNNING', ...filter })),
          ...(await listAll(c, 'ListTasks', 'taskArns', { cluster, desiredStatus: 'STOPPED', ...filter }, 2)),
        ];
        const tasks: Task[] = [];
        for (const batch of chunks(arns, 100)) tasks.push(...(await gateway.ecs<{ tasks: Task[] }>(c, 'DescribeTasks', { cluster, tasks: batch })).tasks);
        return { cluster, ...(req.query.service ? { service: req.query.service } : {}), tasks: orderTasks(tasks.map(taskRow)) };
      });

      data('/api/tasks/:taskId', async (req, c) => {
        const id = encodeURIComponent(lastSegment(req.params.taskId));
        const [task, coldstart, stats] = await Promise.all([
          section(gateway.skiff(c, `/skiff/v1/tasks/${id}`)),
          section(gateway.skiff(c, `/skiff/v1/tasks/${id}/coldstart`)),
          section(gateway.skiff(c, `/skiff/v1/tasks/${id}/stats`)),
        ]);
        if ('error' in task) throw new GatewayError(task.error.type, task.error.message, task.error.status);
        return { task: task.data, coldstart, stats };
      });

      data('/api/tasks/:taskId/logs', async (req, c) => {
        const id = encodeURIComponent(lastSegment(req.params.taskId));
        const after = Math.max(0, Math.floor(Number(req.query.after ?? 0)) || 0);
        const lines = await gateway.skiffLines<{ container: string; timestamp: number; stream: string; message: string }>(c, `/skiff/v1/tasks/${id}/logs`);
        // At most the last 500 new lines per answer; `next` is where the page asks from next time.
        const fresh = lines.slice(Math.max(after, lines.length - 500));
        return { lines: fresh, next: lines.length, skipped: Math.max(0, lines.length - 500 - after) };
      });

      data('/api/cost', async (req, c) => {
        const days = Math.min(31, Math.max(1, Math.floor(Number(req.query.days ?? 7)) || 7));
        const dayStarts = Array.from({ length: days }, (_, i) => utcDay(now() - (days - 1 - i) * 86_400_000));
        const from = dayStarts[0];
        const [byService, byDay, rightsize, perDay] = await Promise.all([
          section(gateway.skiff(c, `/skiff/v1/costs?groupBy=service&from=${from}`)),
          section(gateway.skiff(c, `/skiff/v1/costs?groupBy=day&from=${from}`)),
          section(gateway.skiff(c, `/skiff/v1/rightsize`)),
          section(
            Promise.all(
              dayStarts.map(async (day, i) => {
                const next = dayStarts[i + 1];
                const r = await gateway.skiff<{ lines: { key: string; cost: string }[] }>(c, `/skiff/v1/costs?groupBy=service&from=${day}${next ? `&to=${next}` : ''}`);
                return { day, lines: r.lines };
              }),
            ).then(serviceDayMatrix),
          ),
        ]);
        return { days, byService, byDay, serviceByDay: perDay, rightsize };
      });
    },
    { prefix: DASHBOARD_PREFIX },
  );

  /** Every page of a List* operation (at most `maxPages`). */
  async function listAll(c: Caller, op: string, field: string, input: Record<string, unknown>, maxPages = 20): Promise<string[]> {
    const out: string[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < maxPages; page++) {
      const r = await gateway.ecs<Record<string, unknown>>(c, op, { ...input, maxResults: 100, ...(nextToken ? { nextToken } : {}) });
      out.push(...((r[field] as string[]) ?? []));
      nextToken = r.nextToken as string | undefined;
      if (!nextToken) break;
    }
    return out;
  }
}

/** A part of a page that may be refused on its own (e.g. the key may read tasks but not costs). */
type Section<T> = { data: T } | { error: { type: string; message: string; status: number } };

async function section<T>(p: Promise<T>): Promise<Section<T>> {
  try {
    return { data: await p };
  } catch (err) {
    if (err instanceof GatewayError && err.type !== KEY_GONE) return { error: { type: err.type, message: err.message, status: err.status } };
    throw err;
  }
}

const problem = (type: string, message: string) => ({ type, message });

function statusFor(err: GatewayError): number {
  if (err.type === KEY_GONE) return 401;
  if (err.type === 'AccessDeniedException') return 403;
  if (/NotFound/.test(err.type)) return 404;
  return err.status;
}

function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

/** Why a state-changing request is refused (not JSON, or from another origin), or undefined when it is fine. */
export function sameOriginJson(req: Pick<FastifyRequest, 'headers'>): string | undefined {
  const type = String(req.headers['content-type'] ?? '');
  if (!/^application\/json\b/i.test(type)) return 'Send a JSON body (Content-Type: application/json).';
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      return 'The Origin header is not a URL.';
    }
    if (host !== req.headers.host) return `Requests from ${origin} are not accepted.`;
  }
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return 'Cross-site requests are not accepted.';
  return undefined;
}

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function* chunks<T>(xs: T[], n: number): Generator<T[]> {
  for (let i = 0; i < xs.length; i += n) yield xs.slice(i, i + n);
}
