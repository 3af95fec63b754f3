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
 * - `ports` put the service behind Skiff's load balancer (see
 *   loadBalancersFor): each TCP container port gets a portMapping and a
 *   `loadBalancers` entry {loadBalancerName, containerName, containerPort};
 *   published ports become the service tag `skiff:loadBalancerPort` (the
 *   listener's host port; without them Skiff picks free ones). `expose`
 *   becomes portMappings only.
 * - a project whose services use secrets gets an execution role
 *   (executionRoleNameFor) allowed to read exactly the project's secrets; the
 *   task definitions that use secrets name it as their executionRoleArn.
 */
import { createHash } from 'node:crypto';
import type { ContainerDefinition, CreateServiceCommandInput, LoadBalancer, RegisterTaskDefinitionCommandInput, RunTaskCommandInput, Tag, Volume } from '@aws-sdk/client-ecs';
import { cheapestSizeAtLeast, type TaskSize } from '../ecs/sizes.ts';
import { ComposeError, type ComposeProject, type ComposeService, type DependsCondition } from './compose-file.ts';
import { LISTENER_PORT_TAG } from '../model/load-balancer.ts';
import { fileSystemFor, fileSystemIdPlaceholder, type PlannedFileSystem } from './volumes.ts';

/** The tag every resource `skiff compose up` makes carries, so `down` removes only what compose made. */
export const PROJECT_TAG = 'skiff:compose-project';
export const DEFAULT_SIZE: TaskSize = Object.freeze({ cpu: 256, memory: 512 });
const MiB = 1024 * 1024;

export interface ServicePlan {
  name: string;
  /** Runs as standalone task(s) that are expected to exit 0, not as an ECS service. */
  oneShot: boolean;
  taskDefinition: RegisterTaskDefinitionCommandInput;
  /** CreateService input, with the service's loadBalancers and listener port tag when it has `ports`. */
  service: CreateServiceCommandInput;
  /** RunTask input for a oneShot service. */
  runTask: RunTaskCommandInput;
  /** One entry per published TCP container port (also in `service`). */
  loadBalancers: LoadBalancer[];
  /** The listener host port of each loadBalancers entry, when the file publishes them (else Skiff picks). */
  listenerPorts?: number[];
  /** Whether its containers use secrets (so its task definition needs the project's execution role). */
  usesSecrets: boolean;
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
  /** The EFS file systems of the project's named volumes and bind-mounted folders (made by `up` if missing). */
  fileSystems: PlannedFileSystem[];
  /** The execution role `up` makes for the services that use secrets; undefined when none does. */
  executionRoleName?: string;
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

/** Role names are 1..64 characters (IAM); a long project name is shortened with a hash. */
export function executionRoleNameFor(project: string): string {
  return shorten(`compose-${project}-execution`, 64);
}

/** The name of a service's load balancer for one container port (1..32 letters, digits, hyphens). */
export function loadBalancerNameFor(project: string, service: string, containerPort: number): string {
  const name = `${project}-${service}-${containerPort}`.replace(/[^A-Za-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-+|-+$/g, '');
  return shorten(name, 32);
}

function shorten(name: string, max: number): string {
  if (name.length <= max) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, max - 9).replace(/-+$/, '')}-${hash}`;
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

  const fileSystems = new Map<string, PlannedFileSystem>();
  const plans = new Map<string, ServicePlan>();
  const publishedBy = new Map<number, string>();
  for (const svc of project.services) {
    const size = taskSizeFor(svc, problems, notes);
    const container = containerFor(svc, project.name, notes);
    const volumes = volumesFor(svc, project.name, container, fileSystems);
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
    const { loadBalancers, listenerPorts } = loadBalancersFor(svc, project.name, problems, notes);
    for (const port of listenerPorts ?? []) {
      const other = publishedBy.get(port);
      if (other) problems.push(`services.${svc.name}.ports: host port ${port} is already published by ${other}; publish another port`);
      publishedBy.set(port, svc.name);
    }
    if (oneShot && loadBalancers.length) notes.push(`${svc.name}: runs as a one-shot task, so its ports are not behind a load balancer`);
    const serviceTags = listenerPorts ? [...tags, { key: LISTENER_PORT_TAG, value: listenerPorts.join(',') }] : tags;
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
        ...(volumes.length ? { volumes } : {}),
        tags,
      },
      service: { cluster, serviceName: svc.name, taskDefinition: family, desiredCount: count, ...(loadBalancers.length ? { loadBalancers } : {}), tags: serviceTags },
      runTask: { cluster, taskDefinition: family, count, startedBy: `compose/${project.name}`, tags },
      loadBalancers,
      ...(listenerPorts ? { listenerPorts } : {}),
      usesSecrets: (container.secrets ?? []).length > 0,
      dependsOn: svc.dependsOn,
    });
  }
  const order = startOrder(project.services, problems);
  if (problems.length) throw new ComposeError(problems);
  const services = order.map((n) => plans.get(n)!);
  const executionRoleName = services.some((s) => s.usesSecrets) ? executionRoleNameFor(project.name) : undefined;
  return { project: project.name, cluster, secrets, fileSystems: [...fileSystems.values()], ...(executionRoleName ? { executionRoleName } : {}), services, notes, warnings: project.warnings };
}

/** The service's mounts as EFS volumes (file system ids still placeholders) and the container's mountPoints; records each file system once. */
function volumesFor(svc: ComposeService, project: string, container: ContainerDefinition, fileSystems: Map<string, PlannedFileSystem>): Volume[] {
  const volumes = new Map<string, Volume>();
  for (const m of svc.mounts) {
    const { volumeName, fs } = fileSystemFor(project, m);
    fileSystems.set(fs.key, fs);
    volumes.set(volumeName, { name: volumeName, efsVolumeConfiguration: { fileSystemId: fileSystemIdPlaceholder(fs.key) } });
    (container.mountPoints ??= []).push({ sourceVolume: volumeName, containerPath: m.target, readOnly: m.readOnly });
  }
  return [...volumes.values()];
}

/**
 * A service's `ports` as load balancer entries: one {loadBalancerName,
 * containerName, containerPort} per distinct TCP container port, in file
 * order, and the listener host ports when the file publishes them ("8080:80",
 * {published, target}). A service publishes a port for every entry or for
 * none (the `skiff:loadBalancerPort` tag lists one per entry); UDP ports are
 * reachable by other tasks only (the load balancer speaks HTTP).
 */
export function loadBalancersFor(
  svc: Pick<ComposeService, 'name' | 'ports'>,
  project: string,
  problems: string[] = [],
  notes: string[] = [],
): { loadBalancers: LoadBalancer[]; listenerPorts?: number[] } {
  const published = new Map<number, number | undefined>();
  for (const p of svc.ports) {
    if (p.protocol === 'udp') {
      notes.push(`${svc.name}: UDP port ${p.target} is reachable by other tasks only (Skiff's load balancer serves HTTP)`);
      continue;
    }
    let host: number | undefined;
    if (p.published !== undefined && p.published !== '') {
      host = /^\d{1,5}$/.test(p.published) ? Number(p.published) : NaN;
      if (!(host >= 1 && host <= 65535)) {
        problems.push(`services.${svc.name}.ports: published port ${JSON.stringify(p.published)} must be one host port (1..65535); ranges are not supported`);
        continue;
      }
    }
    const before = published.get(p.target);
    if (published.has(p.target) && before !== undefined && host !== undefined && before !== host) {
      problems.push(`services.${svc.name}.ports: container port ${p.target} is published twice (${before}, ${host}); its load balancer has one listener port`);
      continue;
    }
    published.set(p.target, before ?? host);
  }
  const loadBalancers = [...published.keys()].map((containerPort) => ({ loadBalancerName: loadBalancerNameFor(project, svc.name, containerPort), containerName: svc.name, containerPort }));
  const hosts = [...published.values()];
  if (hosts.every((h) => h === undefined)) return { loadBalancers };
  if (hosts.some((h) => h === undefined)) {
    problems.push(`services.${svc.name}.ports: publish a host port for every TCP port ("8080:80") or for none (Skiff then picks free ones)`);
    return { loadBalancers };
  }
  if (new Set(hosts).size !== hosts.length) {
    problems.push(`services.${svc.name}.ports: host port ${hosts.find((h, i) => hosts.indexOf(h) !== i)} is published twice; give each container port its own`);
    return { loadBalancers };
  }
  return { loadBalancers, listenerPorts: hosts as number[] };
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
