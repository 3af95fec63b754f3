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
import { WarmPool } from '../network/warm-pool.ts';
import { warmPoolRoutes } from '../control/warm-pool-routes.ts';
import { newTaskId } from '../util/clock.ts';
import { useSpawnHelper } from '../util/exec.ts';
import { loadRegistryAuth } from '../images/registry-auth.ts';
import { buildHttpServer } from '../api/http-server.ts';
import { ecsProtocol } from '../control/ecs-protocol.ts';
import { skiffRoutes } from '../control/skiff-routes.ts';
import { costRoutes } from '../control/cost-routes.ts';
import { StatsSampler } from '../stats/sampler.ts';
import { MeteringRepo } from '../store/metering-repo.ts';
import { ensureDefaults } from '../control/defaults.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import { preflight } from './preflight.ts';
import { selfSignedCertificate, setUpAuth } from '../auth/bootstrap.ts';
import { ApiGuard } from '../auth/guard.ts';
import { authRoutes } from '../auth/routes.ts';
import { ecsResources } from '../auth/ecs-resources.ts';
import type { AuditLog } from '../auth/audit.ts';
import { readFileSync } from 'node:fs';
import { SecretStore } from '../secrets/secret-store.ts';
import { secretResources, secretsProtocol, SECRETS_TARGET_PREFIX } from '../secrets/secrets-protocol.ts';
import type { ControlContext } from '../control/context.ts';
import { ServiceScheduler } from '../services/scheduler.ts';
import { SpotReclaimer } from '../services/spot.ts';
import { serviceSettingsFromEnv } from '../services/settings.ts';
import { spotRoutes } from '../control/spot-routes.ts';
import { Ec2Api, ensureDefaultSecurityGroups } from '../ec2/ec2-protocol.ts';
import { SecurityGroupEnforcer } from '../ec2/enforcer.ts';
import { NetnsFirewall } from '../network/task-firewall.ts';
import { NETNS_DIR } from '../network/linux-network.ts';

export class SkiffServer {
  private app: FastifyInstance | undefined;
  private db: Db | undefined;
  private ready = false;
  private sampler: StatsSampler | undefined;
  private audit: AuditLog | undefined;
  private warmPool: WarmPool | undefined;
  private services: ServiceScheduler | undefined;
  private enforcer: SecurityGroupEnforcer | undefined;
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
    useSpawnHelper(true);
    const runtimeDir = join(c.dataDir, 'runtime');
    const driver = new RuncDriver({
      stateDir: runtimeDir,
      runcPath: c.runcPath,
      conmonPath: c.conmonPath,
      cgroupRoot: c.cgroupRoot,
      userns: c.userns,
    });
    const network = createNetwork({ netnsPrefix: c.netnsPrefix, vethPrefix: c.vethPrefix, nftTable: c.nftTable, hostAccess: c.hostAccess });
    await preflight([driver, network]);
    const registryCredentials = loadRegistryAuth(c.registryAuthFile);

    mkdirSync(c.dataDir, { recursive: true, mode: 0o700 });
    const db = (this.db = openDb(join(c.dataDir, 'skiff.db')));
    const networks = new NetworksRepo(db);
    const tasks = new TasksRepo(db);
    const images = new LocalImageStore({
      root: join(c.dataDir, 'images'),
      insecureRegistries: c.insecureRegistries,
      ...(c.userns ? { idShift: { base: c.userns.hostId, size: c.userns.size } } : {}),
      tagTtlMs: c.tagCacheTtlMs,
    });
    const subnetSpec = (subnetId: string) => {
      const s = networks.subnet(subnetId);
      if (!s) throw new Error(`subnet ${subnetId} is not in the store`);
      return toSubnetSpec(s, networks);
    };
    // Security groups: every task's firewall follows the store (src/ec2/enforcer.ts).
    const enforcer = (this.enforcer = new SecurityGroupEnforcer({
      networks,
      firewall: new NetnsFirewall({ netnsPath: (taskId) => `${NETNS_DIR}/${c.netnsPrefix}${taskId}` }),
      hostAccess: c.hostAccess,
      log: this.log,
    }));
    // Declared before the agent (whose runners claim pooled networks) and made after it (it waits for the agent's starts).
    let warmPool: WarmPool | undefined;
    const agent = new Agent({
      tasks,
      driver,
      network,
      images,
      clock: this.clock,
      // The per-task bill the runner stores (skiff.costUSD) is at on-demand x86 rates; cost reports price each task's architecture and capacity provider.
      prices: c.prices,
      region: c.region,
      taskFilesDir: join(runtimeDir, 'tasks'),
      subnet: subnetSpec,
      registryCredentials,
      releaseAddress: (taskId) => networks.release(taskId),
      warmAttachment: (taskId) => warmPool?.claim(taskId),
      networkReady: (taskId) => enforcer.prepareTask(taskId),
      log: this.log,
    });
    warmPool = this.warmPool = new WarmPool(
      {
        network,
        addresses: {
          reserve: (subnetId, id) => {
            const s = networks.subnet(subnetId);
            if (!s) throw new Error(`subnet ${subnetId} is not in the store`);
            return networks.allocate(s, id);
          },
          release: (id) => networks.release(id),
          reservationsWithoutTask: () => networks.reservationsWithoutTask(),
        },
        subnet: subnetSpec,
        newId: newTaskId,
        log: this.log,
        busy: () => agent.startingCount,
      },
      { size: c.warmPoolSize },
    );
    const ctx: ControlContext = (this.context = {
      db,
      clusters: new ClustersRepo(db),
      taskDefinitions: new TaskDefinitionsRepo(db),
      tags: new TagsRepo(db),
      tasks,
      networks,
      agent,
      warmPool,
      clock: this.clock,
      region: c.region,
      accountId: c.accountId,
      arns: { region: c.region, account: c.accountId, partition: 'aws' },
    });
    ensureDefaults(ctx, { vpcCidr: c.defaultVpcCidr, bridgePrefix: c.bridgePrefix });
    ensureDefaultSecurityGroups(db, networks);
    const ec2 = new Ec2Api({
      db,
      networks,
      region: c.region,
      accountId: c.accountId,
      bridgePrefix: c.bridgePrefix,
      enforce: () => enforcer.sync(),
      releaseIdleAddresses: (subnetId) => warmPool!.forgetSubnet(subnetId),
      subnetRemoved: async (s) => network.removeSubnet?.(s.bridge),
      log: this.log,
    });
    const serviceSettings = serviceSettingsFromEnv(process.env);
    const spot = new SpotReclaimer(ctx, { warningMs: serviceSettings.spotWarningMs, interruptionRatePerHour: serviceSettings.spotInterruptionRatePerHour, log: this.log });
    const services = (this.services = new ServiceScheduler(ctx, { intervalMs: serviceSettings.intervalMs, maxStartsPerPass: serviceSettings.maxStartsPerPass, log: this.log, afterPass: () => spot.tick() }));
    ctx.serviceScheduler = services;

    const auth = setUpAuth(c.dataDir, db, { accessKeyId: c.rootAccessKeyId, secretAccessKey: c.rootSecretAccessKey }, this.log);
    this.audit = auth.audit;
    const secrets = new SecretStore(db, auth.master);
    const ids = { region: c.region, account: c.accountId };
    const guard = new ApiGuard({
      keys: auth.keys,
      audit: auth.audit,
      accountId: c.accountId,
      services: { [ecsProtocol(ctx).targetPrefix]: 'ecs', [SECRETS_TARGET_PREFIX]: 'secretsmanager' },
      queryService: ec2.service,
      resourcesFor: (service, op, input) =>
        service === 'ecs'
          ? ecsResources(op, input, { arns: ctx.arns, latestRevision: (f) => ctx.taskDefinitions.latestActive(f)?.revision })
          : service === 'secretsmanager'
            ? secretResources(secrets, op, input, ids)
            : ['*'],
      routeResource: (params) => (params.taskId ? ctx.tasks.get(params.taskId.split('/').pop()!)?.arn : undefined),
    });
    let tls: { cert: Buffer; key: Buffer } | undefined;
    if (c.tls) {
      const files = c.tls === 'selfSigned' ? await selfSignedCertificate(c.dataDir, [c.host]) : c.tls;
      tls = { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
      this.log(`serving HTTPS with the certificate ${files.certFile}`);
    }
    const app = (this.app = buildHttpServer({
      protocols: [ecsProtocol(ctx), secretsProtocol(secrets, ids)],
      query: ec2,
      auth: guard,
      tls,
      routes: (a) => {
        authRoutes(a, { keys: auth.keys, audit: auth.audit });
        skiffRoutes(a, ctx, { logPath: (runtimeId) => driver.logPath(runtimeId) });
        warmPoolRoutes(a, warmPool!);
        spotRoutes(a, ctx, spot);
        costRoutes(a, ctx, { prices: c.prices, pricesSource: c.pricesFile ?? 'defaults', imagesRoot: join(c.dataDir, 'images') });
      },
      isReady: () => this.ready,
      log: this.log,
    }));
    const pooled = await warmPool.recover();
    if (pooled) this.log(`removed ${pooled} warm-pool namespace(s) left by the previous run`);
    const { adopted, swept } = await agent.recover();
    if (adopted || swept) this.log(`recovered ${adopted} task(s) from the store, removed ${swept} leftover(s)`);
    enforcer.start(); // re-applies every adopted task's firewall
    services.start(); // after adoption: it reads what the adopted tasks really are
    // Warm the subnet a RunTask without a network configuration uses first.
    const first = networks.subnets().find((s) => s.isDefault && networks.availableCount(s) > 0);
    if (first) warmPool.warm(first.id);
    this.sampler = new StatsSampler({ tasks, metering: new MeteringRepo(db), clock: this.clock, cgroupRoot: c.cgroupRoot, intervalMs: c.statsIntervalMs, log: this.log });
    this.sampler.start();
    const address = await app.listen({ host: c.host, port: c.port });
    this.endpoint = address.replace('[::1]', 'localhost');
    this.ready = true;
    return this.endpoint;
  }

  /** Stops serving. Running tasks keep running (their containers outlive the server). */
  async close(): Promise<void> {
    this.ready = false;
    this.services?.close();
    this.enforcer?.stop();
    // Pooled namespaces belong to no task: remove them (tasks keep running).
    await this.warmPool?.drain().catch((e) => this.log(`draining the warm pool failed: ${e instanceof Error ? e.message : e}`));
    useSpawnHelper(false);
    await this.sampler?.stop();
    await this.app?.close();
    this.audit?.close();
    this.db?.close();
  }
}

export function toSubnetSpec(s: SubnetRecord, networks: NetworksRepo) {
  const vpc = networks.vpc(s.vpcId);
  return { id: s.id, cidr: s.cidr, vpcCidr: vpc?.cidr ?? s.cidr, bridge: s.bridge };
}
