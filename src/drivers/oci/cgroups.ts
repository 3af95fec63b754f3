/**
 * cgroup v1 helpers for the runc driver.
 *
 * The host's hierarchies come from /proc/self/mountinfo, so co-mounted
 * controllers (`cpu,cpuacct`) and named hierarchies (`name=systemd`) are handled.
 * runc creates the container cgroup in every hierarchy it knows (and, in hybrid
 * mode, in the unified v2 one too), so removal walks every hierarchy found here.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { sleep } from '../../util/exec.ts';

export interface CgroupHierarchy {
  /** Where the hierarchy is mounted, e.g. /sys/fs/cgroup/memory. */
  mountPoint: string;
  /** 1 or 2. */
  version: 1 | 2;
  /** v1: controllers in this hierarchy (`cpu`, `cpuacct`, `name=systemd`, ...). v2: enabled controllers. */
  controllers: string[];
}

export interface CgroupLayout {
  hierarchies: CgroupHierarchy[];
  /** v1 controller name → mount point. */
  v1: Map<string, string>;
  /** Mount point of a cgroup2 hierarchy, if any. */
  unified?: string;
}

function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Mount points (unescaped) from /proc/self/mountinfo text, with fstype and super options. */
export function parseMountinfo(text: string): { mountPoint: string; fstype: string; superOpts: string[] }[] {
  const res: { mountPoint: string; fstype: string; superOpts: string[] }[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const mp = left[4];
    if (!mp) continue;
    res.push({ mountPoint: unescapeMountField(mp), fstype: right[0] ?? '', superOpts: (right[2] ?? '').split(',') });
  }
  return res;
}

export async function readCgroupLayout(): Promise<CgroupLayout> {
  const mounts = parseMountinfo(await fsp.readFile('/proc/self/mountinfo', 'utf8'));
  const hierarchies: CgroupHierarchy[] = [];
  const v1 = new Map<string, string>();
  let unified: string | undefined;
  const seen = new Set<string>();
  for (const m of mounts) {
    if (m.fstype === 'cgroup') {
      const controllers = m.superOpts.filter(
        (o) => o !== 'rw' && o !== 'ro' && !o.startsWith('relatime') && !['noexec', 'nosuid', 'nodev', 'clone_children', 'noprefix', 'xattr'].includes(o) && !o.startsWith('release_agent='),
      );
      if (seen.has(m.mountPoint)) continue;
      seen.add(m.mountPoint);
      hierarchies.push({ mountPoint: m.mountPoint, version: 1, controllers });
      for (const c of controllers) if (!v1.has(c)) v1.set(c, m.mountPoint);
    } else if (m.fstype === 'cgroup2') {
      if (seen.has(m.mountPoint)) continue;
      seen.add(m.mountPoint);
      let controllers: string[] = [];
      try {
        controllers = (await fsp.readFile(path.join(m.mountPoint, 'cgroup.controllers'), 'utf8')).trim().split(/\s+/).filter(Boolean);
      } catch {
        /* not readable: treat as none */
      }
      hierarchies.push({ mountPoint: m.mountPoint, version: 2, controllers });
      unified ??= m.mountPoint;
    }
  }
  return { hierarchies, v1, unified };
}

/** Removes a cgroup directory and every child cgroup below it (deepest first). Missing is fine. */
export async function removeCgroupTree(dir: string, attempts = 40): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  await Promise.all(entries.filter((d) => d.isDirectory()).map((d) => removeCgroupTree(path.join(dir, d.name), attempts)));
  for (let i = 0; ; i++) {
    try {
      await fsp.rmdir(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      // EBUSY: processes are still leaving (a dying container); retry briefly.
      if (code === 'EBUSY' && i < attempts) {
        await sleep(25);
        continue;
      }
      throw new Error(`cannot remove cgroup ${dir}: ${(e as Error).message}`);
    }
  }
}

/** Reads `oom_kill N` from a v1 memory.oom_control file (kernel ≥ 4.13); 0 when absent/unreadable. */
export async function readOomKillCount(memoryCgroupDir: string): Promise<number> {
  try {
    const text = await fsp.readFile(path.join(memoryCgroupDir, 'memory.oom_control'), 'utf8');
    const m = /^oom_kill (\d+)$/m.exec(text);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
