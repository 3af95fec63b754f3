/**
 * Task definitions the CLI builds or reads: from a JSON file (the shape
 * `aws ecs register-task-definition --cli-input-json` takes), from an image and
 * a few flags (`skiff run IMAGE`), or from a registered one with a new image
 * (`skiff deploy --image`). Pure functions; the commands do the calls.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { ContainerDefinition, RegisterTaskDefinitionCommandInput, TaskDefinition } from '@aws-sdk/client-ecs';

/** Reads a task definition file; errors say which file and what is wrong. */
export function readTaskDefinitionFile(file: string): RegisterTaskDefinitionCommandInput {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read the task definition ${file}: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${file} must hold a JSON object (a task definition, as for \`aws ecs register-task-definition --cli-input-json\`)`);
  // `aws ecs describe-task-definition` output works too.
  const td = ('taskDefinition' in parsed ? (parsed as { taskDefinition: unknown }).taskDefinition : parsed) as TaskDefinition;
  if (!td.family) throw new Error(`${file} has no "family": name the task definition family`);
  return registrableCopy(td);
}

/** Whether `ref` names a file (else it is a family, family:revision or ARN). */
export const isFile = (ref: string) => ref.endsWith('.json') || existsSync(ref);

/** A registered task definition as input for registering a new revision (read-only fields dropped). */
export function registrableCopy(td: TaskDefinition): RegisterTaskDefinitionCommandInput {
  const {
    taskDefinitionArn: _a, revision: _r, status: _s, requiresAttributes: _ra, compatibilities: _c,
    registeredAt: _ra2, registeredBy: _rb, deregisteredAt: _d, ...rest
  } = td as TaskDefinition & Record<string, unknown>;
  return rest as RegisterTaskDefinitionCommandInput;
}

/** The family `skiff run IMAGE` registers when none is given: the image's repository name. */
export function familyForImage(image: string): string {
  const noDigest = image.split('@')[0];
  const lastSlash = noDigest.lastIndexOf('/');
  const repo = noDigest.slice(lastSlash + 1).split(':')[0];
  const name = repo.replace(/[^A-Za-z0-9_-]/g, '-').replace(/^-+/, '').slice(0, 255);
  return name || 'run';
}

export interface RunFlags {
  image: string;
  command: string[];
  cpu: string;
  memory: string;
  family?: string;
  name?: string;
  env: string[];
}

export function taskDefinitionForImage(f: RunFlags): RegisterTaskDefinitionCommandInput {
  const environment = f.env.map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`--env ${kv}: use KEY=VALUE`);
    return { name: kv.slice(0, eq), value: kv.slice(eq + 1) };
  });
  const family = f.family ?? familyForImage(f.image);
  const container: ContainerDefinition = {
    name: f.name ?? family,
    image: f.image,
    essential: true,
    ...(f.command.length ? { command: f.command } : {}),
    ...(environment.length ? { environment } : {}),
  };
  return { family, requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc', cpu: f.cpu, memory: f.memory, containerDefinitions: [container] };
}

/** `td` with `image` in one container: `container` by name, else the only one (or the only essential one). */
export function withImage(td: TaskDefinition, image: string, container?: string): RegisterTaskDefinitionCommandInput {
  const input = registrableCopy(td);
  const defs = input.containerDefinitions ?? [];
  let target: ContainerDefinition | undefined;
  if (container) {
    target = defs.find((c) => c.name === container);
    if (!target) throw new Error(`${td.family}:${td.revision} has no container named ${container} (it has ${defs.map((c) => c.name).join(', ')})`);
  } else {
    const essential = defs.filter((c) => c.essential !== false);
    target = defs.length === 1 ? defs[0] : essential.length === 1 ? essential[0] : undefined;
    if (!target) throw new Error(`${td.family}:${td.revision} has ${defs.length} containers: say which one gets the image with --container (${defs.map((c) => c.name).join(', ')})`);
  }
  input.containerDefinitions = defs.map((c) => (c === target ? { ...c, image } : c));
  return input;
}

/** Whether registering `input` would repeat the registered `td` (same size, containers and settings). */
export function sameDefinition(td: TaskDefinition | undefined, input: RegisterTaskDefinitionCommandInput): boolean {
  if (!td) return false;
  const norm = (x: RegisterTaskDefinitionCommandInput) => JSON.stringify({
    cpu: String(x.cpu ?? ''), memory: String(x.memory ?? ''),
    containers: (x.containerDefinitions ?? []).map((c) => ({ name: c.name, image: c.image, command: c.command ?? [], entryPoint: c.entryPoint ?? [], environment: c.environment ?? [], essential: c.essential !== false })),
  });
  return norm(registrableCopy(td)) === norm(input) && Object.keys(input).every((k) => ['family', 'requiresCompatibilities', 'networkMode', 'cpu', 'memory', 'containerDefinitions'].includes(k));
}
