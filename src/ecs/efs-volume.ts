/**
 * `efsVolumeConfiguration` of a task definition's volume, checked at
 * RegisterTaskDefinition as ECS checks it (ClientException, ECS's wording
 * where it is known): fileSystemId required; rootDirectory "/" or omitted with
 * an access point, and never leaving the file system ("..");
 * transitEncryption ENABLED whenever an access point or IAM authorization is
 * used. Whether the file system and access point exist is checked at start,
 * as ECS does (the EFS mount helper fails the task).
 */
import { clientError } from '../api/errors.ts';
import { checks, compact, isObj, present, type Obj } from './validate.ts';

const { int, str, oneOf } = checks(clientError);
const ON_OFF = ['ENABLED', 'DISABLED'] as const;

export function normaliseEfsVolume(v: unknown, volume: string): Obj {
  const what = `Volume '${volume}': efsVolumeConfiguration`;
  if (!isObj(v)) throw clientError(`${what} must be an object {"fileSystemId": "fs-...", ...}.`);
  const fileSystemId = str(v.fileSystemId, `${what}.fileSystemId`, { max: 128 });
  if (!/^fs-[0-9a-f]{8,40}$/.test(fileSystemId)) throw clientError(`${what}.fileSystemId '${fileSystemId}' is not a file system id (fs-, then 8 to 40 hex digits).`);
  const rootDirectory = present(v.rootDirectory) ? str(v.rootDirectory, `${what}.rootDirectory`, { max: 4096 }) : undefined;
  if (rootDirectory !== undefined && rootDirectory.split('/').includes('..')) {
    throw clientError(`${what}.rootDirectory '${rootDirectory}' contains "..": it must name a directory inside the file system. Remove the ".." components.`);
  }
  const transitEncryption = present(v.transitEncryption) ? oneOf(v.transitEncryption, ON_OFF, `${what}.transitEncryption`) : undefined;
  const transitEncryptionPort = present(v.transitEncryptionPort) ? int(v.transitEncryptionPort, `${what}.transitEncryptionPort`, 1, 65535) : undefined;
  let authorizationConfig: Obj | undefined;
  if (present(v.authorizationConfig)) {
    const a = v.authorizationConfig;
    if (!isObj(a)) throw clientError(`${what}.authorizationConfig must be an object {"accessPointId": "fsap-...", "iam": "ENABLED"|"DISABLED"}.`);
    authorizationConfig = compact({
      accessPointId: present(a.accessPointId) ? str(a.accessPointId, `${what}.authorizationConfig.accessPointId`, { max: 128 }) : undefined,
      iam: present(a.iam) ? oneOf(a.iam, ON_OFF, `${what}.authorizationConfig.iam`) : undefined,
    });
  }
  const encrypted = transitEncryption === 'ENABLED';
  if (authorizationConfig?.accessPointId !== undefined) {
    if (rootDirectory !== undefined && rootDirectory !== '/') {
      throw clientError(`When using an EFS access point, the root directory must either be set to "/" or be omitted (volume '${volume}'). The access point's RootDirectory decides the path.`);
    }
    if (!encrypted) throw clientError(`Transit encryption must be enabled when using an EFS access point (volume '${volume}'). Set "transitEncryption": "ENABLED".`);
  }
  if (authorizationConfig?.iam === 'ENABLED' && !encrypted) {
    throw clientError(`Transit encryption must be enabled when IAM authorization is used (volume '${volume}'). Set "transitEncryption": "ENABLED".`);
  }
  if (transitEncryptionPort !== undefined && !encrypted) {
    throw clientError(`${what}.transitEncryptionPort needs "transitEncryption": "ENABLED".`);
  }
  return compact({ fileSystemId, rootDirectory, transitEncryption, transitEncryptionPort, authorizationConfig });
}
