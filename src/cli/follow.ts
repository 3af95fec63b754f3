/**
 * Waiting for things the CLI started, with progress: tasks until they run
 * (image pull bytes from `GET /skiff/v1/pulls`), a service until its rollout
 * ends or it is steady. Polls the public API like any client would.
 */
import type { ECSClient, Service, Task } from '@aws-sdk/client-ecs';
import { skiffFetch, type ClientOptions } from './client.ts';
import type { Progress } from './progress.ts';

export const shortId = (arn: string | undefined) => (arn ?? '').split('/').pop() ?? '';
export const ipOf = (t: Task) => t.attachments?.[0]?.details?.find((d) => d.name === 'privateIPv4Address')?.value;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface FollowOptions {
  cluster?: string;
  timeoutMs: number;
  pollMs?: number;
}

interface PullProgress {
  reference: string;
  downloadedBytes: number;
  totalBytes: number;
}

/**
 * Polls until every task is RUNNING or STOPPED (or the timeout passes: then
 * returns what it last saw). Reports each state change and, while a task
 * pulls, its images' download progress.
 */
export async function followTaskStarts(ecs: ECSClient, client: ClientOptions, arns: string[], progress: Progress, opts: FollowOptions): Promise<Task[]> {
  const { DescribeTasksCommand } = await import('@aws-sdk/client-ecs');
  const deadline = Date.now() + opts.timeoutMs;
  const last = new Map<string, string>();
  const pulling = new Set<string>();
  let tasks: Task[] = [];
  for (;;) {
    tasks = (await ecs.send(new DescribeTasksCommand({ cluster: opts.cluster, tasks: arns }))).tasks ?? [];
    for (const t of tasks) {
      const status = t.lastStatus ?? '?';
      if (last.get(t.taskArn!) !== status) {
        last.set(t.taskArn!, status);
        const extra = status === 'RUNNING' ? ` ${ipOf(t) ?? ''}` : status === 'STOPPED' ? ` (${t.stopCode ?? ''}: ${t.stoppedReason ?? ''})` : '';
        progress.note(`task ${shortId(t.taskArn)} ${status}${extra}`.trimEnd());
      }
    }
    const settled = tasks.length === arns.length && tasks.every((t) => t.lastStatus === 'RUNNING' || t.lastStatus === 'STOPPED');
    const wanted = new Set(tasks.filter((t) => !['RUNNING', 'STOPPED'].includes(t.lastStatus ?? '')).flatMap((t) => (t.containers ?? []).map((c) => c.image ?? '')));
    if (!settled && wanted.size) {
      const { pulls } = (await (await skiffFetch(client, '/skiff/v1/pulls')).json()) as { pulls: PullProgress[] };
      const now = new Set<string>();
      for (const p of pulls.filter((p) => wanted.has(p.reference))) {
        now.add(p.reference);
        if (!pulling.has(p.reference)) progress.note(`pulling ${p.reference}`);
        pulling.add(p.reference);
        progress.bar(`pull:${p.reference}`, p.reference, p.downloadedBytes, p.totalBytes, 'bytes');
      }
      for (const ref of pulling) if (!now.has(ref)) progress.done(`pull:${ref}`);
    }
    if (settled || Date.now() > deadline) {
      for (const ref of pulling) progress.done(`pull:${ref}`);
      return tasks;
    }
    await sleep(opts.pollMs ?? 150);
  }
}

export type RolloutOutcome = 'COMPLETED' | 'FAILED' | 'STEADY' | 'TIMED_OUT';

/**
 * Follows a service: until the deployment `deploymentId` completes or fails
 * (deploy), or — without one — until the service is steady: one deployment,
 * running = desired (scale). Prints new service events as they happen.
 */
export async function followService(ecs: ECSClient, service: string, progress: Progress, opts: FollowOptions & { deploymentId?: string }): Promise<{ outcome: RolloutOutcome; service: Service }> {
  const { DescribeServicesCommand } = await import('@aws-sdk/client-ecs');
  const deadline = Date.now() + opts.timeoutMs;
  const started = new Date(Date.now() - 2000);
  const seenEvents = new Set<string>();
  for (;;) {
    const out = await ecs.send(new DescribeServicesCommand({ cluster: opts.cluster, services: [service] }));
    const svc = out.services?.[0];
    if (!svc) throw new Error(`service ${service} not found${out.failures?.[0]?.reason ? ` (${out.failures[0].reason})` : ''} — see the services with \`skiff services\``);
    for (const e of [...(svc.events ?? [])].reverse()) {
      if (!e.id || seenEvents.has(e.id) || (e.createdAt && e.createdAt < started)) continue;
      seenEvents.add(e.id);
      progress.note(e.message ?? '');
    }
    const primary = svc.deployments?.find((d) => d.status === 'PRIMARY');
    const mine = opts.deploymentId ? svc.deployments?.find((d) => d.id === opts.deploymentId) : primary;
    const target = mine ?? primary;
    if (target) progress.bar('rollout', `${svc.serviceName} ${shortId(target.taskDefinition)}`, target.runningCount ?? 0, target.desiredCount ?? 0, 'count');
    let outcome: RolloutOutcome | undefined;
    if (opts.deploymentId) {
      if (!mine) outcome = 'FAILED'; // replaced (rolled back) and gone
      else if (mine.rolloutState === 'COMPLETED' || mine.rolloutState === 'FAILED') outcome = mine.rolloutState;
    } else if ((svc.deployments?.length ?? 0) <= 1 && (svc.runningCount ?? 0) === (svc.desiredCount ?? 0) && (svc.pendingCount ?? 0) === 0) {
      outcome = 'STEADY';
    }
    if (!outcome && Date.now() > deadline) outcome = 'TIMED_OUT';
    if (outcome) {
      progress.done('rollout');
      return { outcome, service: svc };
    }
    await sleep(opts.pollMs ?? 300);
  }
}
