/**
 * EFS end to end, with real runc tasks over the real server: file systems made
 * with @aws-sdk/client-efs (signed for `elasticfilesystem`) and the AWS CLI,
 * mounted by `efsVolumeConfiguration`. A file written by one task is read by
 * another after the first stopped, and after a server restart (kill -9); two
 * running tasks see each other's writes; a `readOnly` mount point is read-only;
 * an access point's root directory is made with its CreationInfo and its POSIX
 * user owns what a root task creates; `iam: ENABLED` refuses a role without
 * ClientMount and mounts read-only without ClientWrite; an unknown file system
 * or another file system's access point fails the start as ECS does;
 * DeleteFileSystem is refused while a running task mounts it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CreateAccessPointCommand, CreateFileSystemCommand, DeleteFileSystemCommand, DescribeFileSystemsCommand, EFSClient } from '@aws-sdk/client-efs';
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { StopTaskCommand, type ContainerDefinition, type Volume } from '@aws-sdk/client-ecs';
import { startBusyboxStack, type BusyboxStack } from './support/stack.ts';
import { TEST_ROOT_KEY, waitFor } from './support/skiff-server.ts';
import { registerFamily, runOne, runUntilStopped, taskLogText, waitTaskStatus } from './support/tasks.ts';
import { rejectsWith } from './support/api-errors.ts';

const ACCOUNT = '123456789012';
const USERNS_BASE = 100000;
const TRUST = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }] });

let stack: BusyboxStack;
let efs: EFSClient;
let fsId: string;

before(async () => {
  stack = await startBusyboxStack('test/busybox:efs');
  efs = new EFSClient({ endpoint: stack.server.endpoint, region: 'us-east-1', credentials: TEST_ROOT_KEY, maxAttempts: 1 });
  fsId = (await efs.send(new CreateFileSystemCommand({ CreationToken: 'e2e-main', Tags: [{ Key: 'Name', Value: 'main' }] }))).FileSystemId!;
});

after(async () => {
  efs?.destroy();
  await stack?.stop();
});

const efsVolume = (name: string, cfg: Volume['efsVolumeConfiguration'] = { fileSystemId: fsId }): Volume => ({ name, efsVolumeConfiguration: cfg });
const box = (name: string, script: string, mountPoints: ContainerDefinition['mountPoints'] = [{ sourceVolume: 'data', containerPath: '/mnt/efs' }], extra: Partial<ContainerDefinition> = {}): ContainerDefinition => ({
  name,
  image: stack.image,
  essential: true,
  command: ['sh', '-c', script],
  mountPoints,
  ...extra,
});

/** Runs one task of a fresh family and returns it STOPPED with its log text. */
async function runScript(family: string, script: string, volumes: Volume[] = [efsVolume('data')], opts: { mountPoints?: ContainerDefinition['mountPoints']; taskRoleArn?: string } = {}) {
  const t = await runUntilStopped(stack.ecs, family, [box('main', script, opts.mountPoints)], { volumes, ...(opts.taskRoleArn ? { taskRoleArn: opts.taskRoleArn } : {}) }, 90_000);
  return { task: t, exitCode: t.containers?.[0]?.exitCode, log: await taskLogText(stack.server, t.taskArn!) };
}

test('a file written by one task is read by the next after the first stopped, and again after a server restart (kill -9)', async () => {
  const token = `hello-${process.pid}-${Date.now()}`;
  const w = await runScript('efs-writer', `mkdir -p /mnt/efs/dir && echo ${token} > /mnt/efs/dir/f && echo wrote`);
  assert.equal(w.exitCode, 0, w.log + w.task.stoppedReason);
  const r = await runScript('efs-reader', 'cat /mnt/efs/dir/f');
  assert.equal(r.exitCode, 0, r.log);
  assert.match(r.log, new RegExp(token));
  // rootDirectory: the same file, one level down.
  const sub = await runScript('efs-subdir', 'cat /mnt/efs/f', [efsVolume('data', { fileSystemId: fsId, rootDirectory: '/dir' })]);
  assert.match(sub.log, new RegExp(token));
  await stack.server.stop('SIGKILL');
  await stack.server.start();
  const again = await runScript('efs-reader', 'cat /mnt/efs/dir/f');
  assert.match(again.log, new RegExp(token), 'still there after the restart');
});

test('two running tasks see each other\'s writes', async () => {
  const dir = `/mnt/efs/pair-${Date.now()}`;
  await registerFamily(stack.ecs, 'efs-pair-a', [box('main', `mkdir -p ${dir}; echo from-a > ${dir}/a; i=0; while [ ! -f ${dir}/b ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; cat ${dir}/b`)], { volumes: [efsVolume('data')] });
  await registerFamily(stack.ecs, 'efs-pair-b', [box('main', `i=0; while [ ! -f ${dir}/a ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; cat ${dir}/a; echo from-b > ${dir}/b`)], { volumes: [efsVolume('data')] });
  const [a, b] = await Promise.all([runOne(stack.ecs, 'efs-pair-a'), runOne(stack.ecs, 'efs-pair-b')]);
  const [sa, sb] = await Promise.all([waitTaskStatus(stack.ecs, a.taskArn!, 'STOPPED', 120_000), waitTaskStatus(stack.ecs, b.taskArn!, 'STOPPED', 120_000)]);
  assert.equal(sa.containers![0].exitCode, 0);
  assert.equal(sb.containers![0].exitCode, 0);
  assert.match(await taskLogText(stack.server, a.taskArn!), /from-b/);
  assert.match(await taskLogText(stack.server, b.taskArn!), /from-a/);
});

test('a readOnly mount point is read-only (the same file system stays writable elsewhere)', async () => {
  const ro = await runScript('efs-ro', 'cat /mnt/efs/dir/f >/dev/null && touch /mnt/efs/ro-probe 2>&1; echo rc=$?', [efsVolume('data')], { mountPoints: [{ sourceVolume: 'data', containerPath: '/mnt/efs', readOnly: true }] });
  assert.match(ro.log, /Read-only file system/);
  assert.match(ro.log, /rc=1/);
  const rw = await runScript('efs-rw', 'touch /mnt/efs/rw-probe; echo rc=$?');
  assert.match(rw.log, /rc=0/);
});

test('an access point: its root directory is made with CreationInfo, and its POSIX user owns what a root task creates', async () => {
  const ap = await efs.send(
    new CreateAccessPointCommand({
      FileSystemId: fsId,
      PosixUser: { Uid: 1000, Gid: 1001 },
      RootDirectory: { Path: '/apps/one', CreationInfo: { OwnerUid: 1000, OwnerGid: 1001, Permissions: '750' } },
    }),
  );
  const cfg = { fileSystemId: fsId, transitEncryption: 'ENABLED' as const, authorizationConfig: { accessPointId: ap.AccessPointId! } };
  const r = await runScript('efs-ap', 'id -u; echo x > /mnt/efs/made && stat -c "%u:%g %a" /mnt/efs/made /mnt/efs; ls /mnt/efs', [efsVolume('data', cfg)]);
  assert.equal(r.exitCode, 0, r.log + r.task.stoppedReason);
  assert.match(r.log, /^0$/m, 'the task runs as root');
  assert.match(r.log, /^1000:1001 \d+$/m, 'the file it made belongs to the POSIX user');
  assert.match(r.log, /^1000:1001 750$/m, 'the root directory has CreationInfo owner and permissions');
  const onHost = join(stack.server.dataDir, 'efs', fsId, 'apps', 'one');
  assert.equal(statSync(join(onHost, 'made')).uid, USERNS_BASE + 1000, 'stored with the ids shifted into the task user namespace');
  assert.equal(statSync(onHost).mode & 0o777, 0o750);
  // Through the file system's root, the access point's directory is /apps/one.
  const plain = await runScript('efs-ap-root', 'stat -c "%u:%g" /mnt/efs/apps/one/made');
  assert.match(plain.log, /^1000:1001$/m);
  // While a task runs, its bindfs lives in a cgroup of its own (out of the server's, like conmon); it is gone when the task stopped.
  await registerFamily(stack.ecs, 'efs-ap-long', [box('main', 'sleep 600', undefined, { stopTimeout: 2 })], { volumes: [efsVolume('data', cfg)] });
  const long = await runOne(stack.ecs, 'efs-ap-long');
  await waitTaskStatus(stack.ecs, long.taskArn!, 'RUNNING', 60_000);
  const mountDir = join(stack.server.dataDir, 'efs-mounts', long.taskArn!.split('/').pop()!, 'data');
  const pid = spawnSync('pgrep', ['-f', `bindfs .*${mountDir}`], { encoding: 'utf8' }).stdout.trim();
  assert.match(pid, /^\d+$/, 'one bindfs for the task');
  assert.match(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(`/${stack.server.prefix}/\\.conmon/bindfs-[0-9a-f]{32}$`, 'm'));
  // A server restart (kill -9) leaves the task's mount to it.
  await stack.server.stop('SIGKILL');
  await stack.server.start();
  assert.ok(existsSync(`/proc/${pid}`), 'bindfs outlived the server');
  assert.ok(readFileSync('/proc/self/mountinfo', 'utf8').includes(mountDir), 'the mount is still there');
  await stack.ecs.send(new StopTaskCommand({ task: long.taskArn! }));
  await waitTaskStatus(stack.ecs, long.taskArn!, 'STOPPED', 60_000);
  await waitFor('bindfs to exit', async () => !existsSync(`/proc/${pid}`), 10_000);
  assert.ok(!existsSync(mountDir), 'its mount point is gone');
  assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(mountDir));
  // Another file system's access point: the start fails as the EFS mount helper fails it.
  const other = (await efs.send(new CreateFileSystemCommand({ CreationToken: 'e2e-other' }))).FileSystemId!;
  const bad = await runScript('efs-ap-other', 'true', [efsVolume('data', { ...cfg, fileSystemId: other })]);
  assert.equal(bad.task.stopCode, 'TaskFailedToStart');
  assert.match(bad.task.stoppedReason!, /^ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: .*belongs to file system/);
  await efs.send(new DeleteFileSystemCommand({ FileSystemId: other }));
});

test('an unknown file system fails the start with ECS\'s reason', async () => {
  const bad = await runScript('efs-unknown', 'true', [efsVolume('data', { fileSystemId: 'fs-00000000000000000' })]);
  assert.equal(bad.task.stopCode, 'TaskFailedToStart');
  assert.match(bad.task.stoppedReason!, /^ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: Failed to resolve "fs-00000000000000000/);
});

test('iam ENABLED: no ClientMount refuses the mount, ClientMount without ClientWrite mounts read-only', async () => {
  const iam = new IAMClient({ endpoint: stack.server.endpoint, region: 'us-east-1', credentials: TEST_ROOT_KEY, maxAttempts: 1 });
  const fsArn = `arn:aws:elasticfilesystem:us-east-1:${ACCOUNT}:file-system/${fsId}`;
  const role = async (name: string, actions: string[]) => {
    const arn = (await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: TRUST }))).Role!.Arn!;
    const Statement = [{ Effect: 'Allow', Action: actions.length ? actions : ['ecs:ListClusters'], Resource: actions.length ? fsArn : '*' }];
    await iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: 'efs', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement }) }));
    return arn;
  };
  try {
    const cfg = { fileSystemId: fsId, transitEncryption: 'ENABLED' as const, authorizationConfig: { iam: 'ENABLED' as const } };
    const none = await runScript('efs-iam-none', 'true', [efsVolume('data', cfg)], { taskRoleArn: await role('efs-none', []) });
    assert.equal(none.task.stopCode, 'TaskFailedToStart');
    assert.match(none.task.stoppedReason!, /ResourceInitializationError: failed to invoke EFS utils commands.*access denied.*elasticfilesystem:ClientMount/);
    const ro = await runScript('efs-iam-ro', 'cat /mnt/efs/dir/f; touch /mnt/efs/iam-probe 2>&1; echo rc=$?', [efsVolume('data', cfg)], { taskRoleArn: await role('efs-ro', ['elasticfilesystem:ClientMount']) });
    assert.match(ro.log, /hello-/);
    assert.match(ro.log, /Read-only file system/);
    const rw = await runScript('efs-iam-rw', 'touch /mnt/efs/iam-probe; echo rc=$?', [efsVolume('data', cfg)], { taskRoleArn: await role('efs-rw', ['elasticfilesystem:ClientMount', 'elasticfilesystem:ClientWrite']) });
    assert.match(rw.log, /rc=0/);
  } finally {
    iam.destroy();
  }
});

test('DeleteFileSystem is refused while a running task mounts it, and works once it stopped (AWS CLI)', async () => {
  const cli = (...args: string[]) => spawnSync('aws', ['efs', ...args, '--endpoint-url', stack.server.endpoint, '--output', 'json'], { env: stack.server.clientEnv(), encoding: 'utf8', timeout: 60_000 });
  const made = cli('create-file-system', '--creation-token', `cli-${Date.now()}`, '--tags', 'Key=Name,Value=cli');
  assert.equal(made.status, 0, made.stderr);
  const id = JSON.parse(made.stdout).FileSystemId as string;
  const described = cli('describe-file-systems', '--file-system-id', id);
  assert.equal(described.status, 0, described.stderr);
  assert.equal(JSON.parse(described.stdout).FileSystems[0].Name, 'cli');
  await registerFamily(stack.ecs, 'efs-busy', [box('main', 'sleep 600', undefined, { stopTimeout: 2 })], { volumes: [efsVolume('data', { fileSystemId: id })] });
  const t = await runOne(stack.ecs, 'efs-busy');
  await waitTaskStatus(stack.ecs, t.taskArn!, 'RUNNING', 60_000);
  await rejectsWith(efs.send(new DeleteFileSystemCommand({ FileSystemId: id })), 'FileSystemInUse', /mounted by 1 task/);
  const refused = cli('delete-file-system', '--file-system-id', id);
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /FileSystemInUse/);
  await stack.ecs.send(new StopTaskCommand({ task: t.taskArn! }));
  await waitTaskStatus(stack.ecs, t.taskArn!, 'STOPPED', 60_000);
  const deleted = cli('delete-file-system', '--file-system-id', id);
  assert.equal(deleted.status, 0, deleted.stderr);
  await rejectsWith(efs.send(new DescribeFileSystemsCommand({ FileSystemId: id })), 'FileSystemNotFound');
  // Signed for another service (ecs): refused as AWS refuses it.
  const wrong = await stack.server.fetch('/2015-02-01/file-systems');
  assert.equal(wrong.status, 403);
  assert.match(await wrong.text(), /Credential should be scoped to correct service: 'elasticfilesystem'/);
});
