/**
 * `skiff doctor`: checks a task definition — registered on the server
 * (family[:revision]), a local JSON file, or the one a service runs
 * (`--service NAME`) — against the production-readiness checklist, item by
 * item. The facts come from the server's public APIs (doctor-facts.ts): log
 * groups, secrets, roles, security groups, and with --service its load
 * balancers, autoscaling and deployment configuration. Exits non-zero when any
 * item fails, so it can gate CI.
 */
import { readFileSync } from 'node:fs';
import type { TaskDefinition } from '@aws-sdk/client-ecs';
import { ecsClient, skiffFetch } from '../client.ts';
import { render } from '../render.ts';
import type { CommandModule } from '../context.ts';
import type { DoctorFacts } from '../../advisor/doctor.ts';

/** Fields DescribeTaskDefinition adds that RegisterTaskDefinition does not take. */
const DESCRIBE_ONLY = ['taskDefinitionArn', 'revision', 'status', 'requiresAttributes', 'compatibilities', 'registeredAt', 'registeredBy', 'deregisteredAt'];

/** Reads a local file: a task definition, `{"taskDefinition": ...}` (describe output), optionally with `networkConfiguration`. */
async function readLocal(file: string): Promise<{ def: TaskDefinition; facts: DoctorFacts }> {
  const { normaliseTaskDefinition } = await import('../../ecs/task-definition.ts');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read task definition ${file}: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${file} must hold a JSON object (a task definition)`);
  const o = json as Record<string, unknown>;
  const raw = (typeof o.taskDefinition === 'object' && o.taskDefinition !== null ? o.taskDefinition : o) as Record<string, unknown>;
  const facts: DoctorFacts = {};
  if (o.networkConfiguration) facts.networkConfiguration = o.networkConfiguration as DoctorFacts['networkConfiguration'];
  const input = Object.fromEntries(Object.entries(raw).filter(([k]) => !DESCRIBE_ONLY.includes(k) && k !== 'networkConfiguration'));
  try {
    return { def: normaliseTaskDefinition(input as never) as TaskDefinition, facts };
  } catch (e) {
    return { def: raw as TaskDefinition, facts: { ...facts, validationError: (e as Error).message } };
  }
}

export const doctorCommands: CommandModule = ({ program, globals, format }) => {
  program
    .command('doctor')
    .description('check a task definition against the production-readiness checklist (exit code 1 when anything fails)')
    .argument('[taskDefinition]', 'family or family:revision registered on the server')
    .option('--file <json>', 'check a local task definition file instead')
    .option('--service <name>', "also check the service that runs it (load balancer, autoscaling, circuit breaker, security groups); alone, checks the service's task definition")
    .option('--cluster <name>', 'cluster of --service', 'default')
    .action(async (ref: string | undefined, opts: { file?: string; service?: string; cluster: string }) => {
      if (ref && opts.file) throw new Error('give a registered task definition (family[:revision]) or --file PATH, not both');
      if (!ref && !opts.file && !opts.service) throw new Error('give a registered task definition (family[:revision]), --file PATH or --service NAME');
      const [{ clusterFacts, describeService, resourceFacts, serviceFacts }, { doctor }] = await Promise.all([import('./doctor-facts.ts'), import('../../advisor/doctor.ts')]);
      let def: TaskDefinition;
      let facts: DoctorFacts = {};
      const service = opts.service ? await describeService(globals(), opts.cluster, opts.service) : undefined;
      if (opts.file) {
        ({ def, facts } = await readLocal(opts.file));
      } else {
        const { DescribeTaskDefinitionCommand } = await import('@aws-sdk/client-ecs');
        const out = await (await ecsClient(globals())).send(new DescribeTaskDefinitionCommand({ taskDefinition: ref ?? service!.taskDefinition }));
        def = out.taskDefinition!;
      }
      // How the service runs it, unless the file says so itself.
      if (service) {
        facts.networkConfiguration ??= service.networkConfiguration as DoctorFacts['networkConfiguration'];
        facts.service = await serviceFacts(globals(), service);
      } else {
        facts.serviceUnavailable = 'no --service given';
      }
      Object.assign(facts, await resourceFacts(globals(), def, facts.networkConfiguration));
      // Several teams' keys on one cluster with tasks on runc share a kernel: warn (sharedKernelItem).
      if (!opts.file) Object.assign(facts, await clusterFacts(globals(), opts.cluster));
      // What Skiff measured about this family, when the server is there to ask.
      const family = encodeURIComponent(def.family ?? '');
      try {
        const rs = (await (await skiffFetch(globals(), `/skiff/v1/rightsize?family=${family}`)).json()) as { results: { recommendation: DoctorFacts['rightsize'] }[] };
        facts.rightsize = rs.results[0]?.recommendation;
        const cs = (await (await skiffFetch(globals(), `/skiff/v1/coldstart?family=${family}&limit=1`)).json()) as { image: DoctorFacts['image'] | null };
        if (cs.image) facts.image = cs.image;
      } catch (e) {
        const why = `measurements unavailable: ${(e as Error).message.split(';')[0]}`;
        facts.rightsizeUnavailable = why;
        facts.imageUnavailable = why;
      }
      const report = doctor(def, facts);
      render(format(), report, () => ({
        columns: ['RESULT', 'CHECK', 'FINDING', 'FIX'],
        rows: report.items.map((i) => [i.status.toUpperCase(), i.title, i.message, i.fix ?? '']),
      }));
      if (format() === 'table') {
        const s = report.summary;
        process.stdout.write(`${def.family}${def.revision ? `:${def.revision}` : ''}: ${s.pass} pass, ${s.warn} warn, ${s.fail} fail\n`);
      }
      if (report.summary.fail > 0) process.exitCode = 1;
    });
};
