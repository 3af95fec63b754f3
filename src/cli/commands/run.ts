/**
 * `skiff run`: register (or reuse) a task definition and run it, showing the
 * image pull and the start, until the tasks run.
 *
 *   skiff run --task-definition web.json            register the file, run it
 *   skiff run --task-definition web:3               run a registered one
 *   skiff run busybox:latest --cpu 256 --memory 512 -- sh -c 'echo hi'
 *                                                   register family `busybox` (a new
 *                                                   revision only when something changed), run it
 */
import type { RegisterTaskDefinitionCommandInput, Task } from '@aws-sdk/client-ecs';
import { Option } from 'commander';
import { ecsClient } from '../client.ts';
import { render } from '../render.ts';
import type { CommandModule } from '../context.ts';
import { createProgress } from '../progress.ts';
import { followTaskStarts, ipOf, shortId } from '../follow.ts';
import { colors, stateColor } from '../style.ts';
import { isFile, readTaskDefinitionFile, sameDefinition, taskDefinitionForImage } from '../taskdef.ts';

interface RunOpts {
  taskDefinition?: string;
  cpu: string;
  memory: string;
  family?: string;
  name?: string;
  env: string[];
  cluster: string;
  count: string;
  subnet?: string[];
  startedBy?: string;
  wait: boolean;
  waitTimeout: string;
  quiet?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function taskRows(tasks: Task[]) {
  return tasks.map((t) => [
    shortId(t.taskArn),
    shortId(t.taskDefinitionArn),
    t.lastStatus,
    ipOf(t),
    t.cpu,
    t.memory,
    t.startedAt?.toISOString(),
  ]);
}
export const TASK_COLUMNS = ['TASK', 'FAMILY', 'STATUS', 'IP', 'CPU', 'MEMORY', 'STARTED'];

export const runCommands: CommandModule = ({ program, globals, format }) => {
  program
    .command('run')
    .description('run a task from a task definition (file or registered) or straight from an image, and wait until it runs')
    .argument('[image]', 'image to run (registers a task definition family for it)')
    .argument('[command...]', 'command and arguments for the container, after `--`')
    .option('-t, --task-definition <file|family[:revision]>', 'a task definition JSON file to register, or a registered family[:revision] or ARN')
    .option('--cpu <units>', 'task CPU units (with an image): 256, 512, 1024, ...', '256')
    .option('--memory <MiB>', 'task memory in MiB (with an image)', '512')
    .option('--family <name>', 'family to register the image under (default: the image repository name)')
    .option('--name <container>', 'container name (default: the family)')
    .option('-e, --env <KEY=VALUE>', 'environment variable for the container (repeatable)', collect, [])
    .option('--cluster <name>', 'cluster name or ARN', 'default')
    .option('--count <n>', 'how many tasks (1-10)', '1')
    .option('--subnet <id>', 'subnet for the tasks (repeatable; default: the default subnets)', collect)
    .option('--started-by <text>', 'startedBy recorded on the tasks')
    .option('--no-wait', 'return as soon as the tasks are created')
    .option('--wait-timeout <seconds>', 'give up waiting after this long', '300')
    .addOption(new Option('-q, --quiet', 'no progress output on stderr'))
    .addHelpText('after', `
Examples:
  $ skiff run --task-definition web.json
  $ skiff run --task-definition web:3 --count 2
  $ skiff run busybox:latest --cpu 256 --memory 512 -- sh -c 'echo hello; sleep 60'
  $ skiff run localhost:5000/app:1 -e PORT=8080 --output json

Progress (pull bytes and rate, state changes) goes to stderr: bars on a terminal,
plain lines otherwise; stdout is only the result table or JSON.`)
    .action(async (image: string | undefined, command: string[], opts: RunOpts) => {
      const ecs = await ecsClient(globals());
      const { DescribeTaskDefinitionCommand, RegisterTaskDefinitionCommand, RunTaskCommand } = await import('@aws-sdk/client-ecs');
      const count = Number(opts.count);
      if (!Number.isInteger(count) || count < 1 || count > 10) throw new Error(`--count must be 1 to 10 (got ${opts.count})`);
      if (!image && !opts.taskDefinition) throw new Error('say what to run: an image (`skiff run busybox:latest -- echo hi`) or --task-definition FILE|FAMILY[:REVISION]');
      if (image && opts.taskDefinition) throw new Error('give an image or --task-definition, not both');
      const progress = createProgress({ quiet: opts.quiet });

      let taskDefinition: string;
      let input: RegisterTaskDefinitionCommandInput | undefined;
      if (opts.taskDefinition) {
        if (isFile(opts.taskDefinition)) input = readTaskDefinitionFile(opts.taskDefinition);
        else taskDefinition = opts.taskDefinition;
      } else {
        input = taskDefinitionForImage({ image: image!, command, cpu: opts.cpu, memory: opts.memory, family: opts.family, name: opts.name, env: opts.env });
      }
      if (input) {
        const latest = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: input.family })).then((r) => r.taskDefinition, () => undefined);
        if (!opts.taskDefinition && sameDefinition(latest, input)) {
          taskDefinition = latest!.taskDefinitionArn!;
        } else {
          const reg = await ecs.send(new RegisterTaskDefinitionCommand(input));
          taskDefinition = reg.taskDefinition!.taskDefinitionArn!;
          progress.note(`registered ${shortId(taskDefinition)}`);
        }
      }
      const out = await ecs.send(new RunTaskCommand({
        cluster: opts.cluster,
        taskDefinition: taskDefinition!,
        count,
        startedBy: opts.startedBy,
        ...(opts.subnet ? { networkConfiguration: { awsvpcConfiguration: { subnets: opts.subnet } } } : {}),
      }));
      if (out.failures?.length) throw new Error(out.failures.map((f) => `${f.arn ?? ''} ${f.reason ?? ''} ${f.detail ?? ''}`.trim()).join('\n'));
      let tasks = out.tasks ?? [];
      try {
        if (opts.wait) {
          tasks = await followTaskStarts(ecs, globals(), tasks.map((t) => t.taskArn!), progress, { cluster: opts.cluster, timeoutMs: Number(opts.waitTimeout) * 1000 });
        }
      } finally {
        progress.stop();
      }
      const c = colors();
      render(format(), { taskDefinitionArn: taskDefinition!, tasks }, () => ({
        columns: TASK_COLUMNS,
        rows: taskRows(tasks),
        colorize: (text, col) => (col === 'STATUS' ? stateColor(c, text) : text),
      }));
      // A task that ran and exited is not a failure of `run`; one that never started is.
      const failed = tasks.filter((t) => t.lastStatus === 'STOPPED' && (t.stopCode === 'TaskFailedToStart' || !t.startedAt));
      for (const t of failed) process.stderr.write(`task ${shortId(t.taskArn)} stopped: ${t.stopCode ?? ''} ${t.stoppedReason ?? ''}${t.containers?.[0]?.reason ? ` (${t.containers[0].reason})` : ''}\n  → see its output with \`skiff logs ${shortId(t.taskArn)}\`\n`);
      if (opts.wait && failed.length) process.exitCode = 1;
    });
};
