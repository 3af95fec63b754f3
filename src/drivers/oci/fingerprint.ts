/**
 * What the runc driver needs on this host: root, runc, conmon, mount/umount,
 * the cgroup v1 cpu, cpuacct, memory and pids controllers (with OOM-kill
 * counts) and overlayfs. Each missing piece becomes one reason that says how to
 * get it.
 */
import { constants as fsc, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { DriverFingerprint } from '../driver.ts';
import { readCgroupLayout, type CgroupLayout } from './cgroups.ts';

export interface RuncTools {
  runcPath: string;
  conmonPath: string;
}

/** What the host lacks for an OCI runtime driver; `runtimeName` names the runtime binary (and its Debian package). */
export async function hostProblems(tools: RuncTools, runtimeName = 'runc'): Promise<string[]> {
  const problems: string[] = [];
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    problems.push('Skiff must run as root to create namespaces and cgroups: run it with sudo');
  }
  const executable = async (p: string) => fsp.access(p, fsc.X_OK).then(() => true, () => false);
  if (!(await executable(tools.runcPath))) problems.push(`${runtimeName} not found at ${tools.runcPath}: install it with \`apt-get install ${runtimeName}\``);
  if (!(await executable(tools.conmonPath))) problems.push(`conmon not found at ${tools.conmonPath}: install it with \`apt-get install conmon\``);
  for (const tool of ['/usr/bin/mount', '/usr/bin/umount']) {
    const alt = tool.replace('/usr', '');
    if (!(await executable(tool)) && !(await executable(alt))) problems.push(`${path.basename(tool)} not found: install it with \`apt-get install mount\``);
  }

  let layout: CgroupLayout | undefined;
  try {
    layout = await readCgroupLayout();
  } catch (e) {
    problems.push(`cannot read /proc/self/mountinfo (${(e as Error).message}): is /proc mounted?`);
  }
  if (layout) {
    const needed = ['cpu', 'cpuacct', 'memory', 'pids'];
    const missing = needed.filter((c) => !layout!.v1.has(c));
    if (missing.length === needed.length) {
      const v2 = layout.hierarchies.find((h) => h.version === 2 && needed.filter((c) => c !== 'cpuacct').every((c) => h.controllers.includes(c)));
      if (v2) {
        problems.push(
          `this host uses cgroup v2 only (${v2.mountPoint}); the runc driver supports cgroup v1 for now: boot with \`systemd.unified_cgroup_hierarchy=0\` on the kernel command line`,
        );
      } else {
        problems.push('no cgroup v1 controllers are mounted: mount cpu, cpuacct, memory and pids under /sys/fs/cgroup (e.g. install cgroupfs-mount)');
      }
    } else if (missing.length) {
      problems.push(`cgroup v1 controller(s) not mounted: ${missing.join(', ')}: mount them under /sys/fs/cgroup (e.g. \`mount -t cgroup -o ${missing[0]} cgroup /sys/fs/cgroup/${missing[0]}\`)`);
    }
    const mem = layout.v1.get('memory');
    if (mem) {
      try {
        await fsp.access(path.join(mem, 'memory.oom_control'));
      } catch {
        problems.push('the memory cgroup has no memory.oom_control: OOM kills cannot be detected (kernel too old?)');
      }
    }
  }
  try {
    const fs = await fsp.readFile('/proc/filesystems', 'utf8');
    if (!/\toverlay$/m.test(fs)) problems.push('overlayfs is not available: load it with `modprobe overlay` (and add `overlay` to /etc/modules)');
  } catch {
    problems.push('cannot read /proc/filesystems to check for overlayfs: is /proc mounted?');
  }
  return problems;
}

export async function runcFingerprint(tools: RuncTools, opts: { userns: boolean }): Promise<DriverFingerprint> {
  const reasons = await hostProblems(tools);
  return {
    name: 'runc',
    available: reasons.length === 0,
    reasons,
    isolation: 'namespaces',
    features: { exec: true, stats: true, writableLayerUsage: true },
    attributes: { runc: tools.runcPath, conmon: tools.conmonPath, userNamespace: opts.userns ? 'yes' : 'no' },
  };
}
