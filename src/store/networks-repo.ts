/**
 * VPCs, subnets and the address book (IPAM): one address per task, allocated in
 * the same transaction that stores the task, released when it stops.
 */
import type { Db } from './db.ts';
import { usableAddresses, usableCount } from '../network/cidr.ts';

export interface VpcRecord {
  id: string;
  cidr: string;
  isDefault: boolean;
}

export interface SubnetRecord {
  id: string;
  vpcId: string;
  cidr: string;
  availabilityZone: string;
  isDefault: boolean;
  bridge: string;
}

export class NetworksRepo {
  constructor(private readonly db: Db) {}

  defaultVpc(): VpcRecord | undefined {
    const row = this.db.prepare(`SELECT id, cidr, is_default FROM vpcs WHERE is_default = 1`).get() as
      | { id: string; cidr: string; is_default: number }
      | undefined;
    return row ? { id: row.id, cidr: row.cidr, isDefault: true } : undefined;
  }

  vpc(id: string): VpcRecord | undefined {
    const row = this.db.prepare(`SELECT id, cidr, is_default FROM vpcs WHERE id = ?`).get(id) as
      | { id: string; cidr: string; is_default: number }
      | undefined;
    return row ? { id: row.id, cidr: row.cidr, isDefault: row.is_default === 1 } : undefined;
  }

  insertVpc(v: VpcRecord): void {
    this.db.prepare(`INSERT INTO vpcs (id, cidr, is_default, doc) VALUES (?, ?, ?, '{}')`).run(v.id, v.cidr, v.isDefault ? 1 : 0);
  }

  insertSubnet(s: SubnetRecord): void {
    this.db
      .prepare(`INSERT INTO subnets (id, vpc_id, cidr, availability_zone, is_default, bridge, doc) VALUES (?, ?, ?, ?, ?, ?, '{}')`)
      .run(s.id, s.vpcId, s.cidr, s.availabilityZone, s.isDefault ? 1 : 0, s.bridge);
  }

  subnets(): SubnetRecord[] {
    const rows = this.db
      .prepare(`SELECT id, vpc_id, cidr, availability_zone, is_default, bridge FROM subnets ORDER BY availability_zone, id`)
      .all() as { id: string; vpc_id: string; cidr: string; availability_zone: string; is_default: number; bridge: string }[];
    return rows.map((r) => ({
      id: r.id,
      vpcId: r.vpc_id,
      cidr: r.cidr,
      availabilityZone: r.availability_zone,
      isDefault: r.is_default === 1,
      bridge: r.bridge,
    }));
  }

  subnet(id: string): SubnetRecord | undefined {
    return this.subnets().find((s) => s.id === id);
  }

  /** Addresses in use in a subnet. */
  usedCount(subnetId: string): number {
    return (this.db.prepare(`SELECT count(*) AS n FROM ip_allocations WHERE subnet_id = ?`).get(subnetId) as { n: number }).n;
  }

  availableCount(subnet: SubnetRecord): number {
    return usableCount(subnet.cidr) - this.usedCount(subnet.id);
  }

  /**
   * Gives `taskId` the lowest free address of the subnet, or undefined when the
   * subnet is full. Call inside the transaction that stores the task.
   */
  allocate(subnet: SubnetRecord, taskId: string): string | undefined {
    const used = new Set(
      (this.db.prepare(`SELECT ip FROM ip_allocations WHERE subnet_id = ?`).all(subnet.id) as { ip: string }[]).map((r) => r.ip),
    );
    for (const ip of usableAddresses(subnet.cidr)) {
      if (!used.has(ip)) {
        this.db.prepare(`INSERT INTO ip_allocations (subnet_id, ip, task_id) VALUES (?, ?, ?)`).run(subnet.id, ip, taskId);
        return ip;
      }
    }
    return undefined;
  }

  /** Frees the task's address. Idempotent. */
  release(taskId: string): void {
    this.db.prepare(`DELETE FROM ip_allocations WHERE task_id = ?`).run(taskId);
  }

  /**
   * Holders of an address that are not a stored task: the warm pool's reservations
   * (see network/warm-pool.ts), or what a crash left of them.
   */
  reservationsWithoutTask(): { id: string; subnetId: string; ipv4: string }[] {
    return (
      this.db
        .prepare(`SELECT a.task_id AS id, a.subnet_id AS subnetId, a.ip AS ipv4 FROM ip_allocations a LEFT JOIN tasks t ON t.id = a.task_id WHERE t.id IS NULL ORDER BY a.subnet_id, a.ip`)
        .all() as { id: string; subnetId: string; ipv4: string }[]
    );
  }

  /** Task ids holding an address (for the leak check). */
  allocatedTaskIds(): string[] {
    return (this.db.prepare(`SELECT task_id FROM ip_allocations`).all() as { task_id: string }[]).map((r) => r.task_id);
  }
}
