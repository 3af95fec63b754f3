/**
 * Resource usage of a cgroup (a task's `<cgroupRoot>/<taskId>`, whose counters
 * include every container below it, or a container's
 * `<cgroupRoot>/<taskId>/<name>`), as Driver.taskStats/containerStats report it.
 *
 * cgroup v1: cpuacct.usage (ns) and cpuacct.stat (user/system, USER_HZ ticks),
 * cpu.stat (throttling), memory.usage_in_bytes and memory.stat (total_rss,
 * total_cache, total_inactive_file, hierarchical_memory_limit), pids.current.
 * cgroup v2: cpu.stat (usage/user/system µs, throttling), memory.current,
 * memory.stat (anon, file, inactive_file), memory.max, pids.current.
 *
 * The CPU total and memory files must be readable (else the cgroup is treated as
 * gone: undefined); the others are optional and leave their fields out.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ResourceUsage } from '../driver.ts';
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

export interface V1Files {
  'cpuacct.usage': string;
  'memory.usage_in_bytes': string;
  'memory.stat': string;
  'cpuacct.stat'?: string;
  'cpu.stat'?: string;
  'pids.current'?: string;
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
  return out;
}

export interface V2Files {
  'cpu.stat': string;
  'memory.current': string;
  'memory.stat': string;
  'memory.max'?: string;
  'pids.current'?: string;
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
  return out;
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
      const [usage, memUsage, memStat, cpuacctStat, cpuStat, pidsCurrent] = await Promise.all([
        read(path.join(c, 'cpuacct.usage')),
        read(path.join(m, 'memory.usage_in_bytes')),
        read(path.join(m, 'memory.stat')),
        optional(path.join(c, 'cpuacct.stat')),
        cpu ? optional(path.join(cpu, rel, 'cpu.stat')) : undefined,
        pids ? optional(path.join(pids, rel, 'pids.current')) : undefined,
      ]);
      return usageFromV1({ 'cpuacct.usage': usage, 'memory.usage_in_bytes': memUsage, 'memory.stat': memStat, 'cpuacct.stat': cpuacctStat, 'cpu.stat': cpuStat, 'pids.current': pidsCurrent });
    }
    if (layout.unified) {
      const d = path.join(layout.unified, rel);
      const [cpuStat, current, memStat, max, pidsCurrent] = await Promise.all([
        read(path.join(d, 'cpu.stat')),
        read(path.join(d, 'memory.current')),
        read(path.join(d, 'memory.stat')),
        optional(path.join(d, 'memory.max')),
        optional(path.join(d, 'pids.current')),
      ]);
      return usageFromV2({ 'cpu.stat': cpuStat, 'memory.current': current, 'memory.stat': memStat, 'memory.max': max, 'pids.current': pidsCurrent });
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
