/**
 * EFS on one host: a file system is a directory Skiff owns
 * (`<data>/efs/<fs-id>/`), stored with the ids its clients see shifted into the
 * tasks' user namespace (EFS uid 0 = the mapped root), so a plain bind mount
 * shows each task the owners EFS would. Across a fleet the same directory is
 * what an NFS export would serve (nfs-kernel-server, issue #13): only `source`
 * below changes.
 *
 * At a task's start (`prepare`), each EFS volume of its definition is checked
 * as the EFS mount helper would fail (unknown file system, access point of
 * another file system, a missing root directory, IAM authorization) and
 * becomes a bind mount per mount point: read-only when the mount point says so
 * or when `iam: ENABLED` and the task role lacks elasticfilesystem:ClientWrite.
 * An access point's root directory is created on first use with its
 * CreationInfo; its POSIX user owns what the task creates through it (bindfs:
 * every file shows as and is created as that user, as EFS enforces it). Those
 * bindfs mounts live under `<data>/efs-mounts/<task id>/` and go at `release`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants as fsConstants, fchmodSync, fchownSync, chownSync, chmodSync, closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { ContainerDefinition, Volume } from '@aws-sdk/client-ecs';
import type { EfsRepo } from '../store/efs-repo.ts';
import type { TaskRecord } from '../model/task-record.ts';
import { evaluate, type Policy } from '../auth/policy.ts';
import { unpackLayer, UnpackBudget } from '../images/unpack.ts';
import type { Driver } from '../drivers/driver.ts';
import type { EfsHost } from './efs-api.ts';
import { EfsError, fileSystemNotFound } from './efs-errors.ts';

export type VolumeMount = { source: string; destination: string; readonly: boolean };

export interface EfsVolumesDeps {
  efs: EfsRepo;
  /** `<data>/efs`: one directory per file system. */
  root: string;
  /** `<data>/efs-mounts`: per-task bindfs mounts of access points with a POSIX user. */
  mountsRoot: string;
  /** The driver's helper cgroups (Driver.adoptHelper): each bindfs goes to one of its own, out of the server's. */
  helpers?: Pick<Driver, 'adoptHelper' | 'releaseHelper'>;
  /** Host uid/gid of the tasks' root (the user namespace's base; 0 without one). */
  idBase: number;
  /** The user namespace's size (ids a copied-in file may have), when tasks run in one. */
  idSize?: number;
  definitionOf(task: TaskRecord): { volumes?: Volume[]; containerDefinitions?: ContainerDefinition[] } | undefined;
  /** Tasks not yet STOPPED. */
  unfinished(): TaskRecord[];
  taskRoleArn(task: TaskRecord): string | undefined;
  rolePolicy(roleArn: string): Policy | undefined;
  fileSystemArn(id: string): string;
  accessPointArn(id: string): string;
  log(msg: string): void;
}

/** A start failure, worded as ECS words EFS mount failures (the runner prefixes ResourceInitializationError). */
class EfsMountError extends Error {
  constructor(detail: string) {
    super(`failed to invoke EFS utils commands to set up EFS volumes: ${detail}`);
  }
}

const SIZE_TTL_MS = 60_000;
const SEED_MAX_BYTES = 64 * 1024 ** 2;

export class EfsVolumes implements EfsHost {
  private readonly sizes = new Map<string, { at: number; bytes: number }>();
  constructor(private readonly d: EfsVolumesDeps) {}

  private dir(id: string): string {
    if (!/^fs-[0-9a-f]{8,40}$/.test(id)) throw new Error(`invalid file system id ${JSON.stringify(id)}`);
    return join(this.d.root, id);
  }

  createFileSystem(id: string): void {
    mkdirSync(this.d.root, { recursive: true, mode: 0o711 });
    chmodSync(this.d.root, 0o711); // task roots (mapped ids) must reach their file systems
    const dir = this.dir(id);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chownSync(dir, this.d.idBase, this.d.idBase); // a new EFS file system's root: owned by root, 0755
  }

  deleteFileSystem(id: string): void {
    rmSync(this.dir(id), { recursive: true, force: true });
    this.sizes.delete(id);
  }

  sizeOf(id: string): number {
    const cached = this.sizes.get(id);
    if (cached && Date.now() - cached.at < SIZE_TTL_MS) return cached.bytes;
    const bytes = duBytes(this.dir(id), 100_000);
    this.sizes.set(id, { at: Date.now(), bytes });
    return bytes;
  }

  /**
   * Copies a tar (a compose project's folder) into the file system's root, only
   * when that is empty: the contents are copied in once. Unpacked by the image
   * unpacker's rules (nothing written outside, no links through symlinks) with
   * owners shifted into the tasks' user namespace. False when it had files.
   */
  async seed(id: string, tarball: Buffer): Promise<boolean> {
    if (!this.d.efs.fileSystem(id)) throw fileSystemNotFound(id);
    const dir = this.dir(id);
    if (readdirSync(dir).length > 0) return false;
    try {
      await unpackLayer(tarball, dir, { budget: new UnpackBudget(SEED_MAX_BYTES), ...(this.d.idSize ? { idShift: { base: this.d.idBase, size: this.d.idSize } } : {}) });
    } catch (err) {
      rmSync(dir, { recursive: true, force: true }); // all or nothing: an empty file system again
      this.createFileSystem(id);
      throw new EfsError('BadRequest', `cannot copy the folder in: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.sizes.delete(id);
    return true;
  }

  tasksUsing(id: string): string[] {
    return this.d.unfinished().filter((t) => efsVolumesOf(this.d.definitionOf(t)).some((v) => v.efsVolumeConfiguration?.fileSystemId === id)).map((t) => t.id);
  }

  has(task: TaskRecord): boolean {
    return efsVolumesOf(this.d.definitionOf(task)).length > 0;
  }

  /** Each container's EFS mounts (by container name); throws EfsMountError when a volume cannot be mounted. */
  async prepare(task: TaskRecord): Promise<Map<string, VolumeMount[]>> {
    const def = this.d.definitionOf(task);
    const out = new Map<string, VolumeMount[]>();
    for (const vol of efsVolumesOf(def)) {
      const { source, writable } = await this.mountVolume(task, vol);
      for (const c of def?.containerDefinitions ?? []) {
        for (const mp of c.mountPoints ?? []) {
          if (mp.sourceVolume !== vol.name) continue;
          const list = out.get(c.name!) ?? [];
          list.push({ source, destination: mp.containerPath!, readonly: mp.readOnly === true || !writable });
          out.set(c.name!, list);
        }
      }
    }
    return out;
  }

  /** Unmounts the task's bindfs mounts. Idempotent; never removes anything but empty mount points. */
  async release(taskId: string): Promise<void> {
    const dir = join(this.d.mountsRoot, taskId);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(dir, n);
      if (n.endsWith('.log')) {
        rmSync(p, { force: true });
        continue;
      }
      if (isMountPoint(p)) spawnSync('umount', ['-l', p], { stdio: 'ignore' });
      if (!isMountPoint(p)) rmdirQuiet(p);
      // bindfs exits once unmounted; its cgroup goes with it (an empty one left behind is removed by host reset).
      await this.d.helpers?.releaseHelper?.(helperName(taskId, n)).catch(() => {});
    }
    rmdirQuiet(dir);
  }

  private async mountVolume(task: TaskRecord, vol: Volume): Promise<{ source: string; writable: boolean }> {
    const cfg = vol.efsVolumeConfiguration!;
    const fsId = cfg.fileSystemId!;
    const fs = this.d.efs.fileSystem(fsId);
    if (!fs) throw new EfsMountError(`Failed to resolve "${fsId}.efs.amazonaws.com": file system '${fsId}' does not exist. Check fileSystemId (aws efs describe-file-systems).`);
    const apId = cfg.authorizationConfig?.accessPointId;
    const ap = apId ? this.d.efs.accessPoint(apId) : undefined;
    if (apId && !ap) throw new EfsMountError(`access point '${apId}' does not exist. Check authorizationConfig.accessPointId.`);
    if (ap && ap.fileSystemId !== fsId) throw new EfsMountError(`access point '${apId}' belongs to file system '${ap.fileSystemId}', not '${fsId}'. Use an access point of ${fsId}.`);
    let writable = true;
    if (cfg.authorizationConfig?.iam === 'ENABLED') writable = this.authorize(task, fsId, apId);
    const root = this.dir(fsId);
    let source: string;
    if (ap) {
      source = join(root, ...ap.rootDirectory.path.split('/').filter(Boolean));
      this.ensureAccessPointRoot(root, ap.rootDirectory.path, ap.rootDirectory.creationInfo);
    } else {
      const rel = posix.normalize(cfg.rootDirectory ?? '/').split('/').filter(Boolean);
      if (rel.includes('..')) throw new EfsMountError(`rootDirectory '${cfg.rootDirectory}' leaves the file system.`);
      source = join(root, ...rel);
    }
    checkNoSymlinks(root, source, fsId);
    if (ap?.posixUser) source = await this.bindAs(task.id, vol.name!, source, ap.posixUser);
    return { source, writable };
  }

  /** iam ENABLED: ClientMount is needed to mount, ClientWrite to write (else read-only), as the task role's policy says. */
  private authorize(task: TaskRecord, fsId: string, apId: string | undefined): boolean {
    const roleArn = this.d.taskRoleArn(task);
    if (!roleArn) throw new EfsMountError(`mount.nfs4: access denied by server while mounting ${fsId}: iam is ENABLED and the task has no task role. Set taskRoleArn to a role allowed elasticfilesystem:ClientMount.`);
    const policy = this.d.rolePolicy(roleArn) ?? { Statement: [] };
    const arn = this.d.fileSystemArn(fsId);
    const ctx: Record<string, string> = apId ? { 'elasticfilesystem:accesspointarn': this.d.accessPointArn(apId) } : {};
    if (evaluate(policy, 'elasticfilesystem:ClientMount', arn, ctx) !== 'allow') {
      throw new EfsMountError(`mount.nfs4: access denied by server while mounting ${fsId}: role ${roleArn} is not allowed elasticfilesystem:ClientMount on ${arn}.`);
    }
    return evaluate(policy, 'elasticfilesystem:ClientWrite', arn, ctx) === 'allow';
  }

  /** The access point's root directory: made on first use with CreationInfo's owner and permissions (parents: root, 0755). */
  private ensureAccessPointRoot(root: string, path: string, ci: { ownerUid: number; ownerGid: number; permissions: string } | undefined): void {
    const parts = path.split('/').filter(Boolean);
    let cur = root;
    for (const [i, part] of parts.entries()) {
      cur = join(cur, part);
      const st = lstatOrUndefined(cur);
      // Never create through a symlink a task planted: every existing component must be a real directory.
      if (st && !st.isDirectory()) throw new EfsMountError(`mount.nfs4: mounting ${path} failed: '${part}' is not a directory.`);
      if (st) continue;
      if (!ci) throw new EfsMountError(`mount.nfs4: mounting ${path} failed, reason given by server: No such file or directory (the access point's root directory does not exist and it has no CreationInfo).`);
      const last = i === parts.length - 1;
      try {
        mkdirSync(cur, { mode: 0o755 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue; // another task's start made it meanwhile
        throw err;
      }
      // Through a descriptor opened without following a symlink: a task cannot swap the new directory for a link to elsewhere.
      const fd = openSync(cur, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW);
      try {
        fchownSync(fd, this.d.idBase + (last ? ci.ownerUid : 0), this.d.idBase + (last ? ci.ownerGid : 0));
        if (last) fchmodSync(fd, parseInt(ci.permissions, 8));
      } finally {
        closeSync(fd);
      }
    }
  }

  /**
   * A bindfs view of `source` where every file is owned by, and created as, the
   * POSIX user. bindfs runs in the foreground of its own session, out of the
   * server's cgroups (as conmon is: a service manager stopping the server must
   * not take the task's mount with it), until `release` unmounts it.
   */
  private async bindAs(taskId: string, volume: string, source: string, user: { uid: number; gid: number }): Promise<string> {
    const target = join(this.d.mountsRoot, taskId, volume);
    if (isMountPoint(target)) return target; // made by an earlier attempt
    mkdirSync(target, { recursive: true, mode: 0o755 });
    chmodSync(this.d.mountsRoot, 0o711);
    chmodSync(join(this.d.mountsRoot, taskId), 0o711);
    const uid = String(this.d.idBase + user.uid);
    const gid = String(this.d.idBase + user.gid);
    const errFile = `${target}.log`;
    const err = openSync(errFile, 'w', 0o600);
    const child = spawn(
      'bindfs',
      ['-f', '--force-user=' + uid, '--force-group=' + gid, '--create-for-user=' + uid, '--create-for-group=' + gid, '-o', 'allow_other,nodev,nosuid', source, target],
      { detached: true, stdio: ['ignore', 'ignore', err] },
    );
    closeSync(err);
    let exited = false;
    child.once('exit', () => (exited = true));
    child.once('error', () => (exited = true));
    child.unref();
    const deadline = Date.now() + 10_000;
    while (!isMountPoint(target) && !exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (!isMountPoint(target)) {
      if (!exited) child.kill('SIGKILL');
      const why = readFileSync(errFile, 'utf8').trim() || (exited ? 'bindfs exited' : 'no mount after 10 s');
      throw new EfsMountError(`cannot apply the access point's POSIX user (bindfs: ${why}). Install bindfs (apt-get install bindfs).`);
    }
    if (child.pid) await this.d.helpers?.adoptHelper?.(child.pid, helperName(taskId, volume));
    return target;
  }
}

/** The helper (cgroup) name of the bindfs of one task's volume. */
function helperName(taskId: string, volume: string): string {
  return `bindfs-${createHash('sha256').update(`${taskId}/${volume}`).digest('hex').slice(0, 32)}`;
}

/** The EFS volumes of a definition. */
export function efsVolumesOf(def: { volumes?: Volume[] } | undefined): Volume[] {
  return (def?.volumes ?? []).filter((v) => v.efsVolumeConfiguration?.fileSystemId);
}

/** Removes an empty directory (never its contents: a mount that would not go stays for the next try). */
function rmdirQuiet(p: string): void {
  try {
    rmdirSync(p);
  } catch {
    /* not empty or gone */
  }
}

function lstatOrUndefined(p: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

/** Every component from the file system's root to `target` is a real directory (a task's symlink must not point a mount outside). */
function checkNoSymlinks(root: string, target: string, fsId: string): void {
  let cur = root;
  const rel = target.slice(root.length).split('/').filter(Boolean);
  for (const part of ['', ...rel]) {
    cur = part ? join(cur, part) : cur;
    let st;
    try {
      st = lstatSync(cur);
    } catch {
      throw new EfsMountError(`mount.nfs4: mounting ${fsId}:${target.slice(root.length) || '/'} failed, reason given by server: No such file or directory.`);
    }
    if (!st.isDirectory()) throw new EfsMountError(`mount.nfs4: mounting ${fsId}:${target.slice(root.length)} failed: '${part}' is not a directory.`);
  }
}

function isMountPoint(p: string): boolean {
  try {
    const a = statSync(p);
    const b = statSync(join(p, '..'));
    return a.dev !== b.dev;
  } catch {
    return false;
  }
}

/** Bytes under `dir` (files' sizes, up to `maxEntries` entries; not following symlinks). */
function duBytes(dir: string, maxEntries: number): number {
  let bytes = 0;
  let seen = 0;
  const stack = [dir];
  while (stack.length && seen < maxEntries) {
    const d = stack.pop()!;
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (++seen > maxEntries) break;
      const p = join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) {
        try {
          bytes += lstatSync(p).size;
        } catch {
          /* gone meanwhile */
        }
      }
    }
  }
  return bytes;
}
