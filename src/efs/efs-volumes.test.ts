/**
 * The host side of EFS without root or tasks: which mounts a task's
 * containers get (read-only by mount point or by IAM), and every start failure
 * worded as ECS words it (unknown file system or access point, another file
 * system's access point, a missing root directory, a symlink on the way, no
 * ClientMount). Ids are the test's own uid (no user namespace shift), so no
 * chown needs root. Access points with a POSIX user (bindfs) are shown by
 * test/efs.root.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Volume, ContainerDefinition } from '@aws-sdk/client-ecs';
import { openDb } from '../store/db.ts';
import { EfsRepo } from '../store/efs-repo.ts';
import type { TaskRecord } from '../model/task-record.ts';
import type { Policy } from '../auth/policy.ts';
import { EfsVolumes } from './efs-volumes.ts';
import { efsArn } from './efs-api.ts';

const IDS = { region: 'us-east-1', accountId: '123456789012' };
const FS = 'fs-0123456789abcdef0';
const OTHER = 'fs-0123456789abcdef1';

function setup(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-efsvol-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const efs = new EfsRepo(openDb(':memory:'));
  let def: { volumes: Volume[]; containerDefinitions: ContainerDefinition[] } = { volumes: [], containerDefinitions: [] };
  let policy: Policy | undefined;
  let unfinished: TaskRecord[] = [];
  const volumes = new EfsVolumes({
    efs,
    root: join(dir, 'efs'),
    mountsRoot: join(dir, 'mounts'),
    idBase: process.getuid?.() ?? 0,
    definitionOf: () => def,
    unfinished: () => unfinished,
    taskRoleArn: () => (policy ? 'arn:aws:iam::123456789012:role/app' : undefined),
    rolePolicy: () => policy,
    fileSystemArn: (id) => efsArn(IDS, 'file-system', id),
    accessPointArn: (id) => efsArn(IDS, 'access-point', id),
    log: () => {},
  });
  for (const id of [FS, OTHER]) {
    efs.insertFileSystem({ id, creationToken: id, createdAt: 1, performanceMode: 'generalPurpose', throughputMode: 'bursting', encrypted: false });
    volumes.createFileSystem(id);
  }
  efs.insertAccessPoint({ id: 'fsap-0000000000000000a', fileSystemId: OTHER, clientToken: 'a', createdAt: 1, rootDirectory: { path: '/' } });
  efs.insertAccessPoint({ id: 'fsap-0000000000000000b', fileSystemId: FS, clientToken: 'b', createdAt: 1, rootDirectory: { path: '/apps/b', creationInfo: { ownerUid: 0, ownerGid: 0, permissions: '700' } } });
  efs.insertAccessPoint({ id: 'fsap-0000000000000000c', fileSystemId: FS, clientToken: 'c', createdAt: 1, rootDirectory: { path: '/missing' } });
  const task = { id: '0123456789abcdef0123456789abcdef' } as TaskRecord;
  const use = (cfg: Volume['efsVolumeConfiguration'], mountPoints: ContainerDefinition['mountPoints'] = [{ sourceVolume: 'd', containerPath: '/d' }]) => {
    def = { volumes: [{ name: 'd', efsVolumeConfiguration: cfg }], containerDefinitions: [{ name: 'app', mountPoints }, { name: 'side' }] };
  };
  return { dir, volumes, task, use, setPolicy: (p: Policy | undefined) => (policy = p), setUnfinished: (t: TaskRecord[]) => (unfinished = t) };
}

const fails = (p: Promise<unknown>, re: RegExp) => assert.rejects(p, (e: Error) => (assert.match(e.message, /^failed to invoke EFS utils commands to set up EFS volumes: /), assert.match(e.message, re), true));

test('mounts: the file system (or its rootDirectory) per mount point, read-only as the mount point says; other containers get none', async (t) => {
  const { dir, volumes, task, use } = setup(t);
  use({ fileSystemId: FS }, [{ sourceVolume: 'd', containerPath: '/d' }, { sourceVolume: 'd', containerPath: '/ro', readOnly: true }]);
  const m = await volumes.prepare(task);
  assert.deepEqual(m.get('app'), [
    { source: join(dir, 'efs', FS), destination: '/d', readonly: false },
    { source: join(dir, 'efs', FS), destination: '/ro', readonly: true },
  ]);
  assert.equal(m.get('side'), undefined);
  mkdirSync(join(dir, 'efs', FS, 'sub'));
  use({ fileSystemId: FS, rootDirectory: '/sub/' });
  assert.equal((await volumes.prepare(task)).get('app')![0]!.source, join(dir, 'efs', FS, 'sub'));
});

test('start failures as the EFS mount helper reports them', async (t) => {
  const { dir, volumes, task, use } = setup(t);
  use({ fileSystemId: 'fs-00000000000000000' });
  await fails(volumes.prepare(task), /Failed to resolve "fs-00000000000000000\.efs\.amazonaws\.com"/);
  use({ fileSystemId: FS, transitEncryption: 'ENABLED', authorizationConfig: { accessPointId: 'fsap-00000000000000009' } });
  await fails(volumes.prepare(task), /access point 'fsap-00000000000000009' does not exist/);
  use({ fileSystemId: FS, transitEncryption: 'ENABLED', authorizationConfig: { accessPointId: 'fsap-0000000000000000a' } });
  await fails(volumes.prepare(task), /belongs to file system 'fs-0123456789abcdef1', not 'fs-0123456789abcdef0'/);
  use({ fileSystemId: FS, transitEncryption: 'ENABLED', authorizationConfig: { accessPointId: 'fsap-0000000000000000c' } });
  await fails(volumes.prepare(task), /No such file or directory \(the access point's root directory does not exist and it has no CreationInfo\)/);
  use({ fileSystemId: FS, rootDirectory: '/nope' });
  await fails(volumes.prepare(task), /mounting fs-0123456789abcdef0:\/nope failed, reason given by server: No such file or directory/);
  // A task's symlink must not point a later mount outside the file system.
  symlinkSync('/etc', join(dir, 'efs', FS, 'escape'));
  use({ fileSystemId: FS, rootDirectory: '/escape' });
  await fails(volumes.prepare(task), /'escape' is not a directory/);
});

test('an access point: its root directory is made with CreationInfo on first use', async (t) => {
  const { dir, volumes, task, use } = setup(t);
  use({ fileSystemId: FS, transitEncryption: 'ENABLED', authorizationConfig: { accessPointId: 'fsap-0000000000000000b' } });
  const m = await volumes.prepare(task);
  const made = join(dir, 'efs', FS, 'apps', 'b');
  assert.equal(m.get('app')![0]!.source, made);
  assert.equal(statSync(made).mode & 0o777, 0o700);
  assert.equal(statSync(join(dir, 'efs', FS, 'apps')).mode & 0o777, 0o755);
  // A symlink a task planted on the way is never created through.
  rmSync(join(dir, 'efs', FS, 'apps'), { recursive: true });
  mkdirSync(join(dir, 'outside'));
  symlinkSync(join(dir, 'outside'), join(dir, 'efs', FS, 'apps'));
  await fails(volumes.prepare(task), /'apps' is not a directory/);
  assert.ok(!existsSync(join(dir, 'outside', 'b')), 'nothing made outside the file system');
});

test('iam ENABLED: no task role or no ClientMount fails the start; ClientMount without ClientWrite mounts read-only', async (t) => {
  const { volumes, task, use, setPolicy } = setup(t);
  use({ fileSystemId: FS, transitEncryption: 'ENABLED', authorizationConfig: { iam: 'ENABLED' } });
  await fails(volumes.prepare(task), /iam is ENABLED and the task has no task role/);
  const arn = efsArn(IDS, 'file-system', FS);
  setPolicy({ Statement: [{ Effect: 'Allow', Action: 'elasticfilesystem:ClientWrite', Resource: arn }] });
  await fails(volumes.prepare(task), /access denied by server .* not allowed elasticfilesystem:ClientMount/);
  setPolicy({ Statement: [{ Effect: 'Allow', Action: 'elasticfilesystem:ClientMount', Resource: arn }] });
  assert.equal((await volumes.prepare(task)).get('app')![0]!.readonly, true);
  setPolicy({ Statement: [{ Effect: 'Allow', Action: ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite'], Resource: 'arn:aws:elasticfilesystem:*:*:file-system/*' }] });
  assert.equal((await volumes.prepare(task)).get('app')![0]!.readonly, false);
});

test('tasksUsing names the unfinished tasks whose definition mounts the file system; seeding copies a tar into an empty file system only', async (t) => {
  const { dir, volumes, task, use, setUnfinished } = setup(t);
  use({ fileSystemId: FS });
  setUnfinished([task]);
  assert.deepEqual(volumes.tasksUsing(FS), [task.id]);
  assert.deepEqual(volumes.tasksUsing(OTHER), []);
  const src = join(dir, 'src');
  mkdirSync(join(src, 'a'), { recursive: true });
  writeFileSync(join(src, 'a', 'f.txt'), 'hi');
  const { tarOfFolder } = await import('../compose/compose-volumes-up.ts');
  assert.equal(await volumes.seed(OTHER, await tarOfFolder(src)), true);
  assert.ok(existsSync(join(dir, 'efs', OTHER, 'a', 'f.txt')));
  assert.equal(await volumes.seed(OTHER, await tarOfFolder(src)), false, 'copied once');
  assert.equal(volumes.sizeOf(OTHER), 2);
  volumes.deleteFileSystem(OTHER);
  assert.ok(!existsSync(join(dir, 'efs', OTHER)));
});
