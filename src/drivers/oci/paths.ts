/**
 * The runc driver's on-disk layout and naming. Nothing outside src/drivers/runc/
 * knows these; callers hold runtime ids and ask the driver.
 *
 * Under `stateDir` (everything a restarted Skiff needs to adopt):
 *   bundles/<id>.json   metadata (ContainerMeta), written first (reconciliation finds half-made containers)
 *   bundles/<id>/       OCI bundle: config.json, rootfs (overlay mount), upper/ + work/
 *                       (the container's ephemeral writable layer), pidfile, conmon.pid
 *   exits/<id>          exit status written by conmon when the container ends
 *   logs/<id>.log       stdout/stderr in k8s-file format; kept after destroy
 *   sock/               conmon attach-socket symlinks
 *   runc/               runc --root (Skiff's own, so `runc list` never mixes with others):
 *                       a symlink to the memory dir (see secure-dir.ts)
 *
 * Under `secureDir` (a memory filesystem: what holds the process env, secrets included):
 *   runc/               runc's state (state.json embeds the config)
 *   specs/<id>.json     the bundle's config.json (bundles/<id>/config.json links here)
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';

export const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$/;

export function checkId(kind: string, id: string): void {
  if (typeof id !== 'string' || !ID_RE.test(id)) {
    throw new Error(`invalid ${kind} ${JSON.stringify(id)}: use 1-128 characters from [A-Za-z0-9_.+-], starting with a letter or digit`);
  }
}

/** A container name as a cgroup/path component. */
export function sanitizeName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 128);
  return /^[A-Za-z0-9]/.test(s) ? s : `c${s}`.slice(0, 128);
}

export function isErrno(e: unknown, ...codes: string[]): boolean {
  return codes.includes((e as NodeJS.ErrnoException)?.code ?? '');
}

/** Metadata file beside each bundle. */
export interface ContainerMeta {
  id: string;
  taskId: string;
  containerName: string;
  /** Epoch ms. */
  createdAt: number;
  /** OCI linux.cgroupsPath, e.g. /skiff/<taskId>/<name>. */
  cgroupsPath: string;
}

export class RuncPaths {
  readonly bundlesDir: string;
  readonly exitDir: string;
  readonly logsDir: string;
  readonly sockDir: string;

  constructor(
    readonly stateDir: string,
    /** runc `--root`. */
    readonly runcRoot: string,
    /** Memory-filesystem dir for runtime specs (secure-dir.ts). */
    readonly secureDir: string,
  ) {
    this.bundlesDir = path.join(stateDir, 'bundles');
    this.exitDir = path.join(stateDir, 'exits');
    this.logsDir = path.join(stateDir, 'logs');
    this.sockDir = path.join(stateDir, 'sock');
  }

  logPath(id: string): string {
    return path.join(this.logsDir, `${id}.log`);
  }
  bundle(id: string): string {
    return path.join(this.bundlesDir, id);
  }
  /** The container's writable layer (overlay upperdir). */
  upper(id: string): string {
    return path.join(this.bundlesDir, id, 'upper');
  }
  /** Where a bundle's config.json really lives (in memory). */
  spec(id: string): string {
    return path.join(this.secureDir, 'specs', `${id}.json`);
  }
  meta(id: string): string {
    return path.join(this.bundlesDir, `${id}.json`);
  }
  exit(id: string): string {
    return path.join(this.exitDir, id);
  }
  conmonPid(id: string): string {
    return path.join(this.bundlesDir, id, 'conmon.pid');
  }
  /** runc's own state of a container (exists while runc knows it). */
  runcState(id: string): string {
    return path.join(this.runcRoot, id, 'state.json');
  }
  execFifo(id: string): string {
    return path.join(this.runcRoot, id, 'exec.fifo');
  }
}

/** The metadata records, cached (a record never changes once written). */
export class MetaStore {
  private readonly cache = new Map<string, ContainerMeta>();

  constructor(private readonly paths: RuncPaths) {}

  async read(id: string): Promise<ContainerMeta | undefined> {
    const cached = this.cache.get(id);
    if (cached) return cached;
    try {
      const meta = JSON.parse(await fsp.readFile(this.paths.meta(id), 'utf8')) as ContainerMeta;
      this.cache.set(id, meta);
      return meta;
    } catch {
      return undefined;
    }
  }

  /** Writes the record; it is also the lock: fails with "already exists" if the id is taken. */
  async create(meta: ContainerMeta): Promise<void> {
    try {
      await fsp.writeFile(this.paths.meta(meta.id), JSON.stringify(meta), { flag: 'wx' });
    } catch (e) {
      if (isErrno(e, 'EEXIST')) throw new Error(`container ${meta.id} already exists`);
      throw e;
    }
    this.cache.set(meta.id, meta);
  }

  async exists(id: string): Promise<boolean> {
    return fsp.access(this.paths.meta(id)).then(() => true, () => false);
  }

  async remove(id: string): Promise<void> {
    await fsp.rm(this.paths.meta(id), { force: true });
    this.cache.delete(id);
  }
}
