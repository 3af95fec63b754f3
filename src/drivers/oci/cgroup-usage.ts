/**
 * Resource usage of a cgroup (a task's `<cgroupRoot>/<taskId>`, whose counters
 * include every container below it, or a container's
 * `<cgroupRoot>/<taskId>/<name>`), as Driver.taskStats/containerStats report it.
 *
 * cgroup v1: cpuacct.usage (ns) and cpuacct.stat (user/system, USER_HZ ticks),
 * cpu.stat (throttling), memory.usage_in_bytes and memory.stat (total_rss,
 * total_cache, total_inactive_file, hierarchical_memory_limit), pids.current,
 * blkio.throttle.io_service_bytes_recursive / io_serviced_recursive.
 * cgroup v2: cpu.stat (usage/user/system µs, throttling), memory.current,
 * memory.stat (anon, file, inactive_file), memory.max, pids.current, io.stat.
 *
 * The CPU total and memory files must be readable (else the cgroup is treated as
 * gone: undefined); the others are optional and leave their fields out.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { BlkioEntry, BlkioUsage, ResourceUsage } from '../driver.ts';
import type { CgroupLayout } from './cgroups.ts';

/** The kernel's clock tick for cpuacct.stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;
/** cgroup v1 reports "no limit" as a page-rounded LONG_MAX; anything this large is unlimited. */
const UNLIMITED = 2 ** 62;

/** `key value` lines of memory.stat / cpu.stat as numbers. */
export function parseStatFile(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

const num = (text: string | undefined): number | undefined => {
  const t = text?.trim();
  return t && /^\d+$/.test(t) ? Number(t) : undefined;
};

/**
 * A v1 `blkio.throttle.io_service*_recursive` file → Docker's entries: lines
 * `MAJ:MIN Op value` (Op: Read, Write, Sync, Async, Discard, Total); the
 * device-less grand `Total` line is left out, as Docker does.
 */
export function parseBlkioV1(text: string): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):(\d+)\s+(\w+)\s+(\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3], value: Number(m[4]) });
  }
  return out;
}

/**
 * v2 `io.stat` (`MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=..`)
 * → the same entries: Read, Write, Discard (when present) and Total per device.
 * v2 does not split sync from async, so those ops are not reported.
 */
export function parseIoStatV2(text: string): BlkioUsage {
  const serviceBytes: BlkioEntry[] = [];
  const serviced: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const [dev, ...kv] = line.trim().split(/\s+/);
    const d = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!d) continue;
    const f = new Map(kv.map((p) => p.split('=')).filter(([, v]) => v !== undefined && /^\d+$/.test(v)).map(([k, v]) => [k, Number(v)] as const));
    const major = Number(d[1]);
    const minor = Number(d[2]);
    const push = (to: BlkioEntry[], r: string, w: string, dc: string) => {
      const read = f.get(r) ?? 0;
      const write = f.get(w) ?? 0;
      const discard = f.get(dc);
      to.push({ major, minor, op: 'Read', value: read }, { major, minor, op: 'Write', value: write });
      if (discard !== undefined) to.push({ major, minor, op: 'Discard', value: discard });
      to.push({ major, minor, op: 'Total', value: read + write + (discard ?? 0) });
    };
    push(serviceBytes, 'rbytes', 'wbytes', 'dbytes');
    push(serviced, 'rios', 'wios', 'dios');
  }
  return { serviceBytes, serviced };
}

export interface V1Files {
  'cpuacct.usage': string;
  'memory.usage_in_bytes': string;
  'memory.stat': string;
  'cpuacct.stat'?: string;
  'cpu.stat'?: string;
  'pids.current'?: string;
  'blkio.throttle.io_service_bytes_recursive'?: string;
  'blkio.throttle.io_serviced_recursive'?: string;
}

/** The usage figures from v1 file contents. */
export function usageFromV1(f: V1Files): ResourceUsage {
  const stat = parseStatFile(f['memory.stat']);
  const usage = Number(f['memory.usage_in_bytes'].trim());
  const inactive = stat.get('total_inactive_file') ?? stat.get('inactive_file') ?? 0;
  const out: ResourceUsage = {
    cpuUsageUs: Number(BigInt(f['cpuacct.usage'].trim()) / 1000n),
    memoryUsageBytes: usage,
    workingSetBytes: Math.max(0, usage - inactive),
    rssBytes: stat.get('total_rss') ?? stat.get('rss') ?? 0,
    cacheBytes: stat.get('total_cache') ?? stat.get('cache') ?? 0,
  };
  const limit = stat.get('hierarchical_memory_limit');
  if (limit !== undefined && limit < UNLIMITED) out.memoryLimitBytes = limit;
  if (f['cpuacct.stat'] !== undefined) {
    const cpu = parseStatFile(f['cpuacct.stat']);
    const tickUs = 1_000_000 / USER_HZ;
    if (cpu.has('user')) out.cpuUserUs = cpu.get('user')! * tickUs;
    if (cpu.has('system')) out.cpuSystemUs = cpu.get('system')! * tickUs;
  }
  if (f['cpu.stat'] !== undefined) {
    const t = parseStatFile(f['cpu.stat']);
    if (t.has('nr_periods')) out.throttling = { periods: t.get('nr_periods')!, throttledPeriods: t.get('nr_throttled') ?? 0, throttledUs: Math.floor((t.get('throttled_time') ?? 0) / 1000) };
  }
  const pids = num(f['pids.current']);
  if (pids !== undefined) out.pids = pids;
  const bytes = f['blkio.throttle.io_service_bytes_recursive'];
  const ios = f['blkio.throttle.io_serviced_recursive'];
  if (bytes !== undefined && ios !== undefined) out.blkio = { serviceBytes: parseBlkioV1(bytes), serviced: parseBlkioV1(ios) };
  return out;
}

export interface V2Files {
  'cpu.stat': string;
  'memory.current': string;
  'memory.stat': string;
  'memory.max'?: string;
  'pids.current'?: string;
  'io.stat'?: string;
}

/** The usage figures from v2 file contents. */
export function usageFromV2(f: V2Files): ResourceUsage {
  const cpu = parseStatFile(f['cpu.stat']);
  const stat = parseStatFile(f['memory.stat']);
  const usage = Number(f['memory.current'].trim());
  const out: ResourceUsage = {
    cpuUsageUs: cpu.get('usage_usec') ?? 0,
    memoryUsageBytes: usage,
    workingSetBytes: Math.max(0, usage - (stat.get('inactive_file') ?? 0)),
    rssBytes: stat.get('anon') ?? 0,
    cacheBytes: stat.get('file') ?? 0,
  };
  if (cpu.has('user_usec')) out.cpuUserUs = cpu.get('user_usec');
  if (cpu.has('system_usec')) out.cpuSystemUs = cpu.get('system_usec');
  if (cpu.has('nr_periods')) out.throttling = { periods: cpu.get('nr_periods')!, throttledPeriods: cpu.get('nr_throttled') ?? 0, throttledUs: cpu.get('throttled_usec') ?? 0 };
  const max = num(f['memory.max']); // "max" (unlimited) is not a number
  if (max !== undefined) out.memoryLimitBytes = max;
  const pids = num(f['pids.current']);
  if (pids !== undefined) out.pids = pids;
  if (f['io.stat'] !== undefined) out.blkio = parseIoStatV2(f['io.stat']);
  return out;
}

/**
 * The whole disk (`MAJ:MIN`) holding `dir`, as blkio rules name it (a
 * partition's parent disk); undefined when `dir` is on no block device
 * (tmpfs, overlay) or sysfs does not say.
 */
export async function diskOf(dir: string): Promise<string | undefined> {
  const dev = (await fsp.stat(dir, { bigint: true })).dev;
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  if (major === 0n) return undefined;
  const sys = `/sys/dev/block/${major}:${minor}`;
  try {
    const isPartition = await fsp.access(path.join(sys, 'partition')).then(() => true, () => false);
    if (!isPartition) return `${major}:${minor}`;
    return (await read(path.join(path.dirname(await fsp.realpath(sys)), 'dev'))).trim();
  } catch {
    return undefined;
  }
}

/**
 * Makes the kernel count block I/O of the cgroup at `rel` on `disk`. With cgroup
 * v1 the blkio.throttle.* counters only move on a device whose throttling is
 * active (since Linux 6.x, activated by the first rule written for it), so this
 * writes a "no limit" (0) read rule for the disk — it limits nothing. A no-op
 * without a blkio hierarchy; throws if the kernel refuses the rule.
 */
export async function enableBlkioAccounting(layout: CgroupLayout, rel: string, disk: string): Promise<void> {
  const blkio = layout.v1.get('blkio');
  if (!blkio) return;
  const dir = path.join(blkio, rel);
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(path.join(dir, 'blkio.throttle.read_bps_device'), `${disk} 0`);
}

const read = (file: string) => fsp.readFile(file, 'utf8');
const optional = (file: string) => fsp.readFile(file, 'utf8').catch(() => undefined);

/** Reads the usage of the cgroup at `rel` (relative to each hierarchy's root); undefined when it is gone. */
export async function readCgroupUsage(layout: CgroupLayout, rel: string): Promise<ResourceUsage | undefined> {
  try {
    const cpuacct = layout.v1.get('cpuacct');
    const memory = layout.v1.get('memory');
    if (cpuacct && memory) {
      const c = path.join(cpuacct, rel);
      const m = path.join(memory, rel);
      const cpu = layout.v1.get('cpu');
      const pids = layout.v1.get('pids');
      const blkio = layout.v1.get('blkio');
      const [usage, memUsage, memStat, cpuacctStat, cpuStat, pidsCurrent, ioBytes, ioServiced] = await Promise.all([
        read(path.join(c, 'cpuacct.usage')),
        read(path.join(m, 'memory.usage_in_bytes')),
        read(path.join(m, 'memory.stat')),
        optional(path.join(c, 'cpuacct.stat')),
        cpu ? optional(path.join(cpu, rel, 'cpu.stat')) : undefined,
        pids ? optional(path.join(pids, rel, 'pids.current')) : undefined,
        blkio ? optional(path.join(blkio, rel, 'blkio.throttle.io_service_bytes_recursive')) : undefined,
        blkio ? optional(path.join(blkio, rel, 'blkio.throttle.io_serviced_recursive')) : undefined,
      ]);
      return usageFromV1({
        'cpuacct.usage': usage, 'memory.usage_in_bytes': memUsage, 'memory.stat': memStat, 'cpuacct.stat': cpuacctStat, 'cpu.stat': cpuStat, 'pids.current': pidsCurrent,
        'blkio.throttle.io_service_bytes_recursive': ioBytes, 'blkio.throttle.io_serviced_recursive': ioServiced,
      });
    }
    if (layout.unified) {
      const d = path.join(layout.unified, rel);
      const [cpuStat, current, memStat, max, pidsCurrent, ioStat] = await Promise.all([
        read(path.join(d, 'cpu.stat')),
        read(path.join(d, 'memory.current')),
        read(path.join(d, 'memory.stat')),
        optional(path.join(d, 'memory.max')),
        optional(path.join(d, 'pids.current')),
        optional(path.join(d, 'io.stat')),
      ]);
      return usageFromV2({ 'cpu.stat': cpuStat, 'memory.current': current, 'memory.stat': memStat, 'memory.max': max, 'pids.current': pidsCurrent, 'io.stat': ioStat });
    }
    return undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** The first pid listed in the cgroup at `rel` (memory, else pids, else unified hierarchy); undefined if none. */
export async function firstPidOf(layout: CgroupLayout, rel: string): Promise<number | undefined> {
  const base = layout.v1.get('memory') ?? layout.v1.get('pids') ?? layout.unified;
  if (!base) return undefined;
  try {
    const first = (await read(path.join(base, rel, 'cgroup.procs'))).split('\n').find(Boolean);
    return first ? Number(first) : undefined;
  } catch (e) {
    if (['ENOENT', 'ESRCH', 'EINVAL', 'ENODEV'].includes((e as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw e;
  }
}
