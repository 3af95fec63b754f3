/**
 * Crash safety: `kill -9` the server while tasks run, start it again, and the
 * tasks are adopted — same container PIDs, same addresses, still reachable,
 * nothing restarted or duplicated; a container that died while the server was
 * down is reported STOPPED with its exit; nothing leaks afterwards.
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
import { RuncDriver } from '../src/drivers/runc/runc-driver.ts';

let stack: BusyboxStack;
let server: TestServer;
let image: string;

before(async () => {
  stack = await startBusyboxStack('test/busybox:restart');
  ({ server, image } = stack);
});
after(() => stack?.stop());


function containerPid(runtimeId: string): number {
  const out = execFileSync('runc', ['--root', join(server.dataDir, 'runtime', 'runc'), 'state', runtimeId], { encoding: 'utf8' });
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
  const driver = new RuncDriver({ stateDir: join(server.dataDir, 'runtime'), cgroupRoot: server.prefix });
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
