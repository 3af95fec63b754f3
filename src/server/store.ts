/**
 * The store, opened once: the disk guard first (on a full disk it releases the
 * store's reserve so the store can open), every repo over one database (tasks
 * reported to the platform metrics as they change), and what exists out of the
 * box — the `default` cluster, the default VPC with its subnets and security groups.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerConfig } from '../config/server-config.ts';
import { openDb, type Db } from '../store/db.ts';
import { openPgDb } from '../store/postgres/open.ts';
import { DiskGuard } from '../store/disk-guard.ts';
import { openRepos, type Repos } from '../store/repos.ts';
import type { NetworksRepo, SubnetRecord } from '../store/networks-repo.ts';
import type { TaskRecord } from '../model/task-record.ts';
import type { ArnContext } from '../ecs/arns.ts';
import type { SubnetSpec } from '../network/network.ts';
import type { Clock } from '../util/clock.ts';
import { ObservedTasksRepo } from '../metrics/observers.ts';
import { ensureDefaults } from '../scheduler/defaults.ts';
import { ensureDefaultSecurityGroups } from '../ec2/ec2-protocol.ts';

/** Region and account every ARN this server issues carries. */
export function arnsOf(c: Readonly<ServerConfig>): ArnContext {
  return Object.freeze({ region: c.region, account: c.accountId, partition: 'aws' });
}

export interface Store {
  repos: Repos;
  /** The data dir's disk: refuses new tasks and writes when (nearly) full. */
  disk: DiskGuard;
}

export async function openStore(c: Readonly<ServerConfig>, clock: Clock, observeTask: (t: TaskRecord) => void, log: (msg: string) => void): Promise<Store> {
  mkdirSync(c.dataDir, { recursive: true, mode: 0o700 });
  const disk = new DiskGuard({ dir: c.dataDir, settings: c.disk, log });
  await disk.start();
  const db = openStoreDb(c, log);
  const repos = openRepos(db, { tasks: new ObservedTasksRepo(db, observeTask) });
  ensureDefaults({ ...repos, clock, arns: arnsOf(c) }, { vpcCidr: c.defaultVpcCidr, bridgePrefix: c.bridgePrefix });
  ensureDefaultSecurityGroups(db, repos.networks);
  return { repos, disk };
}

/** The control plane's database: PostgreSQL with `--database`, else SQLite in the data dir. */
function openStoreDb(c: Readonly<ServerConfig>, log: (msg: string) => void): Db {
  if (!c.database) return openDb(join(c.dataDir, 'skiff.db'));
  const db = openPgDb(c.database.url);
  log(`store: PostgreSQL at ${c.database.display}`);
  return db;
}

/** A stored subnet as the network layer sees it. */
export function toSubnetSpec(s: SubnetRecord, networks: NetworksRepo): SubnetSpec {
  const vpc = networks.vpc(s.vpcId);
  return { id: s.id, cidr: s.cidr, vpcCidr: vpc?.cidr ?? s.cidr, bridge: s.bridge };
}

/** The network layer's view of a subnet the store must have. */
export function subnetSpecOf(networks: NetworksRepo): (subnetId: string) => SubnetSpec {
  return (subnetId) => {
    const s = networks.subnet(subnetId);
    if (!s) throw new Error(`subnet ${subnetId} is not in the store`);
    return toSubnetSpec(s, networks);
  };
}
