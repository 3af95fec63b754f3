/**
 * Per-task networking on Linux with the real system tools: iproute2 (`ip`) for
 * bridges, namespaces and veths, nftables (`nft`) for the boundary.
 *
 * Layout (see network.ts for the contract):
 *   subnet  → a bridge owned by Skiff, address = gateway/prefix, MAC from the gateway address;
 *   task    → netns `<netnsPrefix><taskId>` with `eth0` (veth) whose host end
 *             `<vethPrefix><taskId hex…>` is a port of the subnet's bridge; eth0's MAC
 *             is derived from its address (macForIpv4);
 *             routes: connected subnet, VPC CIDR via gateway, 169.254.170.2/32
 *             via gateway (metadata endpoint); a default route via the gateway
 *             only when egress is on (egress.ts decides who may use it).
 *   boundary→ table `inet <nftTable>` (host-boundary.ts): nothing is forwarded
 *             between a Skiff bridge and any other interface, whatever
 *             net.ipv4.ip_forward says; a task reaches nothing of the host but
 *             DNS on its gateway, the metadata endpoint and the operator's
 *             named ports (taskToHost, taskHostPorts).
 *   routing → IPv4 forwarding is switched on for Skiff's bridges only
 *             (net.ipv4.conf.<bridge>.forwarding; the host-wide ip_forward is
 *             left alone), so a task reaches tasks in the other subnets of its
 *             VPC through the gateway; the boundary above still drops anything
 *             to or from a non-Skiff interface. Tasks only have a route to their
 *             own VPC's CIDR, and VPC CIDRs do not overlap, so no task can
 *             address another VPC. The security-group tables
 *             (security-group-firewall.ts) decide what each task sends and accepts.
 *
 *   shaping → each task's traffic both ways (bandwidth.ts): tbf on the host veth
 *             and on the task's ifb device `<vethPrefix><hex…>i`, made with the veth.
 *
 * Task networks are IPv4 only: the task's eth0, the host veth, the ifb and the
 * bridge are set to `addrgenmode none`, so they get no IPv6 link-local address.
 *
 * Speed: a fresh attach is exactly two process spawns (`ip -batch -` on the host,
 * `ip -n NS -j -batch -` inside the namespace), shaping one (`tc -batch -`);
 * existence checks read /sys and /run/netns directly.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import type { Network, SubnetSpec, TaskAttachment } from './network.ts';
import { run as exec, CommandMissingError, type RunResult as ExecResult } from '../util/exec.ts';
import { formatCidr, intToIp, ipToInt, isUsable } from '../model/cidr.ts';
import { hostIfbName, hostVethName, isBridge, isValidIfName, lastJsonLine, linkExists, macForIpv4, taskLinkNames, type IpLink, type IpRoute } from './links.ts';
import { boundaryProblem, boundaryScript, METADATA_ADDRESS, type TaskHostPort, type TaskToHost } from './host-boundary.ts';
import { networkToolProblems } from './tools.ts';
import { checkSubnet, NetworkError } from './checked-subnet.ts';
import { defaultRouteDevices, overlappingRoute } from './host-routes.ts';
import { bridgeVpcScript, egressScript, switchOnForwarding, uplinksScript } from './egress.ts';
import { namespaceState } from './namespace-state.ts';
import { bandwidthProblem, ifbLines, parseShaping, readShapingScript, shapingScript, type TaskBandwidth } from './bandwidth.ts';

export { METADATA_ADDRESS, type TaskHostPort, type TaskToHost } from './host-boundary.ts';
export { hostIfbName, hostVethName, isValidIfName, macForIpv4 } from './links.ts';
export { NetworkError } from './checked-subnet.ts';
export const NETNS_DIR = '/var/run/netns';

export interface LinuxNetworkOptions {
  /** Prefix of task namespace names; a task's netns is `<netnsPrefix><taskId>`. Default `skiff-`. */
  netnsPrefix?: string;
  /** Prefix of host-side veth names (1..7 chars). Default `sk`. */
  vethPrefix?: string;
  /** Name of the nftables table (family inet) that holds the boundary. Default `skiff`. */
  nftTable?: string;
  /** The host may open connections to task addresses (load balancer, health checks). Default true. */
  hostAccess?: boolean;
  /**
   * What tasks may open towards the host itself (every host address, whichever
   * bridge it is reached through). 'restricted' (default): DNS (UDP/TCP 53) on
   * the task's own gateway, the metadata endpoint 169.254.170.2:80, replies to
   * the host's own connections and `taskHostPorts`, nothing else. 'allow':
   * anything (only for hosts where tasks are trusted).
   */
  taskToHost?: TaskToHost;
  /** Host ports tasks may open under 'restricted', on any host address (the operator's `--task-host-port`). Default none. */
  taskHostPorts?: readonly TaskHostPort[];
  /** Route between the subnets (bridges) of this host: forwarding on for Skiff bridges only. Default true. */
  routeBetweenSubnets?: boolean;
  /** Tasks get a default route and the egress rules exist (egress.ts); false: `--no-egress`. Default false. */
  egress?: boolean;
  /** Interfaces egress leaves through (their forwarding is switched on). Default: the devices of the host's default routes. */
  egressInterfaces?: readonly string[];
  /** Path of the `ip` binary. Default `ip` (from PATH). */
  ipCommand?: string;
  /** Path of the `nft` binary. Default `nft` (from PATH). */
  nftCommand?: string;
  /** Path of the `tc` binary. Default `tc` (from PATH). */
  tcCommand?: string;
}

const NETNS_PREFIX_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const VETH_PREFIX_RE = /^[A-Za-z][A-Za-z0-9]{0,6}$/;
const NFT_NAME_RE = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
const TASK_ID_RE = /^[0-9a-f]{12,64}$/;

export class LinuxNetwork implements Network {
  readonly netnsPrefix: string;
  readonly vethPrefix: string;
  readonly nftTable: string;
  readonly hostAccess: boolean;
  readonly taskToHost: TaskToHost;
  readonly taskHostPorts: readonly TaskHostPort[];
  readonly routeBetweenSubnets: boolean;
  readonly egress: boolean;
  private readonly egressInterfaces: readonly string[] | undefined;
  private uplinksDone = false;
  private readonly bridgeVpcs = new Map<string, string>();
  private readonly ip: string;
  private readonly nft: string;
  private readonly tc: string;
  /** Bridges this instance made sure of (bridge → subnet CIDR), to skip work on repeat calls. */
  private readonly ensured = new Map<string, string>();
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(opts: LinuxNetworkOptions = {}) {
    this.netnsPrefix = opts.netnsPrefix ?? 'skiff-';
    this.vethPrefix = opts.vethPrefix ?? 'sk';
    this.nftTable = opts.nftTable ?? 'skiff';
    this.hostAccess = opts.hostAccess ?? true;
    this.taskToHost = opts.taskToHost ?? 'restricted';
    this.taskHostPorts = Object.freeze([...(opts.taskHostPorts ?? [])]);
    this.routeBetweenSubnets = opts.routeBetweenSubnets ?? true;
    this.egress = opts.egress ?? false;
    this.egressInterfaces = opts.egressInterfaces;
    for (const i of this.egressInterfaces ?? []) if (!isValidIfName(i)) throw new NetworkError(`invalid egress interface "${i}"`);
    this.ip = opts.ipCommand ?? 'ip';
    this.nft = opts.nftCommand ?? 'nft';
    this.tc = opts.tcCommand ?? 'tc';
    if (!NETNS_PREFIX_RE.test(this.netnsPrefix)) {
      throw new NetworkError(`invalid netnsPrefix "${this.netnsPrefix}": 1..32 letters, digits, '_', '.', '-'`);
    }
    if (!VETH_PREFIX_RE.test(this.vethPrefix)) {
      throw new NetworkError(`invalid vethPrefix "${this.vethPrefix}": 1..7 letters and digits, starting with a letter`);
    }
    if (!NFT_NAME_RE.test(this.nftTable)) {
      throw new NetworkError(`invalid nftTable "${this.nftTable}": 1..32 letters, digits, '_', starting with a letter`);
    }
    const problem = boundaryProblem(this.taskToHost, this.taskHostPorts);
    if (problem) throw new NetworkError(problem);
  }

  // ---------------------------------------------------------------- names

  netnsName(taskId: string): string {
    this.checkTaskId(taskId);
    return `${this.netnsPrefix}${taskId}`;
  }

  hostVethName(taskId: string): string {
    this.checkTaskId(taskId);
    return hostVethName(this.vethPrefix, taskId);
  }

  hostIfbName(taskId: string): string {
    this.checkTaskId(taskId);
    return hostIfbName(this.vethPrefix, taskId);
  }

  private checkTaskId(taskId: string): void {
    if (typeof taskId !== 'string' || !TASK_ID_RE.test(taskId)) {
      throw new NetworkError(`invalid task id "${String(taskId)}": expected 12..64 lowercase hex characters`);
    }
  }

  private async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => {});
    this.locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }

  // ---------------------------------------------------------------- tools

  private async run(cmd: string, args: string[], input?: string): Promise<ExecResult> {
    try {
      return await exec(cmd, args, { input });
    } catch (e) {
      if (e instanceof CommandMissingError) {
        const pkg = cmd === this.nft ? 'nftables' : 'iproute2';
        throw new NetworkError(`\`${cmd}\` is not installed (apt-get install -y ${pkg})`);
      }
      throw e;
    }
  }

  private async ipBatch(lines: string[], opts: { netns?: string; json?: boolean; force?: boolean } = {}): Promise<ExecResult> {
    const args: string[] = [];
    if (opts.netns) args.push('-n', opts.netns);
    if (opts.json) args.push('-j');
    if (opts.force) args.push('-force');
    args.push('-batch', '-');
    return this.run(this.ip, args, lines.join('\n') + '\n');
  }

  private async nftScript(script: string): Promise<ExecResult> {
    return this.run(this.nft, ['-f', '-'], script);
  }

  // ---------------------------------------------------------------- fingerprint

  async fingerprint(): Promise<string[]> {
    return networkToolProblems(this.ip, this.nft, this.tc);
  }

  // ---------------------------------------------------------------- subnets

  private nftRulesScript(): string {
    return (
      boundaryScript({ table: this.nftTable, hostAccess: this.hostAccess, taskToHost: this.taskToHost, taskHostPorts: this.taskHostPorts }) +
      egressScript({ table: this.nftTable, enabled: this.egress })
    );
  }

  /** Egress on: forwarding on for the egress interfaces, once per instance (egress.ts); the nft lines recording them. */
  private ensureUplinks(hostRoutes: IpRoute[]): string {
    if (!this.egress || this.uplinksDone) return '';
    let switched: string[];
    try {
      switched = switchOnForwarding(this.egressInterfaces ?? defaultRouteDevices(hostRoutes));
    } catch (e) {
      throw new NetworkError('cannot turn on forwarding for the egress interfaces', (e as Error).message);
    }
    this.uplinksDone = true;
    return uplinksScript(this.nftTable, switched);
  }

  async ensureSubnet(subnet: SubnetSpec): Promise<void> {
    const s = checkSubnet(subnet);
    const br = s.spec.bridge;
    const cidrText = formatCidr(s.cidr);
    if (this.ensured.get(br) === cidrText && isBridge(br)) return;
    await this.withLock('subnets', async () => {
      if (linkExists(br) && !isBridge(br)) {
        throw new NetworkError(`cannot use "${br}" as the bridge of subnet ${s.spec.id}: a non-bridge interface has that name`);
      }
      // A subnet that overlaps a host route (LAN, VPN, another bridge) would hijack or be hijacked by it.
      const routes = await this.run(this.ip, ['-j', '-4', 'route', 'show', 'table', 'main']);
      if (routes.code !== 0) throw new NetworkError('cannot read the host routes', routes.stderr);
      const hostRoutes = JSON.parse(routes.stdout || '[]') as IpRoute[];
      const overlap = overlappingRoute(hostRoutes, br, s.cidr);
      if (overlap) {
        throw new NetworkError(`subnet ${s.spec.id} (${cidrText}) overlaps the host route ${overlap}; pick a CIDR block that no host interface or other Skiff subnet uses`);
      }
      if (isBridge(br)) {
        const a = await this.run(this.ip, ['-j', '-4', 'addr', 'show', 'dev', br]);
        const links = a.code === 0 ? (JSON.parse(a.stdout || '[]') as IpLink[]) : [];
        const other = (links[0]?.addr_info ?? []).find(
          (x) => x.family === 'inet' && !(x.local === s.gateway && x.prefixlen === s.cidr.prefixLength),
        );
        if (other) {
          throw new NetworkError(
            `bridge ${br} already carries ${other.local}/${other.prefixlen}, not ${s.gateway}/${s.cidr.prefixLength} of subnet ${s.spec.id}`,
          );
        }
      }
      const lines: string[] = [];
      if (!linkExists(br)) lines.push(`link add ${br} address ${macForIpv4(s.gateway)} type bridge`);
      lines.push(
        `link set ${br} addrgenmode none`,
        `addr replace ${s.gateway}/${s.cidr.prefixLength} dev ${br}`,
        `link set ${br} up`,
      );
      const r = await this.ipBatch(lines);
      if (r.code !== 0) throw new NetworkError(`cannot set up bridge ${br} for subnet ${s.spec.id}`, r.stderr);
      const vpcCidr = formatCidr(s.vpc);
      const n = await this.nftScript(
        this.nftRulesScript() + `add element inet ${this.nftTable} bridges { "${br}" }\n` + bridgeVpcScript(this.nftTable, br, vpcCidr) + this.ensureUplinks(hostRoutes),
      );
      if (n.code !== 0) throw new NetworkError(`cannot install the nftables boundary for bridge ${br}`, n.stderr);
      // Only once the boundary holds the bridge: routing to the other subnets of this host.
      if (this.routeBetweenSubnets) {
        try {
          writeFileSync(`/proc/sys/net/ipv4/conf/${br}/forwarding`, '1');
        } catch (e) {
          throw new NetworkError(`cannot turn on forwarding for bridge ${br}`, (e as Error).message);
        }
      }
      this.ensured.set(br, cidrText);
      this.bridgeVpcs.set(br, vpcCidr);
    });
  }

  /** Bridge names in this instance's nft set (empty when the table does not exist). */
  async listBridges(): Promise<string[]> {
    const r = await this.run(this.nft, ['-j', 'list', 'set', 'inet', this.nftTable, 'bridges']);
    if (r.code !== 0) return [];
    const doc = JSON.parse(r.stdout) as { nftables: { set?: { elem?: unknown[] } }[] };
    const set = doc.nftables.find((x) => x.set)?.set;
    return (set?.elem ?? []).filter((e): e is string => typeof e === 'string');
  }

  /**
   * Removes a subnet's bridge and its entry in the boundary set. Refuses while
   * tasks are still attached to it unless `force` (their veths go with it).
   */
  async removeSubnet(bridge: string, opts: { force?: boolean } = {}): Promise<void> {
    if (!isValidIfName(bridge)) throw new NetworkError(`invalid bridge name "${bridge}"`);
    await this.withLock('subnets', async () => {
      if (linkExists(bridge)) {
        if (!isBridge(bridge)) throw new NetworkError(`"${bridge}" is not a bridge; not removing it`);
        let ports: string[] = [];
        try {
          ports = readdirSync(`/sys/class/net/${bridge}/brif`);
        } catch {
          /* none */
        }
        if (ports.length > 0 && !opts.force) {
          throw new NetworkError(`bridge ${bridge} still has tasks attached (${ports.join(', ')}); detach them first`);
        }
        const r = await this.run(this.ip, ['link', 'del', bridge]);
        if (r.code !== 0 && linkExists(bridge)) throw new NetworkError(`cannot delete bridge ${bridge}`, r.stderr);
      }
      this.ensured.delete(bridge);
      if ((await this.listBridges()).includes(bridge)) {
        const n = await this.run(this.nft, ['delete', 'element', 'inet', this.nftTable, 'bridges', `{ "${bridge}" }`]);
        if (n.code !== 0) throw new NetworkError(`cannot remove ${bridge} from the nftables set`, n.stderr);
      }
      const vpc = this.bridgeVpcs.get(bridge);
      if (vpc) await this.nftScript(bridgeVpcScript(this.nftTable, bridge, vpc, 'delete'));
      this.bridgeVpcs.delete(bridge);
    });
  }

  // ---------------------------------------------------------------- tasks

  async attach(taskId: string, subnet: SubnetSpec, ipv4: string): Promise<TaskAttachment> {
    const ns = this.netnsName(taskId);
    const veth = this.hostVethName(taskId);
    const ifb = this.hostIfbName(taskId);
    const s = checkSubnet(subnet);
    let addr: number;
    try {
      addr = ipToInt(ipv4);
    } catch (e) {
      throw new NetworkError(`task ${taskId}: ${(e as Error).message}`);
    }
    const ip = intToIp(addr);
    if (!isUsable(s.cidr, ip)) {
      throw new NetworkError(
        `task ${taskId}: ${ip} is not a usable address of subnet ${s.spec.id} (${formatCidr(s.cidr)}; the first four and the last are reserved)`,
      );
    }
    const br = s.spec.bridge;
    return this.withLock(`task:${taskId}`, async () => {
      const haveNs = existsSync(`${NETNS_DIR}/${ns}`);
      const haveVeth = linkExists(veth);
      if (haveNs && haveVeth) {
        const r = await this.ipBatch(['addr show dev eth0', 'route show'], { netns: ns, json: true });
        const existing = namespaceState(r, { ns, veth, subnet: s, ip, egress: this.egress });
        if (existing.ok && linkExists(ifb)) return this.attachment(ns, veth, existing.mac, ip, s.cidr.prefixLength, s.gateway);
        if (!existing.ok && existing.conflict) throw new NetworkError(`task ${taskId}: ${existing.conflict}; detach it first`);
      }
      if (haveNs || haveVeth || linkExists(ifb)) await this.teardown(ns, veth, ifb);
      if (!isBridge(br)) {
        throw new NetworkError(`task ${taskId}: bridge ${br} of subnet ${s.spec.id} does not exist (call ensureSubnet first)`);
      }
      const p = s.cidr.prefixLength;
      const host = await this.ipBatch([
        `netns add ${ns}`,
        `link add ${veth} type veth peer name eth0 address ${macForIpv4(ip)} netns ${ns}`,
        `link set ${veth} addrgenmode none`,
        `link set ${veth} master ${br} up`,
        ...ifbLines(ifb),
      ]);
      if (host.code !== 0) {
        await this.teardown(ns, veth, ifb).catch(() => {});
        throw new NetworkError(`task ${taskId}: cannot create namespace ${ns}, veth ${veth} and ifb ${ifb}`, host.stderr);
      }
      const inner = [`link set eth0 addrgenmode none`, `link set lo up`, `addr add ${ip}/${p} dev eth0`, `link set eth0 up`];
      if (s.vpc.prefixLength < p) inner.push(`route add ${formatCidr(s.vpc)} via ${s.gateway} dev eth0`);
      inner.push(`route add ${METADATA_ADDRESS}/32 via ${s.gateway} dev eth0`);
      if (this.egress) inner.push(`route add default via ${s.gateway} dev eth0`);
      inner.push(`link show dev eth0`);
      const r = await this.ipBatch(inner, { netns: ns, json: true });
      let mac: string | undefined;
      if (r.code === 0) {
        try {
          mac = (lastJsonLine(r.stdout) as IpLink[] | undefined)?.[0]?.address;
        } catch {
          /* handled below */
        }
      }
      if (!mac) {
        await this.teardown(ns, veth, ifb).catch(() => {});
        throw new NetworkError(`task ${taskId}: cannot configure eth0 in ${ns}`, r.stderr || 'no MAC address reported');
      }
      return this.attachment(ns, veth, mac, ip, p, s.gateway);
    });
  }

  private attachment(ns: string, veth: string, mac: string, ip: string, p: number, gw: string): TaskAttachment {
    return { netnsName: ns, netnsPath: `${NETNS_DIR}/${ns}`, hostVeth: veth, macAddress: mac, ipv4: ip, prefixLength: p, gateway: gw };
  }

  /** Deletes the host veth (its peer and its qdiscs go with it), the ifb and the namespace; absent parts are fine. */
  private async teardown(ns: string, veth: string, ifb: string): Promise<void> {
    const lines: string[] = [];
    if (linkExists(veth)) lines.push(`link del ${veth}`);
    if (linkExists(ifb)) lines.push(`link del ${ifb}`);
    if (existsSync(`${NETNS_DIR}/${ns}`)) lines.push(`netns del ${ns}`);
    if (lines.length === 0) return;
    const r = await this.ipBatch(lines, { force: true });
    if (r.code !== 0 && (linkExists(veth) || linkExists(ifb) || existsSync(`${NETNS_DIR}/${ns}`))) {
      throw new NetworkError(`cannot remove ${[veth, ifb, ns].join(' / ')}`, r.stderr);
    }
  }

  async detach(taskId: string): Promise<void> {
    const ns = this.netnsName(taskId);
    const veth = this.hostVethName(taskId);
    await this.withLock(`task:${taskId}`, () => this.teardown(ns, veth, this.hostIfbName(taskId)));
  }

  async shape(taskId: string, bandwidth: TaskBandwidth): Promise<void> {
    const [veth, ifb] = [this.hostVethName(taskId), this.hostIfbName(taskId)];
    const problem = bandwidthProblem(bandwidth);
    if (problem) throw new NetworkError(`task ${taskId}: ${problem}`);
    await this.withLock(`task:${taskId}`, async () => {
      if (!linkExists(veth)) throw new NetworkError(`task ${taskId} is not attached (no ${veth}): attach it before shaping its traffic`);
      if (!linkExists(ifb)) {
        // A namespace made before its ifb was (an adopted task of an older Skiff).
        const r = await this.ipBatch(ifbLines(ifb));
        if (r.code !== 0) throw new NetworkError(`task ${taskId}: cannot create ifb ${ifb} (the kernel needs CONFIG_IFB)`, r.stderr);
      }
      const r = await this.run(this.tc, ['-batch', '-'], shapingScript(veth, ifb, bandwidth));
      if (r.code !== 0) throw new NetworkError(`task ${taskId}: cannot shape its traffic on ${veth} and ${ifb} (the kernel needs the tbf, ingress and u32 schedulers and the mirred action)`, r.stderr);
    });
  }

  async shaping(taskId: string): Promise<TaskBandwidth | undefined> {
    const [veth, ifb] = [this.hostVethName(taskId), this.hostIfbName(taskId)];
    if (!linkExists(veth) || !linkExists(ifb)) return undefined;
    const r = await this.run(this.tc, ['-batch', '-'], readShapingScript(veth, ifb));
    return r.code === 0 ? parseShaping(r.stdout, ifb) : undefined;
  }

  async listAttached(): Promise<string[]> {
    let names: string[];
    try {
      names = readdirSync(NETNS_DIR);
    } catch {
      return [];
    }
    return names
      .filter((n) => n.startsWith(this.netnsPrefix))
      .map((n) => n.slice(this.netnsPrefix.length))
      .filter((id) => TASK_ID_RE.test(id))
      .sort();
  }

  // ---------------------------------------------------------------- cleanup

  /**
   * Removes everything with this instance's names: every namespace with the
   * netns prefix, every veth `<vethPrefix><hex>` and ifb `<vethPrefix><hex>i`, every bridge in the
   * nft set (or ensured by this instance) and the nft table. For tests and
   * uninstall; never call it on a host whose tasks should keep running.
   */
  async destroyAll(): Promise<void> {
    const errors: string[] = [];
    let nsNames: string[] = [];
    try {
      nsNames = readdirSync(NETNS_DIR).filter((n) => n.startsWith(this.netnsPrefix));
    } catch {
      /* no namespaces */
    }
    const names = taskLinkNames(this.vethPrefix);
    const links = async (type: string, re: RegExp) => {
      const r = await this.run(this.ip, ['-j', 'link', 'show', 'type', type]);
      return r.code === 0 ? (JSON.parse(r.stdout || '[]') as IpLink[]).map((l) => l.ifname).filter((n) => re.test(n)) : [];
    };
    const veths = [...(await links('veth', names.veth)), ...(await links('ifb', names.ifb))];
    const bridges = new Set([...(await this.listBridges()), ...this.ensured.keys()]);
    const lines = [
      ...veths.map((v) => `link del ${v}`),
      ...nsNames.map((n) => `netns del ${n}`),
      ...[...bridges].filter((b) => isValidIfName(b) && isBridge(b)).map((b) => `link del ${b}`),
    ];
    if (lines.length > 0) {
      const r = await this.ipBatch(lines, { force: true });
      if (r.code !== 0) errors.push(r.stderr.trim());
    }
    const t = await this.run(this.nft, ['list', 'table', 'inet', this.nftTable]);
    if (t.code === 0) {
      const d = await this.run(this.nft, ['delete', 'table', 'inet', this.nftTable]);
      if (d.code !== 0) errors.push(d.stderr.trim());
    }
    this.ensured.clear();
    const left = [
      ...nsNames.filter((n) => existsSync(`${NETNS_DIR}/${n}`)),
      ...veths.filter(linkExists),
      ...[...bridges].filter((b) => isValidIfName(b) && linkExists(b)),
    ];
    if (left.length > 0) throw new NetworkError(`destroyAll left ${left.join(', ')}`, errors.join('\n'));
  }
}
