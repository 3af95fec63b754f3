/**
 * A small OCI distribution (registry v2) client over Node's fetch.
 *
 * Contract:
 * - Plain HTTP only for loopback hosts and hosts listed in `insecureRegistries`; HTTPS
 *   otherwise. The same rule applies to token realms and redirects.
 * - Auth: anonymous, Basic (when the registry asks for it and credentials are given) and
 *   Bearer tokens (realm/service/scope challenge). Tokens are cached in a `TokenCache`
 *   per registry + repository + actions + credential identity, for their lifetime.
 * - Credentials (Authorization headers) are never sent to another origin than the one
 *   they were meant for: redirects are followed by hand and drop Authorization when
 *   they leave the registry's origin.
 * - Manifests are capped at MAX_MANIFEST_BYTES, hashed with our own sha256 and checked
 *   against the digest they were requested by. `Docker-Content-Digest` is ignored.
 * - Every failure is an ImagePullError with a message a user can act on.
 */
import { createHash } from 'node:crypto';
import { ImagePullError, type RegistryCredentials } from './images.ts';
import { isLoopbackHost, registryHost } from './reference.ts';
import { parseDigest } from './digest.ts';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, manifestMediaType } from './manifest.ts';

export interface RegistryClientOptions {
  /** Registries (host or host:port) that are reached over plain HTTP. */
  insecureRegistries?: readonly string[];
  credentials?: RegistryCredentials;
  /** Milliseconds without progress (headers or body bytes) before a request fails. Default 30 s. */
  timeoutMs?: number;
  tokenCache?: TokenCache;
  signal?: AbortSignal;
}

export interface FetchedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

/** Bearer tokens by (registry, repository, actions, credential identity), kept until they expire. */
export class TokenCache {
  private readonly entries = new Map<string, { token: string; expiresAt: number }>();
  get(key: string): string | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (Date.now() >= e.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    return e.token;
  }
  set(key: string, token: string, lifetimeSeconds: number): void {
    // Renew a little early so a token does not expire mid-request.
    const ms = Math.max(5, lifetimeSeconds - 10) * 1000;
    this.entries.set(key, { token, expiresAt: Date.now() + ms });
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_REDIRECTS = 5;
const MAX_ERROR_BODY = 64 * 1024;
const MAX_TOKEN_BODY = 1024 * 1024;

/** One HTTP response with an idle timeout on its body. */
export class Reply {
  constructor(
    readonly res: Response,
    private readonly arm: () => void,
    private readonly disarm: () => void,
    private readonly mapError: (e: unknown) => ImagePullError,
  ) {}
  get status(): number {
    return this.res.status;
  }
  get headers(): Headers {
    return this.res.headers;
  }
  /** Body chunks; each chunk re-arms the idle timer. */
  async *chunks(): AsyncGenerator<Uint8Array> {
    if (!this.res.body) {
      this.disarm();
      return;
    }
    const reader = this.res.body.getReader();
    try {
      for (;;) {
        this.arm();
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (e) {
          throw this.mapError(e);
        }
        if (r.done) return;
        yield r.value;
      }
    } finally {
      this.disarm();
      reader.cancel().catch(() => {});
    }
  }
  /** Reads the whole body, refusing more than `max` bytes. */
  async bytes(max: number, what: string): Promise<Buffer> {
    const declared = Number(this.res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > max) {
      await this.discard();
      throw new ImagePullError(`${what} is too large (${declared} bytes; the limit is ${max})`);
    }
    const parts: Buffer[] = [];
    let n = 0;
    for await (const c of this.chunks()) {
      n += c.byteLength;
      if (n > max) throw new ImagePullError(`${what} is too large (more than ${max} bytes)`);
      parts.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    }
    return Buffer.concat(parts, n);
  }
  async discard(): Promise<void> {
    this.disarm();
    await this.res.body?.cancel().catch(() => {});
  }
}

interface RequestInit2 {
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Token scope actions: 'pull' (default) or 'pull,push'. */
  actions?: string;
  /** Overrides the client's signal for this request (e.g. a shared download's). */
  signal?: AbortSignal;
}

export class RegistryClient {
  readonly host: string;
  readonly origin: string;
  private readonly timeoutMs: number;
  private readonly tokenCache: TokenCache;
  private readonly credId: string;
  private basicAuth = false;

  /**
   * @param domain registry domain as in the reference (`docker.io`, `localhost:5000`)
   * @param repository repository path (`library/busybox`), already validated
   */
  constructor(
    readonly domain: string,
    readonly repository: string,
    private readonly opts: RegistryClientOptions = {},
  ) {
    this.host = registryHost(domain);
    this.origin = `${schemeFor(this.host, opts.insecureRegistries ?? [])}://${this.host}`;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.tokenCache = opts.tokenCache ?? new TokenCache();
    const c = opts.credentials;
    this.credId = c ? `${c.username}:${createHash('sha256').update(c.password).digest('hex').slice(0, 16)}` : 'anonymous';
  }

  /** `domain/repository`, as shown in error messages. */
  get name(): string {
    return `${this.domain}/${this.repository}`;
  }

  private denied(detail?: string): ImagePullError {
    return new ImagePullError(
      `pull access denied for ${this.name}, repository does not exist or may require authorization${detail ? `: ${detail}` : ''}`,
    );
  }

  /**
   * Fetches a manifest by tag or digest and verifies it. When requested by digest, the
   * content must hash to that digest; by tag, the digest is computed from the content.
   */
  async getManifest(reference: string): Promise<FetchedManifest> {
    const byDigest = reference.startsWith('sha256:');
    if (byDigest) parseDigest(reference, 'manifest digest');
    const shown = byDigest ? `${this.name}@${reference}` : `${this.name}:${reference}`;
    const reply = await this.request('GET', `/v2/${this.repository}/manifests/${reference}`, {
      headers: { Accept: MANIFEST_ACCEPT.join(', ') },
    });
    if (reply.status !== 200) {
      const err = await this.errorFor(reply, 'manifest');
      if (err.code === 'NOT_FOUND') {
        // Registries answer MANIFEST_UNKNOWN for a missing repository too; tell the two apart.
        if (await this.repositoryMissing()) throw this.denied();
        throw new ImagePullError(`manifest for ${shown} not found${err.detail ? `: ${err.detail}` : ''}`);
      }
      throw err.error;
    }
    const bytes = await reply.bytes(MAX_MANIFEST_BYTES, `manifest for ${shown}`);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (byDigest && digest !== reference) {
      throw new ImagePullError(`digest mismatch for manifest ${reference}: the registry sent content with digest ${digest}`);
    }
    const mediaType = manifestMediaType(bytes, reply.headers.get('content-type'));
    return { digest, mediaType, bytes };
  }

  /** True when the registry says the repository itself does not exist. */
  private async repositoryMissing(): Promise<boolean> {
    try {
      const reply = await this.request('GET', `/v2/${this.repository}/tags/list?n=1`);
      if (reply.status === 200) {
        await reply.discard();
        return false;
      }
      const err = await this.errorFor(reply, 'tag list');
      return err.code === 'DENIED';
    } catch {
      return false;
    }
  }

  /** Opens a blob for streaming. The caller hashes and size-checks it. */
  async openBlob(digest: string, signal?: AbortSignal): Promise<Reply> {
    parseDigest(digest, 'blob digest');
    const reply = await this.request('GET', `/v2/${this.repository}/blobs/${digest}`, { signal });
    if (reply.status !== 200) {
      const err = await this.errorFor(reply, 'blob');
      if (err.code === 'NOT_FOUND') throw new ImagePullError(`blob ${digest} not found in ${this.name}`);
      throw err.error;
    }
    return reply;
  }

  /** Fetches a small blob (an image config) into memory and verifies its digest. */
  async getBlobBytes(digest: string, max: number): Promise<Buffer> {
    const reply = await this.openBlob(digest);
    const bytes = await reply.bytes(max, `blob ${digest}`);
    const got = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (got !== digest) throw new ImagePullError(`digest mismatch for blob ${digest}: the registry sent content with digest ${got}`);
    return bytes;
  }

  /**
   * Authenticated request to the registry. `path` starts with `/v2/`, or is an absolute
   * URL on the registry's origin (upload locations). Retries once after an auth challenge.
   */
  async request(method: string, path: string, init: RequestInit2 = {}): Promise<Reply> {
    const url = path.startsWith('/') ? new URL(this.origin + path) : new URL(path);
    if (url.origin !== this.origin) throw new ImagePullError(`registry ${this.host} sent a location on another origin (${url.origin})`);
    const actions = init.actions ?? 'pull';
    const tokenKey = `${this.host}|${this.repository}|${actions}|${this.credId}`;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { 'User-Agent': 'skiff', ...(init.headers ?? {}) };
      const token = this.tokenCache.get(tokenKey);
      if (token) headers.Authorization = `Bearer ${token}`;
      else if (this.basicAuth && this.opts.credentials) headers.Authorization = basicHeader(this.opts.credentials);
      const reply = await this.send(method, url, headers, init.body, this.origin, init.signal);
      if (reply.status !== 401 || attempt > 0) return reply;
      const challenge = parseChallenge(reply.headers.get('www-authenticate') ?? '');
      await reply.discard();
      if (challenge?.scheme === 'bearer') {
        await this.fetchToken(challenge.params, actions, tokenKey, init.signal);
      } else if (challenge?.scheme === 'basic') {
        if (!this.opts.credentials) throw this.denied('the registry requires a username and password');
        this.basicAuth = true;
      } else {
        throw this.denied(`the registry asked for an unsupported authentication scheme`);
      }
    }
  }

  private async fetchToken(params: Record<string, string>, actions: string, tokenKey: string, signal?: AbortSignal): Promise<void> {
    const realm = params.realm;
    if (!realm) throw new ImagePullError(`registry ${this.host} sent a Bearer challenge without a realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new ImagePullError(`registry ${this.host} sent an invalid token realm ${JSON.stringify(realm)}`);
    }
    const insecure = this.opts.insecureRegistries ?? [];
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (isLoopbackHost(url.host) || insecure.includes(url.host)))) {
      throw new ImagePullError(`refusing token realm ${url.origin}: only https (or http on loopback/insecure registries) is allowed`);
    }
    if (params.service) url.searchParams.set('service', params.service);
    url.searchParams.set('scope', `repository:${this.repository}:${actions}`);
    const headers: Record<string, string> = { 'User-Agent': 'skiff', Accept: 'application/json' };
    if (this.opts.credentials) headers.Authorization = basicHeader(this.opts.credentials);
    const reply = await this.send('GET', url, headers, undefined, url.origin, signal);
    if (reply.status === 401 || reply.status === 403) {
      await reply.discard();
      throw this.denied(this.opts.credentials ? 'the token service rejected the credentials' : 'authentication required');
    }
    if (reply.status !== 200) {
      await reply.discard();
      throw new ImagePullError(`token service ${url.origin} answered HTTP ${reply.status}`);
    }
    const body = await reply.bytes(MAX_TOKEN_BODY, 'token response');
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new ImagePullError(`token service ${url.origin} sent invalid JSON`);
    }
    const token = typeof json.token === 'string' && json.token ? json.token : json.access_token;
    if (typeof token !== 'string' || !token) throw new ImagePullError(`token service ${url.origin} sent no token`);
    let lifetime = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : 60;
    if (typeof json.issued_at === 'string') {
      const issued = Date.parse(json.issued_at);
      if (Number.isFinite(issued)) lifetime -= Math.max(0, (Date.now() - issued) / 1000);
    }
    this.tokenCache.set(tokenKey, token, lifetime);
  }

  /**
   * One HTTP exchange with manual redirects. `authOrigin` is the origin the
   * Authorization header belongs to; it is dropped on any other origin.
   */
  private async send(
    method: string,
    url: URL,
    headers: Record<string, string>,
    body: Uint8Array | undefined,
    authOrigin: string,
    signal: AbortSignal | undefined,
  ): Promise<Reply> {
    let current = url;
    for (let hop = 0; ; hop++) {
      const h = { ...headers };
      if (current.origin !== authOrigin) delete h.Authorization;
      const reply = await this.fetchOnce(method, current, h, body, signal ?? this.opts.signal);
      if (![301, 302, 303, 307, 308].includes(reply.status) || (method !== 'GET' && method !== 'HEAD')) return reply;
      const location = reply.headers.get('location');
      await reply.discard();
      if (!location) throw new ImagePullError(`registry ${this.host} sent a redirect without a location`);
      if (hop >= MAX_REDIRECTS) throw new ImagePullError(`too many redirects from registry ${this.host}`);
      const next = new URL(location, current);
      const insecure = this.opts.insecureRegistries ?? [];
      const allowed = next.protocol === 'https:' || (next.protocol === 'http:' && (isLoopbackHost(next.host) || insecure.includes(next.host)));
      if (!allowed) throw new ImagePullError(`registry ${this.host} redirected to a disallowed location (${next.protocol}//${next.host})`);
      current = next;
    }
  }

  private async fetchOnce(
    method: string,
    url: URL,
    headers: Record<string, string>,
    body: Uint8Array | undefined,
    outer: AbortSignal | undefined,
  ): Promise<Reply> {
    const controller = new AbortController();
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const onOuterAbort = () => controller.abort(outer?.reason);
    if (outer?.aborted) throw new ImagePullError('the pull was cancelled');
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, this.timeoutMs);
    };
    const disarm = () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      outer?.removeEventListener('abort', onOuterAbort);
    };
    const mapError = (e: unknown): ImagePullError => {
      disarm();
      if (e instanceof ImagePullError) return e;
      if (timedOut) return new ImagePullError(`timed out after ${this.timeoutMs} ms waiting for registry ${url.host}`);
      if (outer?.aborted) return new ImagePullError('the pull was cancelled');
      return new ImagePullError(`failed to connect to registry ${url.host}: ${describeNetworkError(e)}`);
    };
    arm();
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body: body as BodyInit | undefined, redirect: 'manual', signal: controller.signal });
    } catch (e) {
      throw mapError(e);
    }
    return new Reply(res, arm, disarm, mapError);
  }

  /** Turns a non-success reply into an error (NOT_FOUND is reported separately). */
  private async errorFor(reply: Reply, what: string): Promise<{ code: string; detail?: string; error: ImagePullError }> {
    let codes: Array<{ code?: string; message?: string }> = [];
    try {
      const body = await reply.bytes(MAX_ERROR_BODY, 'error response');
      const json = JSON.parse(body.toString('utf8'));
      if (Array.isArray(json?.errors)) codes = json.errors.filter((e: unknown) => typeof e === 'object' && e !== null);
    } catch {
      await reply.discard();
    }
    const first = codes[0];
    const detail = first ? String(first.message ?? first.code ?? '').toLowerCase().slice(0, 200) || undefined : undefined;
    if (reply.status === 401 || reply.status === 403 || first?.code === 'NAME_UNKNOWN' || first?.code === 'UNAUTHORIZED' || first?.code === 'DENIED') {
      return { code: 'DENIED', error: this.denied(detail) };
    }
    if (reply.status === 404) return { code: 'NOT_FOUND', detail, error: new ImagePullError(`${what} not found`) };
    if (reply.status === 429) return { code: 'RATE', error: new ImagePullError(`too many requests to registry ${this.host} (rate limited)`) };
    return {
      code: 'OTHER',
      error: new ImagePullError(`registry ${this.host} answered HTTP ${reply.status} for ${what} of ${this.name}${detail ? `: ${detail}` : ''}`),
    };
  }
}

export function schemeFor(host: string, insecure: readonly string[]): 'http' | 'https' {
  return isLoopbackHost(host) || insecure.includes(host) ? 'http' : 'https';
}

function basicHeader(c: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** Parses `Bearer realm="...",service="...",scope="..."` (or `Basic realm=...`). */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } | undefined {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2])) !== null) {
    params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  }
  return { scheme: m[1].toLowerCase(), params };
}

function describeNetworkError(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  const code = cause?.code ?? (e as { code?: string })?.code;
  switch (code) {
    case 'ECONNREFUSED': return 'connection refused';
    case 'ECONNRESET': return 'connection reset';
    case 'ENOTFOUND': case 'EAI_AGAIN': return 'no such host';
    case 'ETIMEDOUT': case 'UND_ERR_CONNECT_TIMEOUT': return 'connection timed out';
    case 'EHOSTUNREACH': case 'ENETUNREACH': return 'network unreachable';
    case 'UND_ERR_SOCKET': return 'connection closed unexpectedly';
  }
  return cause?.message ?? (e instanceof Error ? e.message : String(e));
}

