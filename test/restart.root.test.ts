/**
 * Crash safety: `kill -9` the server while tasks run, start it again, and the
 * tasks are adopted — same container PIDs, same addresses, still reachable,
 * nothing restarted or duplicated; a container that died while the server was
 * down is reported STOPPED with its exit; a task accepted or half started when
 * the server died is started by the next server, once; nothing leaks afterwards.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import {
  RunTaskCommand,
  DescribeTasksCommand,
  ListTasksCommand,
  StopTaskCommand,
  type ECSClient,
  type Task,
} from '@aws-sdk/client-ecs';
import { waitFor, type TestServer } from './support/skiff-server.ts';
import { startBusyboxStack, type BusyboxStack } from './support/stack.ts';
import { ipOf, registerFamily, tcpRead } from './support/tasks.ts';
import { RuncDriver } from '../src/drivers/runc/index.ts';
import { driver as gvisorDriver } from '../src/drivers/gvisor/index.ts';
import { ISOLATION } from './support/runtimes.ts';

/** The OCI runtime and its --root for this run's isolation (SKIFF_ISOLATION; runsc keeps runc's command line). */
const runtimeCli = () =>
  ISOLATION === 'gvisor'
    ? { bin: 'runsc', root: join(server.dataDir, 'runtime', 'gvisor', 'runc') }
    : { bin: 'runc', root: join(server.dataDir, 'runtime', 'runc') };

let stack: BusyboxStack;
let server: TestServer;
let image: string;

before(async () => {
  stack = await startBusyboxStack('test/busybox:restart');
  ({ server, image } = stack);
});
after(() => stack?.stop());


function containerPid(runtimeId: string): number {
  const { bin, root } = runtimeCli();
  const out = execFileSync(bin, ['--root', root, 'state', runtimeId], { encoding: 'utf8' });
  return (JSON.parse(out) as { pid: number }).pid;
}

async function describeAll(ecs: ECSClient, arns: string[]): Promise<Task[]> {
  return (await ecs.send(new DescribeTasksCommand({ tasks: arns }))).tasks!;
}

test('kill -9 of the server, five times over: running tasks are adopted, not restarted or duplicated', async () => {
  let ecs = server.ecs();
  await registerFamily(ecs, 'survivor', [{ name: 'srv', image, stopTimeout: 2, command: ['sh', '-c', 'while true; do echo alive | nc -l -p 7000; done'] }]);
  const run = await ecs.send(new RunTaskCommand({ taskDefinition: 'survivor', count: 3 }));
  const arns = run.tasks!.map((t) => t.taskArn!);
  const running = await waitFor('3 tasks RUNNING', async () => {
    const ts = await describeAll(ecs, arns);
    return ts.every((t) => t.lastStatus === 'RUNNING') ? ts : undefined;
  });
  const before = new Map(running.map((t) => [t.taskArn!, { ip: ipOf(t)!, pid: containerPid(t.containers![0].runtimeId!) }]));

  for (let round = 0; round < 5; round++) {
    await server.stop('SIGKILL');
    await server.start();
    ecs = server.ecs();
    const after = await describeAll(ecs, arns);
    for (const t of after) {
      const was = before.get(t.taskArn!)!;
      assert.equal(t.lastStatus, 'RUNNING', `round ${round}: still RUNNING`);
      assert.equal(ipOf(t), was.ip, 'same address');
      assert.equal(containerPid(t.containers![0].runtimeId!), was.pid, 'same container process: not restarted');
      assert.equal((await tcpRead(was.ip, 7000)).trim(), 'alive', 'still reachable at its address');
    }
    const listed = await ecs.send(new ListTasksCommand({ family: 'survivor' }));
    assert.equal(listed.taskArns?.length, 3, 'no duplicate task appeared');
  }

  // A container that dies while the server is down is seen as exited after the restart.
  await server.stop('SIGKILL');
  const victim = running[0];
  process.kill(before.get(victim.taskArn!)!.pid, 'SIGKILL');
  await server.start();
  ecs = server.ecs();
  const dead = await waitFor('victim STOPPED', async () => {
    const [t] = await describeAll(ecs, [victim.taskArn!]);
    return t.lastStatus === 'STOPPED' ? t : undefined;
  });
  assert.equal(dead.stopCode, 'EssentialContainerExited');
  assert.equal(dead.containers?.[0]?.exitCode, 137);

  // A stop interrupted by a crash is finished by the next server.
  const [second, third] = arns.slice(1);
  await ecs.send(new StopTaskCommand({ task: second }));
  await server.stop('SIGKILL');
  await server.start();
  ecs = server.ecs();
  await ecs.send(new StopTaskCommand({ task: third }));
  const stopped = await waitFor('all STOPPED', async () => {
    const ts = await describeAll(ecs, arns);
    return ts.every((t) => t.lastStatus === 'STOPPED') ? ts : undefined;
  });
  assert.equal(stopped.length, 3);
  const subnets = (await (await server.fetch(`/skiff/v1/subnets`)).json()) as { subnets: { availableIpAddressCount: number }[] };
  assert.ok(subnets.subnets.every((s) => s.availableIpAddressCount === 4091), 'every address released');
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  assert.doesNotMatch(netns, new RegExp(`^${server.prefix}-`, 'm'), 'no namespace left');
});

test('a task whose container vanished while the server was down is stopped with a reason, not restarted', async () => {
  let ecs = server.ecs();
  const run = await ecs.send(new RunTaskCommand({ taskDefinition: 'survivor' }));
  const arn = run.tasks![0].taskArn!;
  const running = await waitFor('RUNNING', async () => {
    const [t] = await describeAll(ecs, [arn]);
    return t.lastStatus === 'RUNNING' ? t : undefined;
  });
  await server.stop('SIGKILL');
  // Remove every trace of the container, as a host reboot or an operator's cleanup would.
  const driver =
    ISOLATION === 'gvisor'
      ? gvisorDriver.create({ runtimeDir: join(server.dataDir, 'runtime'), cgroupRoot: server.prefix })
      : new RuncDriver({ stateDir: join(server.dataDir, 'runtime'), cgroupRoot: server.prefix });
  await driver.destroyContainer(running.containers![0].runtimeId!);
  await server.start();
  ecs = server.ecs();
  const stopped = await waitFor('STOPPED', async () => {
    const [t] = await describeAll(ecs, [arn]);
    return t.lastStatus === 'STOPPED' ? t : undefined;
  });
  assert.equal(stopped.stopCode, 'TerminationNotice');
  assert.match(stopped.stoppedReason!, /not found when the Skiff server restarted/);
  assert.match(stopped.containers![0].reason!, /not found/);
  const listed = await ecs.send(new ListTasksCommand({ family: 'survivor' }));
  assert.deepEqual(listed.taskArns, [], 'nothing was started in its place');
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  assert.doesNotMatch(netns, new RegExp(`^${server.prefix}-`, 'm'), 'its namespace was removed');
});

/** Runtime ids of the containers runc has on the host for `taskId`. */
function runcContainersOf(taskId: string): string[] {
  const { bin, root } = runtimeCli();
  const out = execFileSync(bin, ['--root', root, 'list', bin === 'runsc' ? '-quiet' : '-q'], { encoding: 'utf8' });
  return out.split('\n').filter((id) => id.startsWith(taskId)).sort();
}

const taskIdOf = (arn: string) => arn.split('/').pop()!;

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('tasks acknowledged by RunTask just before a kill -9 are started by the next server, each once', async () => {
  let ecs = server.ecs();
  const run = await ecs.send(new RunTaskCommand({ taskDefinition: 'survivor', count: 3 }));
  await server.stop('SIGKILL'); // right after RunTask answered: the tasks are stored, their start barely begun
  assert.ok(run.tasks!.every((t) => t.lastStatus === 'PROVISIONING'), 'RunTask answered the tasks as accepted');
  const arns = run.tasks!.map((t) => t.taskArn!);
  await server.start();
  ecs = server.ecs();
  const running = await waitFor('3 tasks RUNNING after the restart', async () => {
    const ts = await describeAll(ecs, arns);
    assert.ok(ts.every((t) => t.lastStatus !== 'STOPPED'), `no task stopped: ${ts.map((t) => t.stoppedReason).join('; ')}`);
    return ts.every((t) => t.lastStatus === 'RUNNING') ? ts : undefined;
  });
  for (const t of running) {
    assert.deepEqual(runcContainersOf(taskIdOf(t.taskArn!)), [t.containers![0].runtimeId!], 'exactly one container on the host');
    assert.equal((await tcpRead(ipOf(t)!, 7000)).trim(), 'alive', 'serving at its address');
  }
  const listed = await ecs.send(new ListTasksCommand({ family: 'survivor' }));
  assert.deepEqual(listed.taskArns?.sort(), [...arns].sort(), 'no other task was started');
  for (const arn of arns) await ecs.send(new StopTaskCommand({ task: arn }));
  await waitFor('STOPPED', async () => ((await describeAll(ecs, arns)).every((t) => t.lastStatus === 'STOPPED') ? true : undefined));
});

test('a task killed mid-start (one container already running) is started again after the restart, never twice', async () => {
  let ecs = server.ecs();
  // `gate` turns healthy ~6 s after it starts; `app` waits for that, so the task sits in ACTIVATING with gate running.
  await registerFamily(ecs, 'halfway', [
    {
      name: 'gate',
      image,
      stopTimeout: 2,
      command: ['sh', '-c', 'sleep 3; touch /tmp/ok; exec sleep 3600'],
      healthCheck: { command: ['CMD-SHELL', 'test -f /tmp/ok'], interval: 5, timeout: 2, retries: 3, startPeriod: 60 },
    },
    { name: 'app', image, stopTimeout: 2, dependsOn: [{ containerName: 'gate', condition: 'HEALTHY' }], command: ['sh', '-c', 'while true; do echo alive | nc -l -p 7000; done'] },
  ]);
  const run = await ecs.send(new RunTaskCommand({ taskDefinition: 'halfway' }));
  const arn = run.tasks![0].taskArn!;
  const half = await waitFor('gate RUNNING, task not yet RUNNING', async () => {
    const [t] = await describeAll(ecs, [arn]);
    const gate = t.containers!.find((c) => c.name === 'gate')!;
    assert.notEqual(t.lastStatus, 'RUNNING', 'the test needs the task caught mid-start');
    return gate.lastStatus === 'RUNNING' ? t : undefined;
  });
  const gateId = half.containers!.find((c) => c.name === 'gate')!.runtimeId!;
  const oldGatePid = containerPid(gateId);
  await server.stop('SIGKILL');
  await server.start();
  ecs = server.ecs();
  const t = await waitFor('RUNNING after the restart', async () => {
    const [x] = await describeAll(ecs, [arn]);
    assert.notEqual(x.lastStatus, 'STOPPED', `not stopped: ${x.stoppedReason}`);
    return x.lastStatus === 'RUNNING' ? x : undefined;
  }, 60_000);
  assert.equal(t.stopCode, undefined);
  assert.ok(!processExists(oldGatePid), 'the half-started container was removed, not left running beside the new one');
  assert.notEqual(containerPid(gateId), oldGatePid, 'gate was started again');
  assert.deepEqual(runcContainersOf(taskIdOf(arn)), t.containers!.map((c) => c.runtimeId!).sort(), 'one container per definition on the host');
  assert.equal(ipOf(t), ipOf(half), 'same address');
  assert.equal((await tcpRead(ipOf(t)!, 7000)).trim(), 'alive');
  await ecs.send(new StopTaskCommand({ task: arn }));
  await waitFor('STOPPED', async () => ((await describeAll(ecs, [arn]))[0].lastStatus === 'STOPPED' ? true : undefined));
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  assert.doesNotMatch(netns, new RegExp(`^${server.prefix}-`, 'm'), 'no namespace left');
});
