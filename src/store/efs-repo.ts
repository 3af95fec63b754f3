/**
 * EFS file systems, access points and mount targets (the API of src/efs/).
 *
 * A record holds what the API shows; where the file system's bytes live is the
 * host's business (src/efs/efs-volumes.ts: a directory per file system under
 * the data dir; across a fleet the same directory exported over NFS). Tags are
 * kept in the shared `tags` table by ARN.
 */
import type { Db } from './db.ts';

export interface EfsFileSystemRecord {
  id: string;
  creationToken: string;
  createdAt: number;
  performanceMode: 'generalPurpose' | 'maxIO';
  throughputMode: 'bursting' | 'provisioned' | 'elastic';
  provisionedThroughputInMibps?: number;
  encrypted: boolean;
  kmsKeyId?: string;
  /** One Zone file systems: the AZ it lives in. */
  availabilityZoneName?: string;
}

export interface EfsAccessPointRecord {
  id: string;
  fileSystemId: string;
  clientToken: string;
  createdAt: number;
  posixUser?: { uid: number; gid: number; secondaryGids?: number[] };
  rootDirectory: { path: string; creationInfo?: { ownerUid: number; ownerGid: number; permissions: string } };
}

export interface EfsMountTargetRecord {
  id: string;
  fileSystemId: string;
  subnetId: string;
  createdAt: number;
  ipAddress: string;
  vpcId: string;
  availabilityZoneName: string;
  networkInterfaceId: string;
}

interface Row {
  doc: string;
}

type Table = 'efs_file_systems' | 'efs_access_points' | 'efs_mount_targets';

export class EfsRepo {
  constructor(private readonly db: Db) {}

  /** The record of `id` in `table`. */
  private one<T>(table: Table, id: string): T | undefined {
    const row = this.db.prepare(`SELECT doc FROM ${table} WHERE id = ?`).get(id) as Row | undefined;
    return row ? JSON.parse(row.doc) : undefined;
  }

  /** The records of `table` (of one file system when given), oldest first, then by id: a stable order for markers. */
  private all<T>(table: Table, fileSystemId?: string): T[] {
    const rows = fileSystemId
      ? this.db.prepare(`SELECT doc FROM ${table} WHERE file_system_id = ? ORDER BY created_at, id`).all(fileSystemId)
      : this.db.prepare(`SELECT doc FROM ${table} ORDER BY created_at, id`).all();
    return (rows as Row[]).map((r) => JSON.parse(r.doc));
  }

  insertFileSystem(r: EfsFileSystemRecord): void {
    this.db.prepare(`INSERT INTO efs_file_systems (id, creation_token, created_at, doc) VALUES (?, ?, ?, ?)`).run(r.id, r.creationToken, r.createdAt, JSON.stringify(r));
  }

  fileSystem(id: string): EfsFileSystemRecord | undefined {
    return this.one('efs_file_systems', id);
  }

  fileSystemByToken(token: string): EfsFileSystemRecord | undefined {
    const row = this.db.prepare(`SELECT doc FROM efs_file_systems WHERE creation_token = ?`).get(token) as Row | undefined;
    return row ? JSON.parse(row.doc) : undefined;
  }

  fileSystems(): EfsFileSystemRecord[] {
    return this.all('efs_file_systems');
  }

  deleteFileSystem(id: string): void {
    this.db.prepare(`DELETE FROM efs_file_systems WHERE id = ?`).run(id);
  }

  insertAccessPoint(r: EfsAccessPointRecord): void {
    this.db
      .prepare(`INSERT INTO efs_access_points (id, file_system_id, client_token, created_at, doc) VALUES (?, ?, ?, ?, ?)`)
      .run(r.id, r.fileSystemId, r.clientToken, r.createdAt, JSON.stringify(r));
  }

  accessPoint(id: string): EfsAccessPointRecord | undefined {
    return this.one('efs_access_points', id);
  }

  accessPointByToken(token: string): EfsAccessPointRecord | undefined {
    const row = this.db.prepare(`SELECT doc FROM efs_access_points WHERE client_token = ?`).get(token) as Row | undefined;
    return row ? JSON.parse(row.doc) : undefined;
  }

  accessPoints(fileSystemId?: string): EfsAccessPointRecord[] {
    return this.all('efs_access_points', fileSystemId);
  }

  deleteAccessPoint(id: string): void {
    this.db.prepare(`DELETE FROM efs_access_points WHERE id = ?`).run(id);
  }

  insertMountTarget(r: EfsMountTargetRecord): void {
    this.db
      .prepare(`INSERT INTO efs_mount_targets (id, file_system_id, subnet_id, created_at, doc) VALUES (?, ?, ?, ?, ?)`)
      .run(r.id, r.fileSystemId, r.subnetId, r.createdAt, JSON.stringify(r));
  }

  mountTarget(id: string): EfsMountTargetRecord | undefined {
    return this.one('efs_mount_targets', id);
  }

  mountTargets(fileSystemId?: string): EfsMountTargetRecord[] {
    return this.all('efs_mount_targets', fileSystemId);
  }

  deleteMountTarget(id: string): void {
    this.db.prepare(`DELETE FROM efs_mount_targets WHERE id = ?`).run(id);
  }
}
