/**
 * `skiff compose up | down | ps -f docker-compose.yml`: a Compose file run as
 * ECS task definitions and services (see src/compose/). Services find each
 * other by their Compose names through Skiff's service discovery DNS.
 */
import type { Command } from 'commander';
import { ecsClient, resolveEndpoint, resolveRegion } from '../client.ts';
import { render } from '../render.ts';
import type { CommandModule, GlobalOpts } from '../context.ts';
import type { ComposePlan } from '../../compose/to-ecs.ts';

/** What `compose` runs, loaded when a compose command runs (the YAML parser and the SDK clients are not for every `skiff` start). */
const load = async () => {
  const [file, toEcs, ops, secrets, skiff, volumes] = await Promise.all([
    import('../../compose/compose-file.ts'),
    import('../../compose/to-ecs.ts'),
    import('../../compose/compose-ops.ts'),
    import('../../compose/secrets-client.ts'),
    import('../../compose/skiff-client.ts'),
    import('../../compose/compose-volumes-up.ts'),
  ]);
  return { ...file, ...toEcs, ...ops, ...secrets, ...skiff, ...volumes };
};

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

async function planFrom(opts: ComposeOpts): Promise<ComposePlan> {
  const { readComposeFile, planCompose } = await load();
  const project = readComposeFile({ file: opts.file, projectName: opts.projectName });
  return planCompose(project, { cluster: opts.cluster });
}

async function deps(globals: GlobalOpts, extra: { waitTimeout?: string } = {}) {
  const { secretsManagerClient, rolesClient, fileSystemsClient } = await load();
  const region = resolveRegion(globals);
  const seconds = extra.waitTimeout === undefined ? 300 : Number(extra.waitTimeout);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`--wait-timeout must be a positive number of seconds (got ${extra.waitTimeout})`);
  return {
    ecs: await ecsClient(globals),
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
      const { composeUp } = await load();
      const plan = await planFrom(opts);
      await composeUp(plan, await deps(globals(), opts), { wait: opts.wait });
    });

  fileOptions(compose.command('down').description('delete the services (force), stop every task, deregister the task definitions, delete the execution role and secrets'))
    .option('--wait-timeout <seconds>', 'how long to wait for tasks to stop', '300')
    .action(async (opts: ComposeOpts & { waitTimeout: string }) => {
      const { composeDown } = await load();
      await composeDown(await planFrom(opts), await deps(globals(), opts));
    });

  fileOptions(compose.command('ps').description("the project's services, their URLs, tasks, addresses and DNS names")).action(async (opts: ComposeOpts) => {
    const g = globals();
    const { composePs, listenersClient } = await load();
    const rows = await composePs(await planFrom(opts), { ecs: await ecsClient(g), listeners: listenersClient(resolveEndpoint(g), resolveRegion(g)) });
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
