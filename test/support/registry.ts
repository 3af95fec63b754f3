/**
 * A real Debian `docker-registry` (distribution 2.8) on loopback, for tests.
 *
 * Contract: `startRegistry({auth})` writes a config into a fresh temp dir, starts the
 * registry on a free 127.0.0.1 port and resolves once `/v2/` answers. `stop()` kills
 * only the processes it started (by pid) and removes the temp dir; it is idempotent.
 *   auth 'none'  — anonymous push and pull;
 *   auth 'basic' — htpasswd (bcrypt, made with perl's crypt(3) from libxcrypt);
 *   auth 'token' — the registry's token auth with a tiny token server in this process
 *                  that issues RS256 JWTs (x5c header carrying the self-signed cert
 *                  from the registry's rootcertbundle); it checks Basic credentials
 *                  and grants pull/push only to the test user (anonymous: nothing).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, chmodSync } from 'node:fs';
import { createPrivateKey, createSign, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegistryCredentials } from '../../src/images/images.ts';

export type RegistryAuth = 'none' | 'basic' | 'token';

export interface TestRegistry {
  /** `127.0.0.1:PORT` — use as the registry part of image references. */
  host: string;
  /** `http://127.0.0.1:PORT` */
  url: string;
  auth: RegistryAuth;
  username?: string;
  password?: string;
  /** Set for 'basic' and 'token'. */
  credentials?: RegistryCredentials;
  /** The registry process id. */
  pid: number;
  /** Temp dir holding config and storage. */
  dir: string;
  /** Path of a blob's data file in the registry's storage (for tamper tests). */
  blobPath(digest: string): string;
  /** Number of token requests the token server answered (token auth only). */
  tokenRequests(): number;
  /** What the registry printed (for debugging a failed test). */
  logs(): string;
  stop(): Promise<void>;
}

const REGISTRY_BIN = '/usr/bin/docker-registry';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** bcrypt hash via perl's crypt(3) (libxcrypt supports $2b$). */
function bcrypt(password: string): string {
  const std = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const bc = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const salt = [...randomBytes(16).toString('base64').replace(/=+$/, '')].map((c) => bc[std.indexOf(c)]).join('');
  const hash = execFileSync('perl', ['-e', 'print crypt($ARGV[0], $ARGV[1])', password, `$2b$05$${salt}`], { encoding: 'utf8' });
  if (!/^\$2b\$05\$[./A-Za-z0-9]{53}$/.test(hash)) throw new Error(`perl crypt() did not produce a bcrypt hash (got ${JSON.stringify(hash)})`);
  return hash;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

interface TokenServer {
  realm: string;
  server: Server;
  requests: () => number;
}

async function startTokenServer(opts: {
  key: KeyObject;
  certDerB64: string;
  issuer: string;
  service: string;
  username: string;
  password: string;
}): Promise<TokenServer> {
  let requests = 0;
  const server = createHttpServer((req, res) => {
    requests++;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/token') {
      res.writeHead(404).end();
      return;
    }
    let authed = false;
    const auth = req.headers.authorization;
    if (auth) {
      const m = /^Basic\s+(.+)$/i.exec(auth);
      const [u, ...rest] = m ? Buffer.from(m[1], 'base64').toString('utf8').split(':') : [];
      const p = rest.join(':');
      const ok =
        u === opts.username &&
        Buffer.byteLength(p) === Buffer.byteLength(opts.password) &&
        timingSafeEqual(Buffer.from(p), Buffer.from(opts.password));
      if (!ok) {
        res.writeHead(401, { 'Content-Type': 'application/json', 'WWW-Authenticate': 'Basic realm="skiff-test-token"' });
        res.end(JSON.stringify({ details: 'invalid username or password' }));
        return;
      }
      authed = true;
    }
    const access: Array<{ type: string; name: string; actions: string[] }> = [];
    if (authed) {
      for (const scope of url.searchParams.getAll('scope')) {
        const [type, name, actions] = scope.split(':');
        if (type !== 'repository' || !name || !actions) continue;
        access.push({ type, name, actions: actions.split(',').filter((a) => a === 'pull' || a === 'push') });
      }
    }
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [opts.certDerB64] };
    const claims = {
      iss: opts.issuer,
      sub: authed ? opts.username : '',
      aud: url.searchParams.get('service') ?? opts.service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(signingInput).sign(opts.key);
    const token = `${signingInput}.${b64url(signature)}`;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date(now * 1000).toISOString() }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { realm: `http://127.0.0.1:${port}/token`, server, requests: () => requests };
}

export async function startRegistry(opts: { auth?: RegistryAuth } = {}): Promise<TestRegistry> {
  const auth = opts.auth ?? 'none';
  const dir = mkdtempSync(join(tmpdir(), 'skiff-registry-'));
  let child: ChildProcess | undefined;
  let token: TokenServer | undefined;
  let output = '';
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          if (child?.pid !== undefined) process.kill(child.pid, 'SIGKILL');
        } catch { /* already gone */ }
      }, 5000);
      await exited;
      clearTimeout(timer);
    }
    if (token) await new Promise<void>((resolve) => token!.server.close(() => resolve()));
    token?.server.closeAllConnections();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const username = auth === 'none' ? undefined : 'skiff';
    const password = auth === 'none' ? undefined : randomBytes(12).toString('hex');
    let authYaml = '';
    if (auth === 'basic') {
      writeFileSync(join(dir, 'htpasswd'), `${username}:${bcrypt(password!)}\n`, { mode: 0o600 });
      authYaml = `auth:\n  htpasswd:\n    realm: skiff-test-registry\n    path: ${join(dir, 'htpasswd')}\n`;
    } else if (auth === 'token') {
      const keyPath = join(dir, 'token.key');
      const certPath = join(dir, 'token.crt');
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath,
        '-days', '2', '-subj', '/CN=skiff-test-token-issuer',
      ], { stdio: 'ignore' });
      chmodSync(keyPath, 0o600);
      const certPem = readFileSync(certPath, 'utf8');
      const certDerB64 = certPem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
      token = await startTokenServer({
        key: createPrivateKey(readFileSync(keyPath)),
        certDerB64,
        issuer: 'skiff-test-issuer',
        service: 'skiff-test-registry',
        username: username!,
        password: password!,
      });
      authYaml =
        `auth:\n  token:\n    realm: ${token.realm}\n    service: skiff-test-registry\n` +
        `    issuer: skiff-test-issuer\n    rootcertbundle: ${certPath}\n`;
    }
    // The registry's port is chosen last (after the token server is listening) and
    // retried if another process takes it between choosing and binding.
    let host = '';
    for (let attempt = 1; ; attempt++) {
      host = `127.0.0.1:${await freePort()}`;
      const started = await spawnRegistry(host);
      if (started === 'ok') break;
      if (attempt >= 5) throw new Error(`docker-registry could not bind a port after ${attempt} attempts:\n${output}`);
    }

    async function spawnRegistry(host: string): Promise<'ok' | 'port-taken'> {
      output = '';
      const config =
        `version: 0.1\n` +
        `log:\n  level: warn\n  accesslog:\n    disabled: true\n` +
        `storage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\n` +
        `  maintenance:\n    uploadpurging:\n      enabled: false\n` +
        `http:\n  addr: ${host}\n  secret: ${randomBytes(16).toString('hex')}\n` +
        `health:\n  storagedriver:\n    enabled: false\n` +
        authYaml;
      const configPath = join(dir, 'config.yml');
      writeFileSync(configPath, config);

      child = spawn(REGISTRY_BIN, ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
      const collect = (b: Buffer) => {
        output = (output + b.toString('utf8')).slice(-64 * 1024);
      };
      child.stdout!.on('data', collect);
      child.stderr!.on('data', collect);
      const spawnError = new Promise<never>((_, reject) => child!.once('error', reject));
      spawnError.catch(() => {});

      const deadline = Date.now() + 15_000;
      for (;;) {
        if (child.exitCode !== null || child.signalCode !== null) {
          if (/address already in use/.test(output)) return 'port-taken';
          throw new Error(`docker-registry exited early (${child.exitCode ?? child.signalCode}):\n${output}`);
        }
        try {
          const res = await Promise.race([fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(1000) }), spawnError]);
          await res.body?.cancel();
          if (res.status === 200 || res.status === 401) break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${REGISTRY_BIN} not found: install the Debian package docker-registry`);
        }
        if (Date.now() > deadline) throw new Error(`docker-registry did not answer on ${host} within 15 s:\n${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return 'ok';
    }

    const tok = token;
    return {
      host,
      url: `http://${host}`,
      auth,
      username,
      password,
      credentials: username && password ? { username, password } : undefined,
      pid: child!.pid!,
      dir,
      blobPath: (digest: string) => {
        const hex = /^sha256:([0-9a-f]{64})$/.exec(digest)?.[1];
        if (!hex) throw new Error(`bad digest ${digest}`);
        return join(dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
      },
      tokenRequests: () => tok?.requests() ?? 0,
      logs: () => output,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
