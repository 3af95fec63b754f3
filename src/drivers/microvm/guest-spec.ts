/**
 * What the guest init is told about a container, as sh files in its directory
 * of the share (every value single-quoted): spec.sh (hostname, limits, the
 * extra mounts, the user namespace) and run.sh (the process: a clean environment, then busybox
 * nsenter's chroot, working directory and uid/gid, then the image's own
 * executable), and per exec request x/<n>.sh (the same).
 */
import type { ContainerLaunchSpec } from '../driver.ts';
import { shq } from './layout.ts';

/** The guest path of a container's directory. */
export const guestDir = (dir: string) => `/task/c/${dir}`;

/** The command line that runs `args` as the container's process (used by run.sh and exec). */
export function processLine(dir: string, p: { env: string[]; cwd: string; uid: number; gid: number }, args: string[]): string {
  const root = `${guestDir(dir)}/rootfs`;
  const cwd = p.cwd.startsWith('/') ? p.cwd : `/${p.cwd}`;
  return [
    // Its stdin is the null device (the script itself may come on the shell's stdin).
    'exec </dev/null /bin/busybox env -i',
    ...p.env.filter((e) => /^[^=\s]+=/.test(e)).map(shq),
    '/bin/busybox nsenter -F',
    shq(`-r${root}`),
    shq(`-w${root}${cwd}`),
    `-S ${p.uid} -G ${p.gid}`,
    '--',
    ...args.map(shq),
  ].join(' ');
}

export interface MountPlan {
  /** Path in the share (c/<dir>/m/<i>), relative to the container's directory. */
  source: string;
  destination: string;
  readonly: boolean;
  kind: 'file' | 'dir';
}

export function specSh(dir: string, spec: ContainerLaunchSpec, mounts: MountPlan[], userns?: { hostId: number; size: number }): string {
  const lines = [
    `C_USERNS=${userns ? shq(`${userns.hostId} ${userns.size}`) : ''}`,
    `C_HOST=${shq(spec.hostname || spec.containerName)}`,
    `C_RO=${spec.readonlyRootFilesystem ? 1 : 0}`,
    `C_CWD=${shq(spec.cwd.startsWith('/') ? spec.cwd : `/${spec.cwd}`)}`,
    spec.memoryMiB ? `C_MEM=${Math.floor(spec.memoryMiB)}` : 'C_MEM=',
    spec.memoryReservationMiB ? `C_MEMLOW=${Math.floor(spec.memoryReservationMiB)}` : 'C_MEMLOW=',
    // cpu.weight 1..10000 from ECS units (cpu.shares 1024 ≈ weight 100).
    spec.cpuUnits ? `C_WEIGHT=${Math.min(10000, Math.max(1, Math.round((spec.cpuUnits * 100) / 1024)))}` : 'C_WEIGHT=',
    'c_mounts() {',
    '  mkdir -p "$root$C_CWD"',
  ];
  for (const m of mounts) {
    const src = shq(`${guestDir(dir)}/${m.source}`);
    const dst = `"$root"${shq(m.destination)}`;
    lines.push(
      m.kind === 'dir' ? `  mkdir -p ${dst} || return 1` : `  mkdir -p "$(dirname ${dst})" && { [ -e ${dst} ] || touch ${dst}; } || return 1`,
      `  mount --bind ${src} ${dst} || return 1`,
    );
    if (m.readonly) lines.push(`  mount -o remount,bind,ro ${dst} || return 1`);
  }
  lines.push('  return 0', '}', '');
  return lines.join('\n');
}

/** run.sh: the container's process, once the runner has mapped its user namespace (the fifo in $1, if any). */
export function runSh(dir: string, spec: ContainerLaunchSpec): string {
  return `[ -n "$1" ] && read mapped < "$1"\n${processLine(dir, spec, spec.args)}\n`;
}

/** x/<n>.sh: an exec, run by the guest inside the container's cgroup and namespaces. */
export function execSh(dir: string, p: { env: string[]; cwd: string; uid: number; gid: number }, args: string[]): string {
  return `${processLine(dir, p, args)}\n`;
}
