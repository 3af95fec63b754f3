/**
 * Removing a container: `runc delete --force`, wait for conmon to record the
 * exit, unmount what is still mounted in the bundle, remove bundle (with the
 * writable layer), exit file, socket dir and, last, the metadata record. The
 * log file stays. Idempotent.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { waitConmonGone } from './conmon.ts';
import { removeOwnCgroup } from './supervisor-cgroup.ts';
import type { ExitTracker } from './exits.ts';
import type { MetaStore, RuncPaths } from './paths.ts';
import { hasMountsOf, unmountUnder } from './rootfs.ts';
import type { RuncCli } from './runc-cli.ts';

export async function destroyContainer(d: { paths: RuncPaths; meta: MetaStore; exits: ExitTracker; cli: RuncCli; cgroupRoot: string }, id: string): Promise<void> {
  const bundle = d.paths.bundle(id);
  // Remember the exit (and its OOM verdict) before the cgroup goes away.
  await d.exits.read(id).catch(() => undefined);
  await d.cli.deleteForce(id);
  // conmon writes the exit file when it sees the container die; let it finish so
  // it does not recreate the file after we remove it.
  await waitConmonGone(d.paths, id);
  await removeOwnCgroup(id, { cgroupRoot: d.cgroupRoot }).catch(() => {});
  // If delete killed it, conmon has just recorded the exit: remember it for pending waiters.
  await d.exits.read(id).catch(() => undefined);
  if (await hasMountsOf(bundle)) await unmountUnder(bundle);
  await Promise.all([
    fsp.rm(bundle, { recursive: true, force: true }),
    fsp.rm(d.paths.exit(id), { force: true }),
    fsp.rm(d.paths.spec(id), { force: true }),
    fsp.rm(path.join(d.paths.sockDir, id), { recursive: true, force: true }),
  ]);
  await d.meta.remove(id);
  d.exits.settleDestroyed(id);
}
