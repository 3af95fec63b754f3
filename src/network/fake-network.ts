/**
 * FAKE NETWORK, for tests and scheduler-scale measurement only: no namespace,
 * veth, bridge or firewall is made; a task's "namespace" is an entry in memory
 * and its address carries no traffic. Whatever uses it must say so.
 *
 * It keeps the Network contract (network.ts) as LinuxNetwork does, and passes
 * the same contract suite (network-contract.ts): the same names (netns
 * `<prefix><taskId>`, host veth `<vethPrefix><12 hex>`, MAC from the address),
 * the same checks and errors (bridge names, CIDRs, usable addresses, a bridge
 * that must exist before a task attaches to it, a subnet that overlaps another,
 * a namespace holding another address, shaping a task that is not attached or
 * a bad bandwidth), idempotent attach, shape and detach, and removeSubnet
 * refusing while tasks are attached. Shaping is remembered, nothing is slowed.
 *
 * The state lives in a FakeNetworkState, like the kernel's: a new FakeNetwork
 * over the same state is a restarted server finding the namespaces its tasks
 * still have. The fake driver's host can ask it whether a namespace path
 * exists (`hasNamespacePath`), as runc needs the namespace to exist.
 */
import type { Network, SubnetSpec, TaskAttachment } from './network.ts';
import { formatCidr, gatewayAddress, intToIp, ipToInt, isUsable, overlaps, parseCidr, subnetCidrProblem } from '../model/cidr.ts';
import { hostVethName, isValidIfName, macForIpv4, NetworkError } from './linux-network.ts';
import { bandwidthProblem, type TaskBandwidth } from './bandwidth.ts';

/** Where fake namespaces "live" (never a real path: nothing is created there). */
export const FAKE_NETNS_DIR = '/fake/netns';
const TASK_ID_RE = /^[0-9a-f]{12,64}$/;
const NETNS_PREFIX_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const VETH_PREFIX_RE = /^[A-Za-z][A-Za-z0-9]{0,6}$/;

/** The in-memory "kernel" state: bridges and task namespaces, shared by FakeNetwork instances. */
export class FakeNetworkState {
  /** Bridge name → subnet CIDR (normalised) it carries. */
  readonly bridges = new Map<string, string>();
  /** Task id → its namespace, veth and address, with the bridge it hangs off. */
  readonly attached = new Map<string, TaskAttachment & { bridge: string }>();
  /** Task id → the bandwidth its (fake) veth is shaped to; goes with the namespace. */
  readonly shaped = new Map<string, TaskBandwidth>();

  /** Whether a namespace path exists (for the fake driver's host: containers join only existing namespaces). */
  hasNamespacePath(path: string): boolean {
    for (const a of this.attached.values()) if (a.netnsPath === path) return true;
    return false;
  }

  /** Ports (host veths) of a bridge. */
  portsOf(bridge: string): string[] {
    return [...this.attached.values()].filter((a) => a.bridge === bridge).map((a) => a.hostVeth);
  }
}

export interface FakeNetworkOptions {
  /** Prefix of namespace names (default `skiff-`). */
  netnsPrefix?: string;
  /** Prefix of host veth names, 1..7 chars (default `sk`). */
  vethPrefix?: string;
}

export class FakeNetwork implements Network {
  readonly state: FakeNetworkState;
  readonly netnsPrefix: string;
  readonly vethPrefix: string;

  constructor(state: FakeNetworkState = new FakeNetworkState(), opts: FakeNetworkOptions = {}) {
    this.state = state;
    this.netnsPrefix = opts.netnsPrefix ?? 'skiff-';
    this.vethPrefix = opts.vethPrefix ?? 'sk';
    if (!NETNS_PREFIX_RE.test(this.netnsPrefix)) throw new NetworkError(`invalid netnsPrefix "${this.netnsPrefix}": 1..32 letters, digits, '_', '.', '-'`);
    if (!VETH_PREFIX_RE.test(this.vethPrefix)) throw new NetworkError(`invalid vethPrefix "${this.vethPrefix}": 1..7 letters and digits, starting with a letter`);
  }

  async fingerprint(): Promise<string[]> {
    return [];
  }

  async ensureSubnet(subnet: SubnetSpec): Promise<void> {
    const s = checkSubnet(subnet);
    const cidr = formatCidr(s.cidr);
    const have = this.state.bridges.get(subnet.bridge);
    if (have !== undefined && have !== cidr) {
      throw new NetworkError(`bridge ${subnet.bridge} already carries ${s.gatewayOf(have)}, not ${s.gateway}/${s.cidr.prefixLength} of subnet ${subnet.id}`);
    }
    for (const [bridge, other] of this.state.bridges) {
      if (bridge !== subnet.bridge && overlaps(other, s.cidr)) {
        throw new NetworkError(
          `subnet ${subnet.id} (${cidr}) overlaps the host route ${other} on ${bridge}; pick a CIDR block that no host interface or other Skiff subnet uses`,
        );
      }
    }
    this.state.bridges.set(subnet.bridge, cidr);
  }

  async attach(taskId: string, subnet: SubnetSpec, ipv4: string): Promise<TaskAttachment> {
    this.checkTaskId(taskId);
    const s = checkSubnet(subnet);
    let ip: string;
    try {
      ip = intToIp(ipToInt(ipv4));
    } catch (e) {
      throw new NetworkError(`task ${taskId}: ${(e as Error).message}`);
    }
    if (!isUsable(s.cidr, ip)) {
      throw new NetworkError(
        `task ${taskId}: ${ip} is not a usable address of subnet ${subnet.id} (${formatCidr(s.cidr)}; the first four and the last are reserved)`,
      );
    }
    const existing = this.state.attached.get(taskId);
    if (existing) {
      if (existing.ipv4 !== ip || existing.prefixLength !== s.cidr.prefixLength) {
        throw new NetworkError(`task ${taskId}: its namespace ${existing.netnsName} already has ${existing.ipv4}/${existing.prefixLength}, not ${ip}/${s.cidr.prefixLength}; detach it first`);
      }
      if (existing.bridge === subnet.bridge && this.state.bridges.has(subnet.bridge)) return publicPart(existing);
      this.state.attached.delete(taskId); // half-made (its bridge went away): made again below
      this.state.shaped.delete(taskId);
    }
    if (!this.state.bridges.has(subnet.bridge)) {
      throw new NetworkError(`task ${taskId}: bridge ${subnet.bridge} of subnet ${subnet.id} does not exist (call ensureSubnet first)`);
    }
    const netnsName = `${this.netnsPrefix}${taskId}`;
    const att = {
      netnsName,
      netnsPath: `${FAKE_NETNS_DIR}/${netnsName}`,
      hostVeth: hostVethName(this.vethPrefix, taskId),
      macAddress: macForIpv4(ip),
      ipv4: ip,
      prefixLength: s.cidr.prefixLength,
      gateway: s.gateway,
      bridge: subnet.bridge,
    };
    this.state.attached.set(taskId, att);
    return publicPart(att);
  }

  async shape(taskId: string, bandwidth: TaskBandwidth): Promise<void> {
    this.checkTaskId(taskId);
    const problem = bandwidthProblem(bandwidth);
    if (problem) throw new NetworkError(`task ${taskId}: ${problem}`);
    const att = this.state.attached.get(taskId);
    if (!att) throw new NetworkError(`task ${taskId} is not attached (no ${hostVethName(this.vethPrefix, taskId)}): attach it before shaping its traffic`);
    this.state.shaped.set(taskId, { sustainedMbps: bandwidth.sustainedMbps, burstMbps: bandwidth.burstMbps });
  }

  async shaping(taskId: string): Promise<TaskBandwidth | undefined> {
    this.checkTaskId(taskId);
    const bw = this.state.shaped.get(taskId);
    return bw && { ...bw };
  }

  async detach(taskId: string): Promise<void> {
    this.checkTaskId(taskId);
    this.state.attached.delete(taskId);
    this.state.shaped.delete(taskId);
  }

  async removeSubnet(bridge: string): Promise<void> {
    if (!isValidIfName(bridge)) throw new NetworkError(`invalid bridge name "${bridge}"`);
    const ports = this.state.portsOf(bridge);
    if (ports.length > 0) throw new NetworkError(`bridge ${bridge} still has tasks attached (${ports.join(', ')}); detach them first`);
    this.state.bridges.delete(bridge);
  }

  async listAttached(): Promise<string[]> {
    return [...this.state.attached.keys()].sort();
  }

  private checkTaskId(taskId: string): void {
    if (typeof taskId !== 'string' || !TASK_ID_RE.test(taskId)) {
      throw new NetworkError(`invalid task id "${String(taskId)}": expected 12..64 lowercase hex characters`);
    }
  }
}

function publicPart(a: TaskAttachment & { bridge: string }): TaskAttachment {
  const { bridge: _bridge, ...att } = a;
  return att;
}

function checkSubnet(subnet: SubnetSpec) {
  if (!subnet || typeof subnet !== 'object') throw new NetworkError('subnet spec is missing');
  if (!isValidIfName(subnet.bridge)) {
    throw new NetworkError(`invalid bridge name "${subnet.bridge}" for subnet ${subnet.id}: use 1..15 letters, digits, '_', '.', '-'`);
  }
  const problem = subnetCidrProblem(subnet.cidr, subnet.vpcCidr);
  if (problem) throw new NetworkError(`subnet ${subnet.id}: ${problem}`);
  const cidr = parseCidr(subnet.cidr);
  return {
    cidr,
    gateway: gatewayAddress(cidr),
    gatewayOf: (other: string) => `${gatewayAddress(other)}/${parseCidr(other).prefixLength}`,
  };
}
