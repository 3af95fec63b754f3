/**
 * A container's root filesystem on the host: the overlay of its image layers
 * with its own writable layer, the task's sysfs (user-namespace mode), and their
 * removal. Every mount is made private and with `-n` (no /etc/mtab).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { run } from '../../util/exec.ts';
import { parseMountinfo } from './cgroups.ts';

/** Mounts `layerDirs` (lowest first) with `upper`/`work` as an overlay at `target`. */
export async function mountOverlay(layerDirs: string[], upper: string, work: string, target: string): Promise<void> {
  // overlay wants the highest layer first.
  let lowers = [...layerDirs].reverse();
  let cwd: string | undefined;
  let data = `lowerdir=${lowers.join(':')},upperdir=${upper},workdir=${work}`;
  if (data.length > 3500) {
    // Mount data is limited to one page: use paths relative to the layers' common parent.
    cwd = commonParent(lowers);
    lowers = lowers.map((l) => path.relative(cwd!, l));
    data = `lowerdir=${lowers.join(':')},upperdir=${upper},workdir=${work}`;
  }
  const r = await run('mount', ['-n', '--make-private', '-t', 'overlay', 'overlay', '-o', data, target], { cwd });
  if (r.code !== 0) throw new Error(`cannot mount the container rootfs (overlay): ${(r.stderr || r.stdout).trim()}`);
}

/**
 * A read-only sysfs of the task's network namespace at `target` (inside the bundle,
 * so destroy unmounts it): mounted from the host side with only the network
 * namespace entered, so /sys/class/net shows the task's interfaces, not the host's.
 */
export async function mountTaskSysfs(netnsPath: string, target: string): Promise<void> {
  await fsp.mkdir(target);
  const r = await run('nsenter', [`--net=${netnsPath}`, 'mount', '-n', '--make-private', '-t', 'sysfs', '-o', 'ro,nosuid,nodev,noexec', 'sysfs', target]);
  if (r.code !== 0) throw new Error(`cannot mount the task's sysfs: ${(r.stderr || r.stdout).trim()}`);
}

/**
 * Once `runc create` has returned, the container's mount namespace holds its own
 * copies of the rootfs and sysfs mounts (both are mounted private, so unmounting
 * the host's copies does not propagate to them). The host's copies are then only cost: every new
 * mount namespace — every container start on this host — copies the host's whole
 * mount table, so each one left there makes all later starts slower (at 5,000
 * tasks, 10,000 extra mounts). Detach them; the container keeps its root.
 * Best effort: on failure they stay, and destroy unmounts them as before.
 */
export async function detachHostMounts(targets: string[]): Promise<void> {
  await run('umount', ['-l', '-n', ...targets]);
}

/**
 * Whether the bundle's rootfs or sysfs is still a mount point on the host (a
 * create that failed before they were detached): a mount point has another
 * device than its parent. Two stats instead of reading the host's whole mount
 * table, which every stop of thousands would otherwise do.
 */
export async function hasMountsOf(bundle: string): Promise<boolean> {
  const parent = await fsp.stat(bundle).catch(() => undefined);
  if (!parent) return false;
  for (const sub of ['rootfs', 'sys']) {
    const st = await fsp.stat(path.join(bundle, sub)).catch(() => undefined);
    if (st && st.dev !== parent.dev) return true;
  }
  return false;
}

/** Unmounts everything mounted at or below `dir`, deepest first (lazily if busy). */
export async function unmountUnder(dir: string): Promise<void> {
  const text = await fsp.readFile('/proc/self/mountinfo', 'utf8');
  const targets = parseMountinfo(text)
    .map((m) => m.mountPoint)
    .filter((mp) => mp === dir || mp.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
  for (const t of [...new Set(targets)]) {
    const r = await run('umount', [t]);
    if (r.code !== 0) {
      const lazy = await run('umount', ['-l', t]);
      if (lazy.code !== 0 && !/not mounted|no mount point/i.test(lazy.stderr)) {
        throw new Error(`cannot unmount ${t}: ${lazy.stderr.trim()}`);
      }
    }
  }
}

function commonParent(paths: string[]): string {
  const split = paths.map((p) => path.resolve(p).split('/'));
  const first = split[0]!;
  let n = 0;
  while (n < first.length - 1 && split.every((s) => s[n] === first[n] && s.length > n + 1)) n++;
  return first.slice(0, n).join('/') || '/';
}
