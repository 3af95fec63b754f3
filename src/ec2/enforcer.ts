/**
 * Keeps the host's security-group tables (network/security-group-firewall.ts)
 * equal to what the store says: each live task's address mapped to the rules of
 * its groups, peer sets holding the current member addresses. The store is
 * written first (API handlers, task placement); the enforcer only reads it and
 * acts, so a restart re-applies everything.
 *
 * When it acts:
 *   - `prepareTask(id)` in a task's start, after its address is stored and
 *     before any container runs: resolves once a pass that includes the task has
 *     been applied (concurrent starts share a pass);
 *   - `sync()` after an API change (awaited: the response means "enforced");
 *   - every `intervalMs` (tasks that stopped leave; a restart adopts; a table
 *     removed behind Skiff's back is rewritten).
 * A pass reads the store once, computes the whole desired state (cheap, in
 * memory) and sends nft only the difference from what it last applied: a task
 * start is a few element additions, whatever the number of tasks. The first
 * pass, and any pass after a failed update, replaces the tables whole.
 *
 * Egress (network/egress.ts): with `egress` set, the same pass keeps the
 * boundary table's `egress` set equal to the addresses of the tasks that may
 * reach outside networks (public subnet + assignPublicIp, or a route to a NAT
 * gateway), in the same nft transaction as the security groups.
 */
import type { LiveMember, NetworksRepo, SecurityGroupRuleRecord } from '../store/networks-repo.ts';
import {
  emptyState,
  fullScript,
  peerSetName,
  profileName,
  updateScript,
  type FirewallOptions,
  type FirewallRule,
  type FirewallState,
} from '../network/security-group-firewall.ts';
import { METADATA_ADDRESS } from '../network/linux-network.ts';
import { egressMembersScript, egressRoute } from '../network/egress.ts';
import type { RoutesRepo } from '../store/routes-repo.ts';

export interface FirewallPort {
  apply(script: string): Promise<void>;
  exists(table: string): Promise<boolean>;
}

export interface EnforcerOptions {
  networks: NetworksRepo;
  firewall: FirewallPort;
  /** Name of the server's tables (inet and bridge family). */
  table: string;
  /** The host-side veth of a task (anti-spoofing is per bridge port). */
  portOf: (taskId: string) => string;
  /** The host may open connections to task addresses (load balancer, health checks, the operator). */
  hostAccess: boolean;
  intervalMs?: number;
  log: (msg: string) => void;
  /** Egress on (not --no-egress): the boundary table whose `egress` set this enforcer fills, and the NAT routes. */
  egress?: { table: string; routes: Pick<RoutesRepo, 'natRoutes' | 'natGateways'> };
}

/** What the tables are computed from: one read of the store. */
export interface Snapshot {
  members: LiveMember[];
  rulesByGroup: Map<string, SecurityGroupRuleRecord[]>;
  /** Addresses of the tasks that may reach outside networks (egress on only). */
  egress?: Set<string>;
}

/** The desired firewall state for a snapshot (pure). */
export function desiredState(snap: Snapshot, portOf: (taskId: string) => string): FirewallState {
  const state = emptyState();
  const membersOf = new Map<string, string[]>();
  for (const m of snap.members) {
    for (const g of m.groupIds) {
      const list = membersOf.get(g) ?? [];
      list.push(m.ipv4);
      membersOf.set(g, list);
    }
  }
  const toFirewall = (r: SecurityGroupRuleRecord): FirewallRule => {
    if (r.peerGroupId) {
      const name = peerSetName(r.peerGroupId);
      if (!state.peerSets.has(name)) state.peerSets.set(name, new Set(membersOf.get(r.peerGroupId) ?? []));
      return { protocol: r.protocol, fromPort: r.fromPort, toPort: r.toPort, peerSet: name };
    }
    return { protocol: r.protocol, fromPort: r.fromPort, toPort: r.toPort, cidr: r.cidr };
  };
  const profileOf = new Map<string, string>();
  for (const m of snap.members) {
    const key = m.groupIds.join(',');
    let profile = profileOf.get(key);
    if (profile === undefined) profileOf.set(key, (profile = profileName(m.groupIds)));
    if (!state.profiles.has(profile)) {
      const rules = [...new Set(m.groupIds)].sort().flatMap((g) => snap.rulesByGroup.get(g) ?? []);
      state.profiles.set(profile, { ingress: rules.filter((r) => !r.egress).map(toFirewall), egress: rules.filter((r) => r.egress).map(toFirewall) });
    }
    state.tasks.set(m.ipv4, { port: portOf(m.taskId), profile });
  }
  return state;
}

export class SecurityGroupEnforcer {
  /** What the tables hold, as far as this process knows; undefined: unknown (write them whole). */
  private applied: FirewallState | undefined;
  private appliedTasks = new Set<string>();
  /** The egress set as last applied (sorted, joined); undefined: unknown. */
  private appliedEgress: string | undefined;
  private running: Promise<void> | undefined;
  private again: Promise<void> | undefined;
  /** The next pass also checks that the tables exist. */
  private pendingVerify = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly fw: FirewallOptions;

  constructor(private readonly opts: EnforcerOptions) {
    this.fw = { table: opts.table, hostAccess: opts.hostAccess, alwaysReachable: [METADATA_ADDRESS] };
  }

  start(): void {
    this.timer ??= setInterval(() => void this.sync({ verify: true }), this.opts.intervalMs ?? 1000);
    this.timer.unref();
    void this.sync();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Applies the task's entries (with everything else that changed) before its containers start. Throws if it cannot. */
  async prepareTask(taskId: string): Promise<void> {
    await this.sync({ rethrow: true });
    if (!this.appliedTasks.has(taskId)) throw new Error(`task ${taskId} holds no address; cannot apply its security groups`);
  }

  /**
   * Brings the tables up to date. Resolves once a pass that began after this
   * call has finished (calls while a pass runs share the next one). `verify`
   * also checks that the tables still exist; `rethrow` rejects when the pass failed.
   */
  sync(o: { verify?: boolean; rethrow?: boolean } = {}): Promise<void> {
    const p = this.schedule(o.verify ?? false);
    return o.rethrow ? p : p.catch((e) => this.opts.log(`security groups: ${e instanceof Error ? e.message : String(e)}`));
  }

  private schedule(verify: boolean): Promise<void> {
    this.pendingVerify ||= verify;
    if (!this.running) {
      const v = this.pendingVerify;
      this.pendingVerify = false;
      const run = this.pass(v);
      this.running = run.finally(() => (this.running = undefined)).catch(() => {});
      return run;
    }
    this.again ??= this.running.then(() => {
      this.again = undefined;
      return this.schedule(false);
    });
    return this.again;
  }

  private snapshot(): Snapshot {
    const rulesByGroup = new Map<string, SecurityGroupRuleRecord[]>();
    for (const r of this.opts.networks.securityGroupRules()) {
      const list = rulesByGroup.get(r.groupId) ?? [];
      list.push(r);
      rulesByGroup.set(r.groupId, list);
    }
    const members = this.opts.networks.liveMembers();
    return { members, rulesByGroup, ...(this.opts.egress ? { egress: this.egressMembers(members, this.opts.egress.routes) } : {}) };
  }

  private egressMembers(members: LiveMember[], routes: Pick<RoutesRepo, 'natRoutes' | 'natGateways'>): Set<string> {
    const subnets = new Map(this.opts.networks.subnets().map((s) => [s.id, s]));
    const nat = routes.natRoutes();
    const natSubnet = new Map(routes.natGateways().map((n) => [n.id, n.subnetId]));
    const out = new Set<string>();
    for (const m of members) {
      const natGatewayId = nat.get(m.subnetId);
      const route = egressRoute({
        serverEgress: true,
        assignPublicIp: m.assignPublicIp === true,
        subnetPublic: subnets.get(m.subnetId)?.mapPublicIpOnLaunch === true,
        ...(natGatewayId ? { natGatewayId, natGatewayPublic: subnets.get(natSubnet.get(natGatewayId) ?? '')?.mapPublicIpOnLaunch === true } : {}),
      });
      if (route.egress) out.add(m.ipv4);
    }
    return out;
  }

  private async pass(verify: boolean): Promise<void> {
    const snap = this.snapshot();
    const want = desiredState(snap, this.opts.portOf);
    if (this.applied && verify && !(await this.opts.firewall.exists(this.opts.table))) {
      this.opts.log(`security groups: table ${this.opts.table} is missing; writing it again`);
      this.applied = undefined;
    }
    const egressKey = snap.egress ? [...snap.egress].sort().join(',') : undefined;
    const egressPart = (always: boolean) =>
      snap.egress && this.opts.egress && (always || egressKey !== this.appliedEgress) ? egressMembersScript(this.opts.egress.table, snap.egress) : '';
    const script = this.applied ? updateScript(this.applied, want, this.fw) + egressPart(false) : fullScript(want, this.fw) + egressPart(true);
    if (script) {
      const previous = this.applied;
      this.applied = undefined; // unknown until nft answers
      this.appliedEgress = undefined;
      try {
        await this.opts.firewall.apply(script);
      } catch (e) {
        if (previous) {
          // The tables differ from what this process thought: write them whole, now.
          await this.opts.firewall.apply(fullScript(want, this.fw) + egressPart(true));
        } else throw e;
      }
    }
    this.applied = want;
    this.appliedEgress = egressKey;
    this.appliedTasks = new Set(snap.members.map((m) => m.taskId));
  }
}
