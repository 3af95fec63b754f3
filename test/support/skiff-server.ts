/**
 * Starts a real `skiff server` process for end-to-end tests, isolated from any
 * other Skiff on the host: its own data dir, port, default VPC CIDR and host
 * resource prefix (cgroup root, netns/veth names, nft table). `stop()` ends only
 * the process it started (by pid); `destroy()` also removes every host resource
 * the server made, even if tests failed half-way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ECSClient } from '@aws-sdk/client-ecs';
import { signedFetch } from '../../src/cli/client.ts';
import { resolveServerConfig } from '../../src/config/server-config.ts';
import { resetHost } from '../../src/server/host-reset.ts';
import { freePort } from './registry.ts';

const ROOT = resolve(import.meta.dirname, '../..');

export interface TestServerOptions {
  /** Reuse a data dir (restart tests). */
  dataDir?: string;
  prefix?: string;
  vpcSecondOctet?: number;
  env?: Record<string, string>;
  /** Extra `skiff server` arguments. */
  args?: string[];
  /** Start without SKIFF_ROOT_* (the server generates a root key). */
  noRootKey?: boolean;
  /** The `skiff` to run, e.g. an installed package's bin (default: this checkout's bin/skiff.js under this node); and its cwd. */
  command?: string[];
  cwd?: string;
}

/** The root key every TestServer is started with (its `ecs()` and `fetch()` sign with it). */
export const TEST_ROOT_KEY = { accessKeyId: 'AKIDSKIFFTEST', secretAccessKey: 'skiff-test-secret' };

export class TestServer {
  readonly dataDir: string;
  readonly prefix: string;
  readonly vpcCidr: string;
  port = 0;
  endpoint = '';
  private proc: ChildProcess | undefined;
  output = '';

  constructor(private readonly opts: TestServerOptions = {}) {
    this.dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'skiff-e2e-'));
    this.prefix = opts.prefix ?? `t${randomBytes(3).toString('hex')}`;
    // SKIFF_TEST_OCTET_RANGE=lo-hi keeps concurrent test runs (several checkouts at once) in disjoint VPCs.
    const [lo, hi] = (process.env.SKIFF_TEST_OCTET_RANGE ?? '200-249').split('-').map(Number);
    const octet = opts.vpcSecondOctet ?? lo + Math.floor(Math.random() * (hi - lo + 1));
    this.vpcCidr = `10.${octet}.0.0/16`;
  }

  /** Starts the server and waits for /healthz. */
  async start(): Promise<void> {
    this.port = this.port || (await freePort());
    this.endpoint = `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
    this.output = '';
    const [cmd, ...cmdArgs] = this.opts.command ?? [process.execPath, join(ROOT, 'bin/skiff.js')];
    const proc = (this.proc = spawn(
      cmd!,
      [...cmdArgs, 'server', '--data-dir', this.dataDir, '--port', String(this.port), '--vpc-cidr', this.vpcCidr, ...(this.opts.args ?? [])],
      {
        env: {
          ...process.env,
          SKIFF_RESOURCE_PREFIX: this.prefix,
          // No warm pool unless a test asks (SKIFF_WARM_POOL_SIZE in env): tests count namespaces and addresses.
          SKIFF_WARM_POOL_SIZE: '0',
          // Admission control as if the host were 100× this one, unless a test asks: tests must not depend on the machine's size.
          SKIFF_OVERCOMMIT: '100',
          // No egress (and no host forwarding change) unless a test asks: tests reach only namespaces they make (test/egress.root.test.ts).
          SKIFF_EGRESS: '0',
          // Never the host's resolvers ('none': not forwarded, REFUSED): a test that forwards sets its own DNS server.
          SKIFF_DNS_UPSTREAMS: 'none',
          ...(this.opts.noRootKey ? {} : { SKIFF_ROOT_ACCESS_KEY_ID: TEST_ROOT_KEY.accessKeyId, SKIFF_ROOT_SECRET_ACCESS_KEY: TEST_ROOT_KEY.secretAccessKey }),
          ...this.opts.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        cwd: this.opts.cwd,
      },
    ));
    proc.stdout!.on('data', (d) => (this.output += d));
    proc.stderr!.on('data', (d) => (this.output += d));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`skiff server exited with ${proc.exitCode}:\n${this.output}`);
      try {
        if ((await this.healthStatus()) === 200) return;
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`skiff server did not become healthy in 30 s:\n${this.output}`);
  }

  /** GET /healthz (unsigned); over HTTPS when the server was started with TLS, trusting any certificate. */
  private async healthStatus(): Promise<number> {
    if (!this.tls) return (await fetch(`${this.endpoint}/healthz`)).status;
    const https = await import('node:https');
    return new Promise((resolve, reject) => {
      https
        .get(`${this.endpoint}/healthz`, { rejectUnauthorized: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
  }

  private get tls(): boolean {
    const a = this.opts.args ?? [];
    return a.includes('--tls') || a.includes('--tls-cert');
  }

  /**
   * A request to the server signed with SigV4 like the skiff CLI signs it
   * (service `skiff` for /skiff/v1 paths, `ecs` for `POST /`), with `key`
   * (default: the root test key).
   */
  async fetch(path: string, init: { method?: string; body?: string; headers?: Record<string, string>; key?: { accessKeyId: string; secretAccessKey: string } } = {}): Promise<Response> {
    return signedFetch(new URL(this.endpoint + path), {
      method: init.method,
      body: init.body,
      headers: init.headers,
      service: path.startsWith('/skiff/') ? 'skiff' : 'ecs',
      region: 'us-east-1',
      credentials: init.key ?? TEST_ROOT_KEY,
    });
  }

  /** Environment for a client process (skiff CLI, AWS CLI) signing with the root test key. */
  clientEnv(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      AWS_ACCESS_KEY_ID: TEST_ROOT_KEY.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_ROOT_KEY.secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      SKIFF_ENDPOINT: this.endpoint,
    };
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  ecs(): ECSClient {
    return new ECSClient({
      endpoint: this.endpoint,
      region: 'us-east-1',
      credentials: TEST_ROOT_KEY,
      maxAttempts: 1,
    });
  }

  /** Ends the server process with `signal` and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    await exited;
  }

  /**
   * Stops the server and removes everything it made on the host: containers
   * (runc + conmon), mounts, cgroups, namespaces, veths, bridges, nft tables, data dir.
   */
  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    // The product's own `skiff host reset --purge-data` (src/server/host-reset.ts): one implementation.
    await resetHost(resolveServerConfig({ dataDir: this.dataDir }, { SKIFF_RESOURCE_PREFIX: this.prefix }), { purgeData: true });
  }
}

/** Polls `fn` until it returns a truthy value or the timeout passes. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}
