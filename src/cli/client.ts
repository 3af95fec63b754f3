/**
 * How the CLI reaches a Skiff server: the endpoint from `--endpoint`, else
 * SKIFF_ENDPOINT, else the local default; calls signed with SigV4 using the
 * standard AWS credential chain (env, profiles, ...), like any AWS client.
 */
import type { ECSClient } from '@aws-sdk/client-ecs';
import { DEFAULT_ENDPOINT } from '../config/endpoint.ts';
import { credentials, signedFetch } from '../auth/signed-fetch.ts';

export { credentials, signedFetch, type AwsCredentialIdentity, type SignedRequestInit } from '../auth/signed-fetch.ts';

export interface ClientOptions {
  endpoint?: string;
  region?: string;
}

export function resolveEndpoint(opts: ClientOptions, env = process.env): string {
  return (opts.endpoint ?? env.SKIFF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
}

export function resolveRegion(opts: ClientOptions, env = process.env): string {
  return opts.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
}


/** What to do next after an error type the CLI's users meet often. */
const NEXT_STEP: Record<string, string> = {
  ClusterNotFoundException: 'pass --cluster with an existing cluster (`aws ecs list-clusters`), or leave it out for the default cluster',
  ServiceNotFoundException: 'see the services with `skiff services`',
  ServiceNotActiveException: 'the service is being deleted; create it again with `aws ecs create-service`',
  AccessDeniedException: "the key's policy does not allow this; ask for a key with that action (`skiff keys create --policy ...`)",
  UnrecognizedClientException: 'the access key is unknown or revoked: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY to a Skiff key',
  InvalidSignatureException: "check AWS_SECRET_ACCESS_KEY and this machine's clock",
};

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

/** The message the CLI prints for a failed call: the error, then what to do about it. */
export function explainError(err: unknown, endpoint: string): Error {
  const e = err as Error & { code?: string; cause?: { code?: string }; $fault?: string; name: string };
  const code = e?.code ?? e?.cause?.code;
  if (code && UNREACHABLE.has(code)) {
    return new Error(`cannot reach Skiff at ${endpoint} (${code}) — start it with \`skiff server\` or set SKIFF_ENDPOINT (or --endpoint) to where it runs`);
  }
  if (e?.$fault) {
    const hint = NEXT_STEP[e.name];
    return Object.assign(new Error(`${e.name}: ${e.message}${hint ? `\n  → ${hint}` : ''}`), { name: e.name });
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** The AWS SDK's ECS client, loaded on first use (the SDK costs ~60 ms of CPU to load; most commands never need it). */
export async function ecsClient(opts: ClientOptions): Promise<ECSClient> {
  const { ECSClient } = await import('@aws-sdk/client-ecs');
  // The SDK's notice about its future Node requirement is for developers, not for every `skiff` command's stderr.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const endpoint = resolveEndpoint(opts);
  const client = new ECSClient({ endpoint, region: resolveRegion(opts), credentials, maxAttempts: 2 });
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (err) {
        throw explainError(err, endpoint);
      }
    },
    { step: 'initialize', name: 'skiffExplainErrors' },
  );
  return client;
}

/** A signed request to one of Skiff's own endpoints (`/skiff/v1/...`). */
export async function skiffFetch(opts: ClientOptions, path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
  const url = new URL(resolveEndpoint(opts) + path);
  const body = init.body === undefined ? undefined : JSON.stringify(init.body);
  let res: Response;
  try {
    res = await signedFetch(url, { method: init.method, body, service: 'skiff', region: resolveRegion(opts), credentials });
  } catch (err) {
    const cause = (err as Error & { cause?: { code?: string; errors?: { code?: string }[] } }).cause;
    if (!cause) throw err; // not the network: credentials, signing
    throw new Error(`cannot reach Skiff at ${url.origin} (${cause.code ?? cause.errors?.[0]?.code ?? (cause as Error).message}) — start it with \`skiff server\` or set SKIFF_ENDPOINT (or --endpoint) to where it runs`);
  }
  if (!res.ok) {
    const body = await res.text();
    let message = body;
    let type = res.headers.get('x-amzn-errortype') ?? undefined;
    try {
      const parsed = JSON.parse(body) as { message?: string; __type?: string };
      message = parsed.message ?? body;
      type ??= parsed.__type;
    } catch {
      /* plain text */
    }
    const hint = type ? NEXT_STEP[type] : undefined;
    throw new Error(`${message}${hint ? `\n  → ${hint}` : ''}`);
  }
  return res;
}
