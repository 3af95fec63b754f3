/**
 * A lean ECS client for the benchmark: SigV4-signed `POST /` over one keep-alive
 * HTTP agent, JSON in and out, no SDK shape parsing (so the load generator costs
 * the 2 shared cores as little as possible and the numbers are the server's).
 */
import { Agent, request } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';

export class ApiError extends Error {
  constructor(readonly type: string, message: string) {
    super(`${type}: ${message}`);
  }
}

export class BenchClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private readonly signer: SignatureV4;
  private readonly skiffSigner: SignatureV4;
  private readonly url: URL;

  constructor(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }) {
    this.url = new URL(endpoint);
    this.signer = new SignatureV4({ service: 'ecs', region: 'us-east-1', credentials, sha256: Sha256 });
    this.skiffSigner = new SignatureV4({ service: 'skiff', region: 'us-east-1', credentials, sha256: Sha256 });
  }

  async call<T = Record<string, unknown>>(op: string, input: unknown): Promise<T> {
    const { status, text } = await this.send(op, input);
    const json = text ? JSON.parse(text) : {};
    if (status !== 200) throw new ApiError(String(json.__type ?? status), String(json.message ?? text));
    return json as T;
  }

  /** The call without parsing the answer (load tests): resolves with its size in bytes. */
  async callRaw(op: string, input: unknown): Promise<number> {
    const { status, text } = await this.send(op, input);
    if (status !== 200) throw new ApiError(String(status), text.slice(0, 200));
    return text.length;
  }

  private async send(op: string, input: unknown): Promise<{ status: number; text: string }> {
    const body = JSON.stringify(input);
    const signed = await this.signer.sign({
      method: 'POST',
      protocol: 'http:',
      hostname: this.url.hostname,
      port: Number(this.url.port),
      path: '/',
      headers: {
        host: this.url.host,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `AmazonEC2ContainerServiceV20141113.${op}`,
      },
      body,
    });
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        { host: this.url.hostname, port: Number(this.url.port), path: '/', method: 'POST', agent: this.agent, headers: signed.headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    return { status, text };
  }

  /** GET a Skiff endpoint (signed with service `skiff`). */
  async get<T>(path: string): Promise<T> {
    return JSON.parse(await this.getText(path)) as T;
  }

  /** GET a Skiff endpoint, the body as text (e.g. NDJSON logs). */
  async getText(path: string): Promise<string> {
    const signed = await this.skiffSigner.sign({ method: 'GET', protocol: 'http:', hostname: this.url.hostname, port: Number(this.url.port), path, headers: { host: this.url.host } });
    const r = await fetch(new URL(path, this.url), { headers: signed.headers as Record<string, string> });
    if (!r.ok) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
    return r.text();
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface WireTask {
  taskArn: string;
  lastStatus: string;
  createdAt?: number;
  startedAt?: number;
  stoppingAt?: number;
  stoppedAt?: number;
  stoppedReason?: string;
  attachments?: { details?: { name: string; value: string }[] }[];
  attributes?: { name: string; value?: string }[];
}
