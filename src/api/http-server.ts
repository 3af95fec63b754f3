/**
 * The HTTP front door: the ECS JSON 1.1 protocol on `POST /`, `GET /healthz`,
 * and Skiff's own endpoints under `/skiff/v1/`.
 *
 * Requests are decoded into (operation, input) before anything runs; one function
 * (`sendError`) maps every error to the wire.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ApiError, ErrorCode, errorBody, storeFullError } from './errors.ts';
import { DiskFullError, isDiskFullError } from '../store/disk-errors.ts';
import { StoreUnavailableError } from '../store/store-unavailable.ts';

/** An operation handler: input is the decoded JSON body, output is JSON-serialisable. */
export type OperationHandler = (input: Record<string, unknown>) => unknown | Promise<unknown>;

/** A protocol served on `POST /`, selected by the `X-Amz-Target` prefix. */
export interface JsonProtocol {
  /** e.g. `AmazonEC2ContainerServiceV20141113` */
  targetPrefix: string;
  operations: Record<string, OperationHandler>;
}

/** A Query protocol (EC2's): form-encoded `POST /` with `Action=...`, XML answers and errors. */
export interface QueryProtocol {
  /** IAM service prefix: the guard authorizes `<service>:<Action>`. */
  service: string;
  decode(body: string): { action: string; params: Record<string, unknown> };
  run(action: string, params: Record<string, unknown>, requestId: string): Promise<string>;
  /** The error document; `code` (optional) is also sent as `x-amzn-errortype`, for the audit log and metrics. */
  errorResponse(err: unknown, requestId: string): { status: number; body: string; code?: string };
  newRequestId(): string;
}

export interface HttpServerOptions {
  protocols: JsonProtocol[];
  /** Served for `POST /` with an `application/x-www-form-urlencoded` body; several (EC2, IAM): the one whose service the request is signed for, else the first. */
  query?: QueryProtocol | QueryProtocol[];
  /** Extra routes (Skiff's own endpoints), registered on the same instance. */
  routes?: (app: FastifyInstance) => void;
  /** Answers /healthz with 200 only once this returns true. */
  isReady: () => boolean;
  log?: (msg: string) => void;
  /**
   * Authentication and authorization (src/auth): `install` adds request hooks
   * before any route; `authorizeOperation` is called once a JSON operation and
   * its input are decoded, and throws if the caller may not run it.
   */
  auth?: {
    install(app: FastifyInstance): void;
    authorizeOperation(req: FastifyRequest, targetPrefix: string, operation: string, input: Record<string, unknown>): void;
  };
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: Buffer; key: Buffer };
  /** Hooks that must run before authentication (the metrics bearer-token door). */
  beforeAuth?: (app: FastifyInstance) => void;
  /**
   * A write failed because the disk holding the data dir is full (or failing):
   * told the error, returns the message for the caller (the disk guard).
   */
  storeFull?: (err: unknown) => string;
  /** Called once per response: the operation (or route), its AWS error type if it failed, status and duration. */
  onRequestDone?: (r: { operation: string; errorType?: string; status: number; seconds: number }) => void;
}

const AMZ_JSON = /^application\/x-amz-json-1\.[01]$/;
const FORM = /^application\/x-www-form-urlencoded\b/i;

/** Whether a request is for the Query protocol (form-encoded POST /). */
export function isQueryRequest(req: FastifyRequest): boolean {
  return req.method === 'POST' && FORM.test(String(req.headers['content-type'] ?? '')) && (req.raw.url ?? '/').split('?')[0] === '/';
}

/** The service a request's SigV4 Authorization header is scoped to (`.../<region>/<service>/aws4_request`), if any. */
export function signedService(req: FastifyRequest): string | undefined {
  return /Credential=[^/,\s]+\/\d{8}\/[^/,\s]+\/([^/,\s]+)\/aws4_request/.exec(String(req.headers.authorization ?? ''))?.[1];
}

export function buildHttpServer(opts: HttpServerOptions): FastifyInstance {
  const queries = opts.query ? [opts.query].flat() : [];
  const queryFor = (req: FastifyRequest) => (queries.length && isQueryRequest(req) ? (queries.find((q) => q.service === signedService(req)) ?? queries[0]) : undefined);
  const app = Fastify({ logger: false, bodyLimit: 8 * 1024 * 1024, ...(opts.tls ? { https: opts.tls } : {}) }) as unknown as FastifyInstance;
  const byPrefix = new Map(opts.protocols.map((p) => [p.targetPrefix, p]));

  // AWS JSON bodies arrive as application/x-amz-json-1.1; parse them ourselves so a
  // malformed body becomes a SerializationException rather than a framework error.
  app.addContentTypeParser(AMZ_JSON, { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.addContentTypeParser(FORM, { parseAs: 'string' }, (_req, body, done) => done(null, body));

  opts.beforeAuth?.(app);
  opts.auth?.install(app);
  if (opts.onRequestDone) {
    const done = opts.onRequestDone;
    app.addHook('onResponse', async (req, reply) => {
      const errType = reply.getHeader('x-amzn-errortype');
      done({ operation: operationOf(req), errorType: typeof errType === 'string' ? errType : reply.statusCode >= 400 ? `HTTP${reply.statusCode}` : undefined, status: reply.statusCode, seconds: reply.elapsedTime / 1000 });
    });
  }

  app.get('/healthz', async (_req, reply) => {
    if (opts.isReady()) return reply.code(200).send({ status: 'ok' });
    return reply.code(503).send({ status: 'starting' });
  });

  app.post('/', async (req, reply) => {
    const query = queryFor(req);
    if (query) return serveQuery(query, req, reply, opts.auth, opts);
    const target = String(req.headers['x-amz-target'] ?? '');
    const dot = target.lastIndexOf('.');
    const protocol = byPrefix.get(target.slice(0, dot));
    const handler = protocol ? operationHandler(protocol, target.slice(dot + 1)) : undefined;
    try {
      if (!handler) {
        throw new ApiError(ErrorCode.UnknownOperationException, `Unknown operation '${target}'. Skiff does not implement it.`);
      }
      const input = decodeBody(req.body);
      opts.auth?.authorizeOperation(req, protocol!.targetPrefix, target.slice(dot + 1), input);
      const output = await handler(input);
      const body = output instanceof PreSerialized ? output.json : JSON.stringify(output ?? {});
      return reply.code(200).header('content-type', 'application/x-amz-json-1.1').send(body);
    } catch (err) {
      return sendError(reply, err, opts.log, opts.storeFull);
    }
  });

  opts.routes?.(app);

  app.setErrorHandler((err, req, reply) => {
    const query = queryFor(req);
    if (query) {
      const e = query.errorResponse(diskFullAsApiError(err, opts) ?? err, query.newRequestId());
      if (e.code) reply.header('x-amzn-errortype', e.code);
      return reply.code(e.status).header('content-type', 'text/xml;charset=UTF-8').send(e.body);
    }
    return sendError(reply, err, opts.log, opts.storeFull);
  });
  /** A bounded label for a request: a known JSON operation's name, a route's pattern, or a catch-all. */
  function operationOf(req: FastifyRequest): string {
    if (req.method === 'POST' && (req.raw.url ?? '/').split('?')[0] === '/') {
      const target = String(req.headers['x-amz-target'] ?? '');
      const dot = target.lastIndexOf('.');
      const ops = byPrefix.get(target.slice(0, dot))?.operations;
      return ops && Object.hasOwn(ops, target.slice(dot + 1)) ? target.slice(dot + 1) : 'UnknownOperation';
    }
    return req.routeOptions.url ? `${req.method} ${req.routeOptions.url}` : 'UnknownRoute';
  }
  return app;
}

async function serveQuery(q: QueryProtocol, req: FastifyRequest, reply: FastifyReply, auth: HttpServerOptions['auth'], opts: Pick<HttpServerOptions, 'log' | 'storeFull'>): Promise<FastifyReply> {
  const requestId = q.newRequestId();
  try {
    const { action, params } = q.decode(typeof req.body === 'string' ? req.body : '');
    auth?.authorizeOperation(req, q.service, action, params);
    const xml = await q.run(action, params, requestId);
    return reply.code(200).header('content-type', 'text/xml;charset=UTF-8').send(xml);
  } catch (err) {
    const e = q.errorResponse(diskFullAsApiError(err, opts) ?? err, requestId);
    if (e.code) reply.header('x-amzn-errortype', e.code);
    return reply.code(e.status).header('content-type', 'text/xml;charset=UTF-8').send(e.body);
  }
}

/**
 * The handler of `name`, or undefined: only the protocol's own operations count,
 * never what every object inherits (`constructor`, `toString`, `__proto__`).
 */
export function operationHandler(protocol: JsonProtocol, name: string): OperationHandler | undefined {
  return Object.hasOwn(protocol.operations, name) ? protocol.operations[name] : undefined;
}

/** Deepest nesting of arrays and objects a request body may have (ECS's deepest shape is far shallower). */
export const MAX_JSON_DEPTH = 100;

/**
 * Whether `text` (JSON) nests arrays/objects deeper than `max`. A scan of the
 * brackets outside strings, without recursion, so any depth is safe to check.
 */
export function jsonDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x7b || ch === 0x5b) {
      if (++depth > max) return true;
    } else if (ch === 0x7d || ch === 0x5d) depth--;
  }
  return false;
}

/** Whether an already parsed value nests arrays/objects deeper than `max` (an explicit stack, no recursion). */
export function valueDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(v as object)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * A disk failure (SQLITE_FULL, ENOSPC, SQLITE_IOERR ..., or the disk guard's
 * refusal) as the ServerException the caller sees: it says the data dir's disk
 * is full and what to do. Undefined for any other error.
 */
function diskFullAsApiError(err: unknown, opts: { log?: (msg: string) => void; storeFull?: (err: unknown) => string }): ApiError | undefined {
  if (err instanceof DiskFullError) return storeFullError(err.message);
  if (err instanceof ApiError || !isDiskFullError(err)) return undefined;
  opts.log?.(`a write failed for lack of disk: ${err instanceof Error ? err.message : String(err)}`);
  return storeFullError(opts.storeFull?.(err) ?? 'Skiff cannot write its store: the disk holding its data dir is full or failing. Free space on it or stop tasks writing to it, then try again.');
}

function decodeBody(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null || body === '') return {};
  if (typeof body === 'string' ? jsonDeeperThan(body, MAX_JSON_DEPTH) : valueDeeperThan(body, MAX_JSON_DEPTH)) {
    throw new ApiError(ErrorCode.SerializationException, `The request body nests JSON objects or arrays more than ${MAX_JSON_DEPTH} levels deep; no request Skiff serves needs that. Send a flatter body.`);
  }
  let parsed: unknown;
  try {
    parsed = typeof body === 'string' ? JSON.parse(body) : body;
  } catch {
    throw new ApiError(ErrorCode.SerializationException, 'The request body is not valid JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ApiError(ErrorCode.SerializationException, 'The request body must be a JSON object.');
  }
  return parsed as Record<string, unknown>;
}

/** An operation's output already serialized as JSON (hot read paths build it from cached pieces). */
export class PreSerialized {
  /** `json` as UTF-8 bytes (a Buffer is sent as it is: no second encoding, no length scan). */
  constructor(readonly json: string | Buffer) {}

  /** The JSON document `{"<key>":[p0,p1,...]<rest>}` from pieces already encoded (`rest` starts with `,` or is empty). */
  static array(key: string, pieces: Buffer[], rest = ''): PreSerialized {
    const parts: Buffer[] = [Buffer.from(`{${JSON.stringify(key)}:[`)];
    pieces.forEach((p, i) => parts.push(...(i ? [COMMA, p] : [p])));
    parts.push(Buffer.from(`]${rest}}`));
    return new PreSerialized(Buffer.concat(parts));
  }
}

const COMMA = Buffer.from(',');

/**
 * Maps any error to `{__type, message}`: an ApiError as it is; a disk failure
 * (SQLITE_FULL, ENOSPC, SQLITE_IOERR ..., or the disk guard's refusal) to a
 * ServerException that says the data dir's disk is full and what to do; a
 * client error from Fastify to SerializationException; anything else to a
 * generic ServerException, its detail logged only.
 */
export function sendError(reply: FastifyReply, err: unknown, log?: (msg: string) => void, storeFull?: (err: unknown) => string): FastifyReply {
  let apiErr: ApiError;
  const diskFull = diskFullAsApiError(err, { log, storeFull });
  if (err instanceof ApiError) apiErr = err;
  else if (diskFull) apiErr = diskFull;
  else if (err instanceof StoreUnavailableError) apiErr = new ApiError(ErrorCode.ServerException, err.message, { status: 503, retryable: true });
  else if (isFastifyClientError(err)) apiErr = new ApiError(ErrorCode.SerializationException, (err as Error).message);
  else {
    log?.(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    apiErr = new ApiError(ErrorCode.ServerException, 'Skiff hit an internal error; see the server log for details.');
  }
  return reply
    .code(apiErr.status)
    .header('content-type', 'application/x-amz-json-1.1')
    .header('x-amzn-errortype', apiErr.code)
    .send(JSON.stringify(errorBody(apiErr)));
}

function isFastifyClientError(err: unknown): boolean {
  const status = (err as { statusCode?: number })?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500;
}
