/** Everyday task commands: `ps`, `stop`, `task`, `logs`. */
import type { Task } from '@aws-sdk/client-ecs';
import { skiffFetch } from '../client.ts';
import { ecsApi } from '../ecs-api.ts';
import { render } from '../render.ts';
import type { CommandModule } from '../context.ts';
import { colors, stateColor } from '../style.ts';
import { TASK_COLUMNS, taskRows } from './run.ts';
import { describeBandwidth, type TaskBandwidth } from '../../network/bandwidth.ts';

const taskIdOf = (ref: string) => ref.split('/').pop()!;

export const taskCommands: CommandModule = ({ program, globals, format }) => {
  program
    .command('ps')
    .description('list tasks of a cluster')
    .option('--cluster <name>', 'cluster name or ARN', 'default')
    .option('-a, --all', 'include stopped tasks')
    .option('--family <family>', 'only tasks of this task definition family')
    .option('--service <name>', "only this service's tasks")
    .action(async (opts: { cluster: string; all?: boolean; family?: string; service?: string }) => {
      const ecs = ecsApi(globals());
      const arns: string[] = [];
      for (const desiredStatus of opts.all ? (['RUNNING', 'STOPPED'] as const) : (['RUNNING'] as const)) {
        let nextToken: string | undefined;
        do {
          const page = await ecs.call('ListTasks', { cluster: opts.cluster, desiredStatus, nextToken, family: opts.family, serviceName: opts.service });
          arns.push(...(page.taskArns ?? []));
          nextToken = page.nextToken;
        } while (nextToken);
      }
      const tasks: Task[] = [];
      for (let i = 0; i < arns.length; i += 100) {
        const out = await ecs.call('DescribeTasks', { cluster: opts.cluster, tasks: arns.slice(i, i + 100) });
        tasks.push(...(out.tasks ?? []));
      }
      const c = colors();
      render(format(), { tasks }, () => ({
        columns: TASK_COLUMNS,
        rows: taskRows(tasks),
        colorize: (text, col) => (col === 'STATUS' ? stateColor(c, text) : text),
      }));
    });

  program
    .command('stop')
    .description('stop a task (its containers get their stop signal, then SIGKILL after stopTimeout)')
    .argument('<task>', 'task id or ARN')
    .option('--cluster <name>', 'cluster name or ARN', 'default')
    .option('--reason <text>', 'reason recorded on the task')
    .action(async (task: string, opts: { cluster: string; reason?: string }) => {
      const out = await ecsApi(globals()).call('StopTask', { cluster: opts.cluster, task, reason: opts.reason });
      const c = colors();
      render(format(), out.task, () => ({
        columns: ['TASK', 'DESIRED', 'STATUS'],
        rows: [[taskIdOf(out.task?.taskArn ?? ''), out.task?.desiredStatus, out.task?.lastStatus]],
        colorize: (text, col) => (col === 'STATUS' ? stateColor(c, text) : text),
      }));
    });

  program
    .command('task')
    .description("show a task's state, address, bandwidth, start-up phases and cost")
    .argument('<task>', 'task id or ARN')
    .action(async (task: string) => {
      const data = (await (await skiffFetch(globals(), `/skiff/v1/tasks/${encodeURIComponent(taskIdOf(task))}`)).json()) as TaskDetail;
      render(format(), data, () => taskDetailTable(data));
    });

  program
    .command('logs')
    .description("print a task's container output")
    .argument('<task>', 'task id or ARN')
    .option('-f, --follow', 'keep printing new output until the task stops')
    .option('-c, --container <name>', 'only this container')
    .action(async (task: string, opts: { follow?: boolean; container?: string }) => {
      const q = new URLSearchParams();
      if (opts.follow) q.set('follow', 'true');
      if (opts.container) q.set('container', opts.container);
      const res = await skiffFetch(globals(), `/skiff/v1/tasks/${encodeURIComponent(taskIdOf(task))}/logs?${q}`);
      const json = format() === 'json';
      const decoder = new TextDecoder();
      let rest = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        const lines = (rest + decoder.decode(chunk, { stream: true })).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines.filter(Boolean)) {
          if (json) process.stdout.write(line + '\n');
          else {
            const e = JSON.parse(line) as { message: string; stream: string };
            (e.stream === 'stderr' ? process.stderr : process.stdout).write(e.message + '\n');
          }
        }
      }
    });
};

interface TaskDetail {
  task: {
    taskArn: string;
    lastStatus: string;
    stopCode?: string;
    stoppedReason?: string;
    attachments: { details: { name: string; value: string }[] }[];
    containers: { name: string; lastStatus: string; exitCode?: number; reason?: string }[];
    attributes?: { name: string; value?: string }[];
  };
  timings: { phase: string; durationMs: number }[];
  billing: { billedSeconds: number; cost: string } | null;
  /** Each way; null until the task's network is shaped (and from a server without shaping). */
  bandwidth?: TaskBandwidth | null;
}

/** `gvisor (ptrace)` from DescribeTasks attributes skiff.isolation / skiff.isolationPlatform. */
function isolationOf(attributes: { name: string; value?: string }[] = []): string {
  const get = (n: string) => attributes.find((a) => a.name === n)?.value;
  const platform = get('skiff.isolationPlatform');
  return `${get('skiff.isolation') ?? 'runc'}${platform ? ` (${platform})` : ''}`;
}

function taskDetailTable(d: TaskDetail) {
  const ip = d.task.attachments[0]?.details.find((x) => x.name === 'privateIPv4Address')?.value;
  const rows: (string | number | undefined)[][] = [
    ['task', taskIdOf(d.task.taskArn)],
    ['status', d.task.lastStatus + (d.task.stoppedReason ? ` (${d.task.stopCode}: ${d.task.stoppedReason})` : '')],
    ['ip', ip],
    ['isolation', isolationOf(d.task.attributes)],
    ['bandwidth', d.bandwidth ? `${describeBandwidth(d.bandwidth)}, each way` : 'not shaped yet'],
    ...d.task.containers.map((c) => [
      `container ${c.name}`,
      `${c.lastStatus}${c.exitCode !== undefined ? ` exit ${c.exitCode}` : ''}${c.reason ? ` (${c.reason})` : ''}`,
    ]),
    ...d.timings.map((t) => [`phase ${t.phase}`, `${t.durationMs.toFixed(1)} ms`]),
    ['billed', d.billing ? `${d.billing.billedSeconds} s, $${d.billing.cost}` : 'not yet (billed when the task stops)'],
  ];
  return { columns: ['FIELD', 'VALUE'], rows };
}
