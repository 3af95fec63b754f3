/**
 * `skiff compose up | down | ps -f docker-compose.yml`: a Compose file run as
 * ECS task definitions and services (see src/compose/). Services find each
 * other by their Compose names through Skiff's service discovery DNS.
 */
import type { Command } from 'commander';
import { ecsClient, resolveEndpoint, resolveRegion } from '../client.ts';
import { render } from '../render.ts';
import type { CommandModule, GlobalOpts } from '../context.ts';
import { readComposeFile } from '../../compose/compose-file.ts';
import { planCompose, type ComposePlan } from '../../compose/to-ecs.ts';
import { composeDown, composePs, composeUp } from '../../compose/compose-ops.ts';
import { secretsManagerClient } from '../../compose/secrets-client.ts';
import { listenersClient, rolesClient } from '../../compose/skiff-client.ts';
import { fileSystemsClient } from '../../compose/compose-volumes-up.ts';

interface ComposeOpts {
  file: string;
  projectName?: string;
  cluster?: string;
}

const fileOptions = (c: Command) =>
  c
    .option('-f, --file <path>', 'Compose file', 'docker-compose.yml')
    .option('-p, --project-name <name>', 'project name (default: the file\'s "name:", else its folder\'s name)')
    .option('--cluster <name>', 'cluster to run in (default: the project name; made if missing)');

function planFrom(opts: ComposeOpts): ComposePlan {
  const project = readComposeFile({ file: opts.file, projectName: opts.projectName });
  return planCompose(project, { cluster: opts.cluster });
}

function deps(globals: GlobalOpts, extra: { waitTimeout?: string } = {}) {
  const region = resolveRegion(globals);
  const seconds = extra.waitTimeout === undefined ? 300 : Number(extra.waitTimeout);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`--wait-timeout must be a positive number of seconds (got ${extra.waitTimeout})`);
  return {
    ecs: ecsClient(globals),
    secrets: secretsManagerClient(resolveEndpoint(globals), region),
    roles: rolesClient(resolveEndpoint(globals), region),
    fileSystems: fileSystemsClient(resolveEndpoint(globals), region),
    log: (line: string) => process.stderr.write(line + '\n'),
    waitTimeoutMs: seconds * 1000,
  };
}

export const composeCommands: CommandModule = ({ program, globals, format }) => {
  const compose = program.command('compose').description('run a Compose file as ECS services (services resolve each other by name)');

  fileOptions(compose.command('up').description('register, create and start the services in dependency order; wait until they run'))
    .option('--wait-timeout <seconds>', 'how long to wait for a dependency condition or for the services to run', '300')
    .option('--no-wait', 'return once everything is created')
    .action(async (opts: ComposeOpts & { waitTimeout: string; wait: boolean }) => {
      const plan = planFrom(opts);
      await composeUp(plan, deps(globals(), opts), { wait: opts.wait });
    });

  fileOptions(compose.command('down').description('delete the services (force), stop every task, deregister the task definitions, delete the execution role and secrets'))
    .option('--wait-timeout <seconds>', 'how long to wait for tasks to stop', '300')
    .action(async (opts: ComposeOpts & { waitTimeout: string }) => {
      await composeDown(planFrom(opts), deps(globals(), opts));
    });

  fileOptions(compose.command('ps').description("the project's services, their URLs, tasks, addresses and DNS names")).action(async (opts: ComposeOpts) => {
    const g = globals();
    const rows = await composePs(planFrom(opts), { ecs: ecsClient(g), listeners: listenersClient(resolveEndpoint(g), resolveRegion(g)) });
    render(format(), { services: rows }, () => ({
      columns: ['SERVICE', 'KIND', 'STATUS', 'RUNNING', 'URL', 'DNS NAME', 'TASKS'],
      rows: rows.map((r) => [
        r.service,
        r.kind,
        r.status,
        `${r.running}/${r.desired}`,
        r.ports?.map((p) => `${p.url}->${p.containerPort}${p.listening ? '' : ' (not listening)'}`).join(', ') || '-',
        r.dnsName,
        r.tasks.map((t) => `${t.taskArn.split('/').pop()!.slice(0, 12)} ${t.lastStatus}${t.healthStatus && t.healthStatus !== 'UNKNOWN' ? `/${t.healthStatus}` : ''} ${t.ip ?? ''}`.trim()).join(', ') || '-',
      ]),
    }));
  });
};
