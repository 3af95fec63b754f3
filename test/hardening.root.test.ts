/**
 * Hardened containers, end to end through the ECS API: a user namespace (container
 * root is host uid 100000), Docker's default capabilities (no NET_RAW), seccomp
 * built after the final capability set (SYS_PTRACE opens ptrace), no_new_privileges,
 * readonlyRootFilesystem, user, ulimits, initProcessEnabled — and known breakout
 * patterns failing with the host unchanged.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeTasksCommand, RunTaskCommand, StopTaskCommand, type ContainerDefinition, type Task } from '@aws-sdk/client-ecs';
import { buildImage, busyboxImageFiles, pushImage, type ImageFile } from '../src/images/oci-build.ts';
import { TestServer, waitFor } from './support/skiff-server.ts';
import { startRegistry, type TestRegistry } from './support/registry.ts';
import { buildProbes } from './support/probes.ts';
import { registerFamily, runUntilStopped, taskLogText } from './support/tasks.ts';

let server: TestServer;
let registry: TestRegistry;
let image: string;
let workdirImage: string;
const SENTINEL = `/tmp/skiff-hardening-sentinel-${process.pid}`;
let family = 0;

before(async () => {
  registry = await startRegistry({ auth: 'none' });
  const probes = buildProbes();
  const files: ImageFile[] = [
    ...busyboxImageFiles(),
    { path: '/bin/probe-setuid', content: probes['probe-setuid'], mode: 0o4755, uid: 0, gid: 0 },
    { path: '/bin/probe-ptrace', content: probes['probe-ptrace'], mode: 0o755 },
    { path: '/bin/probe-rawsock', content: probes['probe-rawsock'], mode: 0o755 },
    { path: '/bin/probe-mknod', content: probes['probe-mknod'], mode: 0o755 },
    // CVE-2025-31133 shape: the image plants /dev/null as a symlink to a host-sensitive procfs file.
    { path: '/dev/null', type: 'symlink', target: '/proc/sys/kernel/core_pattern' },
    { path: '/etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' },
  ];
  const byPath = new Map<string, ImageFile>();
  for (const f of files) byPath.set(f.path, f);
  image = `${registry.host}/test/hardened:1`;
  await pushImage(await buildImage({ files: [...byPath.values()], config: { cmd: ['sh'] } }), image, { credentials: registry.credentials });
  // CVE-2024-21626 shape: a working directory that would be a leaked host fd.
  workdirImage = `${registry.host}/test/workdir-fd:1`;
  await pushImage(await buildImage({ files: busyboxImageFiles(), config: { cmd: ['sh'], workingDir: '/proc/self/fd/7' } }), workdirImage, { credentials: registry.credentials });
  writeFileSync(SENTINEL, 'original');
  server = new TestServer();
  await server.start();
});
after(async () => {
  await server?.destroy();
  await registry?.stop();
  rmSync(SENTINEL, { force: true });
});

async function runTask(def: Partial<ContainerDefinition> & { command: string[] }, img = image): Promise<{ task: Task; logs: string }> {
  const task = await runUntilStopped(server.ecs(), `hard-${family++}`, [{ name: 'app', image: img, essential: true, ...def }]);
  return { task, logs: await taskLogText(server, task.taskArn!) };
}

const sh = (script: string) => ({ command: ['sh', '-c', script] });

test('container root is root inside, uid 100000 on the host, with Docker\'s capabilities (no NET_RAW), seccomp and no_new_privileges', async () => {
  const ecs = server.ecs();
  await registerFamily(ecs, 'hard-sleeper', [{ name: 'app', image, essential: true, command: ['sh', '-c', 'id; grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status; cat /proc/self/uid_map; sleep 60'] }]);
  const arn = (await ecs.send(new RunTaskCommand({ taskDefinition: 'hard-sleeper' }))).tasks![0].taskArn!;
  const taskId = arn.split('/').pop()!;
  const procs = join('/sys/fs/cgroup/pids', server.prefix, taskId, 'app', 'cgroup.procs');
  // The cgroup first holds runc's own init (runc:[…], still host root): wait for the container's process.
  const containerStatus = () => {
    const pid = existsSync(procs) ? readFileSync(procs, 'utf8').trim().split('\n')[0] : '';
    if (!pid) return undefined;
    try {
      const st = readFileSync(`/proc/${pid}/status`, 'utf8');
      return /^Name:\s+runc/m.test(st) ? undefined : { pid, st };
    } catch {
      return undefined; // it exec'd or exited between the two reads
    }
  };
  const { st: status } = await waitFor('the container process', async () => containerStatus());
  assert.match(status, /^Uid:\s+100000\s+100000\s+100000\s+100000$/m, 'the process runs as host uid 100000');
  assert.match(status, /^Gid:\s+100000\s+100000\s+100000\s+100000$/m);
  const logs = await waitFor('the output', async () => {
    const text = await taskLogText(server, arn);
    return /\d+\s+100000\s+65536/.test(text) ? text : undefined;
  });
  assert.match(logs, /uid=0\(root\) gid=0\(root\)/, 'root inside');
  assert.match(logs, /CapEff:\t00000000a80405fb/, "Docker's default set: no NET_RAW (bit 13), no SYS_ADMIN");
  assert.match(logs, /NoNewPrivs:\t1/);
  assert.match(logs, /Seccomp:\t2/, 'a seccomp filter is loaded');
  assert.match(logs, /0\s+100000\s+65536/, 'uid_map: 0 → 100000, 65536 ids');
  await ecs.send(new StopTaskCommand({ task: arn }));
});

test('no NET_RAW: a raw socket (ping) is refused; mknod of a disk is refused', async () => {
  const { logs } = await runTask(sh('probe-rawsock; probe-mknod; ping -c 1 -W 1 127.0.0.1 >/dev/null 2>&1 && echo ping=ok || echo ping=refused'));
  assert.match(logs, /rawsock-probe fd=-1 errno=1\b/, 'EPERM');
  assert.match(logs, /mknod-probe r=-1 errno=1\b/, 'EPERM');
  assert.match(logs, /ping=refused/);
});

test('ptrace is closed by default and opened by adding SYS_PTRACE (the seccomp profile follows the capabilities)', async () => {
  const closed = await runTask(sh('probe-ptrace'));
  assert.match(closed.logs, /ptrace-probe attach=-1 errno=1\b/);
  const open = await runTask({ ...sh('probe-ptrace; grep CapEff /proc/self/status'), linuxParameters: { capabilities: { add: ['SYS_PTRACE'] } } });
  assert.match(open.logs, /ptrace-probe attach=0 errno=0/);
  assert.match(open.logs, /CapEff:\t00000000a80c05fb/, 'SYS_PTRACE (bit 19) added to the default set');
});

test('capabilities can be dropped; adding anything but SYS_PTRACE is refused at registration', async () => {
  const { logs } = await runTask({ ...sh('grep CapEff /proc/self/status; chown 1000 /tmp && echo chown=ok || echo chown=refused'), linuxParameters: { capabilities: { drop: ['ALL'] } } });
  assert.match(logs, /CapEff:\t0000000000000000/);
  assert.match(logs, /chown=refused/);
  await assert.rejects(registerFamily(server.ecs(), 'hard-bad-cap', [{ name: 'app', image, linuxParameters: { capabilities: { add: ['SYS_ADMIN'] } } }]), /SYS_PTRACE/);
});

test('a setuid-root binary stays unprivileged for a non-root user (no_new_privileges); user runs without capabilities', async () => {
  const { logs } = await runTask({ ...sh('id; probe-setuid; grep CapEff /proc/self/status'), user: '1000:1000' });
  assert.match(logs, /uid=1000\(app\) gid=1000/);
  assert.match(logs, /setuid-probe ruid=1000 euid=1000 setuid0=-1 errno=1\b/, 'euid stays 1000');
  assert.match(logs, /CapEff:\t0000000000000000/);
});

test('readonlyRootFilesystem, ulimits and initProcessEnabled work as in ECS', async () => {
  const ro = await runTask({ ...sh('touch /newfile && echo write=ok || echo write=refused'), readonlyRootFilesystem: true });
  assert.match(ro.logs, /write=refused/);
  const ul = await runTask({ ...sh('echo soft=$(ulimit -n) hard=$(ulimit -Hn)'), ulimits: [{ name: 'nofile', softLimit: 1024, hardLimit: 2048 }] });
  assert.match(ul.logs, /soft=1024 hard=2048/);
  const init = await runTask({ ...sh('echo pid1=$(cat /proc/1/cmdline | tr "\\0" " "); echo me=$$'), linuxParameters: { initProcessEnabled: true } });
  assert.match(init.logs, /pid1=\/sbin\/docker-init -- sh -c/, 'tini is PID 1');
  assert.doesNotMatch(init.logs, /me=1$/m, 'the command is not PID 1');
  assert.equal(init.task.containers![0].exitCode, 0);
  const noInit = await runTask(sh('echo me=$$'));
  assert.match(noInit.logs, /me=1$/m);
});

test('breakout patterns fail with the host unchanged: /proc/self/root, /proc/self/exe, a planted /dev/null symlink, WORKDIR under /proc/self/fd', async () => {
  const corePattern = readFileSync('/proc/sys/kernel/core_pattern', 'utf8');
  const runcHash = createHash('sha256').update(readFileSync('/usr/sbin/runc')).digest('hex');
  const { logs } = await runTask(
    sh(
      [
        `echo pwned > /proc/self/root${SENTINEL} 2>/dev/null; echo pwned > /proc/1/root/../../..${SENTINEL} 2>/dev/null; echo pwned > /proc/1/cwd/../../..${SENTINEL} 2>/dev/null`,
        'for p in /proc/[0-9]*; do echo x 2>/dev/null > $p/exe && echo exe-written=$p; done',
        'echo "|/tmp/pwn" > /proc/sys/kernel/core_pattern 2>/dev/null && echo core=written || echo core=refused',
        'echo x > /dev/null && echo devnull=ok; ls -l /dev/null',
        'head -c 16 /proc/kcore 2>/dev/null | wc -c',
        'echo done',
      ].join('; '),
    ),
  );
  assert.match(logs, /done/);
  assert.match(logs, /^0$/m, '/proc/kcore gives nothing (masked)');
  assert.doesNotMatch(logs, /exe-written/);
  assert.match(logs, /core=refused/);
  assert.match(logs, /devnull=ok/, "/dev/null is the runtime's character device, not the image's symlink");
  assert.match(logs, /crw-rw-rw-\s+1\s+\S+\s+\S+\s+1,\s+3 .*\/dev\/null/);
  assert.equal(readFileSync(SENTINEL, 'utf8'), 'original', 'the host file is unchanged');
  assert.equal(readFileSync('/proc/sys/kernel/core_pattern', 'utf8'), corePattern, 'core_pattern unchanged');
  assert.equal(createHash('sha256').update(readFileSync('/usr/sbin/runc')).digest('hex'), runcHash, 'runc unchanged');

  // WORKDIR /proc/self/fd/7 (CVE-2024-21626): the task either refuses to start or runs
  // somewhere harmless; either way writing "up" from it reaches nothing on the host.
  const before = readdirSync('/tmp').sort();
  const wd = await runTask(sh(`pwd; echo pwned > ../../../../../../..${SENTINEL}.wd 2>/dev/null; echo wd-done`), workdirImage);
  assert.equal(existsSync(`${SENTINEL}.wd`), false, 'nothing written on the host');
  // runc (with the CVE-2024-21626 fix) refuses to use a working directory under /proc/self/fd.
  assert.equal(wd.task.stopCode, 'TaskFailedToStart');
  assert.match(wd.task.stoppedReason ?? '', /^CannotCreateContainerError: .*\/proc\/self\/fd\/7: not a directory/, 'refused for its working directory');
  assert.doesNotMatch(wd.logs, /wd-done/, 'nothing of it ran');
  assert.deepEqual(readdirSync('/tmp').sort().filter((f) => f.startsWith('skiff-hardening')), before.filter((f) => f.startsWith('skiff-hardening')));
});

test("a health check's host-side helpers (setpriv, nsenter run as host root) never get the definition's loader variables", async () => {
  const ecs = server.ecs();
  // With LD_PRELOAD passed through, host root would load a library named by the tenant. The
  // check passes only if the variable did not travel with it into the container either.
  await registerFamily(ecs, 'hard-loader', [
    {
      name: 'app',
      image,
      essential: true,
      command: ['sleep', '60'],
      environment: [{ name: 'LD_PRELOAD', value: '/proc/self/root/tmp/evil.so' }, { name: 'GCONV_PATH', value: '/tmp' }, { name: 'KEEP', value: 'yes' }],
      healthCheck: { command: ['CMD-SHELL', '[ -z "$LD_PRELOAD" ] && [ -z "$GCONV_PATH" ] && [ "$KEEP" = yes ]'], interval: 5, timeout: 2, retries: 1 },
    },
  ]);
  const arn = (await ecs.send(new RunTaskCommand({ taskDefinition: 'hard-loader' }))).tasks![0].taskArn!;
  try {
    const health = await waitFor('a health verdict', async () => {
      const t = (await ecs.send(new DescribeTasksCommand({ tasks: [arn] }))).tasks![0];
      return t.healthStatus === 'HEALTHY' || t.healthStatus === 'UNHEALTHY' ? t.healthStatus : undefined;
    });
    assert.equal(health, 'HEALTHY', 'no loader variable reached the check, the rest of the environment did');
  } finally {
    await ecs.send(new StopTaskCommand({ task: arn }));
  }
});
