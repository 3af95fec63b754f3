/**
 * `skiff server`: the control plane and the local agent in one process, over the
 * same interfaces they would use across hosts.
 *
 * Start order: preflight (refuse before creating anything) → store → defaults
 * (default cluster, default VPC and subnets) → agent recovery (adopt running
 * tasks) → HTTP, answering `/healthz` with 200 from then on.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ServerConfig } from '../config/server-config.ts';
import { openDb, type Db } from '../store/db.ts';
import { ClustersRepo } from '../store/clusters-repo.ts';
import { TaskDefinitionsRepo } from '../store/task-definitions-repo.ts';
import { TagsRepo } from '../store/tags-repo.ts';
import { TasksRepo } from '../store/tasks-repo.ts';
import { NetworksRepo, type SubnetRecord } from '../store/networks-repo.ts';
import { Agent } from '../agent/agent.ts';
import { RuncDriver } from '../drivers/runc/runc-driver.ts';
import { createNetwork } from '../network/index.ts';
import { LocalImageStore } from '../images/image-store.ts';
import { loadRegistryAuth } from '../images/registry-auth.ts';
import { buildHttpServer } from '../api/http-server.ts';
import { ecsProtocol } from '../control/ecs-protocol.ts';
import { skiffRoutes } from '../control/skiff-routes.ts';
import { ensureDefaults } from '../control/defaults.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import { US_EAST_1_X86 } from '../metering/pricing.ts';
import { preflight } from './preflight.ts';
import type { ControlContext } from '../control/context.ts';

export class SkiffServer {
  private app: FastifyInstance | undefined;
  private db: Db | undefined;
  private ready = false;
  /** The URL the API is served on, once listening. */
  endpoint = '';
  context: ControlContext | undefined;

  constructor(
    private readonly config: Readonly<ServerConfig>,
    private readonly log: (msg: string) => void = (m) => console.error(m),
    private readonly clock: Clock = systemClock,
  ) {}

  async start(): Promise<string> {
    const c = this.config;
    const runtimeDir = join(c.dataDir, 'runtime');
    const driver = new RuncDriver({
      stateDir: runtimeDir,
      runcPath: c.runcPath,
      conmonPath: c.conmonPath,
      cgroupRoot: c.cgroupRoot,
    });
    const network = createNetwork({ netnsPrefix: c.netnsPrefix, vethPrefix: c.vethPrefix, nftTable: c.nftTable });
    await preflight([driver, network]);
    const registryCredentials = loadRegistryAuth(c.registryAuthFile);

    mkdirSync(c.dataDir, { recursive: true, mode: 0o700 });
    const db = (this.db = openDb(join(c.dataDir, 'skiff.db')));
    const networks = new NetworksRepo(db);
    const tasks = new TasksRepo(db);
    const images = new LocalImageStore({ root: join(c.dataDir, 'images'), insecureRegistries: c.insecureRegistries });
    const subnetSpec = (subnetId: string) => {
      const s = networks.subnet(subnetId);
      if (!s) throw new Error(`subnet ${subnetId} is not in the store`);
      return toSubnetSpec(s, networks);
    };
    const agent = new Agent({
      tasks,
      driver,
      network,
      images,
      clock: this.clock,
      prices: US_EAST_1_X86,
      region: c.region,
      taskFilesDir: join(runtimeDir, 'tasks'),
      subnet: subnetSpec,
      registryCredentials,
      releaseAddress: (taskId) => networks.release(taskId),
      log: this.log,
    });
    const ctx: ControlContext = (this.context = {
      db,
      clusters: new ClustersRepo(db),
      taskDefinitions: new TaskDefinitionsRepo(db),
      tags: new TagsRepo(db),
      tasks,
      networks,
      agent,
      clock: this.clock,
      region: c.region,
      accountId: c.accountId,
      arns: { region: c.region, account: c.accountId, partition: 'aws' },
    });
    ensureDefaults(ctx, { vpcCidr: c.defaultVpcCidr, bridgePrefix: c.bridgePrefix });

    const app = (this.app = buildHttpServer({
      protocols: [ecsProtocol(ctx)],
      routes: (a) => skiffRoutes(a, ctx, { logPath: (runtimeId) => driver.logPath(runtimeId) }),
      isReady: () => this.ready,
      log: this.log,
    }));
    const { adopted, swept } = await agent.recover();
    if (adopted || swept) this.log(`recovered ${adopted} task(s) from the store, removed ${swept} leftover(s)`);
    const address = await app.listen({ host: c.host, port: c.port });
    this.endpoint = address.replace('[::1]', 'localhost');
    this.ready = true;
    return this.endpoint;
  }

  /** Stops serving. Running tasks keep running (their containers outlive the server). */
  async close(): Promise<void> {
    this.ready = false;
    await this.app?.close();
    this.db?.close();
  }
}

export function toSubnetSpec(s: SubnetRecord, networks: NetworksRepo) {
  const vpc = networks.vpc(s.vpcId);
  return { id: s.id, cidr: s.cidr, vpcCidr: vpc?.cidr ?? s.cidr, bridge: s.bridge };
}
