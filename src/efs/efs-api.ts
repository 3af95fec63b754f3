/**
 * The EFS API subset: file systems, access points, mount targets and tags, as
 * EFS answers them. Operations take the decoded request (path, query and body
 * members merged, EFS's member names) and return the response body; mistakes
 * throw EfsError with EFS's error code (efs-errors.ts).
 *
 * Contract with the host (EfsHost): a file system is created (its directory
 * made) only after its record is committed, and its record is deleted before
 * its directory goes, so a crash leaves at worst a directory without a record
 * (removed by the next DeleteFileSystem of nothing: never reused, ids are new).
 */
import { randomBytes } from 'node:crypto';
import type { EfsAccessPointRecord, EfsFileSystemRecord, EfsMountTargetRecord, EfsRepo } from '../store/efs-repo.ts';
import type { Db } from '../store/db.ts';
import type { NetworksRepo } from '../store/networks-repo.ts';
import type { TagsRepo } from '../store/tags-repo.ts';
import { gatewayAddress } from '../model/cidr.ts';
import { accessPointNotFound, badRequest, EfsError, fileSystemNotFound } from './efs-errors.ts';
import { parseAccessPointInput, parseFileSystemInput, parseTags, pageOf, type Input } from './efs-input.ts';

/** What the API needs of the host: the file systems' directories and who mounts them. */
export interface EfsHost {
  /** Makes the file system's (empty) directory. Idempotent. */
  createFileSystem(id: string): void;
  /** Removes the file system's directory and everything in it. Idempotent. */
  deleteFileSystem(id: string): void;
  /** Bytes stored (metered size; may lag). */
  sizeOf(id: string): number;
  /** Ids of tasks not yet STOPPED whose definition mounts the file system. */
  tasksUsing(id: string): string[];
}

export interface EfsApiDeps {
  db: Db;
  efs: EfsRepo;
  tags: TagsRepo;
  networks: Pick<NetworksRepo, 'subnet'>;
  host: EfsHost;
  region: string;
  accountId: string;
  now: () => number;
  newId?: () => string;
}

/** The ARN of a file system or access point. */
export function efsArn(ids: { region: string; accountId: string }, kind: 'file-system' | 'access-point', id: string): string {
  return `arn:aws:elasticfilesystem:${ids.region}:${ids.accountId}:${kind}/${id}`;
}

/** AWS's limit of access points per file system. */
export const MAX_ACCESS_POINTS = 10_000;
const EFS_EMPTY_SIZE = 6144;

export class EfsApi {
  private readonly newId: () => string;
  constructor(private readonly d: EfsApiDeps) {
    this.newId = d.newId ?? (() => randomBytes(9).toString('hex').slice(0, 17));
  }

  fileSystemArn(id: string): string {
    return efsArn(this.d, 'file-system', id);
  }

  accessPointArn(id: string): string {
    return efsArn(this.d, 'access-point', id);
  }

  /** The ARN of a resource named by id (fs-..., fsap-...), for policies and tags; throws when it does not exist. */
  resourceArn(resourceId: string): string {
    if (resourceId.startsWith('fsap-')) {
      if (!this.d.efs.accessPoint(resourceId)) throw accessPointNotFound(resourceId);
      return this.accessPointArn(resourceId);
    }
    if (!this.d.efs.fileSystem(resourceId)) throw fileSystemNotFound(resourceId);
    return this.fileSystemArn(resourceId);
  }

  createFileSystem(input: Input): Record<string, unknown> {
    const spec = parseFileSystemInput(input, { region: this.d.region, accountId: this.d.accountId });
    const tags = parseTags(input.Tags, 'Tags');
    const existing = this.d.efs.fileSystemByToken(spec.creationToken);
    if (existing) {
      throw new EfsError('FileSystemAlreadyExists', `A file system with creation token '${spec.creationToken}' already exists: ${existing.id}. Describe it, or use another CreationToken for a new one.`, {
        FileSystemId: existing.id,
      });
    }
    const record: EfsFileSystemRecord = { id: `fs-${this.newId()}`, createdAt: this.d.now(), ...spec };
    const arn = this.fileSystemArn(record.id);
    this.d.db.transaction(() => {
      this.d.efs.insertFileSystem(record);
      if (tags.length) this.d.tags.put(arn, tags);
    })();
    this.d.host.createFileSystem(record.id);
    return this.fileSystemView(record);
  }

  describeFileSystems(input: Input): Record<string, unknown> {
    let list: EfsFileSystemRecord[];
    if (input.FileSystemId !== undefined) {
      const fs = this.d.efs.fileSystem(String(input.FileSystemId));
      if (!fs) throw fileSystemNotFound(String(input.FileSystemId));
      list = [fs];
    } else if (input.CreationToken !== undefined) {
      const fs = this.d.efs.fileSystemByToken(String(input.CreationToken));
      list = fs ? [fs] : [];
    } else {
      list = this.d.efs.fileSystems();
    }
    const page = pageOf(list, (f) => f.id, input.MaxItems, input.Marker, { what: 'MaxItems', max: 100 });
    return {
      ...(input.Marker !== undefined ? { Marker: input.Marker } : {}),
      FileSystems: page.items.map((f) => this.fileSystemView(f)),
      ...(page.next ? { NextMarker: page.next } : {}),
    };
  }

  deleteFileSystem(input: Input): void {
    const id = String(input.FileSystemId);
    const fs = this.d.efs.fileSystem(id);
    if (!fs) throw fileSystemNotFound(id);
    const targets = this.d.efs.mountTargets(id);
    if (targets.length) {
      throw new EfsError('FileSystemInUse', `File system '${id}' has ${targets.length} mount target(s) (${targets.map((t) => t.id).join(', ')}). Delete them (DeleteMountTarget) first.`);
    }
    const tasks = this.d.host.tasksUsing(id);
    if (tasks.length) {
      throw new EfsError('FileSystemInUse', `File system '${id}' is mounted by ${tasks.length} task(s) that have not stopped (${tasks.slice(0, 5).join(', ')}${tasks.length > 5 ? ', ...' : ''}). Stop them first.`);
    }
    this.d.db.transaction(() => {
      for (const ap of this.d.efs.accessPoints(id)) {
        this.d.tags.remove(this.accessPointArn(ap.id), this.d.tags.list(this.accessPointArn(ap.id)).map((t) => t.key));
        this.d.efs.deleteAccessPoint(ap.id);
      }
      this.d.tags.remove(this.fileSystemArn(id), this.d.tags.list(this.fileSystemArn(id)).map((t) => t.key));
      this.d.efs.deleteFileSystem(id);
    })();
    this.d.host.deleteFileSystem(id);
  }

  createAccessPoint(input: Input): Record<string, unknown> {
    const spec = parseAccessPointInput(input);
    const tags = parseTags(input.Tags, 'Tags');
    const existing = this.d.efs.accessPointByToken(spec.clientToken);
    if (existing) {
      // Idempotent: the same token with the same request returns the access point it made.
      const same = existing.fileSystemId === spec.fileSystemId && JSON.stringify([existing.posixUser, existing.rootDirectory]) === JSON.stringify([spec.posixUser, spec.rootDirectory]);
      if (same) return this.accessPointView(existing);
      throw new EfsError('AccessPointAlreadyExists', `Access point ${existing.id} was created with client token '${spec.clientToken}' and other parameters. Use a new ClientToken for a different access point.`, {
        AccessPointId: existing.id,
      });
    }
    if (!this.d.efs.fileSystem(spec.fileSystemId)) throw fileSystemNotFound(spec.fileSystemId);
    if (this.d.efs.accessPoints(spec.fileSystemId).length >= MAX_ACCESS_POINTS) {
      throw new EfsError('AccessPointLimitExceeded', `File system '${spec.fileSystemId}' already has ${MAX_ACCESS_POINTS} access points, the most it can have. Delete some first.`);
    }
    const record: EfsAccessPointRecord = { id: `fsap-${this.newId()}`, createdAt: this.d.now(), ...spec };
    this.d.db.transaction(() => {
      this.d.efs.insertAccessPoint(record);
      if (tags.length) this.d.tags.put(this.accessPointArn(record.id), tags);
    })();
    return this.accessPointView(record);
  }

  describeAccessPoints(input: Input): Record<string, unknown> {
    if (input.AccessPointId !== undefined && input.FileSystemId !== undefined) {
      throw badRequest('Give either AccessPointId or FileSystemId, not both.');
    }
    let list: EfsAccessPointRecord[];
    if (input.AccessPointId !== undefined) {
      const ap = this.d.efs.accessPoint(String(input.AccessPointId));
      if (!ap) throw accessPointNotFound(String(input.AccessPointId));
      list = [ap];
    } else if (input.FileSystemId !== undefined) {
      if (!this.d.efs.fileSystem(String(input.FileSystemId))) throw fileSystemNotFound(String(input.FileSystemId));
      list = this.d.efs.accessPoints(String(input.FileSystemId));
    } else {
      list = this.d.efs.accessPoints();
    }
    const page = pageOf(list, (a) => a.id, input.MaxResults, input.NextToken, { what: 'MaxResults', max: 100 });
    return { AccessPoints: page.items.map((a) => this.accessPointView(a)), ...(page.next ? { NextToken: page.next } : {}) };
  }

  deleteAccessPoint(input: Input): void {
    const id = String(input.AccessPointId);
    if (!this.d.efs.accessPoint(id)) throw accessPointNotFound(id);
    const arn = this.accessPointArn(id);
    this.d.db.transaction(() => {
      this.d.tags.remove(arn, this.d.tags.list(arn).map((t) => t.key));
      this.d.efs.deleteAccessPoint(id);
    })();
  }

  createMountTarget(input: Input): Record<string, unknown> {
    const fileSystemId = requiredString(input.FileSystemId, 'FileSystemId');
    const subnetId = requiredString(input.SubnetId, 'SubnetId');
    const fs = this.d.efs.fileSystem(fileSystemId);
    if (!fs) throw fileSystemNotFound(fileSystemId);
    const subnet = this.d.networks.subnet(subnetId);
    if (!subnet) throw new EfsError('SubnetNotFound', `Subnet '${subnetId}' does not exist. Check the id (aws ec2 describe-subnets).`);
    if (fs.availabilityZoneName && fs.availabilityZoneName !== subnet.availabilityZone) {
      throw new EfsError('UnsupportedAvailabilityZone', `File system '${fileSystemId}' is a One Zone file system in ${fs.availabilityZoneName}; subnet '${subnetId}' is in ${subnet.availabilityZone}. Use a subnet of ${fs.availabilityZoneName}.`);
    }
    const others = this.d.efs.mountTargets(fileSystemId);
    const clash = others.find((m) => m.availabilityZoneName === subnet.availabilityZone || m.vpcId !== subnet.vpcId);
    if (clash) {
      throw new EfsError(
        'MountTargetConflict',
        clash.vpcId !== subnet.vpcId
          ? `File system '${fileSystemId}' has mount targets in ${clash.vpcId}; all of a file system's mount targets must be in one VPC.`
          : `File system '${fileSystemId}' already has a mount target (${clash.id}) in ${subnet.availabilityZone}. A file system has at most one mount target per Availability Zone.`,
      );
    }
    if (input.IpAddress !== undefined && input.IpAddress !== gatewayAddress(subnet.cidr)) {
      throw new EfsError('IpAddressInUse', `Skiff serves a mount target at the host's address in the subnet (${gatewayAddress(subnet.cidr)}); '${String(input.IpAddress)}' cannot be chosen. Leave IpAddress out.`);
    }
    const record: EfsMountTargetRecord = {
      id: `fsmt-${this.newId()}`,
      fileSystemId,
      subnetId,
      createdAt: this.d.now(),
      // The host's own address on the subnet's bridge: where a fleet's NFS server is reached from the subnet.
      ipAddress: gatewayAddress(subnet.cidr),
      vpcId: subnet.vpcId,
      availabilityZoneName: subnet.availabilityZone,
      networkInterfaceId: `eni-${this.newId()}`,
    };
    this.d.efs.insertMountTarget(record);
    return this.mountTargetView(record);
  }

  describeMountTargets(input: Input): Record<string, unknown> {
    const given = ['FileSystemId', 'MountTargetId', 'AccessPointId'].filter((k) => input[k] !== undefined);
    if (given.length !== 1) throw badRequest('Give exactly one of FileSystemId, MountTargetId or AccessPointId.');
    let list: EfsMountTargetRecord[];
    if (input.MountTargetId !== undefined) {
      const mt = this.d.efs.mountTarget(String(input.MountTargetId));
      if (!mt) throw new EfsError('MountTargetNotFound', `Mount target '${String(input.MountTargetId)}' does not exist.`);
      list = [mt];
    } else {
      let fsId = input.FileSystemId !== undefined ? String(input.FileSystemId) : undefined;
      if (input.AccessPointId !== undefined) {
        const ap = this.d.efs.accessPoint(String(input.AccessPointId));
        if (!ap) throw accessPointNotFound(String(input.AccessPointId));
        fsId = ap.fileSystemId;
      }
      if (!this.d.efs.fileSystem(fsId!)) throw fileSystemNotFound(fsId!);
      list = this.d.efs.mountTargets(fsId);
    }
    const page = pageOf(list, (m) => m.id, input.MaxItems, input.Marker, { what: 'MaxItems', max: 100 });
    return {
      ...(input.Marker !== undefined ? { Marker: input.Marker } : {}),
      MountTargets: page.items.map((m) => this.mountTargetView(m)),
      ...(page.next ? { NextMarker: page.next } : {}),
    };
  }

  deleteMountTarget(input: Input): void {
    const id = String(input.MountTargetId);
    if (!this.d.efs.mountTarget(id)) throw new EfsError('MountTargetNotFound', `Mount target '${id}' does not exist.`);
    this.d.efs.deleteMountTarget(id);
  }

  tagResource(input: Input): void {
    const arn = this.resourceArn(String(input.ResourceId));
    const tags = parseTags(input.Tags, 'Tags');
    if (!tags.length) throw badRequest('Tags must list at least one tag {"Key", "Value"}.');
    if (new Set([...this.d.tags.list(arn).map((t) => t.key), ...tags.map((t) => t.key)]).size > 50) {
      throw badRequest('A resource can have at most 50 tags. Remove some first (UntagResource).');
    }
    this.d.tags.put(arn, tags);
  }

  untagResource(input: Input): void {
    const arn = this.resourceArn(String(input.ResourceId));
    const keys = [input.TagKeys ?? []].flat().map(String);
    if (!keys.length) throw badRequest('tagKeys must name at least one tag key.');
    this.d.tags.remove(arn, keys);
  }

  listTagsForResource(input: Input): Record<string, unknown> {
    const arn = this.resourceArn(String(input.ResourceId));
    const page = pageOf(this.d.tags.list(arn), (t) => t.key, input.MaxResults, input.NextToken, { what: 'MaxResults', max: 100 });
    return { Tags: page.items.map((t) => ({ Key: t.key, Value: t.value })), ...(page.next ? { NextToken: page.next } : {}) };
  }

  private tagsOf(arn: string): { Key: string; Value: string }[] {
    return this.d.tags.list(arn).map((t) => ({ Key: t.key, Value: t.value }));
  }

  private fileSystemView(f: EfsFileSystemRecord): Record<string, unknown> {
    const tags = this.tagsOf(this.fileSystemArn(f.id));
    const name = tags.find((t) => t.Key === 'Name')?.Value;
    const size = Math.max(EFS_EMPTY_SIZE, this.d.host.sizeOf(f.id));
    return {
      OwnerId: this.d.accountId,
      CreationToken: f.creationToken,
      FileSystemId: f.id,
      FileSystemArn: this.fileSystemArn(f.id),
      CreationTime: f.createdAt / 1000,
      LifeCycleState: 'available',
      ...(name !== undefined ? { Name: name } : {}),
      NumberOfMountTargets: this.d.efs.mountTargets(f.id).length,
      SizeInBytes: { Value: size, Timestamp: this.d.now() / 1000, ValueInIA: 0, ValueInStandard: size, ValueInArchive: 0 },
      PerformanceMode: f.performanceMode,
      Encrypted: f.encrypted,
      ...(f.kmsKeyId ? { KmsKeyId: f.kmsKeyId } : {}),
      ThroughputMode: f.throughputMode,
      ...(f.provisionedThroughputInMibps !== undefined ? { ProvisionedThroughputInMibps: f.provisionedThroughputInMibps } : {}),
      ...(f.availabilityZoneName ? { AvailabilityZoneName: f.availabilityZoneName, AvailabilityZoneId: azId(f.availabilityZoneName) } : {}),
      Tags: tags,
      FileSystemProtection: { ReplicationOverwriteProtection: 'ENABLED' },
    };
  }

  private accessPointView(a: EfsAccessPointRecord): Record<string, unknown> {
    const tags = this.tagsOf(this.accessPointArn(a.id));
    const name = tags.find((t) => t.Key === 'Name')?.Value;
    const ci = a.rootDirectory.creationInfo;
    return {
      ClientToken: a.clientToken,
      ...(name !== undefined ? { Name: name } : {}),
      Tags: tags,
      AccessPointId: a.id,
      AccessPointArn: this.accessPointArn(a.id),
      FileSystemId: a.fileSystemId,
      ...(a.posixUser ? { PosixUser: { Uid: a.posixUser.uid, Gid: a.posixUser.gid, ...(a.posixUser.secondaryGids?.length ? { SecondaryGids: a.posixUser.secondaryGids } : {}) } } : {}),
      RootDirectory: { Path: a.rootDirectory.path, ...(ci ? { CreationInfo: { OwnerUid: ci.ownerUid, OwnerGid: ci.ownerGid, Permissions: ci.permissions } } : {}) },
      OwnerId: this.d.accountId,
      LifeCycleState: 'available',
    };
  }

  private mountTargetView(m: EfsMountTargetRecord): Record<string, unknown> {
    return {
      OwnerId: this.d.accountId,
      MountTargetId: m.id,
      FileSystemId: m.fileSystemId,
      SubnetId: m.subnetId,
      LifeCycleState: 'available',
      IpAddress: m.ipAddress,
      NetworkInterfaceId: m.networkInterfaceId,
      AvailabilityZoneId: azId(m.availabilityZoneName),
      AvailabilityZoneName: m.availabilityZoneName,
      VpcId: m.vpcId,
    };
  }
}

/** An AZ id in AWS's form (use1-az1) from its name (us-east-1a). */
function azId(name: string): string {
  const m = /^([a-z]{2})-([a-z]+)-(\d+)([a-z])$/.exec(name);
  if (!m) return name;
  return `${m[1]}${m[2][0]}${m[3]}-az${m[4].charCodeAt(0) - 96}`;
}

function requiredString(v: unknown, what: string): string {
  if (typeof v !== 'string' || !v) throw badRequest(`${what} is required.`);
  return v;
}
