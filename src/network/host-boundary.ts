/**
 * The boundary between tasks and everything that is not a task: one nftables
 * table per server, `inet <table>`, rendered here as nft scripts (pure
 * functions; LinuxNetwork runs them). Its parts:
 *
 *   set   bridges     ifname               the server's subnet bridges
 *   set   host_ports  inet_proto . inet_service   host ports the operator opened to tasks
 *   chain forward     (hook forward) drops bridge → non-bridge and non-bridge → bridge:
 *                     nothing is routed between tasks and other networks
 *   chain output      (hook output) with host access off, drops new host → task connections
 *   chain input       (hook input) `iifname @bridges jump task_to_host` unless taskToHost is 'allow'
 *   chain task_to_host  what a task may open towards the host itself, in order:
 *       - replies to connections the host opened (ct established,related: the load
 *         balancer, the operator's probes);
 *       - the metadata endpoint: TCP that the metadata NAT (src/metadata/metadata-nat.ts)
 *         redirected from 169.254.170.2:80 (`ct status dnat` and the original
 *         destination — a task cannot forge conntrack's record of what it sent);
 *       - DNS, UDP and TCP 53, on the gateway address of the task's own bridge only
 *         (`fib daddr . iif type local`: the address is assigned to the bridge the
 *         packet came in on — nothing to keep in step with the bridges);
 *       - the operator's named ports (`skiff server --task-host-port 5432/tcp`), on
 *         any host address the task can route to;
 *       - everything else: dropped (counted), whatever address of the host it is
 *         sent to — the gateway, other subnets' gateways, the host's other
 *         interfaces — since the rule keys on the bridge it arrived from.
 *
 * Traffic between tasks (forward path, security groups) never passes the input hook.
 * Priority filter - 1: this table decides before the security-group tables
 * (priority filter); its drops are final, its accepts leave them the last word.
 */

/** The address the task metadata endpoint answers on (as on ECS). */
export const METADATA_ADDRESS = '169.254.170.2';
/** DNS on the gateway (src/discovery/dns-responder.ts). */
const DNS_PORT = 53;

/** What tasks may open towards the host: 'restricted' (default) as described above, or 'allow' (anything). */
export type TaskToHost = 'restricted' | 'allow';

/** A host port the operator opened to tasks. */
export interface TaskHostPort {
  port: number;
  protocol: 'tcp' | 'udp';
}

export class HostPortError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostPortError';
  }
}

const PORT_SPEC_RE = /^(\d{1,5})(?:\/(tcp|udp))?$/i;

/**
 * Parses `PORT[/PROTO]` (`5432/tcp`, `8125/udp`; a bare port is TCP, as with
 * `docker run -p`). Throws HostPortError saying what to write instead.
 */
export function parseTaskHostPort(text: string): TaskHostPort {
  const s = String(text).trim();
  const m = PORT_SPEC_RE.exec(s);
  const port = Number(m?.[1]);
  if (!m || port < 1 || port > 65535) {
    throw new HostPortError(`"${s}" is not a host port: write PORT/PROTOCOL with PORT 1..65535 and PROTOCOL tcp or udp (e.g. 5432/tcp, 8125/udp)`);
  }
  return { port, protocol: (m[2]?.toLowerCase() ?? 'tcp') as 'tcp' | 'udp' };
}

/** Parses each spec (a list item may itself be comma-separated); sorted, without duplicates. All problems in one error. */
export function parseTaskHostPorts(specs: readonly string[]): TaskHostPort[] {
  const problems: string[] = [];
  const seen = new Map<string, TaskHostPort>();
  for (const spec of specs.flatMap((x) => String(x).split(',')).map((x) => x.trim()).filter(Boolean)) {
    try {
      const p = parseTaskHostPort(spec);
      seen.set(formatTaskHostPort(p), p);
    } catch (e) {
      if (!(e instanceof HostPortError)) throw e;
      problems.push(e.message);
    }
  }
  if (problems.length) throw new HostPortError(problems.join('\n'));
  return [...seen.values()].sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
}

export const formatTaskHostPort = (p: TaskHostPort): string => `${p.port}/${p.protocol}`;

/** What is wrong with a taskToHost / taskHostPorts pair (undefined: nothing), for LinuxNetwork's constructor. */
export function boundaryProblem(taskToHost: unknown, ports: readonly TaskHostPort[]): string | undefined {
  if (taskToHost !== 'restricted' && taskToHost !== 'allow') return `invalid taskToHost "${String(taskToHost)}": 'restricted' or 'allow'`;
  const bad = ports.find((p) => !p || !Number.isInteger(p.port) || p.port < 1 || p.port > 65535 || (p.protocol !== 'tcp' && p.protocol !== 'udp'));
  if (bad) return `invalid task host port ${JSON.stringify(bad)}: a port 1..65535 with protocol 'tcp' or 'udp'`;
  if (ports.length > 0 && taskToHost === 'allow') return `taskHostPorts (${ports.map(formatTaskHostPort).join(', ')}) only mean something with taskToHost 'restricted'`;
  return undefined;
}

export interface BoundaryOptions {
  /** The table's name (inet family); checked by the caller. */
  table: string;
  /** The host may open connections to tasks. */
  hostAccess: boolean;
  taskToHost: TaskToHost;
  /** Host ports open to tasks under 'restricted'. */
  taskHostPorts: readonly TaskHostPort[];
}

/**
 * (Re)writes the table's chains and the operator's ports, keeping the bridge
 * set: safe to run again at every ensureSubnet and at a restart
 * over a table an older Skiff made.
 */
export function boundaryScript(o: BoundaryOptions): string {
  const t = `inet ${o.table}`;
  const problem = boundaryProblem(o.taskToHost, o.taskHostPorts);
  if (problem) throw new HostPortError(problem);
  const lines = [
    `add table ${t}`,
    `add set ${t} bridges { type ifname; comment "Skiff subnet bridges"; }`,
    `add set ${t} host_ports { type inet_proto . inet_service; comment "host ports open to tasks (--task-host-port)"; }`,
    `flush set ${t} host_ports`,
    `add chain ${t} forward { type filter hook forward priority filter - 1; policy accept; }`,
    `flush chain ${t} forward`,
    `add rule ${t} forward iifname @bridges oifname != @bridges counter drop comment "skiff: task to outside"`,
    `add rule ${t} forward oifname @bridges iifname != @bridges counter drop comment "skiff: outside to task"`,
    `add chain ${t} output { type filter hook output priority filter - 1; policy accept; }`,
    `flush chain ${t} output`,
    `add chain ${t} input { type filter hook input priority filter - 1; policy accept; }`,
    `flush chain ${t} input`,
    `add chain ${t} task_to_host`,
    `flush chain ${t} task_to_host`,
  ];
  if (o.taskHostPorts.length > 0) {
    lines.push(`add element ${t} host_ports { ${o.taskHostPorts.map((p) => `${p.protocol} . ${p.port}`).join(', ')} }`);
  }
  if (!o.hostAccess) {
    lines.push(`add rule ${t} output oifname @bridges ct state new counter drop comment "skiff: host to task"`);
  }
  if (o.taskToHost === 'restricted') {
    lines.push(
      `add rule ${t} task_to_host ct state established,related accept comment "replies to the host's connections"`,
      // By the input hook the NAT has rewritten the destination; conntrack keeps what the task sent.
      `add rule ${t} task_to_host meta l4proto tcp ct status dnat ct original ip daddr ${METADATA_ADDRESS} ct original proto-dst 80 accept comment "metadata endpoint"`,
      `add rule ${t} task_to_host meta l4proto { tcp, udp } th dport ${DNS_PORT} fib daddr . iif type local accept comment "DNS on the own gateway"`,
      `add rule ${t} task_to_host meta l4proto . th dport @host_ports accept comment "operator's host ports"`,
      `add rule ${t} task_to_host counter drop comment "skiff: task to host"`,
      `add rule ${t} input iifname @bridges jump task_to_host`,
    );
  }
  return lines.join('\n') + '\n';
}
