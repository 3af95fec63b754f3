/**
 * The agent side: what runs tasks on this host. In dependency order: service
 * discovery's DNS (answering from the store) on every subnet bridge, the image
 * store, the log service, the security-group enforcer, the warm pool's ledger,
 * the agent, and the warm pool itself, which refills only while the agent is
 * not starting tasks.
 */
import { join } from 'node:path';
import type { ServerConfig } from '../config/server-config.ts';
import type { Repos } from '../store/repos.ts';
import type { Clock } from '../util/clock.ts';
import { newTaskId } from '../util/clock.ts';
import type { Host } from './host.ts';
import { subnetSpecOf } from './store.ts';
import type { Network } from '../network/network.ts';
import { PoolLedger, WarmPool } from '../network/warm-pool.ts';
import { HostFirewall, securityGroupTable } from '../network/security-group-firewall.ts';
import { hostVethName } from '../network/linux-network.ts';
import { LocalImageStore } from '../images/image-store.ts';
import { Agent } from '../agent/agent.ts';
import { DnsResponder, withServiceDiscovery } from '../discovery/dns-responder.ts';
import { ServiceDirectory } from '../discovery/service-directory.ts';
import { storeDirectorySource } from '../discovery/store-source.ts';
import { LogService } from '../logs/log-service.ts';
import { SecurityGroupEnforcer } from '../ec2/enforcer.ts';
import { DnsForwarder } from '../discovery/dns-forwarder.ts';
import type { TaskIdentityService } from '../metadata/index.ts';
import type { PlatformMetrics } from '../metrics/platform-metrics.ts';
import { InstrumentedImageStore } from '../metrics/observers.ts';
import { EfsVolumes } from '../efs/efs-volumes.ts';
import { efsArn } from '../efs/efs-api.ts';

export interface AgentSide {
  dns: DnsResponder;
  /** Task networking with service discovery: a subnet's bridge gets a DNS responder on its gateway. */
  network: Network;
  images: InstrumentedImageStore;
  logs: LogService;
  enforcer: SecurityGroupEnforcer;
  agent: Agent;
  warmPool: WarmPool;
  /** EFS file systems on this host: their directories, and each task's EFS mounts. */
  efs: EfsVolumes;
}

export interface AgentSideDeps {
  host: Host;
  repos: Repos;
  identity: TaskIdentityService;
  metrics: PlatformMetrics;
  clock: Clock;
  log: (msg: string) => void;
}

export function buildAgentSide(c: Readonly<ServerConfig>, { host, repos, identity, metrics, clock, log }: AgentSideDeps): AgentSide {
  const { tasks, networks, taskDefinitions } = repos;
  const { driver, runtimeDir } = host;
  const subnetSpec = subnetSpecOf(networks);

  // Service discovery: DNS on each subnet's gateway, from the moment its bridge exists (src/discovery).
  const directory = new ServiceDirectory(storeDirectorySource(repos));
  // Other names go to the upstream resolvers (`--dns-upstream none`: refused).
  const forwarder = c.dnsUpstreams?.join() === 'none' ? undefined : new DnsForwarder({ upstreams: c.dnsUpstreams, log });
  const dns = new DnsResponder({ log, resolve: (name, from) => directory.resolve(name, from), ...(forwarder ? { forwarder } : {}) });
  const network = withServiceDiscovery(host.network, dns);

  const imageStore = (shifted: boolean) =>
    new InstrumentedImageStore(
      new LocalImageStore({
        root: join(c.dataDir, 'images'),
        insecureRegistries: c.insecureRegistries,
        ...(c.userns && shifted ? { idShift: { base: c.userns.hostId, size: c.userns.size } } : {}),
        tagTtlMs: c.tagCacheTtlMs,
      }),
      metrics.observePull,
    );
  const images = imageStore(true);
  // Runtimes without the user namespace (gVisor, microVM) get layers as the image has them (made when first needed).
  let unshifted: InstrumentedImageStore | undefined;
  const imagesFor = (isolation: string | undefined) => (!c.userns || driver.usesUserNamespace(isolation) ? images : (unshifted ??= imageStore(false)));
  const logs = new LogService({
    file: join(c.dataDir, 'logs.db'),
    settings: c.logs,
    region: c.region,
    account: c.accountId,
    now: () => clock.now(),
    logConfigurationOf: (task, name) => taskDefinitions.get(task.family, task.revision)?.containerDefinitions?.find((d) => d.name === name)?.logConfiguration,
    logFile: (runtimeId) => driver.logPath(runtimeId),
    taskFinished: (taskId) => (tasks.get(taskId)?.lastStatus ?? 'STOPPED') === 'STOPPED',
    log,
  });
  // Security groups: every task's firewall follows the store (src/ec2/enforcer.ts).
  const enforcer = new SecurityGroupEnforcer({
    networks,
    firewall: new HostFirewall(),
    table: securityGroupTable(c.nftTable),
    portOf: (taskId) => hostVethName(c.vethPrefix, taskId),
    hostAccess: c.hostAccess,
    log,
    // Egress (network/egress.ts): the boundary table's set of tasks that may leave.
    ...(c.egress ? { egress: { table: c.nftTable, routes: repos.routes } } : {}),
  });
  // EFS (src/efs/): a directory per file system; each task's EFS volumes bind-mounted at start.
  const efs = new EfsVolumes({
    efs: repos.efs,
    root: join(c.dataDir, 'efs'),
    mountsRoot: join(c.dataDir, 'efs-mounts'),
    helpers: driver,
    idBase: c.userns?.hostId ?? 0,
    ...(c.userns ? { idSize: c.userns.size } : {}),
    definitionOf: (task) => taskDefinitions.get(task.family, task.revision),
    unfinished: () => tasks.listUnfinished(),
    taskRoleArn: (task) => identity.identities.rolesOf(task).taskRoleArn,
    rolePolicy: (arn) => identity.roles.byArn(arn)?.policy,
    fileSystemArn: (id) => efsArn(c, 'file-system', id),
    accessPointArn: (id) => efsArn(c, 'access-point', id),
    log,
  });
  // The pool's ledger comes first: a task runner claims the ready network its task was given from it,
  // and the pool (made after the agent) waits for the agent's starts before refilling.
  const ledger = new PoolLedger(c.warmPoolSize);
  const agent = new Agent({
    tasks,
    driver,
    network,
    images,
    imagesFor,
    clock,
    // The per-task bill the runner stores (skiff.costUSD) is at on-demand x86 rates; cost reports price each task's architecture and capacity provider.
    prices: c.prices,
    region: c.region,
    taskFilesDir: join(runtimeDir, 'tasks'),
    subnet: subnetSpec,
    registryCredentials: host.registryCredentials,
    releaseAddress: (taskId) => networks.release(taskId),
    warmAttachment: (taskId) => ledger.claim(taskId),
    beforeContainers: (task) => logs.prepareTask(task),
    networkReady: (taskId) => enforcer.prepareTask(taskId),
    bandwidthScale: c.bandwidth.scale,
    log,
    identity: identity.identities,
    volumes: efs,
  }, c.ephemeralStorage);
  const warmPool = new WarmPool(
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
      log,
      busy: () => agent.startingCount,
      ledger,
    },
    { size: c.warmPoolSize },
  );
  return { dns, network, images, logs, enforcer, agent, warmPool, efs };
}
