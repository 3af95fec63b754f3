/** Small helpers the fake-stack lifecycle tests share: register, run, poll a task or service until a condition holds. */
import {
  type RegisterTaskDefinitionCommandInput,
  DescribeServicesCommand,
  DescribeTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  type ContainerDefinition,
  type ECSClient,
  type Service,
  type Task,
} from '@aws-sdk/client-ecs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `read` until `done` holds for what it returns; throws with the last value after `timeoutMs`. */
export async function waitFor<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await read();
    if (done(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last, null, 1).slice(0, 3000)}`);
    await sleep(15);
  }
}

/** What a registration may set besides the family and its containers. */
export type TaskDefinitionExtra = Omit<Partial<RegisterTaskDefinitionCommandInput>, 'family' | 'containerDefinitions'>;

/**
 * Registers a revision of `family`: Fargate, awsvpc, 256 CPU units / 512 MiB
 * unless `extra` says otherwise, with the containers as given. Returns its ARN.
 * (The root end-to-end tests use this one too, through test/support/tasks.ts.)
 */
export async function registerFamily(ecs: ECSClient, family: string, containerDefinitions: ContainerDefinition[], extra: TaskDefinitionExtra = {}): Promise<string> {
  const out = await ecs.send(
    new RegisterTaskDefinitionCommand({
      family,
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: '256',
      memory: '512',
      ...extra,
      containerDefinitions,
    }),
  );
  return out.taskDefinition!.taskDefinitionArn!;
}

/** RunTask of one task; returns it as RunTask answered. */
export async function runOne(ecs: ECSClient, taskDefinition: string): Promise<Task> {
  const out = await ecs.send(new RunTaskCommand({ taskDefinition, launchType: 'FARGATE' }));
  if (out.failures?.length) throw new Error(`RunTask failed: ${JSON.stringify(out.failures)}`);
  return out.tasks![0]!;
}

export async function describeTask(ecs: ECSClient, taskArn: string): Promise<Task> {
  const out = await ecs.send(new DescribeTasksCommand({ tasks: [taskArn] }));
  return out.tasks![0]!;
}

/** Waits until the task's lastStatus is `status`. */
export function waitForStatus(ecs: ECSClient, taskArn: string, status: string, timeoutMs = 10_000): Promise<Task> {
  return waitFor(`task ${taskArn.split('/').pop()} to be ${status}`, () => describeTask(ecs, taskArn), (t) => t.lastStatus === status, timeoutMs);
}

export async function describeService(ecs: ECSClient, service: string): Promise<Service> {
  const out = await ecs.send(new DescribeServicesCommand({ services: [service] }));
  return out.services![0]!;
}

/** The task id of an ARN. */
export const taskIdOf = (arn: string) => arn.split('/').pop()!;
