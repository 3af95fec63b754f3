/**
 * The `skiff` command. Every command except `server` is a client of the public
 * API, like any user's script; every listing command can print JSON.
 */
import { Command, Option } from 'commander';
import { DescribeTasksCommand, ListTasksCommand, StopTaskCommand, type Task } from '@aws-sdk/client-ecs';
import { resolveServerConfig, ConfigError } from '../config/server-config.ts';
import { SkiffServer } from '../server/server.ts';
import { PreflightError } from '../server/preflight.ts';
import { ecsClient, skiffFetch, type ClientOptions } from './client.ts';
import { parseFormat, render } from './render.ts';

interface GlobalOpts extends ClientOptions {
  output?: string;
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('skiff')
    .description('Serverless containers you run yourself: the ECS/Fargate API on your own host.')
    .option('--endpoint <url>', 'Skiff server URL (default: $SKIFF_ENDPOINT or http://127.0.0.1:8080)')
    .option('--region <region>', 'region to sign requests for (default: $AWS_REGION or us-east-1)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
    .showHelpAfterError();

  const globals = () => program.opts<GlobalOpts>();

  program
    .command('server')
    .description('run the control plane and a local agent in the foreground (needs root)')
    .option('--data-dir <dir>', 'where state, images and logs live (default: $SKIFF_DATA_DIR or /var/lib/skiff)')
    .option('--port <n>', 'port to serve the API on (default 8080)')
    .option('--host <addr>', 'address to listen on (default 127.0.0.1)')
    .option('--vpc-cidr <cidr>', 'CIDR of the default VPC created on first start (default 172.31.0.0/16)')
    .option('--insecure-registry <host:port...>', 'registries to reach over plain HTTP besides loopback ones')
    .option('--registry-auth <file>', 'registry credentials in Docker config.json form (default: $SKIFF_REGISTRY_AUTH_FILE)')
    .action(async (opts) => {
      const config = resolveServerConfig({ ...opts, region: globals().region });
      const server = new SkiffServer(config);
      const endpoint = await server.start();
      console.log(`Skiff is serving the ECS API at ${endpoint} (data in ${config.dataDir})`);
      console.log(`Try: aws ecs list-clusters --endpoint-url ${endpoint}`);
      const shutdown = async (signal: string) => {
        console.error(`${signal}: stopping the API; running tasks keep running and are adopted on the next start`);
        await server.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void shutdown('SIGINT'));
      process.once('SIGTERM', () => void shutdown('SIGTERM'));
    });

  program
    .command('logs')
    .description("print a task's container output")
    .argument('<task>', 'task id or ARN')
    .option('-f, --follow', 'keep printing new output until the task stops')
    .option('-c, --container <name>', 'only this container')
    .action(async (task: string, opts: { follow?: boolean; container?: string }) => {
      const id = task.split('/').pop()!;
      const q = new URLSearchParams();
      if (opts.follow) q.set('follow', 'true');
      if (opts.container) q.set('container', opts.container);
      const res = await skiffFetch(globals(), `/skiff/v1/tasks/${encodeURIComponent(id)}/logs?${q}`);
      const json = parseFormat(globals().output) === 'json';
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

  program
    .command('subnets')
    .description('list the VPC subnets tasks can be placed in')
    .action(async () => {
      const data = (await (await skiffFetch(globals(), '/skiff/v1/subnets')).json()) as {
        subnets: { subnetId: string; vpcId: string; cidrBlock: string; availabilityZone: string; defaultForAz: boolean; availableIpAddressCount: number }[];
      };
      render(parseFormat(globals().output), data, () => ({
        columns: ['SUBNET', 'VPC', 'CIDR', 'ZONE', 'DEFAULT', 'FREE IPS'],
        rows: data.subnets.map((s) => [s.subnetId, s.vpcId, s.cidrBlock, s.availabilityZone, s.defaultForAz ? 'yes' : 'no', s.availableIpAddressCount]),
      }));
    });

  program
    .command('ps')
    .description('list tasks of a cluster')
    .option('--cluster <name>', 'cluster name or ARN', 'default')
    .option('-a, --all', 'include stopped tasks')
    .action(async (opts: { cluster: string; all?: boolean }) => {
      const ecs = ecsClient(globals());
      const arns: string[] = [];
      for (const desiredStatus of opts.all ? (['RUNNING', 'STOPPED'] as const) : (['RUNNING'] as const)) {
        let nextToken: string | undefined;
        do {
          const page = await ecs.send(new ListTasksCommand({ cluster: opts.cluster, desiredStatus, nextToken }));
          arns.push(...(page.taskArns ?? []));
          nextToken = page.nextToken;
        } while (nextToken);
      }
      const tasks: Task[] = [];
      for (let i = 0; i < arns.length; i += 100) {
        const out = await ecs.send(new DescribeTasksCommand({ cluster: opts.cluster, tasks: arns.slice(i, i + 100) }));
        tasks.push(...(out.tasks ?? []));
      }
      render(parseFormat(globals().output), { tasks }, () => ({
        columns: ['TASK', 'FAMILY', 'STATUS', 'IP', 'CPU', 'MEMORY', 'STARTED'],
        rows: tasks.map((t) => [
          t.taskArn?.split('/').pop(),
          t.taskDefinitionArn?.split('/').pop(),
          t.lastStatus,
          t.attachments?.[0]?.details?.find((d) => d.name === 'privateIPv4Address')?.value,
          t.cpu,
          t.memory,
          t.startedAt?.toISOString(),
        ]),
      }));
    });

  program
    .command('stop')
    .description('stop a task (its containers get their stop signal, then SIGKILL after stopTimeout)')
    .argument('<task>', 'task id or ARN')
    .option('--cluster <name>', 'cluster name or ARN', 'default')
    .option('--reason <text>', 'reason recorded on the task')
    .action(async (task: string, opts: { cluster: string; reason?: string }) => {
      const out = await ecsClient(globals()).send(new StopTaskCommand({ cluster: opts.cluster, task, reason: opts.reason }));
      render(parseFormat(globals().output), out.task, () => ({
        columns: ['TASK', 'DESIRED', 'STATUS'],
        rows: [[out.task?.taskArn?.split('/').pop(), out.task?.desiredStatus, out.task?.lastStatus]],
      }));
    });

  program
    .command('task')
    .description("show a task's state, address, start-up phases and cost")
    .argument('<task>', 'task id or ARN')
    .action(async (task: string) => {
      const id = task.split('/').pop()!;
      const data = (await (await skiffFetch(globals(), `/skiff/v1/tasks/${encodeURIComponent(id)}`)).json()) as TaskDetail;
      render(parseFormat(globals().output), data, () => taskDetailTable(data));
    });

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof PreflightError || err instanceof ConfigError) console.error(err.message);
    else console.error(`skiff: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = err instanceof PreflightError ? 2 : 1;
  }
}

interface TaskDetail {
  task: { taskArn: string; lastStatus: string; stopCode?: string; stoppedReason?: string; attachments: { details: { name: string; value: string }[] }[]; containers: { name: string; lastStatus: string; exitCode?: number; reason?: string }[] };
  timings: { phase: string; durationMs: number }[];
  billing: { billedSeconds: number; cost: string } | null;
}

function taskDetailTable(d: TaskDetail) {
  const ip = d.task.attachments[0]?.details.find((x) => x.name === 'privateIPv4Address')?.value;
  const rows: (string | number | undefined)[][] = [
    ['task', d.task.taskArn.split('/').pop()],
    ['status', d.task.lastStatus + (d.task.stoppedReason ? ` (${d.task.stopCode}: ${d.task.stoppedReason})` : '')],
    ['ip', ip],
    ...d.task.containers.map((c) => [`container ${c.name}`, `${c.lastStatus}${c.exitCode !== undefined ? ` exit ${c.exitCode}` : ''}${c.reason ? ` (${c.reason})` : ''}`]),
    ...d.timings.map((t) => [`phase ${t.phase}`, `${t.durationMs.toFixed(1)} ms`]),
    ['billed', d.billing ? `${d.billing.billedSeconds} s, $${d.billing.cost}` : 'not yet (billed when the task stops)'],
  ];
  return { columns: ['FIELD', 'VALUE'], rows };
}
