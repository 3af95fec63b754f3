/**
 * Compose project → what Skiff registers and creates: one task definition per
 * Compose service (family `<project>-<service>`, one essential container named
 * after the service), one ECS service per Compose service in the project's
 * cluster, Secrets Manager secrets for the Compose secrets, and the order to
 * start them in. Pure: the plan is computed (and every problem reported)
 * before anything is created.
 *
 * Mapping rules worth knowing:
 * - deploy.resources (limits, else reservations; or cpus/mem_limit) → the
 *   cheapest valid Fargate size that covers them; a note says when that is a
 *   round-up. No resources → 256 CPU units / 512 MiB.
 * - healthcheck durations → whole seconds inside ECS's ranges (interval 5..300,
 *   timeout 2..60, retries 1..10, startPeriod 0..300); a note says when a
 *   value had to move.
 * - a service another service waits on with `service_completed_successfully`
 *   is a job, not a long-running service: it runs as standalone task(s)
 *   (RunTask, startedBy `compose/<project>`), since an ECS service would
 *   restart it when it exits.
 * - secrets are injected as environment variables named after the secret's
 *   target (ECS has no /run/secrets files).
 * - `ports` become portMappings and a `loadBalancers` entry
 *   {containerName, containerPort} per port (see loadBalancersFor); `expose`
 *   becomes portMappings only.
 */
import type { ContainerDefinition, CreateServiceCommandInput, LoadBalancer, RegisterTaskDefinitionCommandInput, RunTaskCommandInput, Tag } from '@aws-sdk/client-ecs';
import { cheapestSizeAtLeast, type TaskSize } from '../ecs/sizes.ts';
import { ComposeError, type ComposeProject, type ComposeService, type DependsCondition } from './compose-file.ts';

/** The tag every resource `skiff compose up` makes carries, so `down` removes only what compose made. */
export const PROJECT_TAG = 'skiff:compose-project';
export const DEFAULT_SIZE: TaskSize = Object.freeze({ cpu: 256, memory: 512 });
const MiB = 1024 * 1024;

export interface ServicePlan {
  name: string;
  /** Runs as standalone task(s) that are expected to exit 0, not as an ECS service. */
  oneShot: boolean;
  taskDefinition: RegisterTaskDefinitionCommandInput;
  /** CreateService input without loadBalancers (see withLoadBalancers). */
  service: CreateServiceCommandInput;
  /** RunTask input for a oneShot service. */
  runTask: RunTaskCommandInput;
  loadBalancers: LoadBalancer[];
  dependsOn: { service: string; condition: DependsCondition }[];
  /** The task size chosen (see taskSizeFor). */
  size: TaskSize;
}

export interface PlannedSecret {
  /** The Compose name (top-level `secrets:` key). */
  composeName: string;
  /** The Secrets Manager name Skiff stores it under: `compose/<project>/<name>`. */
  secretName: string;
  value: string;
}

export interface ComposePlan {
  project: string;
  cluster: string;
  secrets: PlannedSecret[];
  /** In start order: every service after the services it depends on. */
  services: ServicePlan[];
  /** Things the user should know (round-ups, clamped values, secrets as env vars). */
  notes: string[];
  /** Ignored keys, one line per key path. */
  warnings: string[];
}

export interface PlanOptions {
  /** Cluster to run in; default: the project name. */
  cluster?: string;
}

export function secretNameFor(project: string, composeName: string): string {
  return `compose/${project}/${composeName}`;
}

export function familyFor(project: string, service: string): string {
  return `${project}-${service}`;
}

export function planCompose(project: ComposeProject, opts: PlanOptions = {}): ComposePlan {
  const problems: string[] = [];
  const notes: string[] = [];
  const cluster = opts.cluster ?? project.name;
  const tags: Tag[] = [{ key: PROJECT_TAG, value: project.name }];
  const secrets = project.secrets.map((s) => ({ composeName: s.name, secretName: secretNameFor(project.name, s.name), value: s.value }));
  const jobs = new Set(project.services.flatMap((s) => s.dependsOn.filter((d) => d.condition === 'service_completed_successfully').map((d) => d.service)));

  const plans = new Map<string, ServicePlan>();
  for (const svc of project.services) {
    const size = taskSizeFor(svc, problems, notes);
    const container = containerFor(svc, project.name, notes);
    const family = familyFor(project.name, svc.name);
    const oneShot = jobs.has(svc.name);
    const count = svc.replicas ?? 1;
    if (oneShot && (count < 1 || count > 10)) problems.push(`services.${svc.name}: it runs as a one-shot task (others wait for it to complete), so deploy.replicas must be 1..10`);
    for (const d of svc.dependsOn) {
      const dep = project.services.find((s) => s.name === d.service);
      if (d.condition === 'service_healthy' && dep && !dep.healthcheck) {
        problems.push(`services.${svc.name}.depends_on.${d.service}: condition service_healthy needs a healthcheck on ${d.service}`);
      }
    }
    plans.set(svc.name, {
      name: svc.name,
      oneShot,
      size,
      taskDefinition: {
        family,
        networkMode: 'awsvpc',
        requiresCompatibilities: ['FARGATE'],
        cpu: String(size.cpu),
        memory: String(size.memory),
        containerDefinitions: [container],
        tags,
      },
      service: { cluster, serviceName: svc.name, taskDefinition: family, desiredCount: count, tags },
      runTask: { cluster, taskDefinition: family, count, startedBy: `compose/${project.name}`, tags },
      loadBalancers: loadBalancersFor(svc),
      dependsOn: svc.dependsOn,
    });
  }
  const order = startOrder(project.services, problems);
  if (problems.length) throw new ComposeError(problems);
  return { project: project.name, cluster, secrets, services: order.map((n) => plans.get(n)!), notes, warnings: project.warnings };
}

/**
 * The load balancer entries for a service's `ports`: one {containerName,
 * containerPort} per distinct TCP/UDP container port, in file order.
 */
export function loadBalancersFor(svc: Pick<ComposeService, 'name' | 'ports'>): LoadBalancer[] {
  const seen = new Set<number>();
  const out: LoadBalancer[] = [];
  for (const p of svc.ports) {
    if (seen.has(p.target)) continue;
    seen.add(p.target);
    out.push({ containerName: svc.name, containerPort: p.target });
  }
  return out;
}

/** The CreateService request with the service's load balancer entries (none → the request unchanged). */
export function withLoadBalancers(plan: Pick<ServicePlan, 'service' | 'loadBalancers'>): CreateServiceCommandInput {
  return plan.loadBalancers.length ? { ...plan.service, loadBalancers: plan.loadBalancers } : plan.service;
}

/** The task size for a service's resources (see the module comment). */
export function taskSizeFor(svc: Pick<ComposeService, 'name' | 'limits' | 'reservations'>, problems: string[] = [], notes: string[] = []): TaskSize {
  const cpus = svc.limits.cpus ?? svc.reservations.cpus;
  const memory = svc.limits.memory ?? svc.reservations.memory;
  if (cpus === undefined && memory === undefined) return DEFAULT_SIZE;
  const wantCpu = cpus === undefined ? 0 : Math.ceil(cpus * 1024);
  const wantMem = memory === undefined ? 0 : Math.ceil(memory / MiB);
  const size = cheapestSizeAtLeast(wantCpu, wantMem);
  if (!size) {
    problems.push(`services.${svc.name}.deploy.resources: ${describeAsk(cpus, wantMem)} is more than the largest Fargate size (16 vCPU, 120 GiB)`);
    return DEFAULT_SIZE;
  }
  if ((cpus !== undefined && size.cpu !== wantCpu) || (memory !== undefined && size.memory !== wantMem)) {
    notes.push(
      `${svc.name}: ${describeAsk(cpus, wantMem)} is not a Fargate size; rounded up to ${size.cpu} CPU units (${size.cpu / 1024} vCPU) and ${size.memory} MiB`,
    );
  }
  return size;
}

function describeAsk(cpus: number | undefined, mib: number): string {
  const parts = [];
  if (cpus !== undefined) parts.push(`${cpus} CPU`);
  if (mib) parts.push(`${mib} MiB`);
  return parts.join(' and ');
}

const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

function containerFor(svc: ComposeService, project: string, notes: string[]): ContainerDefinition {
  const c: ContainerDefinition = { name: svc.name, image: svc.image, essential: true };
  if (svc.entrypoint) c.entryPoint = svc.entrypoint;
  if (svc.command) c.command = svc.command;
  if (svc.environment.length) c.environment = svc.environment.map(([name, value]) => ({ name, value }));
  const ports = new Map<number, 'tcp' | 'udp'>();
  for (const p of svc.ports) ports.set(p.target, p.protocol);
  for (const p of svc.expose) if (!ports.has(p)) ports.set(p, 'tcp');
  if (ports.size) c.portMappings = [...ports].map(([containerPort, protocol]) => ({ containerPort, protocol }));
  const published = svc.ports.filter((p) => p.published && p.published !== String(p.target));
  if (published.length) {
    notes.push(`${svc.name}: published ports (${published.map((p) => `${p.published}:${p.target}`).join(', ')}) have no host side on Fargate; the service serves container port(s) ${published.map((p) => p.target).join(', ')}`);
  }
  if (svc.healthcheck) c.healthCheck = healthCheckFor(svc.name, svc.healthcheck, notes);
  if (svc.limits.memory !== undefined) c.memory = Math.ceil(svc.limits.memory / MiB);
  if (svc.reservations.memory !== undefined) {
    const r = Math.ceil(svc.reservations.memory / MiB);
    if (c.memory === undefined || r < c.memory) c.memoryReservation = r;
  }
  if (svc.limits.cpus !== undefined) c.cpu = Math.ceil(svc.limits.cpus * 1024);
  if (svc.secrets.length) {
    c.secrets = svc.secrets.map((s) => {
      const name = ENV_NAME_RE.test(s.target) ? s.target : s.target.toUpperCase().replace(/[^A-Z0-9_]/g, '_').replace(/^(\d)/, '_$1');
      return { name, valueFrom: secretNameFor(project, s.source) };
    });
    notes.push(
      `${svc.name}: secrets ${c.secrets.map((s) => s.name).join(', ')} are given to the container as environment variables (ECS injects secrets that way, not as files under /run/secrets)`,
    );
  }
  if (svc.workingDir) c.workingDirectory = svc.workingDir;
  if (svc.user) c.user = svc.user;
  if (svc.stopGracePeriod !== undefined) {
    const t = clamp(Math.round(svc.stopGracePeriod), 2, 120);
    if (t !== svc.stopGracePeriod) notes.push(`${svc.name}: stop_grace_period ${svc.stopGracePeriod}s → stopTimeout ${t}s (ECS allows 2..120 s)`);
    c.stopTimeout = t;
  }
  if (svc.init) c.linuxParameters = { initProcessEnabled: true };
  if (svc.readOnly) c.readonlyRootFilesystem = true;
  return c;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** Compose healthcheck → ECS healthCheck, whole seconds within ECS's ranges. */
export function healthCheckFor(service: string, h: NonNullable<ComposeService['healthcheck']>, notes: string[] = []): NonNullable<ContainerDefinition['healthCheck']> {
  const fit = (key: string, v: number | undefined, lo: number, hi: number): number | undefined => {
    if (v === undefined) return undefined;
    const out = clamp(Math.round(v), lo, hi);
    if (out !== v) notes.push(`${service}: healthcheck ${key} ${v}s → ${out}s (ECS allows ${lo}..${hi})`);
    return out;
  };
  const hc: NonNullable<ContainerDefinition['healthCheck']> = { command: h.test };
  const interval = fit('interval', h.interval, 5, 300);
  const timeout = fit('timeout', h.timeout, 2, 60);
  const startPeriod = fit('start_period', h.startPeriod, 0, 300);
  if (interval !== undefined) hc.interval = interval;
  if (timeout !== undefined) hc.timeout = timeout;
  if (startPeriod !== undefined) hc.startPeriod = startPeriod;
  if (h.retries !== undefined) {
    const r = clamp(h.retries, 1, 10);
    if (r !== h.retries) notes.push(`${service}: healthcheck retries ${h.retries} → ${r} (ECS allows 1..10)`);
    hc.retries = r;
  }
  return hc;
}

/** Services ordered so each comes after everything it depends on (file order otherwise); a cycle is a problem. */
export function startOrder(services: Pick<ComposeService, 'name' | 'dependsOn'>[], problems: string[] = []): string[] {
  const byName = new Map(services.map((s) => [s.name, s]));
  const state = new Map<string, 'visiting' | 'done'>();
  const out: string[] = [];
  const visit = (name: string, trail: string[]): void => {
    const st = state.get(name);
    if (st === 'done') return;
    if (st === 'visiting') {
      problems.push(`depends_on has a cycle: ${[...trail.slice(trail.indexOf(name)), name].join(' → ')}`);
      return;
    }
    const s = byName.get(name);
    if (!s) return;
    state.set(name, 'visiting');
    for (const d of s.dependsOn) visit(d.service, [...trail, name]);
    state.set(name, 'done');
    out.push(name);
  };
  for (const s of services) visit(s.name, []);
  return out;
}
