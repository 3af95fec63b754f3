/**
 * The API guard: every request except `GET /healthz` is authenticated (SigV4
 * against the key store), authorized (the key's policy, for the action and the
 * resources it touches) and audited (who, what, which resource, outcome).
 *
 * Wired into Fastify as hooks: `preParsing` buffers the body (SigV4 signs its
 * hash) and authenticates; `preHandler` authorizes Skiff's own routes; the ECS
 * JSON protocol authorizes in its handler once the operation and input are
 * decoded (`authorizeOperation`). A call that changes something is admitted
 * only once every check passed and its audit row is committed (`AuditLog.begin`,
 * fail closed: a full disk refuses it); `onResponse` records the outcome (of
 * every other call: its buffered row).
 *
 * Errors, as AWS words them:
 *   MissingAuthenticationTokenException 403  no Authorization header
 *   IncompleteSignatureException        400  Authorization header malformed
 *   UnrecognizedClientException         403  unknown or revoked access key
 *   InvalidSignatureException           403  wrong signature; time off by more than 5 minutes ("Signature expired");
 *                                            a credential scope naming another region or another service
 *   ExpiredTokenException               400  a task role's temporary credentials have expired
 *   AccessDeniedException               400  the key's policy does not allow the action on the resource,
 *                                            or iam:PassRole on a role the call hands to its tasks
 *
 * Passing roles: an operation that hands a role to tasks (`passedRoles`, e.g.
 * ecs-pass-role.ts) also needs `iam:PassRole` on each role, evaluated with the
 * caller's policy (a task role session's: the role's policy) and the context
 * key iam:PassedToService. Each such check is audited as its own row
 * (action iam:PassRole, resource the role, outcome Success or
 * AccessDeniedException) next to the call's row.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, ErrorCode } from '../api/errors.ts';
import { isReadAction, type AuditLog } from './audit.ts';
import type { AccessKey, KeyStore } from './keys.ts';
import { evaluate, evaluateAll, type Decision, type Policy } from './policy.ts';
import { headersFromRaw, preVerify, SigV4Error, verifySignature, type WireRequest } from './sigv4.ts';

export interface Principal {
  accessKeyId: string;
  arn: string;
  key: AccessKey;
}

export interface GuardOptions {
  keys: KeyStore;
  audit: AuditLog;
  accountId: string;
  /** X-Amz-Target prefix → IAM service prefix, e.g. AmazonEC2ContainerServiceV20141113 → ecs. */
  services: Record<string, string>;
  /** IAM services of the Query protocols (form-encoded `POST /`: `ec2`, `iam`), picked by the service the request is signed for (else the first); the action is named once the body is decoded. */
  queryService?: string | string[];
  /** The resources an operation of a JSON protocol touches (default `*`). */
  resourcesFor?: (service: string, operation: string, input: Record<string, unknown>) => string[];
  /** The roles an operation of a JSON protocol passes to a service (each needs iam:PassRole; default none). */
  passedRoles?: (service: string, operation: string, input: Record<string, unknown>) => { roleArn: string; service: string }[];
  /** Extra words for an operation's audit row (e.g. ExecuteCommand's command); never secrets. */
  auditDetail?: (service: string, operation: string, input: Record<string, unknown>) => string | undefined;
  /**
   * The action of a route of an AWS REST protocol (EFS's `/2015-02-01/...`:
   * `elasticfilesystem:CreateFileSystem`), signed for that service; undefined for Skiff's own routes.
   */
  restAction?: (method: string, routeUrl: string | undefined) => string | undefined;
  /** A route's resource from its path parameters (e.g. a task id → the task's ARN). */
  routeResource?: (params: Record<string, string>) => string | undefined;
  /** The server's region: every credential scope must name it (absent: not checked). */
  region?: string;
  maxBodyBytes?: number;
  now?: () => number;
  /** Paths that authenticate by other means (the dashboard's session cookie, src/dashboard): the guard leaves them alone. */
  exempt?: (path: string) => boolean;
  /**
   * Temporary credentials (task roles): a session by its access key id, and the
   * policy of a role (undefined: the role is gone, nothing is allowed). Calls
   * signed with them must carry the session token in X-Amz-Security-Token.
   */
  sessions?: {
    lookup(accessKeyId: string): { taskId: string; roleArn: string; secret: string; expiresAt: number; tokenMatches(token: string | undefined): boolean } | undefined;
    rolePolicy(roleArn: string): Policy | undefined;
  };
}

interface CallState {
  action: string;
  resource?: string;
  principal?: Principal;
  accessKeyId?: string;
  sourceIp?: string;
  /** The durable audit row of an admitted mutating call (AuditLog.begin). */
  auditId?: number;
  /** GuardOptions.auditDetail of the call. */
  detail?: string;
}

/** The service name Skiff's own endpoints are signed for (credential scope `.../skiff/aws4_request`). */
export const SKIFF_SIGNING_SERVICE = 'skiff';

/** Action names for Skiff's own routes that the generic rule would name poorly. */
const ROUTE_ACTIONS: Record<string, string> = {
  'GET /skiff/v1/keys': 'skiff:ListAccessKeys',
  'POST /skiff/v1/keys': 'skiff:CreateAccessKey',
  'DELETE /skiff/v1/keys/:accessKeyId': 'skiff:RevokeAccessKey',
  'GET /skiff/v1/audit': 'skiff:GetAuditLog',
  'GET /skiff/v1/roles': 'skiff:ListRoles',
  'POST /skiff/v1/roles': 'skiff:CreateRole',
  'POST /skiff/v1/master-key/rotate': 'skiff:RotateMasterKey',
};

const VERBS: Record<string, string> = { GET: 'Get', HEAD: 'Get', POST: 'Create', PUT: 'Put', PATCH: 'Update', DELETE: 'Delete' };

/**
 * The IAM action of a Skiff route: `skiff:` + verb + the static path segments
 * after /skiff/v1 in PascalCase, a plural segment followed by a parameter made
 * singular. `GET /skiff/v1/tasks/:taskId/logs` → `skiff:GetTaskLogs`,
 * `GET /skiff/v1/costs` → `skiff:GetCosts`.
 */
export function routeAction(method: string, url: string | undefined): string {
  if (!url) return 'skiff:Unknown';
  const explicit = ROUTE_ACTIONS[`${method} ${url}`];
  if (explicit) return explicit;
  const segs = url.replace(/^\/skiff\/v\d+\/?/, '').split('/').filter(Boolean);
  const words: string[] = [];
  segs.forEach((s, i) => {
    if (s.startsWith(':')) return;
    const singular = segs[i + 1]?.startsWith(':') && s.endsWith('s') ? s.slice(0, -1) : s;
    words.push(...singular.split(/[-_]/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)));
  });
  return `skiff:${VERBS[method] ?? method}${words.join('')}`;
}

export class ApiGuard {
  private readonly calls = new WeakMap<FastifyRequest, CallState>();
  private readonly now: () => number;

  constructor(private readonly opts: GuardOptions) {
    this.now = opts.now ?? Date.now;
  }

  principalArn(key: AccessKey): string {
    return key.isRoot ? `arn:aws:iam::${this.opts.accountId}:root` : `arn:aws:iam::${this.opts.accountId}:user/${key.name}`;
  }

  /** Registers the hooks on `app` (call before routes are added). */
  install(app: FastifyInstance): void {
    const maxBody = this.opts.maxBodyBytes ?? 8 * 1024 * 1024;

    app.addHook('onRequest', async (req) => {
      // An exempt path is judged by the route it matched (a path that only looks like one cannot reach another route).
      if (isOpen(req) || this.opts.exempt?.(req.routeOptions.url ?? urlPath(req))) return;
      const target = String(req.headers['x-amz-target'] ?? '');
      let action: string;
      // A form-encoded POST / is a Query protocol whatever X-Amz-Target says (the front door serves it so),
      // so it must be signed for a Query service, never for a JSON protocol's.
      if (this.opts.queryService && req.method === 'POST' && urlPath(req) === '/' && /^application\/x-www-form-urlencoded\b/i.test(String(req.headers['content-type'] ?? ''))) {
        const services = [this.opts.queryService].flat();
        const signed = /Credential=[^/,\s]+\/\d{8}\/[^/,\s]+\/([^/,\s]+)\//.exec(String(req.headers.authorization ?? ''))?.[1];
        action = `${services.find((s) => s === signed) ?? services[0]}:Unknown`; // must be signed for that service; authorizeOperation names the Action
      } else if (req.method === 'POST' && urlPath(req) === '/' && target) {
        const dot = target.lastIndexOf('.');
        const service = ownValue(this.opts.services, target.slice(0, dot));
        action = service ? `${service}:${target.slice(dot + 1)}` : target;
      } else {
        action = this.opts.restAction?.(req.method, req.routeOptions.url) ?? routeAction(req.method, req.routeOptions.url);
      }
      this.calls.set(req, { action, sourceIp: req.ip });
    });

    app.addHook('preParsing', async (req, _reply, payload) => {
      const state = this.calls.get(req);
      if (!state) return payload;
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of payload) {
        size += (chunk as Buffer).length;
        if (size > maxBody) throw new ApiError(ErrorCode.SerializationException, `The request body is larger than ${maxBody} bytes.`, { status: 413 });
        chunks.push(chunk as Buffer);
      }
      const body = Buffer.concat(chunks);
      this.authenticate(req, state, body);
      const replay = Readable.from(body.length ? [body] : []);
      (replay as Readable & { receivedEncodedLength?: number }).receivedEncodedLength = body.length;
      return replay;
    });

    app.addHook('preHandler', async (req) => {
      const state = this.calls.get(req);
      if (!state?.principal || (req.method === 'POST' && urlPath(req) === '/')) return;
      if (!req.routeOptions.url) return; // not found: nothing to authorize, the 404 answers
      const resource = this.opts.routeResource?.((req.params ?? {}) as Record<string, string>) ?? '*';
      this.authorize(state, state.action, [resource]);
      this.admit(state);
    });

    app.addHook('onResponse', async (req, reply) => {
      const state = this.calls.get(req);
      if (!state) return;
      const errType = reply.getHeader('x-amzn-errortype');
      const outcome = reply.statusCode < 400 ? 'Success' : typeof errType === 'string' ? errType : `HTTP${reply.statusCode}`;
      if (state.auditId !== undefined) return this.opts.audit.finish(state.auditId, outcome, reply.statusCode);
      this.opts.audit.record({
        ts: this.now(),
        accessKeyId: state.accessKeyId,
        principal: state.principal?.arn,
        sourceIp: req.ip,
        action: state.action,
        resource: state.resource,
        outcome,
        status: reply.statusCode,
        ...(state.detail ? { detail: state.detail } : {}),
      });
    });
  }

  /**
   * For a JSON protocol handler: the caller's policy must allow `<service>:<operation>`
   * on every resource the input names. Throws AccessDeniedException otherwise.
   */
  authorizeOperation(req: FastifyRequest, targetPrefix: string, operation: string, input: Record<string, unknown>): void {
    const state = this.calls.get(req);
    if (!state?.principal) throw new ApiError(ErrorCode.MissingAuthenticationTokenException, 'Missing Authentication Token', { status: 403 });
    const service = ownValue(this.opts.services, targetPrefix) ?? targetPrefix;
    const resources = this.opts.resourcesFor?.(service, operation, input) ?? ['*'];
    state.detail = this.opts.auditDetail?.(service, operation, input);
    this.authorize(state, `${service}:${operation}`, resources);
    for (const passed of this.opts.passedRoles?.(service, operation, input) ?? []) this.authorizePassRole(req, state, passed.roleArn, passed.service);
    this.admit(state);
  }

  /** iam:PassRole on `roleArn` for `toService`, audited as its own row; throws AccessDeniedException as AWS words it. */
  private authorizePassRole(req: FastifyRequest, state: CallState, roleArn: string, toService: string): void {
    const p = state.principal!;
    const action = 'iam:PassRole';
    const decision = evaluate(p.key.policy, action, roleArn, { 'iam:passedtoservice': toService });
    this.opts.audit.record({
      ts: this.now(),
      accessKeyId: state.accessKeyId,
      principal: p.arn,
      sourceIp: req.ip,
      action,
      resource: roleArn,
      outcome: decision === 'allow' ? 'Success' : ErrorCode.AccessDeniedException,
      status: decision === 'allow' ? 200 : 400,
    });
    if (decision !== 'allow') throw this.denied(p, action, roleArn, decision);
  }

  /** The principal of an authenticated request (for handlers that need to know who calls). */
  principalOf(req: FastifyRequest): Principal | undefined {
    return this.calls.get(req)?.principal;
  }

  private authenticate(req: FastifyRequest, state: CallState, body: Buffer): void {
    const wire: WireRequest = { method: req.raw.method ?? 'GET', url: req.raw.url ?? '/', headers: headersFromRaw(req.raw.rawHeaders), body };
    try {
      const { auth, amzDate } = preVerify(wire, this.now());
      state.accessKeyId = auth.accessKeyId;
      // Skiff's routes are signed for `skiff`; a JSON protocol's operations for its IAM service prefix (unknown targets: not checked).
      const expectedService = state.action.startsWith('skiff:') ? SKIFF_SIGNING_SERVICE : state.action.includes(':') ? state.action.split(':')[0] : undefined;
      const session = auth.accessKeyId.startsWith('ASIA') ? this.opts.sessions?.lookup(auth.accessKeyId) : undefined;
      const found = session ? undefined : this.opts.keys.secretFor(auth.accessKeyId);
      const invalidToken = () => new ApiError(ErrorCode.UnrecognizedClientException, 'The security token included in the request is invalid.', { status: 403 });
      if (!found && !session) throw invalidToken();
      if (session && !session.tokenMatches(wire.headers['x-amz-security-token']?.[0])) throw invalidToken();
      checkScope(auth, expectedService !== undefined && GLOBAL_SERVICES.has(expectedService) ? undefined : this.opts.region, expectedService);
      verifySignature(wire, auth, amzDate, session ? session.secret : found!.secret);
      if (session) {
        if (session.expiresAt <= this.now()) throw new ApiError(ErrorCode.ExpiredTokenException, 'The security token included in the request is expired', { status: 400 });
        state.principal = this.sessionPrincipal(auth.accessKeyId, session);
        return;
      }
      state.principal = { accessKeyId: found!.key.accessKeyId, arn: this.principalArn(found!.key), key: found!.key };
      this.opts.keys.touch(found!.key.accessKeyId);
    } catch (err) {
      if (!(err instanceof SigV4Error)) throw err;
      switch (err.kind) {
        case 'missing':
          throw new ApiError(ErrorCode.MissingAuthenticationTokenException, 'Missing Authentication Token', { status: 403 });
        case 'incomplete':
          throw new ApiError(ErrorCode.IncompleteSignatureException, err.message, { status: 400 });
        case 'expired':
        case 'signature':
          throw new ApiError(ErrorCode.InvalidSignatureException, err.message, { status: 403 });
      }
    }
  }

  /** A task role session acts as `assumed-role/<role>/<taskId>` with the role's policy as it is now. */
  private sessionPrincipal(accessKeyId: string, s: { taskId: string; roleArn: string; expiresAt: number }): Principal {
    const roleName = s.roleArn.split('/').pop()!;
    const policy = this.opts.sessions!.rolePolicy(s.roleArn) ?? { Statement: [] };
    return {
      accessKeyId,
      arn: `arn:aws:sts::${this.opts.accountId}:assumed-role/${roleName}/${s.taskId}`,
      key: { accessKeyId, name: `${roleName}/${s.taskId}`, policy, status: 'Active', isRoot: false, createdAt: s.expiresAt },
    };
  }

  private authorize(state: CallState, action: string, resources: string[]): void {
    const p = state.principal!;
    state.action = action;
    state.resource = auditResources(resources);
    const { decision, resource } = evaluateAll(p.key.policy, action, resources);
    if (decision === 'allow') return;
    throw this.denied(p, action, resource, decision);
  }

  /** A call that changes something runs only once its audit row is on disk (fail closed: see audit.ts). Call once every check passed. */
  private admit(state: CallState): void {
    if (isReadAction(state.action) || state.auditId !== undefined) return;
    state.auditId = this.opts.audit.begin({ ts: this.now(), accessKeyId: state.accessKeyId, principal: state.principal?.arn, sourceIp: state.sourceIp, action: state.action, resource: state.resource, ...(state.detail ? { detail: state.detail } : {}) });
  }

  private denied(p: Principal, action: string, resource: string, decision: Decision): ApiError {
    const why = decision === 'explicit-deny' ? 'with an explicit deny in an identity-based policy' : `because no identity-based policy allows the ${action} action`;
    return new ApiError(ErrorCode.AccessDeniedException, `User: ${p.arn} is not authorized to perform: ${action} on resource: ${resource} ${why}`, { status: 400 });
  }
}

/**
 * The credential scope must name the server's region and the signed API's
 * service, as AWS requires (InvalidSignatureException, AWS's wording).
 */
export function checkScope(scope: { region: string; service: string }, region: string | undefined, service: string | undefined): void {
  if (region !== undefined && scope.region !== region) {
    throw new SigV4Error('signature', `Credential should be scoped to a valid region. This Skiff serves region '${region}', not '${scope.region}': sign for '${region}'.`);
  }
  if (service !== undefined && scope.service !== service) {
    throw new SigV4Error('signature', `Credential should be scoped to correct service: '${service}'.`);
  }
}

/** Services AWS serves globally: any signing region is accepted for them (IAM). */
const GLOBAL_SERVICES = new Set(['iam']);

/** Resources named in an audit row: all of them up to ten, then the first ten and how many more (a DescribeTasks of 100 tasks would write 9 KB a row). */
export function auditResources(resources: string[], max = 10): string {
  return resources.length <= max ? resources.join(' ') : `${resources.slice(0, max).join(' ')} (+${resources.length - max} more)`;
}

function ownValue(map: Record<string, string>, key: string): string | undefined {
  return Object.hasOwn(map, key) ? map[key] : undefined;
}

function urlPath(req: FastifyRequest): string {
  const url = req.raw.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** Requests that need no signature: the health check only. */
function isOpen(req: FastifyRequest): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && urlPath(req) === '/healthz';
}
