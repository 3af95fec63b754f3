/**
 * The microVM driver's files under `<runtimeDir>/microvm/` and its records.
 *
 *   boot/initramfs-<hash>.cpio       the guest init + busybox + kernel modules (built once)
 *   tasks/<taskId>/task.json         the task's resources (exists = the task exists)
 *   tasks/<taskId>/vm/               qemu.pid, virtiofsd.pid, fs.sock, console.log, qemu.log
 *   tasks/<taskId>/layers/<dir>/     upper + work of one container's overlay (host only)
 *   tasks/<taskId>/share/            the directory the guest sees at /task (virtio-fs):
 *       ctl/<seq>                    commands host → guest (guest-init.ts)
 *       st/<dir>.{created,failed,exit}, st/ready, st/stats     guest → host
 *       c/<dir>/rootfs               the container's overlay (mounted on the host)
 *       c/<dir>/{spec.sh,run.sh,m/}  what the runner does, the extra mounts' sources
 *       c/<dir>/log                  a hard link of logs/<id>.log (the guest appends)
 *       x/<n>.{sh,out,exit}          exec requests
 *   containers/<id>.json             ContainerRecord (exists = the container exists)
 *   logs/<id>.log                    the container's log, kept after destroy
 *
 * `<dir>` is `<containerName>-<random>`: a name re-used in the same task never
 * meets a stale entry of the guest's virtio-fs caches.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function checkId(what: string, id: string): void {
  if (typeof id !== 'string' || !ID_RE.test(id) || id.includes('..')) throw new Error(`invalid ${what} ${JSON.stringify(id)}`);
}

export interface TaskRecord {
  cpuUnits: number;
  memoryMiB: number;
  pidsLimit: number;
}

export interface ContainerRecord {
  id: string;
  taskId: string;
  containerName: string;
  /** The container's directory name in the share (c/<dir>). */
  dir: string;
  /** Guest uid/gid/cwd/env for exec. */
  uid: number;
  gid: number;
  cwd: string;
  env: string[];
  createdAt: number;
  /** Set once startContainer has sent `start`. */
  startedAt?: number;
}

export class Layout {
  readonly root: string;
  constructor(runtimeDir: string) {
    this.root = path.join(runtimeDir, 'microvm');
  }
  get bootDir(): string {
    return path.join(this.root, 'boot');
  }
  get tasksDir(): string {
    return path.join(this.root, 'tasks');
  }
  get containersDir(): string {
    return path.join(this.root, 'containers');
  }
  get logsDir(): string {
    return path.join(this.root, 'logs');
  }
  task(taskId: string): string {
    return path.join(this.tasksDir, taskId);
  }
  taskRecord(taskId: string): string {
    return path.join(this.task(taskId), 'task.json');
  }
  vm(taskId: string): string {
    return path.join(this.task(taskId), 'vm');
  }
  share(taskId: string): string {
    return path.join(this.task(taskId), 'share');
  }
  layers(taskId: string, dir: string): string {
    return path.join(this.task(taskId), 'layers', dir);
  }
  cdir(taskId: string, dir: string): string {
    return path.join(this.share(taskId), 'c', dir);
  }
  status(taskId: string, file: string): string {
    return path.join(this.share(taskId), 'st', file);
  }
  record(id: string): string {
    return path.join(this.containersDir, `${id}.json`);
  }
  log(id: string): string {
    return path.join(this.logsDir, `${id}.log`);
  }
}

export async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Writes `file` whole or not at all (temp file + rename). */
export async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(16).slice(2)}.tmp`;
  await fsp.writeFile(tmp, text, { mode: 0o600 });
  await fsp.rename(tmp, file);
}

/** Single-quotes `s` for sh. */
export const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every `everyMs` until it returns something, or `timeoutMs` passes (then undefined). */
export async function pollFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 50): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) return undefined;
    await sleep(everyMs);
  }
}
