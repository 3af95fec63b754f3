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

export class EfsRepo {
  constructor(private readonly db: Db) {}

  insertFileSystem(r: EfsFileSystemRecord): void {
    this.db.prepare(`INSERT INTO efs_file_systems (id, creation_token, created_at, doc) VALUES (?, ?, ?, ?)`).run(r.id, r.creationToken, r.createdAt, JSON.stringify(r));
  }

  fileSystem(id: string): EfsFileSystemRecord | undefined {
    const row = this.db.prepare(`SELECT doc FROM efs_file_systems WHERE id = ?`).get(id) as Row | undefined;
    return row ? JSON.parse(row.doc) : undefined;
  }

  fileSystemByToken(token: string): EfsFileSystemRecord | undefined {
    const row = this.db.prepare(`SELECT doc FROM efs_file_systems WHERE creation_token = ?`).get(token) as Row | undefined;
    return row ? JSON.parse(row.doc) : undefined;
  }

  /** All file systems, oldest first (then by id: a stable order for markers). */
  fileSystems(): EfsFileSystemRecord[] {
    return (this.db.prepare(`SELECT doc FROM efs_file_systems ORDER BY created_at, id`).all() as Row[]).map((r) => JSON.parse(r.doc));
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
    const row = this.db.prepare(`SELECT doc FROM efs_access_points WHERE id = ?`).get(id) as Row | undefined;
    return row ? JSON.parse(row.doc) : undefined;
  }

  accessPointByToken(token: string): EfsAccessPointRecord | undefined {
    const row = this.db.prepare(`SELECT doc FROM efs_access_points WHERE client_token = ?`).get(token) as Row | undefined;
    return row ? JSON.parse(row.doc) : undefined;
  }

  /** Access points, oldest first; of one file system when `fileSystemId` is given. */
  accessPoints(fileSystemId?: string): EfsAccessPointRecord[] {
    const rows = fileSystemId
      ? this.db.prepare(`SELECT doc FROM efs_access_points WHERE file_system_id = ? ORDER BY created_at, id`).all(fileSystemId)
      : this.db.prepare(`SELECT doc FROM efs_access_points ORDER BY created_at, id`).all();
    return (rows as Row[]).map((r) => JSON.parse(r.doc));
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
    const row = this.db.prepare(`SELECT doc FROM efs_mount_targets WHERE id = ?`).get(id) as Row | undefined;
    return row ? JSON.parse(row.doc) : undefined;
  }

  mountTargets(fileSystemId?: string): EfsMountTargetRecord[] {
    const rows = fileSystemId
      ? this.db.prepare(`SELECT doc FROM efs_mount_targets WHERE file_system_id = ? ORDER BY created_at, id`).all(fileSystemId)
      : this.db.prepare(`SELECT doc FROM efs_mount_targets ORDER BY created_at, id`).all();
    return (rows as Row[]).map((r) => JSON.parse(r.doc));
  }

  deleteMountTarget(id: string): void {
    this.db.prepare(`DELETE FROM efs_mount_targets WHERE id = ?`).run(id);
  }
}
