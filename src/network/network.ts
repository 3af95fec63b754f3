/**
 * The contract for per-task networking on this host.
 *
 * Every subnet is a Linux bridge owned by Skiff whose address is the subnet's
 * gateway (first usable address). Every task gets a network namespace with one
 * veth ("eth0") into its subnet's bridge, the address the IPAM gave it, and routes
 * to its VPC through the gateway. Nothing is routed to outside networks but the
 * egress of egress.ts (eligible tasks, masqueraded); an nftables table drops the rest.
 * Each task's traffic is shaped both ways to its bandwidth (bandwidth.ts).
 */
import type { TaskBandwidth } from '../model/task-record.ts';

export interface SubnetSpec {
  id: string;      // subnet-...
  cidr: string;    // e.g. 172.31.0.0/20
  vpcCidr: string; // e.g. 172.31.0.0/16 (tasks get a route to it via the gateway)
  bridge: string;  // host bridge name, <= 15 chars, e.g. skbr-0a1b2c3d
}

export interface TaskAttachment {
  netnsName: string;   // skiff-<taskId> (full 32 hex, so listAttached can map back)
  netnsPath: string;   // /var/run/netns/<netnsName>
  hostVeth: string;    // host-side interface name (<= 15 chars)
  macAddress: string;  // of eth0 inside the namespace
  ipv4: string;
  prefixLength: number;
  gateway: string;
}

export interface Network {
  /** Problems that stop networking on this host (missing `ip`/`nft`, ...), each with how to fix. */
  fingerprint(): Promise<string[]>;
  /** Creates the bridge for a subnet (gateway address, up) and the boundary rules. Idempotent. */
  ensureSubnet(subnet: SubnetSpec): Promise<void>;
  /** Creates the task's namespace and veth with `ipv4` in `subnet`. Idempotent for the same task. */
  attach(taskId: string, subnet: SubnetSpec, ipv4: string): Promise<TaskAttachment>;
  /**
   * Shapes an attached task's traffic, both ways, to `bandwidth`. Idempotent (the
   * last call wins); refuses a task that is not attached and a bad bandwidth.
   */
  shape(taskId: string, bandwidth: TaskBandwidth): Promise<void>;
  /** The bandwidth an attached task's traffic is shaped to; undefined when not attached or not (fully) shaped. */
  shaping(taskId: string): Promise<TaskBandwidth | undefined>;
  /** Removes the namespace and veth of a task (and its shaping). Idempotent; never touches anything not Skiff's. */
  detach(taskId: string): Promise<void>;
  /** Removes a subnet's bridge (once the subnet is deleted). Refuses while tasks are attached. */
  removeSubnet?(bridge: string): Promise<void>;
  /** Task ids that have a Skiff namespace on this host (for reconciliation). */
  listAttached(): Promise<string[]>;
}
