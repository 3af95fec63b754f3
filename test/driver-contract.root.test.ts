/**
 * The Driver contract (src/drivers/driver-contract.ts) against every real
 * runtime of test/support/runtimes.ts (runc; gVisor's runsc) on the real
 * conmon, cgroups and overlayfs of this host, the same suite the fake driver
 * passes without root. Needs root, runc (runsc) and conmon.
 * Run: node --import tsx --test test/driver-contract.root.test.ts
 *
 * Everything lives under a unique cgroup root (skiff-ctest-<rand>), a temp dir
 * and a network namespace (skiff-ctest-<rand>), all removed at the end even on
 * failure.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { driverContract } from '../src/drivers/driver-contract.ts';
import { RuncDriver } from '../src/drivers/runc/index.ts';
import { driver as gvisorDriver } from '../src/drivers/gvisor/index.ts';
import type { Driver } from '../src/drivers/driver.ts';
import { testRuntimes } from './support/runtimes.ts';
import { busyboxWorkloads } from './support/busybox-workloads.ts';
import { parseMountinfo } from '../src/drivers/oci/cgroups.ts';
import { writeBusyboxRootfs as buildBusyboxLayer } from './support/images.ts';

const execFileP = promisify(execFile);
const RUN = randomBytes(4).toString('hex');
const CGROUP_ROOT = `skiff-ctest-${RUN}`;
const NETNS = `skiff-ctest-${RUN}`;

const TOOL: Record<string, string> = { runc: '/usr/sbin/runc', gvisor: '/usr/bin/runsc' };

for (const runtime of testRuntimes()) {
const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : !existsSync(TOOL[runtime] ?? '/nonexistent') || !existsSync('/usr/bin/conmon') || !existsSync('/bin/busybox')
      ? `needs ${TOOL[runtime] ?? runtime}, conmon and /bin/busybox`
      : false;

driverContract(
  runtime,
  async () => {
    const tmp = await fsp.mkdtemp(path.join(tmpdir(), 'skiff-ctest-'));
    const stateDir = path.join(tmp, 'state');
    const newDriver = (): Driver =>
      runtime === 'runc'
        ? new RuncDriver({ stateDir, cgroupRoot: CGROUP_ROOT, pollIntervalMs: 200 })
        : gvisorDriver.create({ runtimeDir: stateDir, cgroupRoot: CGROUP_ROOT });
    const cleanup = async () => {
      const d = newDriver();
      for (const id of await d.listContainers().catch(() => [])) await d.destroyContainer(id).catch((e) => console.error(e));
      for (const t of await d.listTasks().catch(() => [])) await d.destroyTask(t).catch((e) => console.error(e));
      await d.purgeHostState({ dryRun: false }).catch((e) => console.error(e)); // the specs' memory dir (secure-dir.ts)
      const mounts = parseMountinfo(await fsp.readFile('/proc/self/mountinfo', 'utf8'));
      for (const h of new Set(mounts.filter((m) => m.fstype === 'cgroup' || m.fstype === 'cgroup2').map((m) => m.mountPoint))) {
        await fsp.rmdir(path.join(h, CGROUP_ROOT)).catch(() => {});
      }
      await execFileP('ip', ['netns', 'del', NETNS]).catch(() => {});
      await fsp.rm(tmp, { recursive: true, force: true });
    };
    try {
      await buildBusyboxLayer(path.join(tmp, 'layer'));
      await execFileP('ip', ['netns', 'add', NETNS]);
      await execFileP('ip', ['netns', 'exec', NETNS, 'ip', 'link', 'set', 'lo', 'up']);
    } catch (e) {
      await cleanup();
      throw e;
    }
    return {
      newDriver,
      netnsPath: `/var/run/netns/${NETNS}`,
      layerDirs: [path.join(tmp, 'layer')],
      ...busyboxWorkloads,
      cleanup,
    };
  },
  { skip, idPrefix: `c${RUN}${runtime === 'runc' ? '' : runtime.slice(0, 1)}` },
);
}
