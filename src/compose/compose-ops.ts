/**
 * `compose up | down | ps` as a client of the public API (ECS and Secrets
 * Manager), like any user's script.
 *
 * up:   cluster (made and tagged if missing) → secrets (created or given a new
 *       value) → the project's execution role (allowed
 *       secretsmanager:GetSecretValue on exactly those secrets; made, or
 *       remade when the secrets changed) → task definitions (those using
 *       secrets name the role as executionRoleArn) → services (created behind
 *       their load balancers when they have `ports`, or updated when they
 *       exist) in dependency order, each only after its dependencies meet their
 *       conditions: service_started = a task RUNNING, service_healthy = desired
 *       count RUNNING and HEALTHY, service_completed_successfully = its one-shot
 *       task(s) STOPPED with exit code 0 — then waits for every service to run
 *       its desired count.
 * down: services deleted with force (load-balanced ones first tagged with a
 *       deregistration delay of 0: down does not wait for draining), every task of the project stopped and
 *       waited for, task definitions deregistered, the execution role and the
 *       secrets deleted, the cluster deleted if compose made it. Only resources
 *       tagged with the project are touched (roles have no tags: compose marks
 *       its role in the description, see roleMarker).
 */
import { TaskStatus, hasReached, isTaskStatus } from '../model/task-status.ts';
import { createHash } from 'node:crypto';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DeleteClusterCommand,
  DeleteServiceCommand,
  DeregisterTaskDefinitionCommand,
  DescribeClustersCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ListTagsForResourceCommand,
  ListServicesCommand,
  ListTaskDefinitionsCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  TagResourceCommand,
  UpdateServiceCommand,
  type ECSClient,
  type Service,
  type Task,
} from '@aws-sdk/client-ecs';
import { PROJECT_TAG, executionRoleNameFor, type ComposePlan, type ServicePlan } from './to-ecs.ts';
import type { Policy } from '../auth/policy.ts';
import { DEREGISTRATION_DELAY_TAG, LISTENER_PORT_TAG } from '../model/load-balancer.ts';
import type { DependsCondition } from './compose-file.ts';
import { serviceDnsName } from '../model/dns-names.ts';
import { ensureFileSystems, withFileSystems, type FileSystemsApi } from './compose-volumes-up.ts';

/** The Secrets Manager calls compose needs. */
export interface SecretsApi {
  /** Creates the secret or stores a new value; returns its ARN. */
  put(name: string, value: string, tags: { Key: string; Value: string }[]): Promise<string>;
  /** Deletes the secret at once; false when it did not exist. */
  delete(name: string): Promise<boolean>;
}

/** A role as Skiff's `/skiff/v1/roles` shows it. */
export interface RoleInfo {
  name: string;
  arn: string;
  description?: string;
  policy: Policy;
}

/** The role calls compose needs (Skiff's `/skiff/v1/roles`). */
export interface RolesApi {
  get(name: string): Promise<RoleInfo | undefined>;
  create(role: { name: string; policy: Policy; description: string }): Promise<RoleInfo>;
  /** Deletes the role; false when it did not exist. */
  delete(name: string): Promise<boolean>;
}

/** One load balancer listener as `GET /skiff/v1/load-balancers` lists it. */
export interface ListenerInfo {
  serviceArn: string;
  containerName: string;
  containerPort: number;
  /** host:port clients connect to. */
  listener: string;
  listening: boolean;
  error?: string;
}

export interface ComposeDeps {
  ecs: Pick<ECSClient, 'send'>;
  secrets: SecretsApi;
  roles: RolesApi;
  fileSystems?: FileSystemsApi;
  /** One line of progress for the user. */
  log: (line: string) => void;
  waitTimeoutMs?: number;
  pollMs?: number;
}

/** What a compose-made role's description carries, since roles have no tags. */
export function roleMarker(project: string): string {
  return `${PROJECT_TAG}=${project}`;
}

const isOurRole = (role: RoleInfo, project: string) => (role.description ?? '').split(/\s+/).includes(roleMarker(project));

/** The execution role's policy: read exactly these secrets. */
export function executionRolePolicy(secretArns: string[]): Policy {
  return { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: [...secretArns].sort() }] };
}

export class ComposeRunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ComposeRunError';
  }
}

/** Tag on each task definition compose registers: a hash of what it was made from. */
export const HASH_TAG = 'skiff:compose-hash';

/**
 * What a service's definition is made of: the definition as registered (before
 * secret names become ARNs) and the values of the secrets it uses.
 */
export function definitionHash(definition: ServicePlan['taskDefinition'], plan: Pick<ComposePlan, 'secrets'>): string {
  const used = new Set((definition.containerDefinitions ?? []).flatMap((c) => (c.secrets ?? []).map((s) => s.valueFrom)));
  const secrets = plan.secrets.filter((s) => used.has(s.secretName)).map((s) => [s.secretName, s.value]);
  return createHash('sha256').update(JSON.stringify({ definition, secrets })).digest('hex').slice(0, 32);
}

/** The task definition compose registers for a service: the plan's, with the execution role when it uses secrets. */
export function definitionFor(svc: ServicePlan, executionRoleArn: string | undefined): ServicePlan['taskDefinition'] {
  const td = structuredClone(svc.taskDefinition);
  if (svc.usesSecrets && executionRoleArn) td.executionRoleArn = executionRoleArn;
  return td;
}

/**
 * Makes the project's execution role allow exactly `secretArns`: created when
 * missing, left alone when it already does, remade when the project's secrets
 * changed. Refuses a role of that name compose did not make.
 */
export async function ensureExecutionRole(project: string, name: string, secretArns: string[], deps: Pick<ComposeDeps, 'roles' | 'log'>): Promise<string> {
  const policy = executionRolePolicy(secretArns);
  const existing = await deps.roles.get(name);
  if (existing) {
    if (!isOurRole(existing, project)) {
      throw new ComposeRunError(`role ${name} already exists and was not made by compose for project ${project}; delete it (\`skiff roles delete ${name}\`) or use another project name (-p)`);
    }
    if (JSON.stringify(existing.policy) === JSON.stringify(policy)) return existing.arn;
    await deps.roles.delete(name);
  }
  const role = await deps.roles.create({ name, policy, description: `Execution role of compose project ${project}: reads its secrets. ${roleMarker(project)}` });
  deps.log(`execution role ${name}: ${existing ? 'updated' : 'created'} (secretsmanager:GetSecretValue on ${secretArns.length} secret(s))`);
  return role.arn;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const errName = (e: unknown) => (e as { name?: string }).name ?? '';
const statusOf = (t: Task) => t.lastStatus ?? 'PROVISIONING';

export async function composeUp(plan: ComposePlan, deps: ComposeDeps, opts: { wait?: boolean } = {}): Promise<void> {
  const { ecs, log } = deps;
  const waitTimeoutMs = deps.waitTimeoutMs ?? 300_000;
  const pollMs = deps.pollMs ?? 500;
  for (const w of plan.warnings) log(`warning: ${w}`);
  for (const n of plan.notes) log(`note: ${n}`);
  const tag = { key: PROJECT_TAG, value: plan.project };

  // Cluster.
  const described = await ecs.send(new DescribeClustersCommand({ clusters: [plan.cluster] }));
  if (described.clusters?.[0]?.status !== 'ACTIVE') {
    await ecs.send(new CreateClusterCommand({ clusterName: plan.cluster, tags: [tag] }));
    log(`cluster ${plan.cluster}: created`);
  }

  // Secrets, then task definitions that point at them.
  const arns = new Map<string, string>();
  for (const s of plan.secrets) {
    arns.set(s.secretName, await deps.secrets.put(s.secretName, s.value, [{ Key: PROJECT_TAG, Value: plan.project }]));
    log(`secret ${s.composeName}: stored as ${s.secretName}`);
  }
  // The role Skiff reads the secrets with when it starts a task that uses them.
  const executionRoleArn = plan.executionRoleName ? await ensureExecutionRole(plan.project, plan.executionRoleName, [...arns.values()], deps) : undefined;
  // A definition identical to the family's latest (same content hash, secret values included) is reused,
  // so a second `up` of an unchanged file restarts nothing.
  const definitionArns = new Map<string, string>();
  const fileSystemIds = await ensureFileSystems(plan, deps.fileSystems, log); // named volumes and bind-mounted folders: EFS
  for (const svc of plan.services) {
    const definition = withFileSystems(definitionFor(svc, executionRoleArn), fileSystemIds);
    const hash = definitionHash(definition, plan);
    const latest = await ecs
      .send(new DescribeTaskDefinitionCommand({ taskDefinition: svc.taskDefinition.family!, include: ['TAGS'] }))
      .catch((e) => (errName(e) === 'ClientException' ? undefined : Promise.reject(e)));
    if (latest?.taskDefinition?.status === 'ACTIVE' && latest.tags?.some((t) => t.key === HASH_TAG && t.value === hash)) {
      definitionArns.set(svc.name, latest.taskDefinition.taskDefinitionArn!);
      continue;
    }
    definition.tags = [...(definition.tags ?? []), { key: HASH_TAG, value: hash }];
    for (const c of definition.containerDefinitions ?? []) for (const s of c.secrets ?? []) s.valueFrom = arns.get(s.valueFrom!) ?? s.valueFrom;
    const out = await ecs.send(new RegisterTaskDefinitionCommand(definition));
    definitionArns.set(svc.name, out.taskDefinition!.taskDefinitionArn!);
  }

  // Services in order, each after its dependencies meet their conditions.
  const byName = new Map(plan.services.map((s) => [s.name, s]));
  const oneShotTasks = new Map<string, string[]>();
  const conditionMet = new Map<string, Promise<void>>();
  const waitCondition = (dep: string, condition: DependsCondition) => {
    const key = `${dep}|${condition}`;
    let p = conditionMet.get(key);
    if (!p) {
      const target = byName.get(dep)!;
      p = waitUntil(`${dep} to reach ${condition}`, waitTimeoutMs, pollMs, () => checkCondition(ecs, plan.cluster, target, condition, oneShotTasks.get(dep) ?? []));
      conditionMet.set(key, p);
    }
    return p;
  };
  for (const svc of plan.services) {
    if (svc.dependsOn.length) {
      log(`${svc.name}: waiting for ${svc.dependsOn.map((d) => `${d.service} (${d.condition})`).join(', ')}`);
      await Promise.all(svc.dependsOn.map((d) => waitCondition(d.service, d.condition)));
    }
    const taskDefinition = definitionArns.get(svc.name)!;
    if (svc.oneShot) {
      const out = await ecs.send(new RunTaskCommand({ ...svc.runTask, taskDefinition }));
      if (out.failures?.length) throw new ComposeRunError(`${svc.name}: RunTask failed: ${out.failures.map((f) => f.reason).join('; ')}`);
      oneShotTasks.set(svc.name, (out.tasks ?? []).map((t) => t.taskArn!));
      log(`${svc.name}: started ${out.tasks?.length ?? 0} one-shot task(s)`);
      continue;
    }
    const existing = (await ecs.send(new DescribeServicesCommand({ cluster: plan.cluster, services: [svc.name] }))).services?.[0];
    if (existing?.status === 'ACTIVE') {
      const tags = (await ecs.send(new ListTagsForResourceCommand({ resourceArn: existing.serviceArn! }))).tags ?? [];
      if (!tags.some((t) => t.key === PROJECT_TAG && t.value === plan.project)) {
        throw new ComposeRunError(`service ${svc.name} already exists in cluster ${plan.cluster} and was not made by compose for project ${plan.project}; run in another cluster (--cluster) or rename the service`);
      }
      const lbChange = loadBalancerChange(existing, tags, svc);
      if (lbChange) log(`warning: ${svc.name}: ${lbChange}; Skiff cannot change a service's load balancers: run \`skiff compose down\` then \`up\` to apply it`);
      if (existing.taskDefinition === taskDefinition && existing.desiredCount === svc.service.desiredCount) {
        log(`${svc.name}: unchanged`);
        continue;
      }
      await ecs.send(new UpdateServiceCommand({ cluster: plan.cluster, service: svc.name, taskDefinition, desiredCount: svc.service.desiredCount }));
      log(`${svc.name}: service updated (desired ${svc.service.desiredCount})`);
      continue;
    }
    try {
      await ecs.send(new CreateServiceCommand({ ...svc.service, taskDefinition }));
    } catch (e) {
      if (svc.loadBalancers.length && errName(e) === 'InvalidParameterException' && /port|listener/i.test((e as Error).message)) {
        const ports = svc.listenerPorts ? `published port(s) ${svc.listenerPorts.join(', ')}` : 'a port for its load balancer';
        throw new ComposeRunError(`${svc.name}: cannot get ${ports}: ${(e as Error).message}`);
      }
      throw e;
    }
    const where = svc.loadBalancers.length ? `behind its load balancer (container port(s) ${svc.loadBalancers.map((l) => l.containerPort).join(', ')}${svc.listenerPorts ? `, host port(s) ${svc.listenerPorts.join(', ')}` : ''})` : `as ${serviceDnsName(plan.cluster, svc.name)}`;
    log(`${svc.name}: service created (desired ${svc.service.desiredCount}) ${where}`);
  }
  if (opts.wait === false) return;
  await Promise.all(
    plan.services.map((svc) =>
      svc.oneShot ? Promise.resolve() : waitUntil(`${svc.name} to run its desired count`, waitTimeoutMs, pollMs, () => checkCondition(ecs, plan.cluster, svc, 'running', [])),
    ),
  );
  log(`project ${plan.project}: up`);
}

/** What differs between a running service's load balancers (and listener ports) and the file's; undefined when nothing. */
function loadBalancerChange(existing: Service, tags: { key?: string; value?: string }[], svc: ServicePlan): string | undefined {
  const key = (l: { containerName?: string; containerPort?: number }) => `${l.containerName}:${l.containerPort}`;
  const have = (existing.loadBalancers ?? []).map(key).join(',');
  const want = svc.loadBalancers.map(key).join(',');
  if (have !== want) return `ports changed (running: ${have || 'none'}; file: ${want || 'none'})`;
  const listening = tags.find((t) => t.key === LISTENER_PORT_TAG)?.value;
  if (svc.listenerPorts && listening !== svc.listenerPorts.join(',')) return `published ports changed (running: ${listening ?? 'none'}; file: ${svc.listenerPorts.join(',')})`;
  return undefined;
}

async function waitUntil(what: string, timeoutMs: number, pollMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new ComposeRunError(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}; see \`skiff compose ps\`, then \`skiff compose down\` to clean up`);
    await sleep(pollMs);
  }
}

async function describeTasks(ecs: ComposeDeps['ecs'], cluster: string, arns: string[]): Promise<Task[]> {
  const out: Task[] = [];
  for (let i = 0; i < arns.length; i += 100) out.push(...((await ecs.send(new DescribeTasksCommand({ cluster, tasks: arns.slice(i, i + 100) }))).tasks ?? []));
  return out;
}

async function listAll(ecs: ComposeDeps['ecs'], input: ConstructorParameters<typeof ListTasksCommand>[0]): Promise<string[]> {
  const arns: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ecs.send(new ListTasksCommand({ ...input, nextToken }));
    arns.push(...(page.taskArns ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return arns;
}

/** Whether a service (or one-shot job) meets a condition now; throws when it never will. */
async function checkCondition(
  ecs: ComposeDeps['ecs'],
  cluster: string,
  svc: ServicePlan,
  condition: DependsCondition | 'running',
  oneShotArns: string[],
): Promise<boolean> {
  if (svc.oneShot) {
    const tasks = await describeTasks(ecs, cluster, oneShotArns);
    if (condition === 'service_started') return tasks.length > 0 && tasks.every((t) => isTaskStatus(statusOf(t)) && hasReached(statusOf(t) as TaskStatus, TaskStatus.RUNNING));
    if (condition === 'service_healthy') return tasks.length > 0 && tasks.every((t) => statusOf(t) === 'RUNNING' && t.healthStatus === 'HEALTHY');
    if (!tasks.every((t) => statusOf(t) === 'STOPPED')) return false;
    for (const t of tasks) {
      const bad = (t.containers ?? []).find((c) => c.exitCode !== 0);
      if (bad) {
        throw new ComposeRunError(
          `${svc.name} did not complete successfully: container ${bad.name} ${bad.exitCode === undefined ? 'never ran' : `exited with ${bad.exitCode}`} (${t.stoppedReason ?? 'no reason'})`,
        );
      }
    }
    return true;
  }
  const s: Service | undefined = (await ecs.send(new DescribeServicesCommand({ cluster, services: [svc.name] }))).services?.[0];
  if (!s || s.status !== 'ACTIVE') throw new ComposeRunError(`service ${svc.name} is ${s?.status ?? 'missing'}`);
  const primary = s.deployments?.find((d) => d.status === 'PRIMARY');
  if (primary?.rolloutState === 'FAILED') throw new ComposeRunError(`service ${svc.name} failed to deploy: ${primary.rolloutStateReason ?? 'see its events'}`);
  const desired = s.desiredCount ?? 0;
  if (condition === 'service_completed_successfully') throw new ComposeRunError(`service ${svc.name} is a long-running service; nothing can wait for it to complete`);
  if (condition === 'service_started') return desired === 0 || (s.runningCount ?? 0) >= 1;
  if (condition === 'running') return (s.runningCount ?? 0) >= desired && (primary?.runningCount ?? 0) >= desired;
  // service_healthy: the desired count running and healthy.
  const arns = await listAll(ecs, { cluster, serviceName: svc.name, desiredStatus: 'RUNNING' });
  const healthy = (await describeTasks(ecs, cluster, arns)).filter((t) => statusOf(t) === 'RUNNING' && t.healthStatus === 'HEALTHY');
  return healthy.length >= Math.max(1, desired);
}

/** What `down` works on: a plan (from the Compose file). */
export async function composeDown(plan: ComposePlan, deps: ComposeDeps): Promise<void> {
  const { ecs, log } = deps;
  const waitTimeoutMs = deps.waitTimeoutMs ?? 300_000;
  const pollMs = deps.pollMs ?? 500;
  const cluster = (await ecs.send(new DescribeClustersCommand({ clusters: [plan.cluster], include: ['TAGS'] }))).clusters?.[0];
  const ours = async (arn: string) => ((await ecs.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags ?? []).some((t) => t.key === PROJECT_TAG && t.value === plan.project);

  const taskArns = new Set<string>();
  const serviceNames = plan.services.filter((s) => !s.oneShot).map((s) => s.name);
  const families = new Set(plan.services.map((s) => s.taskDefinition.family!));
  if (cluster?.status === 'ACTIVE') {
    // Services of the project no longer in the file (tagged by an earlier `up`) go too.
    let nextToken: string | undefined;
    do {
      const page = await ecs.send(new ListServicesCommand({ cluster: plan.cluster, nextToken }));
      for (const arn of page.serviceArns ?? []) {
        const name = arn.split('/').pop()!;
        if (serviceNames.includes(name) || !(await ours(arn))) continue;
        serviceNames.push(name);
        log(`${name}: no longer in the Compose file; removing it too`);
      }
      nextToken = page.nextToken;
    } while (nextToken);
    for (const name of [...serviceNames].reverse()) {
      const s = (await ecs.send(new DescribeServicesCommand({ cluster: plan.cluster, services: [name] }))).services?.[0];
      if (!s || s.status === 'INACTIVE') continue;
      if (!(await ours(s.serviceArn!))) {
        log(`warning: service ${name} in cluster ${plan.cluster} was not made by compose for project ${plan.project}; left alone`);
        continue;
      }
      if (s.taskDefinition) families.add(s.taskDefinition.split('/').pop()!.replace(/:\d+$/, ''));
      for (const a of await listAll(ecs, { cluster: plan.cluster, serviceName: name })) taskArns.add(a);
      // `down` stops now: its load balancer lets go of the tasks at once (in-flight requests end with the task).
      if (s.status === 'ACTIVE' && (s.loadBalancers ?? []).length) {
        await ecs.send(new TagResourceCommand({ resourceArn: s.serviceArn!, tags: [{ key: DEREGISTRATION_DELAY_TAG, value: '0' }] }));
      }
      if (s.status === 'ACTIVE') await ecs.send(new DeleteServiceCommand({ cluster: plan.cluster, service: name, force: true }));
      log(`${name}: service deleted`);
    }
    for (const a of await listAll(ecs, { cluster: plan.cluster, startedBy: `compose/${plan.project}` })) taskArns.add(a);
    // Stop everything now rather than waiting for the scheduler to drain.
    const stop = async (t: Task) => {
      if (t.desiredStatus !== 'STOPPED') await ecs.send(new StopTaskCommand({ cluster: plan.cluster, task: t.taskArn!, reason: `skiff compose down (project ${plan.project})` }));
    };
    for (const t of await describeTasks(ecs, plan.cluster, [...taskArns])) await stop(t);
    await waitUntil("the project's tasks to stop", waitTimeoutMs, pollMs, async () => {
      // Tasks a draining service started after the listing above are caught here too.
      for (const name of serviceNames) for (const a of await listAll(ecs, { cluster: plan.cluster, serviceName: name })) taskArns.add(a);
      const tasks = await describeTasks(ecs, plan.cluster, [...taskArns]);
      for (const t of tasks) await stop(t);
      return tasks.every((t) => statusOf(t) === 'STOPPED');
    });
    if (taskArns.size) log(`${taskArns.size} task(s) stopped`);
    await waitUntil("the project's services to become INACTIVE", waitTimeoutMs, pollMs, async () => {
      for (let i = 0; i < serviceNames.length; i += 10) {
        const out = await ecs.send(new DescribeServicesCommand({ cluster: plan.cluster, services: serviceNames.slice(i, i + 10) }));
        if ((out.services ?? []).some((s) => s.status === 'DRAINING')) return false;
      }
      return true;
    });
  }

  for (const family of families) {
    let nextToken: string | undefined;
    const arns: string[] = [];
    do {
      const page = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: family, status: 'ACTIVE', nextToken }));
      arns.push(...(page.taskDefinitionArns ?? []).filter((a) => a.split('/').pop()!.replace(/:\d+$/, '') === family));
      nextToken = page.nextToken;
    } while (nextToken);
    for (const arn of arns) if (await ours(arn)) await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: arn }));
    if (arns.length) log(`${family}: ${arns.length} task definition revision(s) deregistered`);
  }
  // The execution role (by its name even when the file no longer uses secrets), if compose made it.
  const roleName = plan.executionRoleName ?? executionRoleNameFor(plan.project);
  const role = await deps.roles.get(roleName);
  if (role && isOurRole(role, plan.project)) {
    if (await deps.roles.delete(roleName)) log(`execution role ${roleName}: deleted`);
  } else if (role) {
    log(`warning: role ${roleName} was not made by compose for project ${plan.project}; left alone`);
  }
  for (const s of plan.secrets) if (await deps.secrets.delete(s.secretName)) log(`secret ${s.composeName}: deleted`);

  if (cluster?.status === 'ACTIVE' && (cluster.tags ?? []).some((t) => t.key === PROJECT_TAG && t.value === plan.project)) {
    try {
      await ecs.send(new DeleteClusterCommand({ cluster: plan.cluster }));
      log(`cluster ${plan.cluster}: deleted`);
    } catch (e) {
      log(`note: cluster ${plan.cluster} was kept: ${(e as Error).message}`);
    }
  }
  log(`project ${plan.project}: down`);
}

export interface PsRow {
  service: string;
  kind: 'service' | 'one-shot';
  status: string;
  desired: number;
  running: number;
  /** The service's DNS name; absent for a one-shot job (it is no service). */
  dnsName?: string;
  /** Where its load balancer listens, one per published container port (services with `ports`). */
  ports?: { url: string; listener: string; containerPort: number; listening: boolean; error?: string }[];
  tasks: { taskArn: string; lastStatus: string; healthStatus?: string; ip?: string }[];
}

export interface PsDeps {
  ecs: ComposeDeps['ecs'];
  /** The server's load balancer listeners (`GET /skiff/v1/load-balancers`). */
  listeners: () => Promise<ListenerInfo[]>;
}

export async function composePs(plan: ComposePlan, deps: PsDeps): Promise<PsRow[]> {
  const { ecs } = deps;
  const cluster = (await ecs.send(new DescribeClustersCommand({ clusters: [plan.cluster] }))).clusters?.[0];
  const rows: PsRow[] = [];
  let listeners: ListenerInfo[] | undefined;
  for (const svc of plan.services) {
    const row: PsRow = { service: svc.name, kind: svc.oneShot ? 'one-shot' : 'service', status: 'MISSING', desired: 0, running: 0, ...(svc.oneShot ? {} : { dnsName: serviceDnsName(plan.cluster, svc.name) }), tasks: [] };
    rows.push(row);
    if (cluster?.status !== 'ACTIVE') continue;
    let arns: string[];
    if (svc.oneShot) {
      arns = (await listAll(ecs, { cluster: plan.cluster, startedBy: `compose/${plan.project}` }));
      arns.push(...(await listAll(ecs, { cluster: plan.cluster, startedBy: `compose/${plan.project}`, desiredStatus: 'STOPPED' })));
    } else {
      const s = (await ecs.send(new DescribeServicesCommand({ cluster: plan.cluster, services: [svc.name] }))).services?.[0];
      if (!s) continue;
      row.status = s.status ?? 'UNKNOWN';
      row.desired = s.desiredCount ?? 0;
      row.running = s.runningCount ?? 0;
      if (s.status === 'ACTIVE' && (s.loadBalancers ?? []).length) {
        listeners ??= await deps.listeners();
        row.ports = listeners
          .filter((l) => l.serviceArn === s.serviceArn)
          .map((l) => ({ url: `http://${l.listener}`, listener: l.listener, containerPort: l.containerPort, listening: l.listening, ...(l.error ? { error: l.error } : {}) }));
      }
      arns = await listAll(ecs, { cluster: plan.cluster, serviceName: svc.name });
    }
    const tasks = (await describeTasks(ecs, plan.cluster, arns)).filter((t) => !svc.oneShot || t.taskDefinitionArn?.includes(`/${svc.taskDefinition.family}:`));
    if (svc.oneShot) {
      row.status = tasks.length ? (tasks.every((t) => statusOf(t) === 'STOPPED') ? 'COMPLETED' : 'RUNNING') : 'MISSING';
      row.desired = svc.runTask.count ?? 1;
      row.running = tasks.filter((t) => statusOf(t) === 'RUNNING').length;
    }
    row.tasks = tasks.map((t) => ({
      taskArn: t.taskArn!,
      lastStatus: statusOf(t),
      ...(t.healthStatus ? { healthStatus: t.healthStatus } : {}),
      ip: t.attachments?.[0]?.details?.find((d) => d.name === 'privateIPv4Address')?.value,
    }));
  }
  return rows;
}
