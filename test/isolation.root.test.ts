/**
 * Isolation per task, end to end: one server (default runc) runs a task
 * definition tagged `skiff:isolation=gvisor` in a gVisor sandbox, which does not
 * see the host's kernel: `uname -r` and /proc/version differ from the host's
 * (a runc task's equal them), and the kernel calls a container could aim at the
 * host (add_key/keyctl, bpf, perf_event_open) are answered by gVisor's Sentry,
 * never by the host kernel: a key the probe makes (visible to every user) never
 * shows in the host's /proc/keys, while the same probe run on the host does.
 * The choice shows in DescribeTasks (skiff.isolation, skiff.isolationPlatform),
 * and the most specific choice wins (task definition tag over cluster tag over
 * the server's default).
 * Needs root, runc, runsc, conmon and gcc.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateClusterCommand, DeleteClusterCommand, StopTaskCommand, type Task } from '@aws-sdk/client-ecs';
import { buildImage, busyboxImageFiles, pushImage } from '../src/images/oci-build.ts';
import { TestServer, waitFor } from './support/skiff-server.ts';
import { startRegistry, type TestRegistry } from './support/registry.ts';
import { buildProbes } from './support/probes.ts';
import { describeTask, registerFamily, runOne, taskLogText, waitTaskStatus } from './support/tasks.ts';

const skip = process.getuid?.() !== 0 ? 'needs root' : !existsSync('/usr/bin/runsc') ? 'needs runsc (apt-get install runsc)' : false;

let server: TestServer;
let registry: TestRegistry;
let image: string;
let probe: Buffer;
let n = 0;

before(async () => {
  if (skip) return;
  registry = await startRegistry({ auth: 'none' });
  probe = buildProbes()['probe-kernel'];
  image = `${registry.host}/test/kernel-probe:1`;
  await pushImage(await buildImage({ files: [...busyboxImageFiles(), { path: '/bin/probe-kernel', content: probe, mode: 0o755 }], config: { cmd: ['sh'] } }), image, { credentials: registry.credentials });
  server = new TestServer();
  await server.start();
});
after(async () => {
  await server?.destroy();
  await registry?.stop();
});

const attr = (t: Task, name: string) => t.attributes?.find((a) => a.name === name)?.value;

async function runScript(script: string, isolation?: string, cluster?: string): Promise<{ task: Task; logs: string }> {
  const family = `iso-${++n}`;
  const tags = isolation ? [{ key: 'skiff:isolation', value: isolation }] : undefined;
  const ecs = server.ecs();
  await registerFamily(ecs, family, [{ name: 'app', image, essential: true, command: ['sh', '-c', script] }], tags ? { tags } : {});
  const started = await runOne(ecs, family, cluster ? { cluster } : {});
  const task = await waitFor(
    'the task STOPPED',
    async () => {
      const t = await describeTask(ecs, started.taskArn!, cluster);
      return t?.lastStatus === 'STOPPED' ? t : undefined;
    },
    90_000,
  );
  return { task, logs: await taskLogText(server, task.taskArn!) };
}

test('a gvisor task has a kernel of its own: uname -r and /proc/version differ from the host (a runc task sees the host\'s)', { skip }, async () => {
  const hostRelease = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  const hostVersion = readFileSync('/proc/version', 'utf8').trim();
  const script = 'echo "release=$(uname -r)"; echo "version=$(cat /proc/version)"';
  const [gv, rc] = await Promise.all([runScript(script, 'gvisor'), runScript(script)]);
  assert.equal(gv.task.containers?.[0]?.exitCode, 0, gv.logs);
  assert.equal(attr(gv.task, 'skiff.isolation'), 'gvisor');
  assert.match(attr(gv.task, 'skiff.isolationPlatform') ?? '', /^(ptrace|kvm)$/);
  const gvRelease = /release=(.*)/.exec(gv.logs)?.[1];
  const gvVersion = /version=(.*)/.exec(gv.logs)?.[1];
  assert.ok(gvRelease && gvVersion, gv.logs);
  assert.notEqual(gvRelease, hostRelease);
  assert.notEqual(gvVersion, hostVersion);
  assert.equal(attr(rc.task, 'skiff.isolation'), 'runc');
  assert.equal(/release=(.*)/.exec(rc.logs)?.[1], hostRelease);
  assert.equal(/version=(.*)/.exec(rc.logs)?.[1], hostVersion);
});

test('add_key/keyctl, bpf and perf_event_open inside a gvisor task never reach the host kernel', { skip }, async () => {
  // The control: the same probe on the host makes a key the host's /proc/keys shows (so the check below can see one).
  const dir = mkdtempSync(join(tmpdir(), 'skiff-kprobe-'));
  try {
    const bin = join(dir, 'probe-kernel');
    writeFileSync(bin, probe, { mode: 0o755 });
    const hostDesc = `skiff-host-${randomBytes(4).toString('hex')}`;
    const out = execFileSync(bin, [hostDesc, '0'], { encoding: 'utf8' });
    // The key lives in the probe's process keyring: gone with the probe, so look while a second copy sleeps.
    const sleeper = execFileSync('sh', ['-c', `${bin} ${hostDesc} 3 >/dev/null & sleep 0.5; grep -c ${hostDesc} /proc/keys || true; wait`], { encoding: 'utf8' });
    assert.match(out, /add_key=\d+ errno=0/, `the host kernel makes keys: ${out}`);
    assert.equal(sleeper.trim(), '1', 'a key made on the host shows in /proc/keys');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const desc = `skiff-gvisor-${randomBytes(4).toString('hex')}`;
  const family = `iso-${++n}`;
  const ecs = server.ecs();
  await registerFamily(ecs, family, [{ name: 'app', image, essential: true, command: ['probe-kernel', desc, '30'] }], { tags: [{ key: 'skiff:isolation', value: 'gvisor' }] });
  const arn = (await runOne(ecs, family)).taskArn!;
  const line = await waitFor('the probe ran', async () => /kernel-probe .*/.exec(await taskLogText(server, arn))?.[0], 60_000);
  // While the probe (and whatever key it made) lives, the host kernel knows nothing of it.
  assert.ok(!readFileSync('/proc/keys', 'utf8').includes(desc), 'the key is not in the host kernel');
  const m = /add_key=(-?\d+) errno=(\d+) bpf=(-?\d+) errno=(\d+) perf=(-?\d+) errno=(\d+)/.exec(line)!;
  assert.ok(m, line);
  // The Sentry does not implement BPF or perf events for applications: both fail inside, from gVisor.
  assert.equal(Number(m[3]), -1, line);
  assert.equal(Number(m[5]), -1, line);
  await ecs.send(new StopTaskCommand({ task: arn }));
  await waitTaskStatus(ecs, arn, 'STOPPED', 60_000);
});

test('the most specific choice wins: task definition tag over cluster tag over the server default', { skip }, async () => {
  const ecs = server.ecs();
  const cluster = `iso-c-${randomBytes(3).toString('hex')}`;
  await ecs.send(new CreateClusterCommand({ clusterName: cluster, tags: [{ key: 'skiff:isolation', value: 'gvisor' }] }));
  try {
    const fromCluster = await runScript('uname -r', undefined, cluster);
    assert.equal(attr(fromCluster.task, 'skiff.isolation'), 'gvisor');
    assert.notEqual(fromCluster.logs.trim(), readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim());
    const fromDefinition = await runScript('uname -r', 'runc', cluster);
    assert.equal(attr(fromDefinition.task, 'skiff.isolation'), 'runc');
    assert.equal(fromDefinition.logs.trim(), readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim());
  } finally {
    await ecs.send(new DeleteClusterCommand({ cluster })).catch(() => {});
  }
});

