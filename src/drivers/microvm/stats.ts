/**
 * The guest's usage report (st/stats, written by guest-init.ts every ~5 s from
 * its cgroup v2 files) parsed into the driver contract's ResourceUsage:
 *
 *   task <memory.current> <usage_usec> <user_usec> <system_usec> <pids.current>
 *   task.anon N | task.file N | task.inactive_file N
 *   c.<dir> ... and c.<dir>.anon N ... the same for each container
 */
import type { ResourceUsage } from '../driver.ts';

interface Raw {
  mem: number;
  usage: number;
  user: number;
  system: number;
  pids: number;
  anon: number;
  file: number;
  inactiveFile: number;
}

const empty = (): Raw => ({ mem: 0, usage: 0, user: 0, system: 0, pids: 0, anon: 0, file: 0, inactiveFile: 0 });

function usage(r: Raw): ResourceUsage {
  return {
    cpuUsageUs: r.usage,
    cpuUserUs: r.user,
    cpuSystemUs: r.system,
    memoryUsageBytes: r.mem,
    workingSetBytes: Math.max(0, r.mem - r.inactiveFile),
    rssBytes: r.anon,
    cacheBytes: r.file,
    pids: r.pids,
  };
}

export function parseStats(text: string): { task?: ResourceUsage; containers: Map<string, ResourceUsage> } {
  const raws = new Map<string, Raw>();
  const get = (k: string) => raws.get(k) ?? (raws.set(k, empty()), raws.get(k)!);
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 2) continue;
    const [key, ...v] = f as [string, ...string[]];
    const n = v.map(Number);
    if (key === 'task' || /^c\.[^\s]+$/.test(key) && n.length >= 5 && !/\.(anon|file|inactive_file)$/.test(key)) {
      if (n.length < 5 || n.some((x) => !Number.isFinite(x))) continue;
      const r = get(key);
      [r.mem, r.usage, r.user, r.system, r.pids] = n as [number, number, number, number, number];
      continue;
    }
    const m = /^(task|c\..+)\.(anon|file|inactive_file)$/.exec(key);
    if (m && Number.isFinite(n[0])) {
      const r = get(m[1]!);
      if (m[2] === 'anon') r.anon = n[0]!;
      else if (m[2] === 'file') r.file = n[0]!;
      else r.inactiveFile = n[0]!;
    }
  }
  const containers = new Map<string, ResourceUsage>();
  for (const [k, r] of raws) if (k.startsWith('c.')) containers.set(k.slice(2), usage(r));
  const t = raws.get('task');
  return { task: t && usage(t), containers };
}
