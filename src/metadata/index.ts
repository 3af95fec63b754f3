/**
 * Task identity wiring for `skiff server`: roles, secrets injection, the
 * metadata and credentials endpoints at 169.254.170.2 and the NAT that brings
 * tasks' requests there. Its settings (port, credentials lifetime) are part of
 * the server configuration (src/config/sections.ts).
 */
import type { MetadataSettings } from '../config/sections.ts';
import type { Db } from '../store/db.ts';
import type { MasterKey } from '../auth/master-key.ts';
import type { TaskDefinitionsRepo } from '../store/task-definitions-repo.ts';
import type { TasksRepo } from '../store/tasks-repo.ts';
import type { NetworksRepo } from '../store/networks-repo.ts';
import type { SecretStore } from '../secrets/secret-store.ts';
import { RoleStore } from '../auth/roles.ts';
import type { DriverStats } from '../drivers/driver.ts';
import { TaskCredentialStore } from './task-credentials.ts';
import { TaskIdentities } from './task-identity.ts';
import { MetadataServer } from './metadata-server.ts';
import { MetadataNat } from './metadata-nat.ts';

export type { MetadataSettings };

export interface TaskIdentityServiceDeps {
  db: Db;
  master: MasterKey;
  accountId: string;
  region: string;
  taskDefinitions: TaskDefinitionsRepo;
  tasks: TasksRepo;
  networks: NetworksRepo;
  secrets: SecretStore;
  /** The driver's usage side: each container's stats. */
  stats: Pick<DriverStats, 'containerStats' | 'writableLayerUsage'>;
  /** The pid of a container's process on the host (driver inspect). */
  containerPid(runtimeId: string): Promise<number | undefined>;
  /** The nft table name this server may use (from its resource prefix). */
  nftTable: string;
  settings: MetadataSettings;
  log(msg: string): void;
}

/** Everything task identity needs at run time, started and stopped with the server. */
export class TaskIdentityService {
  readonly roles: RoleStore;
  readonly credentials: TaskCredentialStore;
  readonly identities: TaskIdentities;
  private readonly server: MetadataServer;
  private nat: MetadataNat | undefined;

  constructor(private readonly deps: TaskIdentityServiceDeps) {
    this.roles = new RoleStore(deps.db, deps.accountId);
    this.credentials = new TaskCredentialStore(deps.db, deps.master, { ttlMs: deps.settings.credentialsTtlMs });
    this.identities = new TaskIdentities({
      db: deps.db,
      taskDefinitions: deps.taskDefinitions,
      roles: this.roles,
      secrets: deps.secrets,
      credentials: this.credentials,
      accountId: deps.accountId,
      reachable: async (subnetId) => {
        const bridge = deps.networks.subnet(subnetId)?.bridge;
        if (bridge && this.nat) await this.nat.allowBridge(bridge);
      },
    });
    this.server = new MetadataServer({
      identities: this.identities,
      credentials: this.credentials,
      tasks: deps.tasks,
      region: deps.region,
      subnetCidr: (id) => deps.networks.subnet(id)?.cidr,
      containerPid: deps.containerPid,
      containerUsage: (runtimeId) => deps.stats.containerStats(runtimeId),
      writableLayerBytes: async (runtimeId) => (await deps.stats.writableLayerUsage(runtimeId).catch(() => undefined))?.bytes,
      log: deps.log,
    });
  }

  /** The nft table of the metadata NAT for a server whose boundary table is `nftTable`. */
  static natTable(nftTable: string): string {
    return `${nftTable}_md`.slice(0, 32);
  }

  /** Listens and installs the NAT (every subnet bridge this server has). */
  async start(): Promise<void> {
    const port = await this.server.listen(this.deps.settings.port);
    this.nat = new MetadataNat(TaskIdentityService.natTable(this.deps.nftTable), port);
    await this.nat.install();
    this.identities.forgetFinished();
    for (const s of this.deps.networks.subnets()) await this.nat.allowBridge(s.bridge);
  }

  async close(): Promise<void> {
    await this.nat?.remove();
    await this.server.close();
  }
}
