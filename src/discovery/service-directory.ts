/**
 * Who answers to a service name: the addresses of the service's tasks that are
 * RUNNING (and HEALTHY, when an essential container has a health check) in the
 * VPC the question came from. Read from the store, in snapshots at most
 * SNAPSHOT_MAX_AGE_MS old (a question from an address the snapshot does not
 * know yet refreshes it at once, so a task that has just started is never
 * turned away; at most every FORCED_REFRESH_MIN_MS).
 */
import type { TaskRecord } from '../model/task-record.ts';
import { taskHealth } from '../model/task-health.ts';
import { parseQueryName } from '../model/dns-names.ts';
import type { Resolution } from './dns-answer.ts';

export const SNAPSHOT_MAX_AGE_MS = 250;
/** An unknown asker refreshes the snapshot, but not more often than this (a flood of such questions stays cheap). */
export const FORCED_REFRESH_MIN_MS = 20;

/** What the directory reads (the store's repositories in the server). */
export interface DirectorySource {
  /** Tasks not yet STOPPED. */
  unfinishedTasks(): TaskRecord[];
  /** ACTIVE and DRAINING services. */
  liveServices(): { id: string; name: string; clusterName: string }[];
  /** Ids of the service's tasks not yet STOPPED. */
  serviceTaskIds(serviceId: string): string[];
  /** The VPC of a subnet. */
  vpcOfSubnet(subnetId: string): string | undefined;
}

/** Where a question came from: the subnet whose gateway it reached, and the asking address. */
export interface Asker {
  subnetId: string;
  address: string;
}

interface Snapshot {
  at: number;
  /** `<vpc>|<ip>` → cluster of the task with that address. */
  clusterOf: Map<string, string>;
  /** `<cluster>|<service>` (lower case) → vpc → addresses. */
  services: Map<string, Map<string, string[]>>;
}

export class ServiceDirectory {
  private snapshot: Snapshot | undefined;

  constructor(
    private readonly source: DirectorySource,
    private readonly now: () => number = Date.now,
  ) {}

  resolve(name: string, from: Asker): Resolution {
    const parsed = parseQueryName(name);
    if (parsed.kind === 'foreign') return { rcode: 'REFUSED' };
    if (parsed.kind === 'unknown') return { rcode: 'NXDOMAIN' };
    const vpc = this.source.vpcOfSubnet(from.subnetId);
    if (!vpc) return { rcode: 'REFUSED' };
    let snap = this.fresh();
    let cluster: string | undefined;
    if (parsed.kind === 'qualified') cluster = parsed.cluster;
    else {
      cluster = snap.clusterOf.get(`${vpc}|${from.address}`);
      if (cluster === undefined && this.now() - snap.at >= FORCED_REFRESH_MIN_MS) {
        snap = this.fresh(true);
        cluster = snap.clusterOf.get(`${vpc}|${from.address}`);
      }
      // A bare name from an address that is no task of this VPC: not Skiff's to answer.
      if (cluster === undefined) return { rcode: 'REFUSED' };
    }
    const byVpc = snap.services.get(`${cluster.toLowerCase()}|${parsed.service}`);
    if (!byVpc) return { rcode: 'NXDOMAIN' };
    return { rcode: 'NOERROR', addresses: byVpc.get(vpc) ?? [] };
  }

  private fresh(force = false): Snapshot {
    const now = this.now();
    if (!force && this.snapshot && now - this.snapshot.at < SNAPSHOT_MAX_AGE_MS) return this.snapshot;
    const tasks = this.source.unfinishedTasks();
    const byId = new Map(tasks.map((t) => [t.id, t]));
    const clusterOf = new Map<string, string>();
    for (const t of tasks) if (t.network?.ipv4) clusterOf.set(`${t.network.vpcId}|${t.network.ipv4}`, t.clusterName);
    const services = new Map<string, Map<string, string[]>>();
    for (const s of this.source.liveServices()) {
      const byVpc = new Map<string, string[]>();
      for (const id of this.source.serviceTaskIds(s.id)) {
        const t = byId.get(id);
        if (!t || !answers(t)) continue;
        const list = byVpc.get(t.network.vpcId) ?? [];
        list.push(t.network.ipv4);
        byVpc.set(t.network.vpcId, list);
      }
      for (const list of byVpc.values()) list.sort();
      services.set(`${s.clusterName.toLowerCase()}|${s.name.toLowerCase()}`, byVpc);
    }
    return (this.snapshot = { at: now, clusterOf, services });
  }
}

/** A task answers for its service while it runs, is meant to run, and is healthy if it is checked. */
export function answers(t: Pick<TaskRecord, 'lastStatus' | 'desiredStatus' | 'containers'>): boolean {
  if (t.lastStatus !== 'RUNNING' || t.desiredStatus !== 'RUNNING') return false;
  const checked = t.containers.some((c) => c.essential && c.healthCheck);
  return !checked || taskHealth(t) === 'HEALTHY';
}
