/**
 * POST /skiff/v1/master-key/rotate → { fingerprint, rewrapped: {secretVersions, accessKeys, taskCredentials} }
 *
 * Action skiff:RotateMasterKey (administrators only). Re-wraps every data key
 * and stored secret under a new master key, crash-safely (master-key-rotation.ts);
 * back up the new `master.key` together with the store afterwards.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { sendError } from '../api/http-server.ts';
import type { Db } from '../store/db.ts';
import type { MasterKey } from '../auth/master-key.ts';
import { rotateMasterKey } from './master-key-rotation.ts';

export function masterKeyRoutes(app: FastifyInstance, deps: { dataDir: string; db: Db; master: MasterKey; log(msg: string): void }): void {
  app.post('/skiff/v1/master-key/rotate', async (_req, reply: FastifyReply) => {
    try {
      const result = rotateMasterKey(deps.dataDir, deps.db, deps.master);
      deps.log(`rotated the master key (now ${result.fingerprint}): re-wrapped ${result.rewrapped.secretVersions} secret version(s), ${result.rewrapped.accessKeys} access key(s), ${result.rewrapped.taskCredentials} task credential(s)`);
      return result;
    } catch (err) {
      return sendError(reply, err);
    }
  });
}
