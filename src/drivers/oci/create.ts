/**
 * Creating a container: check the launch spec, record its metadata (the record
 * and the lock), prepare the bundle (writable layer, overlay rootfs, task sysfs,
 * config.json) while conmon starts, then let conmon run `runc create`. Any
 * failure removes whatever was made.
 */
import { moveSupervisorOfPidFile } from './supervisor-cgroup.ts';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ContainerLaunchSpec } from '../driver.ts';
import { spawnConmon, type ConmonSettings } from './conmon.ts';
import type { ExitTracker } from './exits.ts';
import { checkId, type ContainerMeta, type MetaStore, type RuncPaths } from './paths.ts';
import { detachHostMounts, mountOverlay, mountTaskSysfs } from './rootfs.ts';
import { buildOciSpec } from './spec.ts';
import { assertExecutable } from './executable.ts';
import type { TaskCgroups } from './task-cgroups.ts';

export interface CreateDeps {
  paths: RuncPaths;
  meta: MetaStore;
  exits: ExitTracker;
  cgroups: TaskCgroups;
  conmon: ConmonSettings;
  userns?: { hostId: number; size: number };
  initPath: string;
  /** RLIMIT_NOFILE for containers. */
  nofile(): number;
  /** Makes the state directories (once). */
  ensureDirs(): Promise<void>;
  /** Check on the host that the command's executable is in the rootfs (for runtimes that only find out at start). */
  checkExecutable?: boolean;
  /** Removes a half-made container. */
  destroy(id: string): Promise<void>;
}

/** Throws a message naming the bad field when the spec cannot be used. */
export function validateSpec(spec: ContainerLaunchSpec): void {
  checkId('container id', spec.id);
  checkId('task id', spec.taskId);
  if (!spec.containerName) throw new Error('containerName is required');
  if (!Array.isArray(spec.layerDirs) || spec.layerDirs.length === 0) throw new Error('layerDirs must list at least one layer directory');
  for (const l of spec.layerDirs) {
    if (!path.isAbsolute(l) || /[,:\n\\]/.test(l)) throw new Error(`invalid layer dir ${JSON.stringify(l)}: must be absolute and free of , : \\ and newlines`);
  }
  if (!Array.isArray(spec.args) || spec.args.length === 0) throw new Error('args must hold the command to run');
  if (!path.isAbsolute(spec.netnsPath)) throw new Error(`netnsPath must be absolute, got ${JSON.stringify(spec.netnsPath)}`);
  if (spec.cwd && !path.posix.isAbsolute(spec.cwd)) throw new Error(`cwd must be absolute, got ${JSON.stringify(spec.cwd)}`);
  for (const n of [spec.uid, spec.gid, ...(spec.additionalGids ?? [])]) {
    if (!Number.isInteger(n) || n < 0 || n > 0xfffffffe) throw new Error(`invalid uid/gid ${n}`);
  }
  for (const m of spec.extraMounts ?? []) {
    if (!path.isAbsolute(m.source) || !path.posix.isAbsolute(m.destination)) throw new Error(`extra mount paths must be absolute: ${m.source} -> ${m.destination}`);
  }
}

/** Creates a validated container; resolves with its pid once `runc create` has returned. */
export async function createContainer(d: CreateDeps, spec: ContainerLaunchSpec): Promise<{ pid: number }> {
  const id = spec.id;
  await d.ensureDirs();
  const bundle = d.paths.bundle(id);
  const meta: ContainerMeta = {
    id,
    taskId: spec.taskId,
    containerName: spec.containerName,
    createdAt: Date.now(),
    cgroupsPath: d.cgroups.containerPath(spec.taskId, spec.containerName),
  };
  // The metadata file is both the record for reconciliation and the lock: it fails if the id exists.
  await d.meta.create(meta);
  d.exits.forget(id);
  const userns = d.userns;
  try {
    const rootfs = path.join(bundle, 'rootfs');
    const upper = d.paths.upper(id);
    const work = path.join(bundle, 'work');
    await fsp.mkdir(bundle, { mode: userns ? 0o701 : 0o700 });
    if (userns) await fsp.chmod(bundle, 0o701);
    const sysfs = path.join(bundle, 'sys');
    const config = JSON.stringify(
      buildOciSpec(spec, { cgroupsPath: meta.cgroupsPath, nofile: d.nofile(), userns, initPath: d.initPath, sysfsSource: userns ? sysfs : undefined }),
    );
    // conmon starts now and blocks on its start pipe, so its exec overlaps the rootfs
    // mount and config write; it runs `runc create` once released.
    const conmon = spawnConmon(d.conmon, d.paths, id);
    const prepared = Promise.all([
      (async () => {
        await Promise.all([rootfs, upper, work].map((dir) => fsp.mkdir(dir)));
        // The writable layer's root is the container's "/": owned by the (mapped) container root.
        if (userns) await Promise.all([upper, work].map((dir) => fsp.chown(dir, userns.hostId, userns.hostId)));
        // The two mounts are independent: one `mount` process each, at the same time.
        await Promise.all([userns ? mountTaskSysfs(spec.netnsPath, sysfs) : undefined, mountOverlay(spec.layerDirs, upper, work, rootfs)]);
      })(),
      // Owner-only and in memory (secure-dir.ts): the process environment in it may hold secrets.
      fsp.writeFile(d.paths.spec(id), config, { mode: 0o600 }).then(() => fsp.symlink(d.paths.spec(id), path.join(bundle, 'config.json'))),
      fsp.rm(d.paths.exit(id), { force: true }),
    ]);
    try {
      await prepared;
      if (d.checkExecutable) {
        const args = spec.initProcessEnabled ? undefined : spec.args;
        if (args) await assertExecutable(rootfs, args[0]!, spec.env, spec.cwd);
      }
    } catch (e) {
      conmon.abort();
      throw e;
    }
    conmon.release();
    const pid = await conmon.pid;
    // conmon out of the server's cgroups (a service manager stopping the server must not take it along).
    await moveSupervisorOfPidFile(d.paths.conmonPid(id), id, { cgroupRoot: d.cgroups.cgroupRoot, layout: await d.cgroups.hierarchies() });
    await detachHostMounts(userns ? [rootfs, sysfs] : [rootfs]);
    return { pid };
  } catch (e) {
    await d.destroy(id).catch(() => {});
    throw e;
  }
}
