/**
 * The EFS subset over HTTP with @aws-sdk/client-efs: shapes, CreationToken and
 * ClientToken rules, pagination, tags, mount targets, DeleteFileSystem refusals
 * and EFS's error codes and statuses. The host side is a plain directory per
 * file system in a temp dir (no task, no root needed); signing is checked by
 * test/efs.root.test.ts through the real server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateAccessPointCommand,
  CreateFileSystemCommand,
  CreateMountTargetCommand,
  DeleteAccessPointCommand,
  DeleteFileSystemCommand,
  DeleteMountTargetCommand,
  DescribeAccessPointsCommand,
  DescribeFileSystemsCommand,
  DescribeMountTargetsCommand,
  EFSClient,
  ListTagsForResourceCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-efs';
import { buildHttpServer } from '../api/http-server.ts';
import { openDb } from '../store/db.ts';
import { openRepos } from '../store/repos.ts';
import { EfsApi, type EfsHost } from './efs-api.ts';
import { efsRoutes } from './efs-routes.ts';

const ACCOUNT = '123456789012';

async function setup(t: { after(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-efs-'));
  const repos = openRepos(openDb(':memory:'));
  repos.networks.insertVpc({ id: 'vpc-0000000000000000a', cidr: '10.9.0.0/16', isDefault: true });
  repos.networks.insertSubnet({ id: 'subnet-0000000000000000a', vpcId: 'vpc-0000000000000000a', cidr: '10.9.0.0/20', availabilityZone: 'us-east-1a', isDefault: true, bridge: 'skb0000000a' });
  let using: string[] = [];
  const { mkdirSync } = await import('node:fs');
  const host: EfsHost = {
    createFileSystem: (id) => mkdirSync(join(dir, id)),
    deleteFileSystem: (id) => rmSync(join(dir, id), { recursive: true, force: true }),
    sizeOf: () => 0,
    tasksUsing: () => using,
  };
  let now = 1_700_000_000_000;
  const api = new EfsApi({ db: repos.db, efs: repos.efs, tags: repos.tags, networks: repos.networks, host, region: 'us-east-1', accountId: ACCOUNT, now: () => (now += 1000) });
  const app = buildHttpServer({ protocols: [], routes: (a) => efsRoutes(a, api), isReady: () => true });
  const endpoint = await app.listen({ host: '127.0.0.1', port: 0 });
  const efs = new EFSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' }, maxAttempts: 1 });
  t.after(async () => {
    efs.destroy();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { efs, dir, setUsing: (ids: string[]) => (using = ids) };
}

async function rejectsWith(p: Promise<unknown>, name: string, status: number, message?: RegExp) {
  await assert.rejects(p, (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(e.name, name);
    assert.equal(e.$metadata?.httpStatusCode, status);
    if (message) assert.match(e.message, message);
    return true;
  });
}

test('CreateFileSystem: the description EFS returns, a directory on the host, CreationToken reuse answers FileSystemAlreadyExists with the id', async (t) => {
  const { efs, dir } = await setup(t);
  const fs = await efs.send(new CreateFileSystemCommand({ CreationToken: 'tok-1', Tags: [{ Key: 'Name', Value: 'data' }, { Key: 'team', Value: 'a' }] }));
  assert.match(fs.FileSystemId!, /^fs-[0-9a-f]{17}$/);
  assert.equal(fs.FileSystemArn, `arn:aws:elasticfilesystem:us-east-1:${ACCOUNT}:file-system/${fs.FileSystemId}`);
  assert.equal(fs.LifeCycleState, 'available');
  assert.equal(fs.Name, 'data');
  assert.equal(fs.OwnerId, ACCOUNT);
  assert.equal(fs.PerformanceMode, 'generalPurpose');
  assert.equal(fs.ThroughputMode, 'bursting');
  assert.equal(fs.Encrypted, false);
  assert.equal(fs.NumberOfMountTargets, 0);
  assert.ok(fs.CreationTime instanceof Date);
  assert.equal(fs.SizeInBytes?.Value, 6144);
  assert.deepEqual(fs.Tags, [{ Key: 'Name', Value: 'data' }, { Key: 'team', Value: 'a' }]);
  assert.ok(existsSync(join(dir, fs.FileSystemId!)));
  // AWS: a second call with the token never makes a second file system; the error carries the first's id.
  await assert.rejects(efs.send(new CreateFileSystemCommand({ CreationToken: 'tok-1' })), (e: Error & { FileSystemId?: string; $metadata: { httpStatusCode?: number } }) => {
    assert.equal(e.name, 'FileSystemAlreadyExists');
    assert.equal(e.$metadata.httpStatusCode, 409);
    assert.equal(e.FileSystemId, fs.FileSystemId);
    return true;
  });
  const enc = await efs.send(new CreateFileSystemCommand({ CreationToken: 'tok-2', Encrypted: true, ThroughputMode: 'elastic' }));
  assert.equal(enc.Encrypted, true);
  assert.match(enc.KmsKeyId!, /^arn:aws:kms:us-east-1:/);
  await rejectsWith(efs.send(new CreateFileSystemCommand({ CreationToken: 'tok-3', ThroughputMode: 'provisioned' })), 'BadRequest', 400, /ProvisionedThroughputInMibps/);
  await rejectsWith(efs.send(new CreateFileSystemCommand({ CreationToken: 'tok-4', PerformanceMode: 'maxIO', ThroughputMode: 'elastic' })), 'BadRequest', 400, /Elastic throughput/);
});

test('DescribeFileSystems: by id, by CreationToken, pages with Marker/NextMarker; FileSystemNotFound is a 404', async (t) => {
  const { efs } = await setup(t);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await efs.send(new CreateFileSystemCommand({ CreationToken: `t${i}` }))).FileSystemId!);
  assert.deepEqual((await efs.send(new DescribeFileSystemsCommand({ FileSystemId: ids[2] }))).FileSystems!.map((f) => f.FileSystemId), [ids[2]]);
  assert.deepEqual((await efs.send(new DescribeFileSystemsCommand({ CreationToken: 't3' }))).FileSystems!.map((f) => f.FileSystemId), [ids[3]]);
  assert.deepEqual((await efs.send(new DescribeFileSystemsCommand({ CreationToken: 'none' }))).FileSystems, []);
  const seen: string[] = [];
  let marker: string | undefined;
  do {
    const page = await efs.send(new DescribeFileSystemsCommand({ MaxItems: 2, Marker: marker }));
    assert.ok(page.FileSystems!.length <= 2);
    seen.push(...page.FileSystems!.map((f) => f.FileSystemId!));
    marker = page.NextMarker;
  } while (marker);
  assert.deepEqual(seen, ids);
  await rejectsWith(efs.send(new DescribeFileSystemsCommand({ FileSystemId: 'fs-00000000000000000' })), 'FileSystemNotFound', 404);
  await rejectsWith(efs.send(new DescribeFileSystemsCommand({ Marker: 'bogus' })), 'BadRequest', 400, /marker/);
});

test('access points: PosixUser and RootDirectory with CreationInfo, ClientToken idempotency, listing, deletion; bad paths refused', async (t) => {
  const { efs } = await setup(t);
  const fsId = (await efs.send(new CreateFileSystemCommand({ CreationToken: 'ap' }))).FileSystemId!;
  const req = {
    FileSystemId: fsId,
    ClientToken: 'ct-1',
    PosixUser: { Uid: 1000, Gid: 1000, SecondaryGids: [2000] },
    RootDirectory: { Path: '/app/data', CreationInfo: { OwnerUid: 1000, OwnerGid: 1000, Permissions: '750' } },
    Tags: [{ Key: 'Name', Value: 'app' }],
  };
  const ap = await efs.send(new CreateAccessPointCommand(req));
  assert.match(ap.AccessPointId!, /^fsap-[0-9a-f]{17}$/);
  assert.equal(ap.AccessPointArn, `arn:aws:elasticfilesystem:us-east-1:${ACCOUNT}:access-point/${ap.AccessPointId}`);
  assert.equal(ap.Name, 'app');
  assert.deepEqual(ap.PosixUser, { Uid: 1000, Gid: 1000, SecondaryGids: [2000] });
  assert.deepEqual(ap.RootDirectory, { Path: '/app/data', CreationInfo: { OwnerUid: 1000, OwnerGid: 1000, Permissions: '750' } });
  assert.equal(ap.LifeCycleState, 'available');
  assert.equal((await efs.send(new CreateAccessPointCommand(req))).AccessPointId, ap.AccessPointId, 'same token, same request: the same access point');
  await assert.rejects(efs.send(new CreateAccessPointCommand({ ...req, PosixUser: { Uid: 1, Gid: 1 } })), (e: Error & { AccessPointId?: string }) => e.name === 'AccessPointAlreadyExists' && e.AccessPointId === ap.AccessPointId);
  const plain = await efs.send(new CreateAccessPointCommand({ FileSystemId: fsId }));
  assert.deepEqual(plain.RootDirectory, { Path: '/' });
  for (const Path of ['/a/../b', 'relative', '/.hidden', '/a/b/c/d/e']) {
    await rejectsWith(efs.send(new CreateAccessPointCommand({ FileSystemId: fsId, RootDirectory: { Path } })), 'ValidationException', 400, /RootDirectory\.Path/);
  }
  await rejectsWith(efs.send(new CreateAccessPointCommand({ FileSystemId: fsId, RootDirectory: { Path: '/x', CreationInfo: { OwnerUid: 1, OwnerGid: 1, Permissions: '999' } } })), 'BadRequest', 400, /octal/);
  await rejectsWith(efs.send(new CreateAccessPointCommand({ FileSystemId: 'fs-00000000000000000' })), 'FileSystemNotFound', 404);
  const listed = await efs.send(new DescribeAccessPointsCommand({ FileSystemId: fsId, MaxResults: 1 }));
  assert.equal(listed.AccessPoints!.length, 1);
  assert.ok(listed.NextToken);
  const rest = await efs.send(new DescribeAccessPointsCommand({ FileSystemId: fsId, NextToken: listed.NextToken }));
  assert.deepEqual([...listed.AccessPoints!, ...rest.AccessPoints!].map((a) => a.AccessPointId), [ap.AccessPointId, plain.AccessPointId]);
  assert.equal((await efs.send(new DescribeAccessPointsCommand({ AccessPointId: plain.AccessPointId }))).AccessPoints![0].FileSystemId, fsId);
  await efs.send(new DeleteAccessPointCommand({ AccessPointId: plain.AccessPointId }));
  await rejectsWith(efs.send(new DescribeAccessPointsCommand({ AccessPointId: plain.AccessPointId })), 'AccessPointNotFound', 404);
  await rejectsWith(efs.send(new DeleteAccessPointCommand({ AccessPointId: plain.AccessPointId })), 'AccessPointNotFound', 404);
});

test('tags: TagResource, UntagResource, ListTagsForResource on file systems and access points', async (t) => {
  const { efs } = await setup(t);
  const fsId = (await efs.send(new CreateFileSystemCommand({ CreationToken: 'tags', Tags: [{ Key: 'a', Value: '1' }] }))).FileSystemId!;
  await efs.send(new TagResourceCommand({ ResourceId: fsId, Tags: [{ Key: 'b', Value: '2' }, { Key: 'a', Value: '3' }] }));
  assert.deepEqual((await efs.send(new ListTagsForResourceCommand({ ResourceId: fsId }))).Tags, [{ Key: 'a', Value: '3' }, { Key: 'b', Value: '2' }]);
  await efs.send(new UntagResourceCommand({ ResourceId: fsId, TagKeys: ['a', 'zzz'] }));
  assert.deepEqual((await efs.send(new ListTagsForResourceCommand({ ResourceId: fsId }))).Tags, [{ Key: 'b', Value: '2' }]);
  const apId = (await efs.send(new CreateAccessPointCommand({ FileSystemId: fsId }))).AccessPointId!;
  await efs.send(new TagResourceCommand({ ResourceId: apId, Tags: [{ Key: 'Name', Value: 'ap' }] }));
  assert.equal((await efs.send(new DescribeAccessPointsCommand({ AccessPointId: apId }))).AccessPoints![0].Name, 'ap');
  await rejectsWith(efs.send(new TagResourceCommand({ ResourceId: 'fs-00000000000000000', Tags: [{ Key: 'x', Value: 'y' }] })), 'FileSystemNotFound', 404);
  await rejectsWith(efs.send(new TagResourceCommand({ ResourceId: fsId, Tags: [{ Key: 'aws:x', Value: 'y' }] })), 'BadRequest', 400, /aws:/);
});

test('mount targets: one per AZ at the host address of the subnet; DeleteFileSystem refused while a mount target or a task uses it', async (t) => {
  const { efs, dir, setUsing } = await setup(t);
  const fsId = (await efs.send(new CreateFileSystemCommand({ CreationToken: 'mt' }))).FileSystemId!;
  const mt = await efs.send(new CreateMountTargetCommand({ FileSystemId: fsId, SubnetId: 'subnet-0000000000000000a' }));
  assert.match(mt.MountTargetId!, /^fsmt-[0-9a-f]{17}$/);
  assert.equal(mt.IpAddress, '10.9.0.1');
  assert.equal(mt.AvailabilityZoneName, 'us-east-1a');
  assert.equal(mt.AvailabilityZoneId, 'use1-az1');
  assert.equal(mt.VpcId, 'vpc-0000000000000000a');
  assert.equal(mt.LifeCycleState, 'available');
  await rejectsWith(efs.send(new CreateMountTargetCommand({ FileSystemId: fsId, SubnetId: 'subnet-0000000000000000a' })), 'MountTargetConflict', 409);
  await rejectsWith(efs.send(new CreateMountTargetCommand({ FileSystemId: fsId, SubnetId: 'subnet-00000000000000009' })), 'SubnetNotFound', 400);
  assert.deepEqual((await efs.send(new DescribeMountTargetsCommand({ FileSystemId: fsId }))).MountTargets!.map((m) => m.MountTargetId), [mt.MountTargetId]);
  assert.equal((await efs.send(new DescribeFileSystemsCommand({ FileSystemId: fsId }))).FileSystems![0].NumberOfMountTargets, 1);
  await rejectsWith(efs.send(new DeleteFileSystemCommand({ FileSystemId: fsId })), 'FileSystemInUse', 409, /mount target/);
  await efs.send(new DeleteMountTargetCommand({ MountTargetId: mt.MountTargetId }));
  await rejectsWith(efs.send(new DeleteMountTargetCommand({ MountTargetId: mt.MountTargetId })), 'MountTargetNotFound', 404);
  setUsing(['0123456789abcdef0123456789abcdef']);
  await rejectsWith(efs.send(new DeleteFileSystemCommand({ FileSystemId: fsId })), 'FileSystemInUse', 409, /mounted by 1 task.*Stop them first/);
  setUsing([]);
  await efs.send(new CreateAccessPointCommand({ FileSystemId: fsId }));
  await efs.send(new DeleteFileSystemCommand({ FileSystemId: fsId }));
  assert.ok(!existsSync(join(dir, fsId)));
  assert.deepEqual((await efs.send(new DescribeAccessPointsCommand({}))).AccessPoints, [], 'its access points went with it');
  await rejectsWith(efs.send(new DeleteFileSystemCommand({ FileSystemId: fsId })), 'FileSystemNotFound', 404);
});
