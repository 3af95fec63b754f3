/**
 * How the dashboard reads Skiff: as a client of Skiff's own API, acting for the
 * logged-in access key. Each call is signed with SigV4 using that key's secret
 * (looked up in the key store at call time, never kept in the session) and sent
 * through the server's own request pipeline (`app.inject`, no socket), so the
 * guard authenticates, authorizes against the key's policy and audits it exactly
 * as it does a call from the AWS CLI or the skiff CLI. The dashboard holds no
 * second copy of the authorization rules.
 */
import type { FastifyInstance } from 'fastify';
import type { KeyStore } from '../auth/keys.ts';
import { signRequest } from '../auth/sign-request.ts';
import { ECS_TARGET_PREFIX } from '../control/ecs-protocol.ts';

/** An API call that did not succeed: the AWS error type and message, and the HTTP status it came with. */
export class GatewayError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Thrown when the session's key no longer authenticates (revoked): the session must end. */
export const KEY_GONE = 'UnrecognizedClientException';

const HOST = 'skiff.dashboard.internal';

export interface Caller {
  accessKeyId: string;
  /** The browser's address, recorded in the audit log as the call's source. */
  sourceIp: string;
}

export class ApiGateway {
  constructor(
    private readonly app: FastifyInstance,
    private readonly keys: KeyStore,
    private readonly region: string,
  ) {}

  /** `GET` (or another method) on one of Skiff's routes, e.g. `/skiff/v1/costs?groupBy=day`; the parsed JSON. */
  async skiff<T = Record<string, unknown>>(caller: Caller, path: string, method = 'GET'): Promise<T> {
    const res = await this.send(caller, { service: 'skiff', method, path, headers: {} });
    return JSON.parse(res) as T;
  }

  /** A `GET` whose body is NDJSON (log lines); one parsed object per line. */
  async skiffLines<T>(caller: Caller, path: string): Promise<T[]> {
    const res = await this.send(caller, { service: 'skiff', method: 'GET', path, headers: {} });
    return res
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as T);
  }

  /** One ECS operation (`ListServices`, `DescribeTasks`, ...) with its JSON input; the parsed output. */
  async ecs<T = Record<string, unknown>>(caller: Caller, operation: string, input: Record<string, unknown>): Promise<T> {
    const res = await this.send(caller, {
      service: 'ecs',
      method: 'POST',
      path: '/',
      body: JSON.stringify(input),
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `${ECS_TARGET_PREFIX}.${operation}` },
    });
    return JSON.parse(res) as T;
  }

  private async send(caller: Caller, req: { service: string; method: string; path: string; body?: string; headers: Record<string, string> }): Promise<string> {
    const found = this.keys.secretFor(caller.accessKeyId);
    if (!found) throw new GatewayError(KEY_GONE, `The access key ${caller.accessKeyId} is no longer active; log in again.`, 401);
    const url = new URL(req.path, `http://${HOST}`);
    const headers = await signRequest(url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      service: req.service,
      region: this.region,
      credentials: { accessKeyId: found.key.accessKeyId, secretAccessKey: found.secret },
    });
    const res = await this.app.inject({
      method: req.method as 'GET',
      url: url.pathname + url.search,
      headers,
      ...(req.body !== undefined ? { payload: req.body } : {}),
      remoteAddress: caller.sourceIp,
    });
    if (res.statusCode >= 400) {
      let type = String(res.headers['x-amzn-errortype'] ?? `HTTP${res.statusCode}`);
      let message = res.body;
      try {
        const b = JSON.parse(res.body) as { __type?: string; message?: string };
        type = b.__type ?? type;
        message = b.message ?? message;
      } catch {
        /* not JSON: keep the text */
      }
      throw new GatewayError(type, message, res.statusCode);
    }
    return res.body;
  }
}
