/**
 * Real tasks, end to end: a real registry on loopback, an image built by the test
 * from Debian's static busybox, a real `skiff server`, real runc containers and
 * namespaces, driven through @aws-sdk/client-ecs. With SKIFF_ISOLATION=gvisor
 * (npm run test:sandboxes) the same cases run in gVisor sandboxes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  RunTaskCommand,
  DescribeTasksCommand,
  ListTasksCommand,
  StopTaskCommand,
  DeleteClusterCommand,
  CreateClusterCommand,
  type ECSClient,
  type ContainerDefinition,
  type Task,
} from '@aws-sdk/client-ecs';
import { waitFor, type TestServer } from './support/skiff-server.ts';
import type { TestRegistry } from './support/registry.ts';
import { startBusyboxStack, type BusyboxStack } from './support/stack.ts';
import { buildImage, busyboxImageFiles, pushImage } from '../src/images/oci-build.ts';
import { ISOLATION, SANDBOXED, slack } from './support/runtimes.ts';
import { describeTask, ipOf, registerFamily, runOne as runOneOf, taskLogText, tcpRead, waitTaskStatus } from './support/tasks.ts';

let stack: BusyboxStack;
let server: TestServer;
let registry: TestRegistry;
let ecs: ECSClient;
let image: string;

before(async () => {
  stack = await startBusyboxStack('test/busybox:1');
  ({ server, registry, ecs, image } = stack);
});
after(() => stack?.stop());

let families = 0;
async function register(containers: ContainerDefinition[], size = { cpu: '256', memory: '512' }): Promise<string> {
  const family = `f${++families}`;
  // PID 1 ignores SIGTERM unless it handles it: keep the SIGKILL wait short in tests.
  await registerFamily(ecs, family, containers.map((c) => ({ image, stopTimeout: 2, ...c })), size);
  return family;
}

const describe = (arn: string) => describeTask(ecs, arn);

const runOne = (family: string, extra: Record<string, unknown> = {}): Promise<Task> => runOneOf(ecs, family, extra);

const waitStatus = (arn: string, status: string, timeoutMs = 30_000) => waitTaskStatus(ecs, arn, status, timeoutMs);

const logsOf = (arn: string): Promise<string> => taskLogText(server, arn);

test('a task runs through every state with its own IP, timestamps, output and bill', async () => {
  const family = await register([{ name: 'main', command: ['sh', '-c', 'echo hello from $(hostname); echo oops >&2; sleep 1; exit 0'] }]);
  const started = await runOne(family);
  // The first sandboxed task also waits for the runtime's platform probe (gVisor: kvm, up to 4 s): allow it more under load.
  const running = await waitStatus(started.taskArn!, 'RUNNING', slack(30_000, 60_000));
  const ip = ipOf(running)!;
  assert.ok(ip.startsWith(server.vpcCidr.split('.').slice(0, 2).join('.') + '.'), `IP ${ip} in ${server.vpcCidr}`);
  const details = Object.fromEntries(running.attachments![0].details!.map((d) => [d.name, d.value]));
  assert.match(details.macAddress!, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  assert.match(details.subnetId!, /^subnet-/);
  assert.equal(running.containers?.[0]?.networkInterfaces?.[0]?.privateIpv4Address, ip);

  const stopped = await waitStatus(started.taskArn!, 'STOPPED');
  assert.equal(stopped.stopCode, 'EssentialContainerExited');
  assert.equal(stopped.stoppedReason, 'Essential container in task exited');
  assert.equal(stopped.containers?.[0]?.exitCode, 0);
  const order = ['createdAt', 'pullStartedAt', 'pullStoppedAt', 'startedAt', 'stoppingAt', 'executionStoppedAt', 'stoppedAt'] as const;
  for (let i = 1; i < order.length; i++) {
    assert.ok(stopped[order[i]] instanceof Date, `${order[i]} is set`);
    assert.ok(stopped[order[i]]!.getTime() >= stopped[order[i - 1]]!.getTime(), `${order[i - 1]} <= ${order[i]}`);
  }
  assert.ok(stopped.connectivityAt instanceof Date);
  const attrs = Object.fromEntries(stopped.attributes!.map((a) => [a.name, a.value]));
  assert.equal(attrs['skiff.billedSeconds'], '60', 'a short task is billed the one-minute minimum');
  // 60 s of 0.25 vCPU and 0.5 GB at 0.04048 / 0.004445 per hour.
  assert.equal(Number(attrs['skiff.costUSD']).toFixed(12), ((0.25 * 0.04048 + 0.5 * 0.004445) / 60).toFixed(12));

  const logs = await logsOf(started.taskArn!);
  assert.match(logs, new RegExp(`hello from ip-${ip.replaceAll('.', '-')}`));
  assert.match(logs, /oops/);
  const cli = execFileSync(process.execPath, [resolve('bin/skiff.js'), '--endpoint', server.endpoint, '--output', 'json', 'logs', started.taskArn!], {
    encoding: 'utf8',
    env: server.clientEnv(),
  });
  assert.ok(cli.split('\n').filter(Boolean).some((l) => JSON.parse(l).stream === 'stderr' && JSON.parse(l).message === 'oops'));
});

test('two tasks have distinct IPs and talk TCP to each other; the host reaches them too', async (t) => {
  const family = await register([{ name: 'srv', command: ['sh', '-c', 'while true; do echo pong | nc -l -p 8080; done'] }]);
  const a = await waitStatus((await runOne(family)).taskArn!, 'RUNNING');
  t.after(async () => {
    await ecs.send(new StopTaskCommand({ task: a.taskArn }));
    await waitStatus(a.taskArn!, 'STOPPED');
  });
  const clientFamily = await register([
    { name: 'cli', command: ['sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do nc -w 2 $PEER 8080 && exit 0; sleep 0.2; done; exit 1'] },
  ]);
  const b = await runOne(clientFamily, {
    overrides: { containerOverrides: [{ name: 'cli', environment: [{ name: 'PEER', value: ipOf(a) }] }] },
  });
  assert.notEqual(ipOf(a), ipOf(b));
  const bStopped = await waitStatus(b.taskArn!, 'STOPPED');
  assert.equal(bStopped.containers?.[0]?.exitCode, 0, await logsOf(b.taskArn!));
  assert.match(await logsOf(b.taskArn!), /pong/);

  const fromHost = await tcpRead(ipOf(a)!, 8080);
  assert.equal(fromHost.trim(), 'pong');
});

test("containers of one task share localhost; a non-essential container's exit leaves the task running", async () => {
  const family = await register([
    { name: 'web', command: ['sh', '-c', 'while true; do echo local-hello | nc -l -p 9000; done'] },
    { name: 'probe', essential: false, command: ['sh', '-c', 'sleep 0.3; nc -w 2 127.0.0.1 9000; exit 3'], dependsOn: [{ containerName: 'web', condition: 'START' }] },
  ]);
  const t = await runOne(family);
  const probeDone = await waitFor('probe exit', async () => {
    const d = await describe(t.taskArn!);
    return d.containers?.find((c) => c.name === 'probe')?.lastStatus === 'STOPPED' ? d : undefined;
  });
  assert.equal(probeDone.containers?.find((c) => c.name === 'probe')?.exitCode, 3);
  assert.match(await logsOf(t.taskArn!), /local-hello/);
  await new Promise((r) => setTimeout(r, 500));
  const still = await describe(t.taskArn!);
  assert.equal(still.lastStatus, 'RUNNING');
  assert.equal(still.containers?.find((c) => c.name === 'web')?.lastStatus, 'RUNNING');
  await ecs.send(new StopTaskCommand({ task: t.taskArn, reason: 'test over' }));
  const stopped = await waitStatus(t.taskArn!, 'STOPPED');
  assert.equal(stopped.stopCode, 'UserInitiated');
  assert.equal(stopped.stoppedReason, 'test over');
});

test('dependsOn SUCCESS waits for the dependency to exit 0, and a failed dependency stops the task', async () => {
  const ok = await register([
    { name: 'init', essential: false, command: ['sh', '-c', 'sleep 0.5; exit 0'] },
    { name: 'app', command: ['sh', '-c', 'echo app-started; exit 0'], dependsOn: [{ containerName: 'init', condition: 'SUCCESS' }] },
  ]);
  const t1 = await waitStatus((await runOne(ok)).taskArn!, 'STOPPED');
  assert.equal(t1.containers?.find((c) => c.name === 'app')?.exitCode, 0);
  assert.match(await logsOf(t1.taskArn!), /app-started/);

  const complete = await register([
    { name: 'init', essential: false, command: ['sh', '-c', 'exit 1'] },
    { name: 'app', command: ['sh', '-c', 'echo ran-after-complete'], dependsOn: [{ containerName: 'init', condition: 'COMPLETE' }] },
  ]);
  const t3 = await waitStatus((await runOne(complete)).taskArn!, 'STOPPED');
  assert.equal(t3.stopCode, 'EssentialContainerExited', 'COMPLETE accepts a failed dependency');
  assert.equal(t3.containers?.find((c) => c.name === 'init')?.exitCode, 1);
  assert.match(await logsOf(t3.taskArn!), /ran-after-complete/);

  const bad = await register([
    { name: 'init', essential: false, command: ['sh', '-c', 'exit 1'] },
    { name: 'app', command: ['sh', '-c', 'echo should-not-run'], dependsOn: [{ containerName: 'init', condition: 'SUCCESS' }] },
  ]);
  const t2 = await waitStatus((await runOne(bad)).taskArn!, 'STOPPED');
  assert.equal(t2.stopCode, 'TaskFailedToStart');
  assert.match(t2.stoppedReason!, /dependency/);
  assert.doesNotMatch(await logsOf(t2.taskArn!), /should-not-run/);
});

test('the CPU quota and memory limit of the task are the container cgroup limits, overrides included', { skip: SANDBOXED && 'a sandbox shows its own cgroup view: see the host-side variant below' }, async () => {
  const family = await register(
    [{ name: 'main', command: ['sh', '-c', 'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/memory/memory.limit_in_bytes'] }],
    { cpu: '512', memory: '1024' },
  );
  const t = await waitStatus((await runOne(family)).taskArn!, 'STOPPED');
  const [quota, period, mem] = (await logsOf(t.taskArn!)).trim().split('\n').map(Number);
  assert.equal(quota / period, 0.5, '512 CPU units = half a CPU');
  assert.equal(mem, 1024 * 1024 * 1024);

  const bigger = await waitStatus((await runOne(family, { overrides: { cpu: '1 vCPU', memory: '3GB' } })).taskArn!, 'STOPPED');
  assert.equal(bigger.cpu, '1024');
  assert.equal(bigger.memory, '3072');
  const [q2, p2, m2] = (await logsOf(bigger.taskArn!)).trim().split('\n').map(Number);
  assert.equal(q2 / p2, 1, 'the task-size override is the quota');
  assert.equal(m2, 3 * 1024 * 1024 * 1024);
});

test('the CPU quota and memory limit of the task are its cgroup limits on the host (sandboxed runtimes)', { skip: !SANDBOXED && 'runc: the in-container view above shows them' }, async () => {
  const family = await register([{ name: 'main', command: ['sleep', '60'] }], { cpu: '512', memory: '1024' });
  const readLimits = async (arn: string) => {
    const taskId = arn.split('/').pop()!;
    const cg = (ctrl: string, file: string) => Number(readFileSync(join('/sys/fs/cgroup', ctrl, server.prefix, taskId, 'main', file), 'utf8'));
    return [cg('cpu', 'cpu.cfs_quota_us') / cg('cpu', 'cpu.cfs_period_us'), cg('memory', 'memory.limit_in_bytes')];
  };
  const t = await waitStatus((await runOne(family)).taskArn!, 'RUNNING');
  assert.deepEqual(await readLimits(t.taskArn!), [0.5, 1024 * 1024 * 1024]);
  const bigger = await waitStatus((await runOne(family, { overrides: { cpu: '1 vCPU', memory: '3GB' } })).taskArn!, 'RUNNING');
  assert.deepEqual(await readLimits(bigger.taskArn!), [1, 3 * 1024 * 1024 * 1024]);
  await Promise.all([t, bigger].map((x) => ecs.send(new StopTaskCommand({ task: x.taskArn }))));
  await Promise.all([t, bigger].map((x) => waitStatus(x.taskArn!, 'STOPPED')));
});

test('the image config (entrypoint, cmd, env, workdir, user, stop signal) merges with the definition as in Docker', async () => {
  const ref = `${registry.host}/test/configured:1`;
  const built = await buildImage({
    files: busyboxImageFiles(),
    config: {
      entrypoint: ['sh', '-c'],
      cmd: ['echo "env=$GREETING cwd=$(pwd) uid=$(id -u)"; trap "echo got-usr1; exit 0" USR1; while true; do sleep 0.1; done'],
      env: ['GREETING=from-image', 'PATH=/bin'],
      workingDir: '/tmp',
      user: 'nobody',
      stopSignal: 'SIGUSR1',
    },
  });
  await pushImage(built, ref);
  const family = `f${++families}`;
  await registerFamily(ecs, family, [{ name: 'c', image: ref, stopTimeout: 10 }]);
  const t = await waitStatus((await runOne(family)).taskArn!, 'RUNNING');
  await waitFor('first line', async () => /env=/.test(await logsOf(t.taskArn!)));
  assert.match(await logsOf(t.taskArn!), /env=from-image cwd=\/tmp uid=65534/);
  const t0 = Date.now();
  await ecs.send(new StopTaskCommand({ task: t.taskArn }));
  const stopped = await waitStatus(t.taskArn!, 'STOPPED');
  assert.ok(Date.now() - t0 < 5000, "the image's STOPSIGNAL (USR1) was sent, not SIGTERM followed by SIGKILL");
  assert.equal(stopped.containers?.[0]?.exitCode, 0);
  assert.match(await logsOf(t.taskArn!), /got-usr1/);

  // The definition's command replaces CMD (the entrypoint stays), its env wins, and its user and workdir too.
  await registerFamily(ecs, family, [
    {
      name: 'c',
      image: ref,
      command: ['echo "env=$GREETING cwd=$(pwd) uid=$(id -u)"'],
      environment: [{ name: 'GREETING', value: 'from-definition' }],
      workingDirectory: '/etc',
      user: '0',
    },
  ]);
  const t2 = await waitStatus((await runOne(family)).taskArn!, 'STOPPED');
  assert.match(await logsOf(t2.taskArn!), /env=from-definition cwd=\/etc uid=0/);
});

test('awsvpcConfiguration picks the subnet; startedBy and group are kept and filter ListTasks', async () => {
  const subnets = (await (await server.fetch(`/skiff/v1/subnets`)).json()) as { subnets: { subnetId: string; cidrBlock: string }[] };
  const second = subnets.subnets[1];
  const family = await register([{ name: 'm', command: ['true'] }]);
  const t = await runOne(family, {
    networkConfiguration: { awsvpcConfiguration: { subnets: [second.subnetId] } },
    startedBy: 'nightly-job',
    group: 'batch',
  });
  const [a, b] = second.cidrBlock.split('.').map(Number);
  const ip = ipOf(t)!.split('.').map(Number);
  assert.deepEqual([ip[0], ip[1], ip[2] >> 4], [a, b, Number(second.cidrBlock.split('.')[2]) >> 4], `${ipOf(t)} is in ${second.cidrBlock}`);
  assert.equal(t.attachments![0].details!.find((d) => d.name === 'subnetId')?.value, second.subnetId);
  assert.equal(t.startedBy, 'nightly-job');
  assert.equal(t.group, 'batch');
  await waitStatus(t.taskArn!, 'STOPPED');
  const listed = await ecs.send(new ListTasksCommand({ startedBy: 'nightly-job', desiredStatus: 'STOPPED' }));
  assert.deepEqual(listed.taskArns, [t.taskArn]);
});

test('a container that exceeds its memory is OOM-killed and the task says so', async () => {
  const family = await register([
    { name: 'hog', memory: 64, command: ['sh', '-c', 'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo survived'] },
  ]);
  // Under gVisor's ptrace platform every syscall of the hog is a round trip through the Sentry: allow it longer.
  const t = await waitStatus((await runOne(family)).taskArn!, 'STOPPED', slack(60_000, 180_000));
  const c = t.containers![0];
  assert.equal(c.exitCode, 137);
  assert.match(c.reason ?? '', /^OutOfMemoryError/);
  assert.equal(t.stopCode, 'EssentialContainerExited');
  assert.doesNotMatch(await logsOf(t.taskArn!), /survived/);
});

test('StopTask sends SIGTERM, then SIGKILL after stopTimeout', async () => {
  const graceful = await register([{ name: 'g', command: ['sh', '-c', 'trap "echo got-term; exit 0" TERM; while true; do sleep 0.1; done'] }]);
  const g = await waitStatus((await runOne(graceful)).taskArn!, 'RUNNING');
  const t0 = Date.now();
  await ecs.send(new StopTaskCommand({ task: g.taskArn }));
  const gs = await waitStatus(g.taskArn!, 'STOPPED');
  assert.ok(Date.now() - t0 < slack(2000, 5000), 'a container that handles SIGTERM stops at once');
  assert.equal(gs.containers?.[0]?.exitCode, 0);
  assert.match(await logsOf(g.taskArn!), /got-term/);

  const stubborn = await register([{ name: 's', stopTimeout: 2, command: ['sh', '-c', 'trap "" TERM; while true; do sleep 0.1; done'] }]);
  const s = await waitStatus((await runOne(stubborn)).taskArn!, 'RUNNING');
  const t1 = Date.now();
  await ecs.send(new StopTaskCommand({ task: s.taskArn }));
  const stopping = await describe(s.taskArn!);
  assert.equal(stopping.desiredStatus, 'STOPPED');
  const ss = await waitStatus(s.taskArn!, 'STOPPED');
  const took = Date.now() - t1;
  assert.ok(took >= 2000 && took < slack(6000, 9000), `SIGKILL came after the 2 s stopTimeout (took ${took} ms)`);
  assert.equal(ss.containers?.[0]?.exitCode, 137);
});

test('a cluster with running tasks cannot be deleted', async () => {
  await ecs.send(new CreateClusterCommand({ clusterName: 'busy' }));
  const family = await register([{ name: 'm', command: ['sleep', '60'] }]);
  const t = await runOne(family, { cluster: 'busy' });
  await assert.rejects(ecs.send(new DeleteClusterCommand({ cluster: 'busy' })), { name: 'ClusterContainsTasksException' });
  await ecs.send(new StopTaskCommand({ cluster: 'busy', task: t.taskArn }));
  await waitFor('task stopped in busy', async () => {
    const d = (await ecs.send(new DescribeTasksCommand({ cluster: 'busy', tasks: [t.taskArn!] }))).tasks![0];
    return d.lastStatus === 'STOPPED';
  });
  assert.equal((await ecs.send(new DeleteClusterCommand({ cluster: 'busy' }))).cluster?.status, 'INACTIVE');
});

test('after a churn of tasks nothing is left behind: no namespace, veth, cgroup, mount, container or address', async () => {
  const family = await register([{ name: 'm', command: ['sleep', '60'] }]);
  for (let round = 0; round < 2; round++) {
    const out = await ecs.send(new RunTaskCommand({ taskDefinition: family, count: 10 }));
    assert.equal(out.tasks?.length, 10);
    assert.equal(new Set(out.tasks!.map(ipOf)).size, 10, 'ten distinct addresses');
    await Promise.all(out.tasks!.map((t) => waitStatus(t.taskArn!, 'RUNNING')));
    await Promise.all(out.tasks!.map((t) => ecs.send(new StopTaskCommand({ task: t.taskArn }))));
    await Promise.all(out.tasks!.map((t) => waitStatus(t.taskArn!, 'STOPPED')));
  }
  const netns = existsSync('/var/run/netns') ? readdirSync('/var/run/netns').filter((n) => n.startsWith(`${server.prefix}-`)) : [];
  assert.deepEqual(netns, [], 'no task namespace left');
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  assert.doesNotMatch(links, new RegExp(`\\d+: ${server.prefix.slice(0, 7)}[0-9a-f]+@`), 'no task veth left');
  for (const ctrl of ['cpu', 'memory', 'pids']) {
    const dir = join('/sys/fs/cgroup', ctrl, server.prefix);
    const left = existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name) : [];
    assert.deepEqual(left.filter((n) => n !== '.conmon'), [], `no task cgroup left under ${dir}`);
    const supervisors = join(dir, '.conmon'); // conmon's own cgroups (src/drivers/oci/supervisor-cgroup.ts)
    assert.deepEqual(existsSync(supervisors) ? readdirSync(supervisors, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name) : [], [], `no supervisor cgroup left under ${dir}`);
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(server.dataDir));
  assert.deepEqual(mounts, [], 'no rootfs mount left');
  const runtimeRoot = join(server.dataDir, 'runtime', ...(SANDBOXED ? [ISOLATION, 'runc'] : ['runc'])); // the OCI runtime's --root (runsc's for gvisor)
  assert.deepEqual(existsSync(runtimeRoot) ? readdirSync(runtimeRoot) : [], [], 'no runtime container left');
  const subnets = (await (await server.fetch(`/skiff/v1/subnets`)).json()) as { subnets: { availableIpAddressCount: number; cidrBlock: string }[] };
  for (const s of subnets.subnets) assert.equal(s.availableIpAddressCount, 4091, `every address of ${s.cidrBlock} is free again`);
});

test('skiff logs --follow streams output as it is written and ends when the task stops', async () => {
  const family = await register([{ name: 'ticker', command: ['sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do echo tick-$i; sleep 0.5; done'] }]);
  const t = await runOne(family);
  const started = Date.now();
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [resolve('bin/skiff.js'), '--endpoint', server.endpoint, 'logs', '--follow', t.taskArn!], { stdio: ['ignore', 'pipe', 'pipe'], env: server.clientEnv() });
  let out = '';
  let firstLineAt = 0;
  child.stdout.on('data', (d) => {
    if (!firstLineAt) firstLineAt = Date.now();
    out += d;
  });
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  assert.equal(code, 0);
  // Five seconds of ticks: the CLI (a fresh node process) is following well before they end, even on a loaded host.
  assert.deepEqual(out.trim().split('\n'), Array.from({ length: 10 }, (_, i) => `tick-${i + 1}`));
  const ended = Date.now();
  assert.ok(ended - firstLineAt >= 1000, 'lines arrived while the task ran, not all at the end');
  assert.ok(ended - started < 20_000);
  assert.equal((await describe(t.taskArn!)).lastStatus, 'STOPPED', 'follow ended because the task stopped');
});
