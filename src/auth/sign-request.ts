/**
 * AWS Signature Version 4, the signing side, for Skiff's own clients (the CLI,
 * the dashboard's gateway): the headers a request to `url` carries once signed
 * by @smithy/signature-v4 (the AWS SDK's signer), query string and body
 * included. `host` is signed as `url.host`.
 */
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface RequestToSign {
  method: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** SigV4 service name (`ecs`, `skiff`, `application-autoscaling`, ...). */
  service: string;
  region: string;
  credentials: SigningCredentials | (() => Promise<SigningCredentials>);
}

/** The request's headers, with `host`, `x-amz-date`, `x-amz-content-sha256` and `authorization` added. */
export async function signRequest(url: URL, req: RequestToSign): Promise<Record<string, string>> {
  const signer = new SignatureV4({ service: req.service, region: req.region, credentials: req.credentials, sha256: Sha256 });
  const query: Record<string, string> = {};
  url.searchParams.forEach((v, k) => (query[k] = v));
  const signed = await signer.sign({
    method: req.method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    query,
    headers: { host: url.host, ...req.headers },
    body: req.body,
  });
  return signed.headers as Record<string, string>;
}
