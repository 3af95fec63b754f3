/**
 * Services: `services` (list), `services describe`, `scale`, `deploy`.
 * `scale` and `deploy` follow the change until the service is steady or the
 * rollout completes/fails (exit 1), printing the service's events as they come.
 */
import type { ECSClient, Service } from '@aws-sdk/client-ecs';
import { Option } from 'commander';
import { ecsClient } from '../client.ts';
import { render } from '../render.ts';
import type { CommandModule } from '../context.ts';
import { createProgress } from '../progress.ts';
import { followService, shortId, type RolloutOutcome } from '../follow.ts';
import { colors, stateColor } from '../style.ts';
import { isFile, readTaskDefinitionFile, withImage } from '../taskdef.ts';

async function allServices(ecs: ECSClient, cluster: string): Promise<Service[]> {
  const { DescribeServicesCommand, ListServicesCommand } = await import('@aws-sdk/client-ecs');
  const arns: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ecs.send(new ListServicesCommand({ cluster, nextToken }));
    arns.push(...(page.serviceArns ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  const out: Service[] = [];
  for (let i = 0; i < arns.length; i += 10) {
    out.push(...((await ecs.send(new DescribeServicesCommand({ cluster, services: arns.slice(i, i + 10) }))).services ?? []));
  }
  return out;
}

async function oneService(ecs: ECSClient, cluster: string, name: string): Promise<Service> {
  const { DescribeServicesCommand } = await import('@aws-sdk/client-ecs');
  const out = await ecs.send(new DescribeServicesCommand({ cluster, services: [name] }));
  const s = out.services?.[0];
  if (!s || s.status === 'INACTIVE') throw new Error(`service ${name} not found in cluster ${cluster}${s ? ' (it was deleted)' : ''} — see the services with \`skiff services${cluster === 'default' ? '' : ` --cluster ${cluster}`}\``);
  return s;
}

const primaryOf = (s: Service) => s.deployments?.find((d) => d.status === 'PRIMARY');

interface FollowFlags {
  wait: boolean;
  waitTimeout: string;
  quiet?: boolean;
}

const followOptions = (cmd: import('commander').Command) =>
  cmd
    .option('--cluster <name>', 'cluster name or ARN', 'default')
    .option('--no-wait', 'return once the change is accepted')
    .option('--wait-timeout <seconds>', 'give up waiting after this long (exit 1)', '600')
    .addOption(new Option('-q, --quiet', 'no progress output on stderr'));

export const serviceCommands: CommandModule = ({ program, globals, format }) => {
  const c = colors();
  const services = program.command('services').description('list and describe services');

  services
    .command('list', { isDefault: true })
    .description('list the services of a cluster (the default subcommand)')
    .option('--cluster <name>', 'cluster name or ARN', 'default')
    .action(async (opts: { cluster: string }) => {
      const list = await allServices(await ecsClient(globals()), opts.cluster);
      render(format(), { services: list }, () => ({
        columns: ['SERVICE', 'STATUS', 'DESIRED', 'RUNNING', 'PENDING', 'TASK DEFINITION', 'ROLLOUT'],
        rows: list.map((s) => [s.serviceName, s.status, s.desiredCount, s.runningCount, s.pendingCount, shortId(s.taskDefinition), primaryOf(s)?.rolloutState]),
        colorize: (text, col) => (col === 'STATUS' || col === 'ROLLOUT' ? stateColor(c, text) : text),
      }));
    });

  services
    .command('describe')
    .description("a service's settings, deployments and recent events")
    .argument('<service>', 'service name or ARN')
    .option('--cluster <name>', 'cluster name or ARN', 'default')
    .option('--events <n>', 'how many recent events to show', '10')
    .action(async (name: string, opts: { cluster: string; events: string }) => {
      const s = await oneService(await ecsClient(globals()), opts.cluster, name);
      if (format() === 'json') return render('json', { service: s }, () => ({ columns: [], rows: [] }));
      render('table', s, () => ({
        columns: ['FIELD', 'VALUE'],
        rows: [
          ['service', s.serviceName],
          ['arn', s.serviceArn],
          ['status', s.status],
          ['task definition', shortId(s.taskDefinition)],
          ['desired / running / pending', `${s.desiredCount} / ${s.runningCount} / ${s.pendingCount}`],
          ['capacity', s.capacityProviderStrategy?.map((x) => `${x.capacityProvider} (base ${x.base ?? 0}, weight ${x.weight ?? 0})`).join(', ') || s.launchType],
          ['deployment', `max ${s.deploymentConfiguration?.maximumPercent}%, min healthy ${s.deploymentConfiguration?.minimumHealthyPercent}%, circuit breaker ${s.deploymentConfiguration?.deploymentCircuitBreaker?.enable ? `on${s.deploymentConfiguration.deploymentCircuitBreaker.rollback ? ' with rollback' : ''}` : 'off'}`],
          ['created', s.createdAt?.toISOString()],
        ],
        colorize: (text) => (text === s.status ? stateColor(c, text) : text),
      }));
      process.stdout.write('\n');
      render('table', s.deployments, () => ({
        columns: ['DEPLOYMENT', 'STATUS', 'TASK DEFINITION', 'DESIRED', 'RUNNING', 'PENDING', 'FAILED', 'ROLLOUT', 'UPDATED'],
        rows: (s.deployments ?? []).map((d) => [d.id, d.status, shortId(d.taskDefinition), d.desiredCount, d.runningCount, d.pendingCount, d.failedTasks, d.rolloutState, d.updatedAt?.toISOString()]),
        colorize: (text, col) => (col === 'STATUS' || col === 'ROLLOUT' ? stateColor(c, text) : text),
      }));
      const events = (s.events ?? []).slice(0, Number(opts.events) || 10);
      if (events.length) {
        process.stdout.write('\n');
        render('table', events, () => ({ columns: ['TIME', 'EVENT'], rows: events.map((e) => [e.createdAt?.toISOString(), e.message]) }));
      }
    });

  const finish = (outcome: RolloutOutcome | undefined, what: string) => {
    if (outcome === 'FAILED') {
      process.stderr.write(`${what} failed — see why with \`skiff services describe\` and the stopped tasks with \`skiff ps --all\`\n`);
      process.exitCode = 1;
    } else if (outcome === 'TIMED_OUT') {
      process.stderr.write(`${what} is still in progress; follow it with \`skiff services describe\`\n`);
      process.exitCode = 1;
    }
  };

  followOptions(
    program
      .command('scale')
      .description('set how many tasks a service keeps running, and wait until it does')
      .argument('<service>', 'service name or ARN')
      .argument('<count>', 'desired number of tasks'),
  ).action(async (name: string, countArg: string, opts: FollowFlags & { cluster: string }) => {
    const count = Number(countArg);
    if (!Number.isInteger(count) || count < 0) throw new Error(`the task count must be a whole number ≥ 0 (got ${countArg})`);
    const ecs = await ecsClient(globals());
    const { UpdateServiceCommand } = await import('@aws-sdk/client-ecs');
    await oneService(ecs, opts.cluster, name);
    const updated = (await ecs.send(new UpdateServiceCommand({ cluster: opts.cluster, service: name, desiredCount: count }))).service!;
    let outcome: RolloutOutcome | undefined;
    let svc = updated;
    if (opts.wait) {
      const progress = createProgress({ quiet: opts.quiet });
      try {
        ({ outcome, service: svc } = await followService(ecs, name, progress, { cluster: opts.cluster, timeoutMs: Number(opts.waitTimeout) * 1000 }));
      } finally {
        progress.stop();
      }
    }
    render(format(), { service: svc, outcome: outcome ?? 'ACCEPTED' }, () => ({
      columns: ['SERVICE', 'DESIRED', 'RUNNING', 'PENDING', 'OUTCOME'],
      rows: [[svc.serviceName, svc.desiredCount, svc.runningCount, svc.pendingCount, outcome ?? 'ACCEPTED']],
      colorize: (text, col) => (col === 'OUTCOME' ? (text === 'STEADY' ? c.green(text) : c.yellow(text)) : text),
    }));
    finish(outcome, `scaling ${name}`);
  });

  followOptions(
    program
      .command('deploy')
      .description('roll a service out to a new image or task definition (registers a new revision), and follow the rollout')
      .argument('<service>', 'service name or ARN')
      .option('--image <ref>', "new image for the service's container (a new revision of its current task definition)")
      .option('--container <name>', 'which container gets --image (needed when the task has several)')
      .option('-t, --task-definition <file|family[:revision]>', 'a task definition JSON file to register, or a registered family[:revision]')
      .option('--force-new-deployment', 'replace the tasks even if nothing changed')
      .addHelpText('after', `
Examples:
  $ skiff deploy web --image localhost:5000/web:2
  $ skiff deploy web --task-definition web.json
  $ skiff deploy web --task-definition web:7 --no-wait --output json

Exit status: 0 when the rollout COMPLETED, 1 when it FAILED (the circuit breaker
rolled it back) or is still running at --wait-timeout.`),
  ).action(async (name: string, opts: FollowFlags & { cluster: string; image?: string; container?: string; taskDefinition?: string; forceNewDeployment?: boolean }) => {
    if (!!opts.image === !!opts.taskDefinition) throw new Error('give --image IMAGE or --task-definition FILE|FAMILY[:REVISION] (one of them)');
    const ecs = await ecsClient(globals());
    const { DescribeTaskDefinitionCommand, RegisterTaskDefinitionCommand, UpdateServiceCommand } = await import('@aws-sdk/client-ecs');
    const current = await oneService(ecs, opts.cluster, name);
    let taskDefinition: string;
    const progress = createProgress({ quiet: opts.quiet || !opts.wait });
    if (opts.image) {
      const td = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: current.taskDefinition }))).taskDefinition!;
      const reg = await ecs.send(new RegisterTaskDefinitionCommand(withImage(td, opts.image, opts.container)));
      taskDefinition = reg.taskDefinition!.taskDefinitionArn!;
    } else if (isFile(opts.taskDefinition!)) {
      taskDefinition = (await ecs.send(new RegisterTaskDefinitionCommand(readTaskDefinitionFile(opts.taskDefinition!)))).taskDefinition!.taskDefinitionArn!;
    } else {
      taskDefinition = opts.taskDefinition!;
    }
    const updated = (await ecs.send(new UpdateServiceCommand({ cluster: opts.cluster, service: name, taskDefinition, forceNewDeployment: opts.forceNewDeployment }))).service!;
    const deployment = primaryOf(updated);
    progress.note(`deploying ${shortId(deployment?.taskDefinition)} to ${name} (deployment ${deployment?.id})`);
    let outcome: RolloutOutcome | undefined;
    let svc = updated;
    if (opts.wait) {
      try {
        ({ outcome, service: svc } = await followService(ecs, name, progress, { cluster: opts.cluster, deploymentId: deployment?.id, timeoutMs: Number(opts.waitTimeout) * 1000 }));
      } finally {
        progress.stop();
      }
    }
    const d = svc.deployments?.find((x) => x.id === deployment?.id) ?? deployment;
    const rollout = outcome === 'TIMED_OUT' ? 'IN_PROGRESS' : outcome ?? d?.rolloutState;
    render(format(), { service: svc, deployment: d, rolloutState: rollout }, () => ({
      columns: ['SERVICE', 'TASK DEFINITION', 'DEPLOYMENT', 'RUNNING', 'ROLLOUT'],
      rows: [[svc.serviceName, shortId(d?.taskDefinition), d?.id, `${d?.runningCount ?? 0}/${d?.desiredCount ?? 0}`, rollout]],
      colorize: (text, col) => (col === 'ROLLOUT' ? stateColor(c, text) : text),
    }));
    finish(outcome, `the deployment of ${shortId(taskDefinition)} to ${name}`);
  });
};
