/**
 * `compose up`'s volume step: each planned file system is created (EFS
 * CreateFileSystem with its creation token) or found again (the
 * FileSystemAlreadyExists error carries its id), a bind mount's folder is
 * copied in once (Skiff's `PUT /skiff/v1/file-systems/<id>/contents`, which
 * copies only into an empty file system), and the task definitions get the
 * real file system ids in place of the placeholders. The EFS calls are signed
 * for `elasticfilesystem` like any AWS client.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import * as tar from 'tar-stream';
import { signedFetch } from '../auth/signed-fetch.ts';
import type { ComposePlan, ServicePlan } from './to-ecs.ts';
import { fileSystemIdPlaceholder } from './volumes.ts';
import { PROJECT_TAG } from './to-ecs.ts';

/** The calls compose makes for volumes. */
export interface FileSystemsApi {
  /** Creates the file system, or finds the one its creation token made; `created` says which. */
  ensure(creationToken: string, tags: { Key: string; Value: string }[]): Promise<{ id: string; created: boolean }>;
  /** Copies a tar of a folder into the file system if it is empty; false when it already had files. */
  seed(id: string, tarball: Buffer): Promise<boolean>;
}

export async function ensureFileSystems(plan: Pick<ComposePlan, 'project' | 'fileSystems'>, api: FileSystemsApi | undefined, log: (line: string) => void): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  if (!plan.fileSystems.length) return ids;
  if (!api) throw new Error('this project has volumes, and no EFS client was given');
  for (const fs of plan.fileSystems) {
    const { id, created } = await api.ensure(fs.creationToken, [{ Key: 'Name', Value: fs.name }, { Key: PROJECT_TAG, Value: plan.project }]);
    ids.set(fs.key, id);
    log(`volume ${fs.name}: ${created ? 'created' : 'kept'} EFS file system ${id}`);
    if (fs.seedFrom) {
      const copied = await api.seed(id, await tarOfFolder(fs.seedFrom));
      log(copied ? `volume ${fs.name}: copied ${fs.seedFrom} in` : `volume ${fs.name}: has files already; ${fs.seedFrom} was not copied again`);
    }
  }
  return ids;
}

/** The definition with each placeholder file system id replaced by the real one. */
export function withFileSystems(td: ServicePlan['taskDefinition'], ids: Map<string, string>): ServicePlan['taskDefinition'] {
  for (const v of td.volumes ?? []) {
    const cfg = v.efsVolumeConfiguration;
    if (!cfg) continue;
    for (const [key, id] of ids) if (cfg.fileSystemId === fileSystemIdPlaceholder(key)) cfg.fileSystemId = id;
  }
  return td;
}

/** A tar of `dir` (files, folders and symlinks; owners and modes kept). */
export async function tarOfFolder(dir: string): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => (pack.on('end', resolve), pack.on('error', reject)));
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      const header = { name: relative(dir, p), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
      if (st.isDirectory()) {
        pack.entry({ ...header, type: 'directory' });
        walk(p);
      } else if (st.isFile()) pack.entry({ ...header, type: 'file', size: st.size }, readFileSync(p));
      else if (st.isSymbolicLink()) pack.entry({ ...header, type: 'symlink', linkname: readlinkSync(p) });
    }
  };
  if (!lstatSync(dir).isDirectory()) throw new Error(`${dir} is not a folder: a bind mount must name a folder (it is copied into an EFS file system)`);
  walk(dir);
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** The FileSystemsApi over Skiff's EFS API and its contents route, signed with the default credential chain. */
export function fileSystemsClient(endpoint: string, region: string): FileSystemsApi {
  const call = (path: string, init: { method: string; body: string | Buffer; contentType: string; service: string }) =>
    signedFetch(new URL(endpoint + path), { method: init.method, body: init.body, headers: { 'content-type': init.contentType }, service: init.service, region, credentials: defaultProvider() });
  return {
    async ensure(creationToken, tags) {
      const res = await call('/2015-02-01/file-systems', { method: 'POST', body: JSON.stringify({ CreationToken: creationToken, Tags: tags }), contentType: 'application/json', service: 'elasticfilesystem' });
      const body = (await res.json().catch(() => ({}))) as Record<string, string>;
      if (res.status === 201) return { id: body.FileSystemId!, created: true };
      if (body.ErrorCode === 'FileSystemAlreadyExists' && body.FileSystemId) return { id: body.FileSystemId, created: false };
      throw new Error(`efs CreateFileSystem: ${body.ErrorCode ?? body.__type ?? res.status}: ${body.Message ?? body.message ?? res.statusText}`);
    },
    async seed(id, tarball) {
      const res = await call(`/skiff/v1/file-systems/${id}/contents`, { method: 'PUT', body: tarball, contentType: 'application/x-tar', service: 'skiff' });
      const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      if (!res.ok) throw new Error(`copying into ${id}: ${String(body.__type ?? res.status)}: ${String(body.message ?? res.statusText)}`);
      return body.copied === true;
    },
  };
}
