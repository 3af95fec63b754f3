/**
 * Keeps every live task's firewall (network/task-firewall.ts) equal to what the
 * store says: its groups' rules, with peer-group rules matching the current
 * member addresses. The store is written first (API handlers, task placement);
 * the enforcer only reads it and acts, so a restart re-applies everything.
 *
 * When it acts:
 *   - `prepareTask(id)` in a task's start, after its namespace exists and before
 *     any container runs: its own table, then (in the background) everyone whose
 *     peer sets the new member changes;
 *   - `sync()` after an API change (awaited: the response means "enforced");
 *   - every `intervalMs` (tasks that stopped leave peer sets; a restart adopts).
 * Per task, the table is written under a lock from state read inside it, and
 * only when it differs from what this process last wrote there.
 */
import type { LiveMember, NetworksRepo, SecurityGroupRuleRecord } from '../store/networks-repo.ts';
import { rulesetScript, type FirewallRule, type TaskRuleset } from '../network/task-firewall.ts';
import { METADATA_ADDRESS } from '../network/linux-network.ts';
import { gatewayAddress } from '../network/cidr.ts';

export interface TaskFirewallPort {
  hasNamespace(taskId: string): boolean;
  apply(taskId: string, script: string): Promise<void>;
}

export interface EnforcerOptions {
  networks: NetworksRepo;
  firewall: TaskFirewallPort;
  /** The host may open connections to task addresses (load balancer, health checks, the operator). */
  hostAccess: boolean;
  intervalMs?: number;
  log: (msg: string) => void;
}

/** What every task's table is computed from: one read of the store. */
interface Snapshot {
  members: LiveMember[];
  rulesByGroup: Map<string, SecurityGroupRuleRecord[]>;
  subnetCidr: Map<string, string>;
}

/** The set holding a group's member addresses: `g_` + the group id's hex. */
export const peerSetName = (groupId: string) => `g_${groupId.replace(/^sg-/, '').replace(/[^A-Za-z0-9_]/g, '_')}`;

/** The ruleset of one task from a snapshot (pure). */
export function taskRuleset(member: LiveMember, snap: Snapshot, hostAccess: boolean): TaskRuleset {
  const rules = member.groupIds.flatMap((g) => snap.rulesByGroup.get(g) ?? []);
  const peerSets: Record<string, string[]> = {};
  const toFirewall = (r: SecurityGroupRuleRecord): FirewallRule => {
    if (r.peerGroupId) {
      const name = peerSetName(r.peerGroupId);
      peerSets[name] ??= snap.members.filter((m) => m.groupIds.includes(r.peerGroupId!)).map((m) => m.ipv4);
      return { protocol: r.protocol, fromPort: r.fromPort, toPort: r.toPort, peerSet: name };
    }
    return { protocol: r.protocol, fromPort: r.fromPort, toPort: r.toPort, cidr: r.cidr };
  };
  const cidr = snap.subnetCidr.get(member.subnetId);
  return {
    ingress: rules.filter((r) => !r.egress).map(toFirewall),
    egress: rules.filter((r) => r.egress).map(toFirewall),
    peerSets,
    trustedSources: hostAccess && cidr ? [gatewayAddress(cidr)] : [],
    alwaysReachable: [METADATA_ADDRESS],
  };
}

export class SecurityGroupEnforcer {
  private readonly applied = new Map<string, string>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private running: Promise<void> | undefined;
  private again: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: EnforcerOptions) {}

  start(): void {
    this.timer ??= setInterval(() => void this.sync(), this.opts.intervalMs ?? 1000);
    this.timer.unref();
    void this.sync();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private snapshot(): Snapshot {
    const n = this.opts.networks;
    const rulesByGroup = new Map<string, SecurityGroupRuleRecord[]>();
    for (const r of n.securityGroupRules()) {
      const list = rulesByGroup.get(r.groupId) ?? [];
      list.push(r);
      rulesByGroup.set(r.groupId, list);
    }
    return { members: n.liveMembers(), rulesByGroup, subnetCidr: new Map(n.subnets().map((s) => [s.id, s.cidr])) };
  }

  /** Writes the task's table now (before its containers start); others follow in the background. Throws if it cannot. */
  async prepareTask(taskId: string): Promise<void> {
    await this.applyTask(taskId, true);
    void this.sync();
  }

  /** Writes one task's table, from `shared` (a pass's snapshot) or a fresh read of the store. */
  private async applyTask(taskId: string, mustExist: boolean, shared?: Snapshot): Promise<void> {
    const prev = this.locks.get(taskId) ?? Promise.resolve();
    const run = prev.then(async () => {
      const snap = shared ?? this.snapshot();
      const member = snap.members.find((m) => m.taskId === taskId);
      if (!member) {
        if (mustExist) throw new Error(`task ${taskId} holds no address; cannot apply its security groups`);
        this.applied.delete(taskId);
        return;
      }
      if (!this.opts.firewall.hasNamespace(taskId)) {
        if (mustExist) throw new Error(`task ${taskId} has no network namespace; cannot apply its security groups`);
        return;
      }
      const script = rulesetScript(taskRuleset(member, snap, this.opts.hostAccess));
      if (this.applied.get(taskId) === script) return;
      this.applied.delete(taskId);
      await this.opts.firewall.apply(taskId, script);
      this.applied.set(taskId, script);
    });
    const tail = run.catch(() => {});
    this.locks.set(taskId, tail);
    try {
      await run;
    } finally {
      if (this.locks.get(taskId) === tail) this.locks.delete(taskId);
    }
  }

  /**
   * Brings every live task's table up to date. Resolves once a pass that began
   * after this call has finished (calls while a pass runs share the next one).
   */
  sync(): Promise<void> {
    if (!this.running) {
      this.running = this.pass()
        .catch((e) => this.opts.log(`security groups: a pass failed: ${e instanceof Error ? e.message : String(e)}`))
        .finally(() => (this.running = undefined));
      return this.running;
    }
    this.again ??= this.running.then(() => {
      this.again = undefined;
      return this.sync();
    });
    return this.again;
  }

  private async pass(): Promise<void> {
    const snap = this.snapshot();
    const live = new Set(snap.members.map((m) => m.taskId));
    for (const id of [...this.applied.keys()]) if (!live.has(id)) this.applied.delete(id);
    await Promise.all(
      [...live].map((id) =>
        this.applyTask(id, false, snap).catch((e) => this.opts.log(`security groups: ${e instanceof Error ? e.message : String(e)}`)),
      ),
    );
  }
}
