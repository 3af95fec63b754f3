/** Small helpers for end-to-end tests that look at tasks through the ECS API. */
import { connect } from 'node:net';
import assert from 'node:assert/strict';
import {
  DescribeServicesCommand,
  DescribeTasksCommand,
  RunTaskCommand,
  type ContainerDefinition,
  type ECSClient,
  type RunTaskCommandInput,
  type Service,
  type Task,
} from '@aws-sdk/client-ecs';
import { waitFor, type TestServer } from './skiff-server.ts';

/** What a test may add to or change in registerFamily's task definition (size, volumes, roles, ...). */
import { registerFamily, type TaskDefinitionExtra } from '../../src/testing/ecs-helpers.ts';
export { registerFamily, type TaskDefinitionExtra };

/** Runs one task of `taskDefinition` (asserting RunTask placed exactly one); returns it as RunTask answered. */
export async function runOne(ecs: ECSClient, taskDefinition: string, extra: Omit<RunTaskCommandInput, 'taskDefinition'> = {}): Promise<Task> {
  const out = await ecs.send(new RunTaskCommand({ taskDefinition, ...extra }));
  assert.equal(out.tasks?.length, 1, `RunTask ${taskDefinition}: ${JSON.stringify(out.failures)}`);
  return out.tasks![0];
}

/** The task's address from its ENI attachment. */
export const ipOf = (t: Task): string | undefined =>
  t.attachments?.[0]?.details?.find((d) => d.name === 'privateIPv4Address')?.value;

/** Describes one task (default cluster unless given). */
export async function describeTask(ecs: ECSClient, arn: string, cluster?: string): Promise<Task> {
  return (await ecs.send(new DescribeTasksCommand({ cluster, tasks: [arn] }))).tasks![0];
}

/** Waits until the task's lastStatus is `status`; returns the task then. */
export function waitTaskStatus(ecs: ECSClient, arn: string, status: string, timeoutMs = 30_000): Promise<Task> {
  return waitFor(
    `task ${arn.split('/').pop()} ${status}`,
    async () => {
      const t = await describeTask(ecs, arn);
      return t.lastStatus === status ? t : undefined;
    },
    timeoutMs,
  );
}

/**
 * Registers `family` with `containers` (as registerFamily), runs one task of it
 * and waits until it has STOPPED; returns the stopped task.
 */
export async function runUntilStopped(ecs: ECSClient, family: string, containers: ContainerDefinition[], extra: TaskDefinitionExtra = {}, timeoutMs = 60_000): Promise<Task> {
  await registerFamily(ecs, family, containers, extra);
  return waitTaskStatus(ecs, (await runOne(ecs, family)).taskArn!, 'STOPPED', timeoutMs);
}

/** The task's log messages (every container, oldest first), one a line, from /skiff/v1/tasks/<id>/logs. */
export async function taskLogText(server: TestServer, arn: string): Promise<string> {
  const res = await server.fetch(`/skiff/v1/tasks/${arn.split('/').pop()}/logs`);
  return (await res.text())
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { message: string }).message)
    .join('\n');
}

/** Describes one service (asserting it exists). */
export async function describeService(ecs: ECSClient, name: string, cluster?: string): Promise<Service> {
  const out = await ecs.send(new DescribeServicesCommand({ cluster, services: [name] }));
  assert.equal(out.services?.length, 1, `service ${name}: ${JSON.stringify(out.failures)}`);
  return out.services![0];
}

/** Waits until the service's runningCount is `count`; returns the service then. */
export function waitServiceRunning(ecs: ECSClient, name: string, count: number, timeoutMs = 60_000, cluster?: string): Promise<Service> {
  return waitFor(
    `service ${name} with ${count} task(s) RUNNING`,
    async () => {
      const s = await describeService(ecs, name, cluster);
      return s.runningCount === count ? s : undefined;
    },
    timeoutMs,
  );
}

/** Connects to host:port and returns everything the peer sends before closing. */
export async function tcpRead(host: string, port: number, timeoutMs = 5000): Promise<string> {
  // A task's `while true; do ... | nc -l; done` listens again only after each connection: a connect refused
  // in that gap (long in a sandbox, where starting nc again takes a while) is tried again until the deadline.
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await tcpReadOnce(host, port, Math.max(1, deadline - Date.now()));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ECONNREFUSED' || Date.now() + 50 >= deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function tcpReadOnce(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((res, rej) => {
    const sock = connect({ host, port });
    let data = '';
    sock.on('data', (d) => (data += d));
    sock.on('end', () => res(data));
    sock.on('error', rej);
    sock.setTimeout(timeoutMs, () => {
      sock.destroy();
      rej(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`));
    });
  });
}
