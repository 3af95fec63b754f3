/**
 * `node --import tsx bench/bandwidth.ts [--tasks 30]` (root, Linux)
 *
 * What bandwidth shaping costs on a task's start path, on LinuxNetwork itself
 * with names of its own (a bridge on a free /24 of 10.253.0.0/16, namespaces,
 * veths and ifbs with a bench prefix; all removed at the end, even on failure):
 *   attach        a fresh namespace (now with the ifb: 3 more lines in the same `ip -batch`)
 *   ifb lines     those 3 lines alone, in an `ip -batch` of their own (their share of
 *                 attach: this less `ip spawn`)
 *   ip spawn      an `ip -batch` of one `link show dev lo` (the cost of a spawn, for comparison)
 *   shape         the one `tc -batch` that shapes a task both ways (what a warm start adds)
 *   tc spawn      `tc -batch` of one `qdisc show dev lo` (the spawn alone)
 *   shape again   the same batch on a shaped task (adoption; `replace` is idempotent)
 *   shaping       reading it back (`tc -batch` of 3 shows)
 *   detach        namespace, veth and ifb removed
 * No packet is sent. Prints a table and one JSON line.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { LinuxNetwork } from '../src/network/linux-network.ts';
import { bandwidthFor, ifbLines } from '../src/network/bandwidth.ts';
import { overlaps, parseCidr, nthUsable } from '../src/model/cidr.ts';
import { run } from '../src/util/exec.ts';
import { summarize, type Summary } from './lib/stats.ts';

const args = process.argv.slice(2);
const TASKS = Number(args[args.indexOf('--tasks') + 1] || 30) || 30;
const tag = randomBytes(2).toString('hex');
const net = new LinuxNetwork({ netnsPrefix: `skbw-${tag}-`, vethPrefix: `bw${tag.slice(0, 2)}`, nftTable: `skiff_bw_${tag}` });

function freeSubnet(): string {
  const routes = JSON.parse(execFileSync('ip', ['-j', '-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' })) as { dst: string }[];
  const used = routes.map((r) => r.dst).filter((d) => d && d !== 'default').map((d) => parseCidr(d.includes('/') ? d : `${d}/32`, { allowHostBits: true }));
  for (let third = 10; third < 250; third++) {
    const c = `10.253.${third}.0/24`;
    if (!used.some((u) => overlaps(u, c))) return c;
  }
  throw new Error('no free /24 in 10.253.0.0/16');
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const cidr = freeSubnet();
  const subnet = { id: `subnet-bw${tag}`, cidr, vpcCidr: cidr, bridge: `bwbr${tag}` };
  await net.ensureSubnet(subnet);
  const ids = Array.from({ length: TASKS }, () => randomBytes(16).toString('hex'));
  const t: Record<string, number[]> = { attach: [], 'ifb lines': [], 'ip spawn': [], shape: [], 'shape again': [], 'tc spawn': [], shaping: [], detach: [] };
  const bw = bandwidthFor(256);
  for (const [i, id] of ids.entries()) t.attach!.push(await timed(() => net.attach(id, subnet, nthUsable(cidr, i))));
  for (const id of ids) t.shape!.push(await timed(() => net.shape(id, bw)));
  for (const id of ids) t['shape again']!.push(await timed(() => net.shape(id, bw)));
  for (const id of ids) t.shaping!.push(await timed(() => net.shaping(id)));
  for (const id of ids) t.detach!.push(await timed(() => net.detach(id)));
  for (let i = 0; i < TASKS; i++) {
    const ifb = `bw${tag}x${String(i).padStart(3, '0')}i`;
    t['ifb lines']!.push(await timed(() => run('ip', ['-batch', '-'], { input: ifbLines(ifb).join('\n') + '\n' })));
    await run('ip', ['link', 'del', ifb]);
    t['ip spawn']!.push(await timed(() => run('ip', ['-batch', '-'], { input: 'link show dev lo\n' })));
    t['tc spawn']!.push(await timed(() => run('tc', ['-batch', '-'], { input: 'qdisc show dev lo\n' })));
  }
  const rows: [string, Summary][] = Object.entries(t).map(([k, v]) => [k, summarize(v)]);
  console.log(`bandwidth shaping, ${TASKS} tasks, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log('step          p50 ms   p95 ms   max ms');
  for (const [k, s] of rows) console.log(`${k.padEnd(12)} ${String(s.p50).padStart(7)} ${String(s.p95).padStart(8)} ${String(s.max).padStart(8)}`);
  console.log(JSON.stringify({ bench: 'bandwidth', tasks: TASKS, loadavg: loadavg(), steps: Object.fromEntries(rows) }));
}

main()
  .catch((e) => {
    process.exitCode = 1;
    console.error(e);
  })
  .finally(() => net.destroyAll());
