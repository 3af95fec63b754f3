/** Small helpers for end-to-end tests that look at tasks through the ECS API. */
import { connect } from 'node:net';
import { DescribeTasksCommand, type ECSClient, type Task } from '@aws-sdk/client-ecs';
import { waitFor } from './skiff-server.ts';

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

/** Connects to host:port and returns everything the peer sends before closing. */
export function tcpRead(host: string, port: number, timeoutMs = 5000): Promise<string> {
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
