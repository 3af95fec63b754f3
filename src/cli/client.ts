/**
 * How the CLI reaches a Skiff server: the endpoint from `--endpoint`, else
 * SKIFF_ENDPOINT, else the local default; calls signed with SigV4 using the
 * standard AWS credential chain (env, profiles, ...), like any AWS client.
 */
import { ECSClient } from '@aws-sdk/client-ecs';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { DEFAULT_ENDPOINT } from '../config/server-config.ts';

export interface AwsCredentialIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

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

/**
 * The standard AWS chain (env, profiles, ...). Finding nothing is an error that
 * says where a Skiff key comes from.
 */
export async function credentials(): Promise<AwsCredentialIdentity> {
  try {
    return await defaultProvider()();
  } catch {
    throw new Error(
      'no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a profile) to a Skiff key; ' +
        "the server's first start writes its root key to <data-dir>/root-credentials, or set SKIFF_ROOT_ACCESS_KEY_ID/SKIFF_ROOT_SECRET_ACCESS_KEY for it",
    );
  }
}

export function ecsClient(opts: ClientOptions): ECSClient {
  return new ECSClient({ endpoint: resolveEndpoint(opts), region: resolveRegion(opts), credentials, maxAttempts: 2 });
}

export interface SignedRequestInit {
  method?: string;
  /** A JSON body, already serialised (sent as application/json). */
  body?: string;
  headers?: Record<string, string>;
  /** SigV4 service name: `skiff` for /skiff/v1, `ecs` for the ECS API. */
  service: string;
  region: string;
  credentials: AwsCredentialIdentity | (() => Promise<AwsCredentialIdentity>);
}

/** Sends `init` to `url` signed with SigV4 (query string and body included). */
export async function signedFetch(url: URL, init: SignedRequestInit): Promise<Response> {
  const signer = new SignatureV4({ service: init.service, region: init.region, credentials: init.credentials, sha256: Sha256 });
  const query: Record<string, string> = {};
  url.searchParams.forEach((v, k) => (query[k] = v));
  const signed = await signer.sign({
    method: init.method ?? 'GET',
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    query,
    headers: { host: url.host, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
    body: init.body,
  });
  return fetch(url, { method: signed.method, headers: signed.headers as Record<string, string>, body: init.body });
}

/** A signed request to one of Skiff's own endpoints (`/skiff/v1/...`). */
export async function skiffFetch(opts: ClientOptions, path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
  const url = new URL(resolveEndpoint(opts) + path);
  const body = init.body === undefined ? undefined : JSON.stringify(init.body);
  let res: Response;
  try {
    res = await signedFetch(url, { method: init.method, body, service: 'skiff', region: resolveRegion(opts), credentials });
  } catch (err) {
    throw new Error(`cannot reach Skiff at ${url.origin} (${(err as Error).cause ?? (err as Error).message}); start it with \`skiff server\` or set --endpoint / SKIFF_ENDPOINT`);
  }
  if (!res.ok) {
    const body = await res.text();
    let message = body;
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      /* plain text */
    }
    throw new Error(message);
  }
  return res;
}
