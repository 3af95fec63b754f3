/**
 * Bandwidth by task size (pure: the table, the `tc` batch LinuxNetwork runs,
 * and the reading of what the kernel holds).
 *
 * The table (the seed's, per direction), multiplied by the operator's
 * `--bandwidth-scale` for small hosts:
 *   cpu ≤  512   1 Gbps sustained, bursts to 10 Gbps
 *   cpu ≤ 1024   2 Gbps sustained, bursts to 10 Gbps
 *   cpu ≤ 2048   4 Gbps sustained, bursts to 10 Gbps
 *   cpu >  2048  10 Gbps sustained, bursts to 25 Gbps
 * A burst draws on a bucket holding BURST_SECONDS (100 ms) of the sustained
 * rate (at least 64 KiB): after a quiet spell a task sends 12.5 MB at up to
 * 10 Gbps at 1 Gbps sustained, then the sustained rate holds.
 *
 * Where, both ways on the host side of the task's veth, outside anything the
 * task (or its runtime: gVisor's netstack, a microVM's tap) can reach:
 *   into the task    the host veth's egress: root qdisc tbf;
 *   out of the task  the host veth's ingress: an ingress qdisc whose u32
 *                    match-all filter redirects (mirred) every packet to the
 *                    task's ifb device, whose egress is the same tbf; ifb
 *                    hands the packet back as received on the veth, so the
 *                    bridge, br_netfilter and the security groups see it as before.
 * Why tbf: a token bucket is exactly "sustained rate R, a bucket of B bytes,
 * never faster than peak P" (rate/burst/peakrate) in one classless qdisc, and
 * it queues instead of dropping, so TCP settles at the rate. htb expresses a
 * peak only by borrowing from a parent class (one more level per task and a
 * ceil that is a sustained rate, not a burst); fq's maxrate is per flow, not
 * per task; an ingress policer drops what is over the rate (TCP saw-tooths
 * below it, bursts become losses) and is missing from kernels without
 * CONFIG_NET_ACT_POLICE (this project's machines). The peak bucket (tbf's mtu)
 * is 64 KiB so a GSO packet passes whole; the queue holds 20 ms of the
 * sustained rate (at least 192 KiB).
 *
 * Start-path cost: the ifb device is made with the namespace (attach, one
 * `ip -batch` the warm pool runs ahead of time); shaping is one `tc -batch`
 * of four `replace` lines, idempotent, so adoption re-runs it when the kernel
 * lost it.
 */
import type { TaskBandwidth } from '../model/task-record.ts';

export type { TaskBandwidth } from '../model/task-record.ts';

/** The seed's table: the first row whose maxCpu is at least the task's CPU units. */
export const BANDWIDTH_TABLE: readonly { maxCpu: number; sustainedMbps: number; burstMbps: number }[] = Object.freeze([
  { maxCpu: 512, sustainedMbps: 1000, burstMbps: 10_000 },
  { maxCpu: 1024, sustainedMbps: 2000, burstMbps: 10_000 },
  { maxCpu: 2048, sustainedMbps: 4000, burstMbps: 10_000 },
  { maxCpu: Infinity, sustainedMbps: 10_000, burstMbps: 25_000 },
]);

/** Bounds of `--bandwidth-scale`. */
export const MIN_BANDWIDTH_SCALE = 0.001;
export const MAX_BANDWIDTH_SCALE = 10;
/** How much of the sustained rate the burst bucket holds, seconds. */
export const BURST_SECONDS = 0.1;
const GSO_MAX = 65536;
const QUEUE_SECONDS = 0.02;

/** The bandwidth of a task of `cpuUnits`, the table multiplied by `scale`. */
export function bandwidthFor(cpuUnits: number, scale = 1): TaskBandwidth {
  if (!(scale >= MIN_BANDWIDTH_SCALE && scale <= MAX_BANDWIDTH_SCALE)) {
    throw new RangeError(`bandwidth scale must be from ${MIN_BANDWIDTH_SCALE} to ${MAX_BANDWIDTH_SCALE} (got ${scale})`);
  }
  const row = BANDWIDTH_TABLE.find((r) => cpuUnits <= r.maxCpu)!;
  const round = (mbps: number) => Math.round(mbps * scale * 1000) / 1000;
  return { sustainedMbps: round(row.sustainedMbps), burstMbps: round(row.burstMbps) };
}

/** "1 Gbps sustained, bursts to 10 Gbps" (for people: `skiff task`, logs). */
export function describeBandwidth(bw: TaskBandwidth): string {
  return `${formatMbps(bw.sustainedMbps)} sustained, bursts to ${formatMbps(bw.burstMbps)}`;
}

export function formatMbps(mbps: number): string {
  const fixed = (n: number) => String(Math.round(n * 100) / 100);
  return mbps >= 1000 ? `${fixed(mbps / 1000)} Gbps` : mbps >= 1 ? `${fixed(mbps)} Mbps` : `${fixed(mbps * 1000)} kbps`;
}

/** Whether two bandwidths agree within 1 % (the kernel keeps rates in bytes per second). */
export function sameBandwidth(a: TaskBandwidth, b: TaskBandwidth): boolean {
  const near = (x: number, y: number) => Math.abs(x - y) <= 0.01 * Math.max(x, y);
  return near(a.sustainedMbps, b.sustainedMbps) && near(a.burstMbps, b.burstMbps);
}

/** What is wrong with a bandwidth given to the network, if anything. */
export function bandwidthProblem(bw: TaskBandwidth): string | undefined {
  const ok = (n: unknown) => typeof n === 'number' && Number.isFinite(n) && n >= 0.001 && n <= 1_000_000;
  if (!bw || !ok(bw.sustainedMbps) || !ok(bw.burstMbps)) return `invalid bandwidth ${JSON.stringify(bw)}: rates are 0.001..1000000 Mbps`;
  if (bw.burstMbps < bw.sustainedMbps) return `invalid bandwidth: the burst rate (${bw.burstMbps} Mbps) is below the sustained rate (${bw.sustainedMbps} Mbps)`;
  return undefined;
}

/** The tbf arguments for one direction. */
export function tbfArgs(bw: TaskBandwidth): string {
  const bytesPerSecond = (bw.sustainedMbps * 1e6) / 8;
  const burst = Math.max(Math.round(bytesPerSecond * BURST_SECONDS), GSO_MAX);
  const limit = Math.max(Math.round(bytesPerSecond * QUEUE_SECONDS), 3 * GSO_MAX);
  const bits = (mbps: number) => `${Math.round(mbps * 1e6)}bit`;
  // tbf wants a peak strictly above the rate; a burst rate equal to it means "no burst beyond the bucket".
  const peak = bw.burstMbps > bw.sustainedMbps ? ` peakrate ${bits(bw.burstMbps)} mtu ${GSO_MAX}` : '';
  return `tbf rate ${bits(bw.sustainedMbps)} burst ${burst}${peak} limit ${limit}`;
}

/** `ip -batch` lines that make a task's ifb device (with its namespace, before it is shaped). */
export function ifbLines(ifb: string): string[] {
  return [`link add ${ifb} type ifb`, `link set ${ifb} addrgenmode none`, `link set ${ifb} up`];
}

/**
 * The `tc -batch` that shapes a task both ways (every line a `replace`: running
 * it again changes nothing). The ifb's qdisc comes first so nothing redirected
 * to it passes unshaped.
 */
export function shapingScript(hostVeth: string, ifb: string, bw: TaskBandwidth): string {
  const tbf = tbfArgs(bw);
  return [
    `qdisc replace dev ${ifb} root handle 1: ${tbf}`,
    `qdisc replace dev ${hostVeth} root handle 1: ${tbf}`,
    `qdisc replace dev ${hostVeth} handle ffff: ingress`,
    `filter replace dev ${hostVeth} parent ffff: protocol all prio 1 handle 800::800 u32 match u32 0 0 action mirred egress redirect dev ${ifb}`,
  ].join('\n') + '\n';
}

/** The `tc -batch` whose output `parseShaping` reads. */
export function readShapingScript(hostVeth: string, ifb: string): string {
  return `qdisc show dev ${hostVeth}\nqdisc show dev ${ifb}\nfilter show dev ${hostVeth} ingress\n`;
}

const UNITS: Record<string, number> = { '': 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12 };
const TBF_RE = /^qdisc tbf 1: root .*?\brate (\d+(?:\.\d+)?)([KMGT]?)bit\b(?:.*?\bpeakrate (\d+(?:\.\d+)?)([KMGT]?)bit\b)?/;

/**
 * The bandwidth the kernel applies, from readShapingScript's output: both tbfs
 * (veth egress, ifb egress) with the same rates and the redirect to the ifb in
 * place, else undefined (not shaped, or only half).
 */
export function parseShaping(text: string, ifb: string): TaskBandwidth | undefined {
  const tbfs = text
    .split('\n')
    .map((l) => TBF_RE.exec(l.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => {
      const sustainedMbps = (Number(m[1]) * UNITS[m[2]!]!) / 1e6;
      return { sustainedMbps, burstMbps: m[3] ? (Number(m[3]) * UNITS[m[4]!]!) / 1e6 : sustainedMbps };
    });
  if (tbfs.length !== 2 || !sameBandwidth(tbfs[0]!, tbfs[1]!)) return undefined;
  if (!text.includes(`Redirect to device ${ifb})`)) return undefined;
  return tbfs[0];
}
