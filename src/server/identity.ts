/**
 * Who is who: the master key (secrets and keys are encrypted under it), the
 * API's access keys and audit log, the secret store, and task identity (roles,
 * task credentials, the metadata endpoint). Built before the agent, which
 * prepares each task's identity before its containers start.
 */
import type { ServerConfig } from '../config/server-config.ts';
import type { Repos } from '../store/repos.ts';
import type { Driver } from '../drivers/driver.ts';
import type { DiskGuard } from '../store/disk-guard.ts';
import { setUpAuth, type AuthSetup } from '../auth/bootstrap.ts';
import { loadMasterKey } from '../secrets/master-key-rotation.ts';
import { SecretStore } from '../secrets/secret-store.ts';
import { TaskIdentityService } from '../metadata/index.ts';

export interface Identity {
  auth: AuthSetup;
  secrets: SecretStore;
  taskIdentity: TaskIdentityService;
}

export function buildIdentity(c: Readonly<ServerConfig>, repos: Repos, disk: Pick<DiskGuard, 'assertWritable'>, driver: Pick<Driver, 'inspect' | 'containerStats' | 'writableLayerUsage'>, log: (msg: string) => void): Identity {
  const { db } = repos;
  const root = { accessKeyId: c.rootAccessKeyId, secretAccessKey: c.rootSecretAccessKey };
  // The audit log refuses a mutating call's row while the disk is full (fail closed).
  const auth = setUpAuth(c.dataDir, db, root, log, () => loadMasterKey(c.dataDir, db, log), { gate: (action) => disk.assertWritable(action) });
  const secrets = new SecretStore(db, auth.master);
  const taskIdentity = new TaskIdentityService({
    db,
    master: auth.master,
    accountId: c.accountId,
    region: c.region,
    taskDefinitions: repos.taskDefinitions,
    tasks: repos.tasks,
    networks: repos.networks,
    secrets,
    stats: driver,
    containerPid: async (id) => (await driver.inspect(id)).pid,
    nftTable: c.nftTable,
    settings: c.metadata,
    log,
  });
  return { auth, secrets, taskIdentity };
}
