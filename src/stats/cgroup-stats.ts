/**
 * Reads a task's CPU and memory use from its cgroup (the task-level cgroup the
 * runc driver creates, `<controller mount>/<cgroupRoot>/<taskId>`, whose
 * counters include every container below it).
 *
 * cgroup v1: cpuacct.usage (ns), memory.usage_in_bytes and memory.stat
 * (total_rss, total_cache, total_inactive_file). cgroup v2: cpu.stat usage_usec,
 * memory.current and memory.stat (anon, file, inactive_file).
 *
 * Memory is reported as the working set (usage minus inactive file cache), the
 * figure an OOM decision is closest to and what right-sizing should size for.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { CgroupLayout } from '../drivers/runc/cgroups.ts';

export interface CgroupUsage {
  /** Cumulative CPU time, µs. */
  cpuUsageUs: number;
  /** usage − inactive_file, bytes (never negative). */
  workingSetBytes: number;
  rssBytes: number;
  cacheBytes: number;
}

/** `key value` lines of memory.stat / cpu.stat as numbers. */
export function parseStatFile(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

/** The usage figures from v1 file contents. */
export function usageFromV1(cpuacctUsageNs: string, memoryUsageBytes: string, memoryStat: string): CgroupUsage {
  const stat = parseStatFile(memoryStat);
  const usage = Number(memoryUsageBytes.trim());
  const inactive = stat.get('total_inactive_file') ?? stat.get('inactive_file') ?? 0;
  return {
    cpuUsageUs: Number(BigInt(cpuacctUsageNs.trim()) / 1000n),
    workingSetBytes: Math.max(0, usage - inactive),
    rssBytes: stat.get('total_rss') ?? stat.get('rss') ?? 0,
    cacheBytes: stat.get('total_cache') ?? stat.get('cache') ?? 0,
  };
}

/** The usage figures from v2 file contents. */
export function usageFromV2(cpuStat: string, memoryCurrent: string, memoryStat: string): CgroupUsage {
  const cpu = parseStatFile(cpuStat);
  const stat = parseStatFile(memoryStat);
  const usage = Number(memoryCurrent.trim());
  return {
    cpuUsageUs: cpu.get('usage_usec') ?? 0,
    workingSetBytes: Math.max(0, usage - (stat.get('inactive_file') ?? 0)),
    rssBytes: stat.get('anon') ?? 0,
    cacheBytes: stat.get('file') ?? 0,
  };
}

/** Reads one task's usage; undefined when its cgroup is gone (the task stopped). */
export async function readTaskUsage(layout: CgroupLayout, cgroupRoot: string, taskId: string): Promise<CgroupUsage | undefined> {
  const read = (file: string) => fsp.readFile(file, 'utf8');
  try {
    const cpuacct = layout.v1.get('cpuacct');
    const memory = layout.v1.get('memory');
    if (cpuacct && memory) {
      const c = path.join(cpuacct, cgroupRoot, taskId);
      const m = path.join(memory, cgroupRoot, taskId);
      const [usage, memUsage, memStat] = await Promise.all([
        read(path.join(c, 'cpuacct.usage')),
        read(path.join(m, 'memory.usage_in_bytes')),
        read(path.join(m, 'memory.stat')),
      ]);
      return usageFromV1(usage, memUsage, memStat);
    }
    if (layout.unified) {
      const d = path.join(layout.unified, cgroupRoot, taskId);
      const [cpuStat, current, memStat] = await Promise.all([
        read(path.join(d, 'cpu.stat')),
        read(path.join(d, 'memory.current')),
        read(path.join(d, 'memory.stat')),
      ]);
      return usageFromV2(cpuStat, current, memStat);
    }
    return undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}
