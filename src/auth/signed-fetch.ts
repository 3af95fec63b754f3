/**
 * A client's signed request to a Skiff server: the caller's AWS credentials
 * from the standard chain, and fetch with a SigV4 signature. Shared by the CLI
 * and `skiff compose`'s clients.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { signRequest } from './sign-request.ts';

export interface AwsCredentialIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
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

export interface SignedRequestInit {
  method?: string;
  /** The body, already serialised (a string is sent as application/json unless headers say otherwise). */
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  /** SigV4 service name: `skiff` for /skiff/v1, `ecs` for the ECS API. */
  service: string;
  region: string;
  credentials: AwsCredentialIdentity | (() => Promise<AwsCredentialIdentity>);
}

/** Sends `init` to `url` signed with SigV4 (query string and body included). */
export async function signedFetch(url: URL, init: SignedRequestInit): Promise<Response> {
  const method = init.method ?? 'GET';
  const headers = await signRequest(url, {
    method,
    headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
    body: init.body,
    service: init.service,
    region: init.region,
    credentials: init.credentials,
  });
  return fetch(url, { method, headers, body: init.body as BodyInit | undefined });
}
