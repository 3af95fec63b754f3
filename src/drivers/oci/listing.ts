/**
 * What exists on the host: every container this driver made (from the metadata
 * records and runc's own state, so half-made ones are found too), and one
 * container's state as runc and conmon see it. The recovery path after a restart.
 */
import { promises as fsp } from 'node:fs';
import type { ContainerState } from '../driver.ts';
import type { ExitTracker } from './exits.ts';
import { ID_RE, isErrno, type MetaStore, type RuncPaths } from './paths.ts';
import type { RuncCli } from './runc-cli.ts';

export async function listContainers(paths: RuncPaths): Promise<string[]> {
  const ids = new Set<string>();
  const scan = async (dir: string, pick: (name: string, isDir: boolean) => string | undefined) => {
    try {
      for (const d of await fsp.readdir(dir, { withFileTypes: true })) {
        const id = pick(d.name, d.isDirectory());
        if (id && ID_RE.test(id)) ids.add(id);
      }
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }
  };
  await Promise.all([
    scan(paths.bundlesDir, (n, isDir) => (!isDir && n.endsWith('.json') ? n.slice(0, -5) : isDir ? n : undefined)),
    scan(paths.runcRoot, (n, isDir) => (isDir ? n : undefined)),
  ]);
  return [...ids].sort();
}

export async function inspectContainer(d: { cli: RuncCli; exits: ExitTracker; meta: MetaStore }, id: string): Promise<ContainerState> {
  const [st, exit, meta] = await Promise.all([d.cli.state(id), d.exits.read(id), d.meta.read(id)]);
  if (exit) return { id, status: 'stopped', exit };
  if (st) {
    const status = st.status === 'created' ? 'created' : st.status === 'running' || st.status === 'paused' ? 'running' : 'stopped';
    return status === 'stopped' ? { id, status } : { id, status, pid: st.pid };
  }
  if (meta) return { id, status: 'stopped' };
  return { id, status: 'missing' };
}
