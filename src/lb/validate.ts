/**
 * Validation of a CreateService/UpdateService `loadBalancers` list, as ECS
 * does it: each entry names a target group (or a load balancer), a container
 * of the task definition and a port that container maps; Skiff's listener
 * port, deregistration delay and HTTP health check come from the service's
 * tags (model.ts).
 * Pure: every problem is an InvalidParameterException saying what to fix.
 */
import type { TaskDefinition } from '@aws-sdk/client-ecs';
import { invalidParameter } from '../api/errors.ts';
import {
  DEFAULT_HEALTH_CHECK_PATH,
  DEREGISTRATION_DELAY_TAG,
  HEALTH_CHECK_TAGS,
  LISTENER_PORT_TAG,
  MAX_DEREGISTRATION_DELAY_SECONDS,
  MAX_LOAD_BALANCERS,
  loadBalancerKey,
  type ServiceLoadBalancer,
  type TargetHealthCheck,
} from '../model/load-balancer.ts';

export type LoadBalancerRequest = Omit<ServiceLoadBalancer, 'listenerPort'>;

const TARGET_GROUP_ARN = /^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/[A-Za-z0-9-]{1,32}\/[0-9a-f]{1,32}$/;
const LOAD_BALANCER_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses and checks the `loadBalancers` request member (undefined/[] → []). */
export function readLoadBalancers(v: unknown): LoadBalancerRequest[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalidParameter(`loadBalancers must be a list of {"targetGroupArn": ..., "containerName": ..., "containerPort": ...}.`);
  if (v.length > MAX_LOAD_BALANCERS) throw invalidParameter(`A service can have at most ${MAX_LOAD_BALANCERS} loadBalancers (got ${v.length}).`);
  const out: LoadBalancerRequest[] = [];
  const seen = new Set<string>();
  for (const [i, e] of v.entries()) {
    const at = `loadBalancers[${i}]`;
    if (!isObj(e)) throw invalidParameter(`${at} must be an object {"targetGroupArn": ..., "containerName": ..., "containerPort": ...}.`);
    const tg = e.targetGroupArn ?? undefined;
    const name = e.loadBalancerName ?? undefined;
    if (tg !== undefined && typeof tg !== 'string') throw invalidParameter(`${at}.targetGroupArn must be a string.`);
    if (name !== undefined && typeof name !== 'string') throw invalidParameter(`${at}.loadBalancerName must be a string.`);
    if (!tg && !name) throw invalidParameter(`${at} must name a target group (targetGroupArn) or a load balancer (loadBalancerName).`);
    if (tg && name) throw invalidParameter(`${at}: specify either targetGroupArn (Application/Network Load Balancer) or loadBalancerName (Classic Load Balancer), not both.`);
    if (tg && !TARGET_GROUP_ARN.test(tg)) {
      throw invalidParameter(`${at}.targetGroupArn ${JSON.stringify(tg)} is not a target group ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID).`);
    }
    if (name && !LOAD_BALANCER_NAME.test(name)) {
      throw invalidParameter(`${at}.loadBalancerName ${JSON.stringify(name)} is not valid: 1 to 32 letters, digits and hyphens, not starting or ending with a hyphen.`);
    }
    if (typeof e.containerName !== 'string' || e.containerName === '') throw invalidParameter(`${at}.containerName is required: the container of the task definition that receives the traffic.`);
    if (typeof e.containerPort !== 'number' || !Number.isInteger(e.containerPort) || e.containerPort < 1 || e.containerPort > 65535) {
      throw invalidParameter(`${at}.containerPort must be a port number from 1 to 65535 that the container maps in its portMappings; got ${JSON.stringify(e.containerPort)}.`);
    }
    const entry: LoadBalancerRequest = { ...(tg ? { targetGroupArn: tg } : { loadBalancerName: name as string }), containerName: e.containerName, containerPort: e.containerPort };
    const key = loadBalancerKey(entry);
    if (seen.has(key)) throw invalidParameter(`${at} repeats ${tg ? `target group ${tg}` : `load balancer ${name}`}: each target group may appear once.`);
    seen.add(key);
    out.push(entry);
  }
  return out;
}

/** Checks that the task definition has each entry's container and that it maps the port (TCP). */
export function checkAgainstTaskDefinition(lbs: LoadBalancerRequest[], def: TaskDefinition): void {
  const ref = `${def.family}:${def.revision}`;
  for (const lb of lbs) {
    const c = (def.containerDefinitions ?? []).find((x) => x.name === lb.containerName);
    if (!c) {
      const names = (def.containerDefinitions ?? []).map((x) => x.name).join(', ');
      throw invalidParameter(`The container ${lb.containerName} does not exist in the task definition ${ref} (its containers: ${names}). Set loadBalancers containerName to one of them.`);
    }
    const mapped = (c.portMappings ?? []).filter((p) => (p.protocol ?? 'tcp') === 'tcp').map((p) => p.containerPort);
    if (!mapped.includes(lb.containerPort)) {
      throw invalidParameter(
        `The container ${lb.containerName} in task definition ${ref} does not have a container port ${lb.containerPort} defined` +
          (mapped.length ? ` (it maps ${mapped.join(', ')}).` : ' (it has no TCP portMappings).') +
          ` Add {"containerPort": ${lb.containerPort}} to its portMappings or use a mapped port.`,
      );
    }
  }
}

/** Host ports the user asked for with the `skiff:loadBalancerPort` tag (undefined: Skiff picks). */
export function requestedListenerPorts(tags: { key?: string; value?: string }[], count: number): (number | undefined)[] {
  const raw = tags.find((t) => t.key === LISTENER_PORT_TAG)?.value;
  if (raw === undefined || raw === '') return Array<undefined>(count).fill(undefined);
  const parts = raw.split(',').map((s) => s.trim());
  const ports = parts.map((p) => (/^\d{1,5}$/.test(p) ? Number(p) : NaN));
  if (ports.some((p) => !(p >= 1 && p <= 65535))) throw invalidParameter(`Tag ${LISTENER_PORT_TAG} must be host port numbers (1..65535), comma-separated in the order of loadBalancers; got ${JSON.stringify(raw)}.`);
  if (ports.length !== count) throw invalidParameter(`Tag ${LISTENER_PORT_TAG} lists ${ports.length} port(s) but the service has ${count} loadBalancers entr${count === 1 ? 'y' : 'ies'}: give one port per entry.`);
  if (new Set(ports).size !== ports.length) throw invalidParameter(`Tag ${LISTENER_PORT_TAG} repeats a port: each loadBalancers entry needs its own listener port.`);
  return ports;
}

/** The deregistration delay the `skiff:deregistrationDelaySeconds` tag sets (undefined: the server default). */
export function requestedDeregistrationDelay(tags: { key?: string; value?: string }[]): number | undefined {
  const raw = tags.find((t) => t.key === DEREGISTRATION_DELAY_TAG)?.value;
  if (raw === undefined || raw === '') return undefined;
  const v = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!(v >= 0 && v <= MAX_DEREGISTRATION_DELAY_SECONDS)) {
    throw invalidParameter(`Tag ${DEREGISTRATION_DELAY_TAG} must be a number of seconds from 0 to ${MAX_DEREGISTRATION_DELAY_SECONDS}; got ${JSON.stringify(raw)}.`);
  }
  return v;
}

/**
 * The HTTP target health check of a service's target groups. As an ALB target
 * group always health-checks its targets, there is always one: GET / every
 * 30 s, timeout 5 s, healthy after 5 passes, unhealthy after 2 failures,
 * matcher 200 (ALB's defaults); the `skiff:healthCheck*` tags (model/load-balancer.ts)
 * override each setting.
 */
export function requestedHealthCheck(tags: { key?: string; value?: string }[]): TargetHealthCheck {
  const tag = (k: string) => {
    const v = tags.find((t) => t.key === k)?.value;
    return v === undefined || v === '' ? undefined : v;
  };
  const path = tag(HEALTH_CHECK_TAGS.path) ?? DEFAULT_HEALTH_CHECK_PATH;
  if (!path.startsWith('/') || path.length > 1024 || /[\s\x00-\x1f]/.test(path)) {
    throw invalidParameter(`Tag ${HEALTH_CHECK_TAGS.path} must be a URL path starting with / (at most 1024 characters, no spaces); got ${JSON.stringify(path)}.`);
  }
  const int = (key: string, def: number, min: number, max: number): number => {
    const raw = tag(key);
    if (raw === undefined) return def;
    const v = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!(v >= min && v <= max)) throw invalidParameter(`Tag ${key} must be a whole number from ${min} to ${max}; got ${JSON.stringify(raw)}.`);
    return v;
  };
  const intervalSeconds = int(HEALTH_CHECK_TAGS.intervalSeconds, 30, 1, 300);
  const timeoutSeconds = int(HEALTH_CHECK_TAGS.timeoutSeconds, Math.min(5, Math.max(1, intervalSeconds - 1)), 1, 120);
  if (timeoutSeconds >= intervalSeconds && intervalSeconds > 1) {
    throw invalidParameter(`Tag ${HEALTH_CHECK_TAGS.timeoutSeconds} (${timeoutSeconds}) must be less than ${HEALTH_CHECK_TAGS.intervalSeconds} (${intervalSeconds}).`);
  }
  const matcher = tag(HEALTH_CHECK_TAGS.matcher) ?? '200';
  if (!parseMatcher(matcher)) {
    throw invalidParameter(`Tag ${HEALTH_CHECK_TAGS.matcher} must be HTTP codes from 200 to 499: one ("200"), a list ("200,302") or a range ("200-299"); got ${JSON.stringify(matcher)}.`);
  }
  return {
    path,
    intervalSeconds,
    timeoutSeconds,
    healthyThreshold: int(HEALTH_CHECK_TAGS.healthyThreshold, 5, 2, 10),
    unhealthyThreshold: int(HEALTH_CHECK_TAGS.unhealthyThreshold, 2, 2, 10),
    matcher,
  };
}

/** ALB's success codes: "200", "200,302", "200-299" (200..499); undefined when malformed. */
export function parseMatcher(matcher: string): ((status: number) => boolean) | undefined {
  const parts = matcher.split(',').map((s) => s.trim());
  const ranges: [number, number][] = [];
  for (const p of parts) {
    const m = /^(\d{3})(?:-(\d{3}))?$/.exec(p);
    if (!m) return undefined;
    const lo = Number(m[1]);
    const hi = Number(m[2] ?? m[1]);
    if (lo < 200 || hi > 499 || lo > hi) return undefined;
    ranges.push([lo, hi]);
  }
  return (status) => ranges.some(([lo, hi]) => status >= lo && status <= hi);
}
