/**
 * A Skiff control plane and agent on FAKE parts, for lifecycle tests without
 * root: the real ECS operations (served over HTTP on loopback and called with
 * @aws-sdk/client-ecs), the real placement, service scheduler, agent, task
 * runners and SQLite store, over the fake driver (src/drivers/fake), the fake
 * network (src/network/fake-network.ts) and a fake image store. No process
 * runs, no namespace or firewall exists, no image is pulled: what these tests
 * show is the lifecycle (statuses, stop codes and reasons, exit codes,
 * timestamps, adoption, service reconciliation), not isolation or limits.
 *
 * `startFakeStack` is the one place the stack is wired, so it follows the
 * server's composition when that changes. `crash()` ends a stack as kill -9
 * ends the server: its driver, network and image store never answer again and
 * nothing is cleaned up; `startFakeStack(stack.restartOptions())` is the server
 * started again over the same data dir and the same (fake) host.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ECSClient } from '@aws-sdk/client-ecs';
import { openDb, type Db } from '../store/db.ts';
import { openRepos } from '../store/repos.ts';
import { Agent } from '../agent/agent.ts';
import { FakeDriver, FakeHost } from '../drivers/fake/index.ts';
import { FakeNetwork, FakeNetworkState } from '../network/fake-network.ts';
import type { Network } from '../network/network.ts';
import type { ImageStore } from '../images/images.ts';
import { FakeImageStore } from './fake-images.ts';
import { buildHttpServer } from '../api/http-server.ts';
import { ecsProtocol, type EcsApiDeps } from '../control/ecs-protocol.ts';
import { ensureDefaults } from '../scheduler/defaults.ts';
import { ChangeSignal } from '../scheduler/signal.ts';
import { ensureDefaultSecurityGroups } from '../ec2/ec2-protocol.ts';
import { ServiceScheduler } from '../scheduler/service-scheduler.ts';
import { DEFAULT_PRICE_BOOK } from '../metering/pricing.ts';
import { systemClock } from '../util/clock.ts';
import type { HostAdmission } from '../scheduler/capacity.ts';
import type { IsolationDeps } from '../scheduler/placement.ts';

export interface FakeStackOptions {
  /** Data dir (SQLite file, task files). Default: a new temp dir, removed by `destroy`. */
  dataDir?: string;
  /** The fake machine: containers and task cgroups (kept across a restart). */
  host?: FakeHost;
  /** The fake machine's namespaces and bridges (kept across a restart). */
  networkState?: FakeNetworkState;
  images?: FakeImageStore;
  /** Service scheduler pass interval. Default 50 ms. */
  serviceIntervalMs?: number;
  log?: (msg: string) => void;
  /** Admission control (scheduler/capacity.ts): the fake host's capacity and overcommit. Default: none (nothing refused). */
  admission?: HostAdmission;
  /** How tasks' isolation is chosen (scheduler/placement.ts): the server default and fake runtime fingerprints. Default: runc only. Every task still runs on the fake driver. */
  isolation?: IsolationDeps;
  /** The operator's --bandwidth-scale (default 1). */
  bandwidthScale?: number;
  /** Whether `destroy` disposes the fake host and removes the data dir. Default: when the data dir is the stack's own. */
  owns?: boolean;
}

export interface FakeStack {
  ecs: ECSClient;
  endpoint: string;
  dataDir: string;
  host: FakeHost;
  networkState: FakeNetworkState;
  images: FakeImageStore;
  driver: FakeDriver;
  agent: Agent;
  /** What the ECS handlers were given (repos, clock, agent...). */
  ctx: EcsApiDeps;
  db: Db;
  /** What the stack logged (newest last). */
  logs: string[];
  /** Ends the stack as kill -9 ends a server: nothing is stopped or cleaned; tasks stay on the fake host. */
  crash(): Promise<void>;
  /** Options that start the server again over the same data dir and fake host (whose `destroy` then cleans up). */
  restartOptions(): FakeStackOptions;
  /** Stops serving and removes everything: the fake host's containers, the data dir it made. */
  destroy(): Promise<void>;
}

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';

/** Starts the control plane and agent over fake parts, after adopting what the store and the fake host hold. */
export async function startFakeStack(opts: FakeStackOptions = {}): Promise<FakeStack> {
  const logs: string[] = [];
  const log = (msg: string) => {
    logs.push(msg);
    opts.log?.(msg);
  };
  log('FAKE driver, network and images: no container, namespace or image is real (lifecycle tests only)');
  let owns = opts.owns ?? !opts.dataDir;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'skiff-fake-stack-'));
  const networkState = opts.networkState ?? new FakeNetworkState();
  const host = opts.host ?? new FakeHost({ netnsExists: (p) => networkState.hasNamespacePath(p) });
  const images = opts.images ?? new FakeImageStore();

  const driver = new FakeDriver(host);
  const crashed = { value: false };
  const network = crashable<Network>(new FakeNetwork(networkState), crashed);
  const imageStore = crashable<ImageStore>(images, crashed);

  const db = openDb(join(dataDir, 'skiff.db'));
  const repos = openRepos(db);
  const { networks, tasks } = repos;
  const agent = new Agent({
    tasks,
    driver,
    network,
    images: imageStore,
    clock: systemClock,
    prices: DEFAULT_PRICE_BOOK,
    region: REGION,
    taskFilesDir: join(dataDir, 'tasks'),
    subnet: (subnetId) => {
      const s = networks.subnet(subnetId);
      if (!s) throw new Error(`subnet ${subnetId} is not in the store`);
      return { id: s.id, cidr: s.cidr, vpcCidr: networks.vpc(s.vpcId)?.cidr ?? s.cidr, bridge: s.bridge };
    },
    registryCredentials: () => undefined,
    releaseAddress: (taskId) => networks.release(taskId),
    bandwidthScale: opts.bandwidthScale,
    log,
  });
  const servicesChanged = new ChangeSignal();
  const ctx: EcsApiDeps = { ...repos, agent, clock: systemClock, arns: { region: REGION, account: ACCOUNT, partition: 'aws' }, servicesChanged, admission: opts.admission, ...(opts.isolation ? { isolation: opts.isolation } : {}) };
  ensureDefaults(ctx, { vpcCidr: '10.0.0.0/16', bridgePrefix: 'fkbr' });
  ensureDefaultSecurityGroups(db, networks);
  const services = new ServiceScheduler(ctx, { intervalMs: opts.serviceIntervalMs ?? 50, maxStartsPerPass: 50, log, wakeOn: servicesChanged });

  const app: FastifyInstance = buildHttpServer({ protocols: [ecsProtocol(ctx)], isReady: () => true, log });
  const { adopted, swept } = await agent.recover();
  if (adopted || swept) log(`recovered ${adopted} task(s) from the store, removed ${swept} leftover(s)`);
  services.start();
  const endpoint = await app.listen({ host: '127.0.0.1', port: 0 });
  const ecs = new ECSClient({ endpoint, region: REGION, credentials: { accessKeyId: 'AKIDFAKESTACK', secretAccessKey: 'fake' }, maxAttempts: 1 });

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    services.close();
    driver.simulateCrash();
    crashed.value = true;
    ecs.destroy();
    await app.close();
    db.close();
  };
  return {
    ecs,
    endpoint,
    dataDir,
    host,
    networkState,
    images,
    driver,
    agent,
    ctx,
    db,
    logs,
    crash: close,
    restartOptions: () => {
      const next = { ...opts, dataDir, host, networkState, images, owns }; // the restarted stack cleans up
      owns = false;
      return next;
    },
    destroy: async () => {
      await close();
      if (!owns) return;
      host.dispose();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** `impl` whose methods, once `crashed.value` is set, never settle (a dead process answers nothing). */
function crashable<T extends object>(impl: T, crashed: { value: boolean }): T {
  return new Proxy(impl, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return async (...args: unknown[]) => {
        if (crashed.value) return new Promise(() => {});
        const out = await v.apply(target, args);
        if (crashed.value) return new Promise(() => {});
        return out;
      };
    },
  });
}
