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
import { DiskGuard, diskSettingsFromEnv } from '../store/disk-guard.ts';
import { ClustersRepo } from '../store/clusters-repo.ts';
import { TaskDefinitionsRepo } from '../store/task-definitions-repo.ts';
import { TagsRepo } from '../store/tags-repo.ts';
import { TasksRepo } from '../store/tasks-repo.ts';
import { NetworksRepo, type SubnetRecord } from '../store/networks-repo.ts';
import { Agent } from '../agent/agent.ts';
import { createDriver, preflightCheck } from '../drivers/registry.ts';
import { createNetwork } from '../network/index.ts';
import { LocalImageStore } from '../images/image-store.ts';
import { WarmPool } from '../network/warm-pool.ts';
import { warmPoolRoutes } from '../control/warm-pool-routes.ts';
import { newTaskId } from '../util/clock.ts';
import { useSpawnHelper } from '../util/exec.ts';
import { loadRegistryAuth } from '../images/registry-auth.ts';
import { buildHttpServer } from '../api/http-server.ts';
import { ecsProtocol } from '../control/ecs-protocol.ts';
import { executeCommandAuditDetail } from '../control/execute-command.ts';
import { ExecSessions } from '../exec/sessions.ts';
import { attachExecStream } from '../exec/stream-route.ts';
import { skiffRoutes } from '../control/skiff-routes.ts';
import { costRoutes } from '../control/cost-routes.ts';
import { StatsSampler } from '../stats/sampler.ts';
import { MeteringRepo } from '../store/metering-repo.ts';
import { ensureDefaults } from '../control/defaults.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import { preflight } from './preflight.ts';
import { ensureBridgeNetfilter, ensureKeyQuota } from './host-tuning.ts';
import { selfSignedCertificate, setUpAuth } from '../auth/bootstrap.ts';
import { ApiGuard } from '../auth/guard.ts';
import { ecsPassedRoles } from '../auth/ecs-pass-role.ts';
import { authRoutes } from '../auth/routes.ts';
import { ecsResources } from '../auth/ecs-resources.ts';
import type { AuditLog } from '../auth/audit.ts';
import { readFileSync } from 'node:fs';
import { SecretStore } from '../secrets/secret-store.ts';
import { secretResources, secretsProtocol, SECRETS_TARGET_PREFIX } from '../secrets/secrets-protocol.ts';
import type { ControlContext } from '../control/context.ts';
import { ServiceScheduler } from '../scheduler/service-scheduler.ts';
import { SpotReclaimer } from '../scheduler/spot.ts';
import { serviceSettingsFromEnv } from '../scheduler/settings.ts';
import { spotRoutes } from '../control/spot-routes.ts';
import { PlatformMetrics } from '../metrics/platform-metrics.ts';
import { InstrumentedImageStore, ObservedTasksRepo } from '../metrics/observers.ts';
import { TaskResourceReader } from '../metrics/task-resources.ts';
import { metricsBearerHook, metricsRoutes, type MetricsRouteDeps } from '../metrics/routes.ts';
import { metricsSettingsFromEnv } from '../metrics/settings.ts';
import { dashboardRoutes, isDashboardPath } from '../dashboard/routes.ts';
import { metadataSettingsFromEnv, TaskIdentityService } from '../metadata/index.ts';
import { roleRoutes } from '../auth/roles-routes.ts';
import { masterKeyRoutes } from '../secrets/master-key-routes.ts';
import { DnsResponder, withServiceDiscovery } from '../discovery/dns-responder.ts';
import { ServiceDirectory } from '../discovery/service-directory.ts';
import { storeDirectorySource } from '../discovery/store-source.ts';
import { Autoscaler } from '../autoscaling/autoscaler.ts';
import { AutoscalingRepo } from '../autoscaling/repo.ts';
import { autoscalingSettingsFromEnv } from '../autoscaling/settings.ts';
import { AUTOSCALING_SERVICE, AUTOSCALING_TARGET_PREFIX, autoscalingProtocol, autoscalingResources } from '../autoscaling/protocol.ts';
import { LoadBalancers, loadBalancerSettingsFromEnv } from '../lb/load-balancers.ts';
import { loadBalancerRoutes } from '../lb/routes.ts';
import { loadBalancerSource } from '../scheduler/load-balancing.ts';
import { LogService, LOGS_TARGET_PREFIX } from '../logs/log-service.ts';
import { logSettingsFromEnv } from '../logs/settings.ts';
import { Ec2Api, ensureDefaultSecurityGroups } from '../ec2/ec2-protocol.ts';
import { IamApi } from '../iam/iam-protocol.ts';
import { SecurityGroupEnforcer } from '../ec2/enforcer.ts';
import { HostFirewall, securityGroupTable } from '../network/security-group-firewall.ts';
import { hostVethName } from '../network/linux-network.ts';

export class SkiffServer {
  private app: FastifyInstance | undefined;
  private db: Db | undefined;
  private ready = false;
  private sampler: StatsSampler | undefined;
  private audit: AuditLog | undefined;
  private closeExec: (() => void) | undefined;
  private warmPool: WarmPool | undefined;
  private services: ServiceScheduler | undefined;
  private identity: TaskIdentityService | undefined;
  private dns: DnsResponder | undefined;
  private autoscaler: Autoscaler | undefined;
  private loadBalancers: LoadBalancers | undefined;
  private logs: LogService | undefined;
  private enforcer: SecurityGroupEnforcer | undefined;
  private disk: DiskGuard | undefined;
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
    const logSettings = logSettingsFromEnv(process.env);
    const driver = await createDriver('runc', {
      runtimeDir,
      tools: { runc: c.runcPath, conmon: c.conmonPath },
      cgroupRoot: c.cgroupRoot,
      userns: c.userns,
      logSizeMaxBytes: logSettings.containerLogMaxBytes,
      maxConcurrentCreates: c.maxConcurrentCreates,
    });
    // Service discovery: DNS on each subnet's gateway, from the moment its bridge exists (src/discovery).
    const dns = (this.dns = new DnsResponder({ log: this.log }));
    const network = withServiceDiscovery(createNetwork({ netnsPrefix: c.netnsPrefix, vethPrefix: c.vethPrefix, nftTable: c.nftTable, hostAccess: c.hostAccess, taskHostPorts: c.taskHostPorts }), dns);
    await preflight([preflightCheck(driver), network]);
    for (const change of ensureKeyQuota()) this.log(`raised ${change} (one session keyring per running container)`);
    for (const change of ensureBridgeNetfilter()) this.log(`${change} (security groups filter traffic between tasks on one bridge)`);
    const registryCredentials = loadRegistryAuth(c.registryAuthFile);
    const metricsSettings = metricsSettingsFromEnv();
    const metrics = new PlatformMetrics(this.clock.now());
    const metadataSettings = metadataSettingsFromEnv(process.env);

    mkdirSync(c.dataDir, { recursive: true, mode: 0o700 });
    // Before the store opens: on a full disk it first releases the store reserve (see store/disk-guard.ts).
    const disk = (this.disk = new DiskGuard({ dir: c.dataDir, settings: diskSettingsFromEnv(process.env), log: this.log }));
    await disk.start();
    const db = (this.db = openDb(join(c.dataDir, 'skiff.db')));
    const networks = new NetworksRepo(db);
    const tasks: TasksRepo = new ObservedTasksRepo(db, metrics.observeTask);
    const taskDefinitions = new TaskDefinitionsRepo(db);
    const logs = (this.logs = new LogService({
      file: join(c.dataDir, 'logs.db'),
      settings: logSettings,
      region: c.region,
      account: c.accountId,
      now: () => this.clock.now(),
      logConfigurationOf: (task, name) =>
        taskDefinitions.get(task.family, task.revision)?.containerDefinitions?.find((d) => d.name === name)?.logConfiguration,
      logFile: (runtimeId) => driver.logPath(runtimeId),
      taskFinished: (taskId) => (tasks.get(taskId)?.lastStatus ?? 'STOPPED') === 'STOPPED',
      log: this.log,
    }));
    const localImages = new LocalImageStore({
      root: join(c.dataDir, 'images'),
      insecureRegistries: c.insecureRegistries,
      ...(c.userns ? { idShift: { base: c.userns.hostId, size: c.userns.size } } : {}),
      tagTtlMs: c.tagCacheTtlMs,
    });
    const images = new InstrumentedImageStore(localImages, metrics.observePull);
    const subnetSpec = (subnetId: string) => {
      const s = networks.subnet(subnetId);
      if (!s) throw new Error(`subnet ${subnetId} is not in the store`);
      return toSubnetSpec(s, networks);
    };
    // Security groups: every task's firewall follows the store (src/ec2/enforcer.ts).
    const enforcer = (this.enforcer = new SecurityGroupEnforcer({
      networks,
      firewall: new HostFirewall(),
      table: securityGroupTable(c.nftTable),
      portOf: (taskId) => hostVethName(c.vethPrefix, taskId),
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
      beforeContainers: (task) => logs.prepareTask(task),
      networkReady: (taskId) => enforcer.prepareTask(taskId),
      log: this.log,
      // Made once the master key is loaded (below), before any task starts.
      identity: { prepare: (t) => this.identity!.identities.prepare(t), release: (id) => this.identity!.identities.release(id) },
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
      taskDefinitions,
      tags: new TagsRepo(db),
      tasks,
      networks,
      agent,
      warmPool,
      clock: this.clock,
      region: c.region,
      accountId: c.accountId,
      arns: { region: c.region, account: c.accountId, partition: 'aws' },
      disk,
    });
    ensureDefaults(ctx, { vpcCidr: c.defaultVpcCidr, bridgePrefix: c.bridgePrefix });
    const directory = new ServiceDirectory(storeDirectorySource(db, tasks, networks));
    dns.resolve = (name, from) => directory.resolve(name, from);
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
    const loadBalancers = (this.loadBalancers = new LoadBalancers(loadBalancerSource(ctx, this.log), loadBalancerSettingsFromEnv(process.env, c.host), this.log));
    ctx.loadBalancers = loadBalancers;
    const services = (this.services = new ServiceScheduler(ctx, {
      intervalMs: serviceSettings.intervalMs,
      maxStartsPerPass: serviceSettings.maxStartsPerPass,
      log: this.log,
      afterPass: () => spot.tick(),
      drain: (serviceId, taskId) => loadBalancers.drain(serviceId, taskId),
      targetHealth: (serviceId) => loadBalancers.targetHealth(serviceId),
    }));
    ctx.serviceScheduler = services;
    const autoscalingRepo = new AutoscalingRepo(db);
    const autoscaler = (this.autoscaler = new Autoscaler(ctx, autoscalingRepo, new MeteringRepo(db), { settings: autoscalingSettingsFromEnv(process.env), log: this.log }));

    const auth = setUpAuth(c.dataDir, db, { accessKeyId: c.rootAccessKeyId, secretAccessKey: c.rootSecretAccessKey }, this.log, { gate: (action) => disk.assertWritable(action) });
    this.audit = auth.audit;
    const secrets = new SecretStore(db, auth.master);
    const ids = { region: c.region, account: c.accountId };
    const identity = (this.identity = new TaskIdentityService({
      db, master: auth.master, accountId: c.accountId, region: c.region, taskDefinitions: ctx.taskDefinitions, tasks, networks, secrets,
      stats: driver, containerPid: async (id) => (await driver.inspect(id)).pid, nftTable: c.nftTable, settings: metadataSettings, log: this.log,
    }));
    const iam = new IamApi({ roles: identity.roles, log: this.log });
    const execSessions = new ExecSessions();
    const guard = new ApiGuard({
      keys: auth.keys,
      audit: auth.audit,
      accountId: c.accountId,
      region: c.region,
      services: { [ecsProtocol(ctx).targetPrefix]: 'ecs', [SECRETS_TARGET_PREFIX]: 'secretsmanager', [AUTOSCALING_TARGET_PREFIX]: AUTOSCALING_SERVICE, [LOGS_TARGET_PREFIX]: 'logs' },
      queryService: [ec2.service, iam.service],
      resourcesFor: (service, op, input) =>
        service === 'ecs'
          ? ecsResources(op, input, { arns: ctx.arns, latestRevision: (f) => ctx.taskDefinitions.latestActive(f)?.revision })
          : service === 'secretsmanager'
            ? secretResources(secrets, op, input, ids)
            : service === AUTOSCALING_SERVICE
              ? autoscalingResources(autoscalingRepo, input)
              : service === 'logs'
                ? logs.resources(op, input)
                : service === iam.service
                  ? iam.resources(op, input)
                  : ['*'],
      auditDetail: (service, op, input) => (service === 'ecs' && op === 'ExecuteCommand' ? executeCommandAuditDetail(input) : undefined),
      passedRoles: (service, op, input) =>
        // Checked on the ARN of the role it reaches (IAM roles may have a path: role/team/app).
        (service === 'ecs' ? ecsPassedRoles(op, input, { arns: ctx.arns, taskDefinitionRoles: (f, r) => (r === undefined ? ctx.taskDefinitions.latestActive(f) : ctx.taskDefinitions.get(f, r)) }) : []).map((p) => ({ ...p, roleArn: identity.roles.byArn(p.roleArn)?.arn ?? p.roleArn })),
      exempt: isDashboardPath, // the dashboard checks its own session cookie, then calls the API signed as the session's key
      routeResource: (params) => (params.taskId ? ctx.tasks.get(params.taskId.split('/').pop()!)?.arn : params.roleName ? identity.roles.arnOf(params.roleName) : undefined),
      sessions: { lookup: (id) => identity.credentials.lookup(id), rolePolicy: (arn) => identity.roles.byArn(arn)?.policy },
    });
    let tls: { cert: Buffer; key: Buffer } | undefined;
    if (c.tls) {
      const files = c.tls === 'selfSigned' ? await selfSignedCertificate(c.dataDir, [c.host]) : c.tls;
      tls = { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
      this.log(`serving HTTPS with the certificate ${files.certFile}`);
    }
    const metricsDeps: MetricsRouteDeps = {
      metrics,
      images,
      settings: metricsSettings,
      unfinished: () => tasks.listUnfinished(),
      reader: new TaskResourceReader({ driver }),
    };
    const app = (this.app = buildHttpServer({
      protocols: [
        ecsProtocol(ctx, execSessions),
        secretsProtocol(secrets, ids),
        autoscalingProtocol(autoscalingRepo, autoscaler, { ...ids, now: () => this.clock.now() }),
        logs.protocol(),
      ],
      query: [ec2, iam],
      auth: guard,
      tls,
      beforeAuth: (a) => metricsBearerHook(a, metricsDeps),
      onRequestDone: metrics.observeRequest,
      routes: (a) => {
        authRoutes(a, { keys: auth.keys, audit: auth.audit });
        roleRoutes(a, { roles: identity.roles });
        masterKeyRoutes(a, { dataDir: c.dataDir, db, master: auth.master, log: this.log });
        skiffRoutes(a, ctx, { logPath: (runtimeId) => driver.logPath(runtimeId) });
        warmPoolRoutes(a, warmPool!);
        spotRoutes(a, ctx, spot);
        metricsRoutes(a, metricsDeps);
        loadBalancerRoutes(a, loadBalancers);
        costRoutes(a, ctx, { prices: c.prices, pricesSource: c.pricesFile ?? 'defaults', imagesRoot: join(c.dataDir, 'images') });
        dashboardRoutes(a, { keys: auth.keys, audit: auth.audit, region: c.region, principalArn: (k) => guard.principalArn(k), secure: !!tls });
      },
      isReady: () => this.ready,
      storeFull: (err) => (disk.noteFailure(err), disk.fullMessage()),
      log: this.log,
    }));
    this.closeExec = attachExecStream(app.server, { sessions: execSessions, startExec: (id, args, o) => driver.startExec(id, args, o), log: this.log });
    await identity.start(); // before adoption and new starts: tasks reach their metadata from the start
    const pooled = await warmPool.recover();
    if (pooled) this.log(`removed ${pooled} warm-pool namespace(s) left by the previous run`);
    const { adopted, swept } = await agent.recover();
    if (adopted || swept) this.log(`recovered ${adopted} task(s) from the store, removed ${swept} leftover(s)`);
    loadBalancers.start(); // after adoption: listeners come back with the running, healthy tasks as targets
    enforcer.start(); // re-applies every adopted task's firewall
    services.start(); // after adoption: it reads what the adopted tasks really are
    await dns.listenOnExisting(networks.subnets().map((s) => toSubnetSpec(s, networks)));
    autoscaler.start();
    // Warm the subnet a RunTask without a network configuration uses first.
    const first = networks.subnets().find((s) => s.isDefault && networks.roomFor(s) > 0);
    if (first) warmPool.warm(first.id);
    this.sampler = new StatsSampler({ tasks, metering: new MeteringRepo(db), clock: this.clock, readUsage: (id) => driver.taskStats(id), intervalMs: c.statsIntervalMs, log: this.log });
    this.sampler.start();
    logs.start(); // after adoption: it follows the adopted tasks' files from their stored offsets
    const address = await app.listen({ host: c.host, port: c.port });
    this.endpoint = address.replace('[::1]', 'localhost');
    execSessions.streamBase = this.endpoint.replace(/^http/, 'ws');
    this.ready = true;
    return this.endpoint;
  }

  /** Stops serving. Running tasks keep running (their containers outlive the server). */
  async close(): Promise<void> {
    this.ready = false;
    this.services?.close();
    this.autoscaler?.close();
    await this.loadBalancers?.close();
    this.enforcer?.stop();
    // Pooled namespaces belong to no task: remove them (tasks keep running).
    await this.warmPool?.drain().catch((e) => this.log(`draining the warm pool failed: ${e instanceof Error ? e.message : e}`));
    useSpawnHelper(false);
    await this.dns?.close();
    await this.sampler?.stop();
    this.closeExec?.();
    await this.app?.close();
    await this.identity?.close().catch((e) => this.log(`closing the metadata endpoint failed: ${e instanceof Error ? e.message : e}`));
    await this.logs?.close();
    this.audit?.close();
    await this.disk?.stop();
    this.db?.close();
  }
}

export function toSubnetSpec(s: SubnetRecord, networks: NetworksRepo) {
  const vpc = networks.vpc(s.vpcId);
  return { id: s.id, cidr: s.cidr, vpcCidr: vpc?.cidr ?? s.cidr, bridge: s.bridge };
}
