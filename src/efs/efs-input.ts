/**
 * Request checks of the EFS subset, as EFS words its limits: creation tokens,
 * modes, access points' POSIX user and root directory, tags, pages. Each
 * returns the checked value or throws BadRequest saying what to fix.
 */
import type { EfsAccessPointRecord, EfsFileSystemRecord } from '../store/efs-repo.ts';
import { badRequest, EfsError } from './efs-errors.ts';

export type Input = Record<string, unknown>;

const MAX_ID = 4294967295;
/** EFS's RootDirectory.Path pattern: "/" or up to four components, none starting with "." (so never ".."). */
export const ACCESS_POINT_PATH = /^(\/|(\/(?!\.)+[^$#<>;`|&?{}^*/\n]+){1,4})$/;

function optEnum<T extends string>(v: unknown, allowed: readonly T[], what: string, dflt: T): T {
  if (v === undefined) return dflt;
  if (!allowed.includes(v as T)) throw badRequest(`${what} must be one of ${allowed.join(', ')}; got ${JSON.stringify(v)}.`);
  return v as T;
}

function uint(v: unknown, what: string): number {
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > MAX_ID) throw badRequest(`${what} must be a whole number from 0 to ${MAX_ID}; got ${JSON.stringify(v)}.`);
  return v as number;
}

function token(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length < 1 || v.length > 64 || !/^.+$/.test(v)) throw badRequest(`${what} is required: 1 to 64 characters (a UUID is a good choice).`);
  return v;
}

export function parseFileSystemInput(input: Input, ids: { region: string; accountId: string }): Omit<EfsFileSystemRecord, 'id' | 'createdAt'> {
  const creationToken = token(input.CreationToken, 'CreationToken');
  const performanceMode = optEnum(input.PerformanceMode, ['generalPurpose', 'maxIO'] as const, 'PerformanceMode', 'generalPurpose');
  const throughputMode = optEnum(input.ThroughputMode, ['bursting', 'provisioned', 'elastic'] as const, 'ThroughputMode', 'bursting');
  const out: Omit<EfsFileSystemRecord, 'id' | 'createdAt'> = { creationToken, performanceMode, throughputMode, encrypted: input.Encrypted === true };
  if (input.Encrypted !== undefined && typeof input.Encrypted !== 'boolean') throw badRequest('Encrypted must be true or false.');
  if (throughputMode === 'provisioned') {
    const p = input.ProvisionedThroughputInMibps;
    if (typeof p !== 'number' || !(p >= 1)) throw badRequest('ThroughputMode "provisioned" needs ProvisionedThroughputInMibps (1 or more).');
    out.provisionedThroughputInMibps = p;
  } else if (input.ProvisionedThroughputInMibps !== undefined) {
    throw badRequest('ProvisionedThroughputInMibps is only valid with ThroughputMode "provisioned".');
  }
  if (throughputMode === 'elastic' && performanceMode === 'maxIO') throw badRequest('Elastic throughput is not available with the Max I/O performance mode. Use generalPurpose.');
  if (input.KmsKeyId !== undefined) {
    if (!out.encrypted) throw badRequest('KmsKeyId needs Encrypted: true.');
    out.kmsKeyId = String(input.KmsKeyId);
  } else if (out.encrypted) {
    out.kmsKeyId = `arn:aws:kms:${ids.region}:${ids.accountId}:alias/aws/elasticfilesystem`;
  }
  if (input.AvailabilityZoneName !== undefined) {
    if (typeof input.AvailabilityZoneName !== 'string' || !input.AvailabilityZoneName.startsWith(ids.region)) {
      throw badRequest(`AvailabilityZoneName must be an Availability Zone of ${ids.region} (e.g. ${ids.region}a); got ${JSON.stringify(input.AvailabilityZoneName)}.`);
    }
    if (performanceMode === 'maxIO') throw badRequest('One Zone file systems do not support the Max I/O performance mode.');
    out.availabilityZoneName = input.AvailabilityZoneName;
  }
  return out;
}

export function parseAccessPointInput(input: Input): Omit<EfsAccessPointRecord, 'id' | 'createdAt'> {
  const clientToken = token(input.ClientToken, 'ClientToken');
  if (typeof input.FileSystemId !== 'string' || !input.FileSystemId) throw badRequest('FileSystemId is required.');
  const out: Omit<EfsAccessPointRecord, 'id' | 'createdAt'> = { clientToken, fileSystemId: input.FileSystemId, rootDirectory: { path: '/' } };
  if (input.PosixUser !== undefined) {
    const p = input.PosixUser as Input;
    if (typeof p !== 'object' || p === null) throw badRequest('PosixUser must be an object {"Uid", "Gid", "SecondaryGids"}.');
    const secondary = p.SecondaryGids === undefined ? undefined : [p.SecondaryGids].flat().map((g, i) => uint(g, `PosixUser.SecondaryGids[${i}]`));
    if (secondary && secondary.length > 16) throw badRequest('PosixUser.SecondaryGids can list at most 16 group ids.');
    out.posixUser = { uid: uint(p.Uid, 'PosixUser.Uid'), gid: uint(p.Gid, 'PosixUser.Gid'), ...(secondary?.length ? { secondaryGids: secondary } : {}) };
  }
  if (input.RootDirectory !== undefined) {
    const r = input.RootDirectory as Input;
    if (typeof r !== 'object' || r === null) throw badRequest('RootDirectory must be an object {"Path", "CreationInfo"}.');
    const path = r.Path === undefined ? '/' : r.Path;
    if (typeof path !== 'string' || path.length > 100 || !ACCESS_POINT_PATH.test(path)) {
      throw new EfsError(
        'ValidationException',
        `RootDirectory.Path ${JSON.stringify(path)} is not valid: an absolute path of up to 4 directories and 100 characters, no component starting with "." (so no ".."), none of $#<>;\`|&?{}^*.`,
      );
    }
    out.rootDirectory = { path };
    if (r.CreationInfo !== undefined) {
      const c = r.CreationInfo as Input;
      if (typeof c !== 'object' || c === null) throw badRequest('RootDirectory.CreationInfo must be an object {"OwnerUid", "OwnerGid", "Permissions"}.');
      if (typeof c.Permissions !== 'string' || !/^[0-7]{3,4}$/.test(c.Permissions)) {
        throw badRequest(`RootDirectory.CreationInfo.Permissions must be octal, 3 or 4 digits (e.g. "755"); got ${JSON.stringify(c.Permissions)}.`);
      }
      out.rootDirectory.creationInfo = { ownerUid: uint(c.OwnerUid, 'CreationInfo.OwnerUid'), ownerGid: uint(c.OwnerGid, 'CreationInfo.OwnerGid'), permissions: c.Permissions };
    }
  }
  return out;
}

export function parseTags(v: unknown, what: string): { key: string; value: string }[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw badRequest(`${what} must be a list of {"Key", "Value"}.`);
  if (v.length > 50) throw badRequest(`${what} can hold at most 50 tags.`);
  return v.map((t, i) => {
    const tag = t as Input;
    if (typeof tag?.Key !== 'string' || tag.Key.length < 1 || tag.Key.length > 128 || tag.Key.startsWith('aws:')) {
      throw badRequest(`${what}[${i}].Key must be 1 to 128 characters and not start with "aws:".`);
    }
    if (typeof tag.Value !== 'string' || tag.Value.length > 256) throw badRequest(`${what}[${i}].Value must be a string of at most 256 characters.`);
    return { key: tag.Key, value: tag.Value };
  });
}

/**
 * One page of `items` (in a stable order): `marker` is the key of the first
 * item of the page (what the previous page returned as its next marker).
 */
export function pageOf<T>(items: T[], keyOf: (t: T) => string, max: unknown, marker: unknown, opts: { what: string; max: number }): { items: T[]; next?: string } {
  let size = opts.max;
  if (max !== undefined) {
    const n = typeof max === 'string' ? Number(max) : max;
    if (!Number.isInteger(n) || (n as number) < 1) throw badRequest(`${opts.what} must be a whole number, 1 or more; got ${JSON.stringify(max)}.`);
    size = Math.min(n as number, opts.max);
  }
  let start = 0;
  if (marker !== undefined) {
    start = items.findIndex((t) => keyOf(t) === String(marker));
    if (start < 0) throw badRequest(`The marker ${JSON.stringify(marker)} was not issued for this listing (or its item is gone). Start again without it.`);
  }
  const page = items.slice(start, start + size);
  const following = items[start + size];
  return { items: page, ...(following !== undefined ? { next: keyOf(following) } : {}) };
}
