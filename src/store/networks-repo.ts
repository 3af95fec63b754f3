/**
 * VPCs, subnets, security groups and the address book (IPAM): one address per
 * task, allocated in the same transaction that stores the task, released when it
 * stops. A task's security groups are stored with it (same transaction) and
 * dropped with its address.
 */
import type { Db } from './db.ts';
import { usableAddresses, usableCount } from '../model/cidr.ts';

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
  /** MapPublicIpOnLaunch: Skiff's "public subnet" (default subnets: true; created ones: false, as on AWS). */
  mapPublicIpOnLaunch?: boolean;
}

export interface SecurityGroupRecord {
  id: string;
  vpcId: string;
  name: string;
  description: string;
  /** The VPC's `default` group: new tasks without groups join it; it cannot be deleted. */
  isDefault: boolean;
}

/** One permission of a group: a protocol and port range, from/to one CIDR or one peer group. */
export interface SecurityGroupRuleRecord {
  id: string;
  groupId: string;
  egress: boolean;
  /** `tcp`, `udp`, `icmp`, `-1` (all traffic) or another IP protocol number 0..255. */
  protocol: string;
  /** tcp/udp: the port range (0..65535 both for all); icmp: type and code (absent: all). Absent for other protocols. */
  fromPort?: number;
  toPort?: number;
  cidr?: string;
  peerGroupId?: string;
  description?: string;
}

/** A task that holds an address and has not stopped, with its groups. */
export interface LiveMember {
  taskId: string;
  ipv4: string;
  subnetId: string;
  groupIds: string[];
  /** RunTask's / the service's awsvpcConfiguration.assignPublicIp was ENABLED. */
  assignPublicIp?: boolean;
}

interface RuleRow {
  id: string;
  group_id: string;
  egress: number;
  protocol: string;
  from_port: number | null;
  to_port: number | null;
  cidr: string | null;
  peer_group_id: string | null;
  description: string | null;
}

const ruleFromRow = (r: RuleRow): SecurityGroupRuleRecord => ({
  id: r.id,
  groupId: r.group_id,
  egress: r.egress === 1,
  protocol: r.protocol,
  ...(r.from_port !== null ? { fromPort: r.from_port } : {}),
  ...(r.to_port !== null ? { toPort: r.to_port } : {}),
  ...(r.cidr !== null ? { cidr: r.cidr } : {}),
  ...(r.peer_group_id !== null ? { peerGroupId: r.peer_group_id } : {}),
  ...(r.description !== null ? { description: r.description } : {}),
});

/**
 * Each subnet is one Linux bridge, and a bridge holds at most 1023 ports
 * (the kernel's BR_MAX_PORTS is 1024, port 0 unused): one veth per task or
 * warm namespace. Larger services spread over several subnets.
 */
export const MAX_TASKS_PER_SUBNET = 1023;

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

  vpcs(): VpcRecord[] {
    const rows = this.db.prepare(`SELECT id, cidr, is_default FROM vpcs ORDER BY is_default DESC, id`).all() as { id: string; cidr: string; is_default: number }[];
    return rows.map((r) => ({ id: r.id, cidr: r.cidr, isDefault: r.is_default === 1 }));
  }

  /** Removes a VPC and its default group (the caller checked it has no subnets or other groups). */
  deleteVpc(id: string): void {
    this.db.transaction(() => {
      this.db.prepare(`DELETE FROM security_groups WHERE vpc_id = ?`).run(id);
      this.db.prepare(`DELETE FROM vpcs WHERE id = ?`).run(id);
    })();
  }

  deleteSubnet(id: string): void {
    this.db.prepare(`DELETE FROM subnets WHERE id = ?`).run(id);
  }

  // ---------------------------------------------------------------- security groups

  insertSecurityGroup(g: SecurityGroupRecord): void {
    this.db
      .prepare(`INSERT INTO security_groups (id, vpc_id, name, description, is_default, created_at) VALUES (?, ?, ?, ?, ?, ?)`)
      .run(g.id, g.vpcId, g.name, g.description, g.isDefault ? 1 : 0, Date.now());
  }

  securityGroups(): SecurityGroupRecord[] {
    const rows = this.db.prepare(`SELECT id, vpc_id, name, description, is_default FROM security_groups ORDER BY vpc_id, is_default DESC, created_at, id`).all() as {
      id: string;
      vpc_id: string;
      name: string;
      description: string;
      is_default: number;
    }[];
    return rows.map((r) => ({ id: r.id, vpcId: r.vpc_id, name: r.name, description: r.description, isDefault: r.is_default === 1 }));
  }

  securityGroup(id: string): SecurityGroupRecord | undefined {
    return this.securityGroups().find((g) => g.id === id);
  }

  deleteSecurityGroup(id: string): void {
    this.db.prepare(`DELETE FROM security_groups WHERE id = ?`).run(id);
  }

  /** Rules of one group, or of every group. */
  securityGroupRules(groupId?: string): SecurityGroupRuleRecord[] {
    const rows = (
      groupId === undefined
        ? this.db.prepare(`SELECT * FROM security_group_rules ORDER BY group_id, rowid`).all()
        : this.db.prepare(`SELECT * FROM security_group_rules WHERE group_id = ? ORDER BY rowid`).all(groupId)
    ) as RuleRow[];
    return rows.map(ruleFromRow);
  }

  insertSecurityGroupRule(r: SecurityGroupRuleRecord): void {
    this.db
      .prepare(
        `INSERT INTO security_group_rules (id, group_id, egress, protocol, from_port, to_port, cidr, peer_group_id, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(r.id, r.groupId, r.egress ? 1 : 0, r.protocol, r.fromPort ?? null, r.toPort ?? null, r.cidr ?? null, r.peerGroupId ?? null, r.description ?? null);
  }

  deleteSecurityGroupRule(id: string): void {
    this.db.prepare(`DELETE FROM security_group_rules WHERE id = ?`).run(id);
  }

  /** Records the task's groups. Call inside the transaction that stores the task. */
  setTaskSecurityGroups(taskId: string, groupIds: string[]): void {
    this.db.prepare(`DELETE FROM task_security_groups WHERE task_id = ?`).run(taskId);
    const ins = this.db.prepare(`INSERT INTO task_security_groups (task_id, group_id) VALUES (?, ?)`);
    for (const g of groupIds) ins.run(taskId, g);
  }

  taskSecurityGroups(taskId: string): string[] {
    return (this.db.prepare(`SELECT group_id FROM task_security_groups WHERE task_id = ? ORDER BY rowid`).all(taskId) as { group_id: string }[]).map((r) => r.group_id);
  }

  /** Tasks that have not stopped and belong to `groupId`. */
  liveMemberCount(groupId: string): number {
    return (
      this.db
        .prepare(`SELECT count(*) AS n FROM task_security_groups m JOIN tasks t ON t.id = m.task_id WHERE m.group_id = ? AND t.last_status != 'STOPPED'`)
        .get(groupId) as { n: number }
    ).n;
  }

  /** Every task holding an address that has not stopped, with its groups (the input of enforcement). */
  liveMembers(): LiveMember[] {
    const rows = this.db
      .prepare(
        `SELECT a.task_id AS taskId, a.ip AS ipv4, a.subnet_id AS subnetId, m.group_id AS groupId
           FROM ip_allocations a JOIN tasks t ON t.id = a.task_id
           LEFT JOIN task_security_groups m ON m.task_id = a.task_id
          WHERE t.last_status != 'STOPPED' ORDER BY a.task_id, m.rowid`,
      )
      .all() as { taskId: string; ipv4: string; subnetId: string; groupId: string | null }[];
    const publicIps = new Set((this.db.prepare(`SELECT task_id FROM task_public_ips`).all() as { task_id: string }[]).map((r) => r.task_id));
    const byTask = new Map<string, LiveMember>();
    for (const r of rows) {
      let m = byTask.get(r.taskId);
      if (!m) byTask.set(r.taskId, (m = { taskId: r.taskId, ipv4: r.ipv4, subnetId: r.subnetId, groupIds: [], assignPublicIp: publicIps.has(r.taskId) }));
      if (r.groupId) m.groupIds.push(r.groupId);
    }
    return [...byTask.values()];
  }

  insertSubnet(s: SubnetRecord): void {
    this.db
      .prepare(`INSERT INTO subnets (id, vpc_id, cidr, availability_zone, is_default, bridge, map_public_ip, doc) VALUES (?, ?, ?, ?, ?, ?, ?, '{}')`)
      .run(s.id, s.vpcId, s.cidr, s.availabilityZone, s.isDefault ? 1 : 0, s.bridge, (s.mapPublicIpOnLaunch ?? s.isDefault) ? 1 : 0);
  }

  /** ModifySubnetAttribute MapPublicIpOnLaunch. */
  setMapPublicIpOnLaunch(subnetId: string, value: boolean): void {
    this.db.prepare(`UPDATE subnets SET map_public_ip = ? WHERE id = ?`).run(value ? 1 : 0, subnetId);
  }

  /** Records the task's assignPublicIp (call in the transaction that stores the task). */
  setAssignPublicIp(taskId: string, enabled: boolean): void {
    if (enabled) this.db.prepare(`INSERT OR IGNORE INTO task_public_ips (task_id) VALUES (?)`).run(taskId);
    else this.db.prepare(`DELETE FROM task_public_ips WHERE task_id = ?`).run(taskId);
  }

  subnets(): SubnetRecord[] {
    const rows = this.db
      .prepare(`SELECT id, vpc_id, cidr, availability_zone, is_default, bridge, map_public_ip FROM subnets ORDER BY availability_zone, id`)
      .all() as { id: string; vpc_id: string; cidr: string; availability_zone: string; is_default: number; bridge: string; map_public_ip: number }[];
    return rows.map((r) => ({
      id: r.id,
      vpcId: r.vpc_id,
      cidr: r.cidr,
      availabilityZone: r.availability_zone,
      isDefault: r.is_default === 1,
      bridge: r.bridge,
      mapPublicIpOnLaunch: r.map_public_ip === 1,
    }));
  }

  subnet(id: string): SubnetRecord | undefined {
    return this.subnets().find((s) => s.id === id);
  }

  /** Addresses in use in a subnet. */
  usedCount(subnetId: string): number {
    return (this.db.prepare(`SELECT count(*) AS n FROM ip_allocations WHERE subnet_id = ?`).get(subnetId) as { n: number }).n;
  }

  /** Free addresses (what DescribeSubnets reports as AvailableIpAddressCount). */
  availableCount(subnet: SubnetRecord): number {
    return usableCount(subnet.cidr) - this.usedCount(subnet.id);
  }

  /** Tasks the subnet can still take: free addresses, and free ports on its bridge. */
  roomFor(subnet: SubnetRecord): number {
    const used = this.usedCount(subnet.id);
    return Math.max(0, Math.min(usableCount(subnet.cidr), MAX_TASKS_PER_SUBNET) - used);
  }

  /**
   * Gives `taskId` the lowest free address of the subnet, or undefined when the
   * subnet is full. Call inside the transaction that stores the task.
   */
  allocate(subnet: SubnetRecord, taskId: string): string | undefined {
    const used = new Set(
      (this.db.prepare(`SELECT ip FROM ip_allocations WHERE subnet_id = ?`).all(subnet.id) as { ip: string }[]).map((r) => r.ip),
    );
    if (used.size >= MAX_TASKS_PER_SUBNET) return undefined;
    for (const ip of usableAddresses(subnet.cidr)) {
      if (!used.has(ip)) {
        this.db.prepare(`INSERT INTO ip_allocations (subnet_id, ip, task_id) VALUES (?, ?, ?)`).run(subnet.id, ip, taskId);
        return ip;
      }
    }
    return undefined;
  }

  /** Frees the task's address and ends its group memberships. Idempotent. */
  release(taskId: string): void {
    this.db.transaction(() => {
      this.db.prepare(`DELETE FROM ip_allocations WHERE task_id = ?`).run(taskId);
      this.db.prepare(`DELETE FROM task_security_groups WHERE task_id = ?`).run(taskId);
      this.db.prepare(`DELETE FROM task_public_ips WHERE task_id = ?`).run(taskId);
    })();
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
