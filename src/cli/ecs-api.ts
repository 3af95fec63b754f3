/**
 * A lean ECS client for the commands people type most (`ps`, `stop`): the
 * public ECS API exactly as the SDK speaks it (AWS JSON 1.1 over `POST /`,
 * SigV4 for service `ecs`), typed with the SDK's own request and response
 * types, without loading the SDK (~60 ms of CPU at every start on a 2-core
 * machine, more than the rest of `skiff ps` together).
 *
 * What it keeps of the SDK's behaviour: timestamps arrive as `Date`s (the
 * members ECS's model marks as timestamps, held equal to the SDK's model by
 * a test); errors carry the ECS type as `name` and `$fault`, then read like
 * the SDK client's (explainError); one retry on a throttled or 5xx answer or a
 * dropped connection (the SDK client's maxAttempts: 2).
 */
import type * as ECS from '@aws-sdk/client-ecs';
import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import { credentials, explainError, resolveEndpoint, resolveRegion, type ClientOptions } from './client.ts';
import { signRequest } from '../auth/sign-request.ts';

/** The operations the lean client is used for: request and response shapes. */
export interface EcsOperations {
  ListTasks: [ECS.ListTasksRequest, ECS.ListTasksResponse];
  DescribeTasks: [ECS.DescribeTasksRequest, ECS.DescribeTasksResponse];
  StopTask: [ECS.StopTaskRequest, ECS.StopTaskResponse];
}

export interface EcsApi {
  call<Op extends keyof EcsOperations>(op: Op, input: EcsOperations[Op][0]): Promise<EcsOperations[Op][1]>;
}

const TARGET_PREFIX = 'AmazonEC2ContainerServiceV20141113';

/** Every member ECS's model declares as a timestamp (epoch seconds on the wire, `Date` in the SDK). */
export const TIMESTAMP_MEMBERS: ReadonlySet<string> = new Set([
  'after', 'before', 'connectivityAt', 'createdAt', 'deleteRequestedAt', 'deregisteredAt', 'executionStoppedAt',
  'expirationDate', 'expiresAt', 'finishedAt', 'lastStartedAt', 'lastStatusChange', 'lastUpdated', 'pullStartedAt',
  'pullStoppedAt', 'registeredAt', 'stabilityStatusAt', 'startedAt', 'stoppedAt', 'stoppingAt', 'updatedAt',
]);

/** A response body as the SDK would hand it over: timestamp members as Dates. */
export function parseEcsJson(text: string): unknown {
  if (!text) return {};
  return JSON.parse(text, (key, value) => (typeof value === 'number' && TIMESTAMP_MEMBERS.has(key) ? new Date(Math.round(value * 1000)) : value));
}

/** A request body: Dates as epoch seconds, as the SDK sends them. */
export function ecsJson(input: unknown): string {
  return JSON.stringify(input ?? {}, function (this: Record<string, unknown>, key, value: unknown) {
    const original = this[key];
    return original instanceof Date ? original.getTime() / 1000 : value;
  });
}

/** An ECS error answer as the SDK throws it: `name` is the error type, `$fault` client or server. */
export function ecsError(status: number, text: string, typeHeader?: string): Error & { $fault: string } {
  let body: { __type?: string; message?: string; Message?: string } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    /* not JSON */
  }
  const raw = typeHeader ?? body.__type ?? `HTTP${status}`;
  const name = raw.split(':')[0]!.split('#').pop()!;
  return Object.assign(new Error(body.message ?? body.Message ?? (text || `HTTP ${status}`)), { name, $fault: status >= 500 ? 'server' : 'client' });
}

const RETRYABLE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT']);
const THROTTLING = new Set(['ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded']);

export function ecsApi(opts: ClientOptions): EcsApi {
  const endpoint = resolveEndpoint(opts);
  const region = resolveRegion(opts);
  const url = new URL(endpoint + '/');
  return {
    async call(op, input) {
      const body = ecsJson(input);
      for (let attempt = 1; ; attempt++) {
        try {
          const headers = await signRequest(url, {
            method: 'POST',
            headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `${TARGET_PREFIX}.${op}` },
            body,
            service: 'ecs',
            region,
            credentials,
          });
          const res = await post(url, headers, body);
          if (res.status === 200) return parseEcsJson(res.text) as never;
          const err = ecsError(res.status, res.text, res.typeHeader);
          if (attempt < 2 && (res.status >= 500 || THROTTLING.has(err.name))) continue;
          throw err;
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (attempt < 2 && code && RETRYABLE_CODES.has(code)) continue;
          throw explainError(err, endpoint);
        }
      }
    },
  };
}

async function post(url: URL, headers: Record<string, string>, body: string): Promise<{ status: number; text: string; typeHeader?: string }> {
  const { request } = (url.protocol === 'https:' ? await import('node:https') : await import('node:http')) as {
    request: (url: URL, opts: RequestOptions, cb: (res: IncomingMessage) => void) => ClientRequest;
  };
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const type = res.headers['x-amzn-errortype'];
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), typeHeader: Array.isArray(type) ? type[0] : type });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
