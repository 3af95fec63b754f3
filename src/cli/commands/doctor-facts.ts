/**
 * What `skiff doctor` asks the server about the resources a task definition
 * (and its service) names, through the same public APIs any AWS client uses:
 * CloudWatch Logs DescribeLogGroups, Secrets Manager DescribeSecret, Skiff's
 * roles endpoint, EC2 DescribeSecurityGroups, ECS DescribeServices and
 * Application Auto Scaling Describe*. Each group of lookups that fails (the key
 * may not allow it) leaves its facts out with the reason, so the checklist says
 * what it could not check instead of guessing.
 */
import type { Service, TaskDefinition } from '@aws-sdk/client-ecs';
import { credentials, ecsClient, resolveEndpoint, resolveRegion, signedFetch, skiffFetch, type ClientOptions } from '../client.ts';
import type { DoctorFacts, SecurityGroupFacts, ServiceFacts } from '../../advisor/doctor.ts';
import type { Policy } from '../../auth/policy.ts';
import { parseRoleArn } from '../../auth/roles.ts';
import { parseSecretValueFrom } from '../../secrets/task-secrets.ts';

/** An error response from one of the server's APIs: its AWS error type and message. */
class ApiCallError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(`${type}: ${message}`);
  }
}

async function send(opts: ClientOptions, url: URL, init: { method?: string; body?: string; headers?: Record<string, string>; service: string }): Promise<Response> {
  try {
    return await signedFetch(url, { ...init, region: resolveRegion(opts), credentials });
  } catch (err) {
    const cause = (err as Error & { cause?: { code?: string } }).cause;
    throw new Error(cause ? `cannot reach Skiff at ${url.origin} (${cause.code ?? String(cause)})` : (err as Error).message);
  }
}

/** One AWS JSON 1.1 call (`X-Amz-Target: <prefix>.<operation>`). */
async function jsonCall<T>(opts: ClientOptions, service: string, target: string, input: unknown): Promise<T> {
  const res = await send(opts, new URL(resolveEndpoint(opts) + '/'), {
    method: 'POST',
    body: JSON.stringify(input),
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
    service,
  });
  const text = await res.text();
  const body = (text ? JSON.parse(text) : {}) as T & { __type?: string; message?: string; Message?: string };
  if (!res.ok) throw new ApiCallError((body.__type ?? `HTTP${res.status}`).split('#').pop()!, body.message ?? body.Message ?? text);
  return body;
}

/** Does the log group exist? (DescribeLogGroups by prefix, then an exact match, page by page.) */
async function logGroupExists(opts: ClientOptions, name: string): Promise<boolean> {
  let nextToken: string | undefined;
  do {
    const out = await jsonCall<{ logGroups?: { logGroupName: string }[]; nextToken?: string }>(opts, 'logs', 'Logs_20140328.DescribeLogGroups', {
      logGroupNamePrefix: name,
      ...(nextToken ? { nextToken } : {}),
    });
    if (out.logGroups?.some((g) => g.logGroupName === name)) return true;
    nextToken = out.nextToken;
  } while (nextToken);
  return false;
}

/** The secret's full ARN, or null when there is none (or it is scheduled for deletion). */
async function describeSecret(opts: ClientOptions, arn: string): Promise<{ arn: string } | null> {
  try {
    const out = await jsonCall<{ ARN: string; DeletedDate?: number }>(opts, 'secretsmanager', 'secretsmanager.DescribeSecret', { SecretId: arn });
    return out.DeletedDate ? null : { arn: out.ARN };
  } catch (err) {
    if (err instanceof ApiCallError && err.type === 'ResourceNotFoundException') return null;
    throw err;
  }
}

/** The role's policy, or null when no role of this server has that ARN. */
async function getRole(opts: ClientOptions, arn: string): Promise<{ policy: Policy } | null> {
  const wanted = parseRoleArn(arn);
  if (!wanted) return null;
  const res = await send(opts, new URL(`${resolveEndpoint(opts)}/skiff/v1/roles/${encodeURIComponent(wanted.name)}`), { service: 'skiff' });
  const body = (await res.json()) as { role?: { arn: string; policy: Policy }; __type?: string; message?: string };
  if (!res.ok) {
    const type = (res.headers.get('x-amzn-errortype') ?? body.__type ?? `HTTP${res.status}`).split(/[#:]/).pop()!;
    if (type === 'ResourceNotFoundException' || res.status === 404) return null;
    throw new ApiCallError(type, body.message ?? '');
  }
  return parseRoleArn(body.role!.arn)?.account === wanted.account ? { policy: body.role!.policy } : null;
}

interface XmlNode {
  name: string;
  text: string;
  children: XmlNode[];
}

const unescapeXml = (s: string) => s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!);

/** A minimal reader for EC2 Query answers: elements, their text and children (no attributes, CDATA or mixed content needed). */
function parseXml(xml: string): XmlNode {
  const root: XmlNode = { name: '', text: '', children: [] };
  const stack = [root];
  const re = /<(\/?)([A-Za-z_][\w.:-]*)[^>]*?(\/?)>|([^<]+)/g;
  for (const m of xml.replace(/<\?[^>]*\?>/g, '').matchAll(re)) {
    const top = stack[stack.length - 1];
    if (m[4] !== undefined) top.text += unescapeXml(m[4]);
    else if (m[1]) stack.length > 1 && stack.pop();
    else {
      const node: XmlNode = { name: m[2], text: '', children: [] };
      top.children.push(node);
      if (!m[3]) stack.push(node);
    }
  }
  return root;
}

const child = (n: XmlNode | undefined, name: string) => n?.children.find((c) => c.name === name);
const items = (n: XmlNode | undefined) => n?.children.filter((c) => c.name === 'item') ?? [];

/** One group's ingress rules, or null when it does not exist (EC2 DescribeSecurityGroups). */
async function describeSecurityGroup(opts: ClientOptions, id: string): Promise<SecurityGroupFacts | null> {
  const doc = await ec2Call(opts, { Action: 'DescribeSecurityGroups', 'GroupId.1': id }, ['InvalidGroup.NotFound', 'InvalidGroupId.Malformed']);
  if (!doc) return null;
  const group = items(child(doc.children[0], 'securityGroupInfo'))[0];
  if (!group) return null;
  const num = (n: XmlNode | undefined) => (n ? Number(n.text) : undefined);
  const perms = (set: string) =>
    items(child(group, set)).map((p) => ({
      protocol: child(p, 'ipProtocol')?.text ?? '-1',
      fromPort: num(child(p, 'fromPort')),
      toPort: num(child(p, 'toPort')),
      cidrs: [...items(child(p, 'ipRanges')).map((r) => child(r, 'cidrIp')?.text ?? ''), ...items(child(p, 'ipv6Ranges')).map((r) => child(r, 'cidrIpv6')?.text ?? '')],
      groups: items(child(p, 'groups')).map((g) => child(g, 'groupId')?.text ?? ''),
    }));
  return { ingress: perms('ipPermissions'), egress: perms('ipPermissionsEgress') };
}

/** One EC2 Query call; its XML document, or null when it failed with one of `absent` (the thing does not exist). */
async function ec2Call(opts: ClientOptions, params: Record<string, string>, absent: string[] = []): Promise<XmlNode | null> {
  const body = new URLSearchParams({ Version: '2016-11-15', ...params }).toString();
  const res = await send(opts, new URL(resolveEndpoint(opts) + '/'), {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    service: 'ec2',
  });
  const doc = parseXml(await res.text());
  if (!res.ok) {
    const error = child(child(child(doc, 'Response'), 'Errors'), 'Error');
    const code = child(error, 'Code')?.text ?? `HTTP${res.status}`;
    if (absent.includes(code)) return null;
    throw new ApiCallError(code, child(error, 'Message')?.text ?? '');
  }
  return doc;
}

/** What decides egress for the given subnets (none given: the default ones): public or not, and the NAT gateway of their route table. */
async function egressFacts(opts: ClientOptions, subnetIds: string[]): Promise<NonNullable<DoctorFacts['egress']>> {
  const text = (n: XmlNode | undefined, name: string) => child(n, name)?.text ?? '';
  const subnets = items(child((await ec2Call(opts, { Action: 'DescribeSubnets' }))!.children[0], 'subnetSet'));
  const tables = items(child((await ec2Call(opts, { Action: 'DescribeRouteTables' }))!.children[0], 'routeTableSet'));
  const nats = items(child((await ec2Call(opts, { Action: 'DescribeNatGateways' }))!.children[0], 'natGatewaySet'));
  const publicOf = (id: string) => text(subnets.find((s) => text(s, 'subnetId') === id), 'mapPublicIpOnLaunch') === 'true';
  const wanted = subnetIds.length ? subnetIds : subnets.filter((s) => text(s, 'defaultForAz') === 'true').map((s) => text(s, 'subnetId'));
  const out: NonNullable<DoctorFacts['egress']>['subnets'] = {};
  for (const id of wanted) {
    if (!subnets.some((s) => text(s, 'subnetId') === id)) {
      out[id] = null;
      continue;
    }
    const table = tables.find((t) => items(child(t, 'associationSet')).some((a) => text(a, 'subnetId') === id));
    const natId = items(child(table, 'routeSet')).find((r) => text(r, 'destinationCidrBlock') === '0.0.0.0/0' && text(r, 'natGatewayId'));
    const nat = natId ? nats.find((n) => text(n, 'natGatewayId') === text(natId, 'natGatewayId') && text(n, 'state') === 'available') : undefined;
    out[id] = { mapPublicIpOnLaunch: publicOf(id), ...(nat ? { natGatewayId: text(nat, 'natGatewayId'), natGatewayPublic: publicOf(text(nat, 'subnetId')) } : {}) };
  }
  return { subnets: out };
}

/** The service's scalable target and what moves it (Application Auto Scaling). */
async function autoscalingOf(opts: ClientOptions, resourceId: string): Promise<NonNullable<ServiceFacts['autoscaling']>> {
  const call = <T>(op: string, input: unknown) => jsonCall<T>(opts, 'application-autoscaling', `AnyScaleFrontendService.${op}`, input);
  const ns = { ServiceNamespace: 'ecs' };
  const targets = await call<{ ScalableTargets?: { MinCapacity: number; MaxCapacity: number }[] }>('DescribeScalableTargets', { ...ns, ResourceIds: [resourceId] });
  const target = targets.ScalableTargets?.[0];
  if (!target) return { target: null, policies: 0, scheduledActions: 0 };
  const policies = await call<{ ScalingPolicies?: unknown[] }>('DescribeScalingPolicies', { ...ns, ResourceId: resourceId });
  const scheduled = await call<{ ScheduledActions?: unknown[] }>('DescribeScheduledActions', { ...ns, ResourceId: resourceId });
  return { target: { minCapacity: target.MinCapacity, maxCapacity: target.MaxCapacity }, policies: policies.ScalingPolicies?.length ?? 0, scheduledActions: scheduled.ScheduledActions?.length ?? 0 };
}

const reason = (what: string, err: unknown) => `${what} failed (${(err as Error).message.split('\n')[0]})`;

/** The service (ECS DescribeServices); an error when it does not exist. */
export async function describeService(opts: ClientOptions, cluster: string, name: string): Promise<Service> {
  const { DescribeServicesCommand } = await import('@aws-sdk/client-ecs');
  const out = await (await ecsClient(opts)).send(new DescribeServicesCommand({ cluster, services: [name] }));
  const s = out.services?.[0];
  if (!s || s.status === 'INACTIVE') throw new Error(`service ${name} not found in cluster ${cluster} — see the services with \`skiff services${cluster === 'default' ? '' : ` --cluster ${cluster}`}\``);
  return s;
}

/** Facts about the service and what its autoscaling, from the APIs. */
export async function serviceFacts(opts: ClientOptions, s: Service): Promise<ServiceFacts> {
  const facts: ServiceFacts = {
    name: s.serviceName!,
    loadBalancers: (s.loadBalancers ?? []).map((lb) => ({ ...lb })),
    ...(s.healthCheckGracePeriodSeconds !== undefined ? { healthCheckGracePeriodSeconds: s.healthCheckGracePeriodSeconds } : {}),
    ...(s.deploymentConfiguration?.deploymentCircuitBreaker ? { circuitBreaker: s.deploymentConfiguration.deploymentCircuitBreaker } : {}),
  };
  const cluster = s.clusterArn?.split('/').pop() ?? 'default';
  try {
    facts.autoscaling = await autoscalingOf(opts, `service/${cluster}/${s.serviceName}`);
  } catch (err) {
    facts.autoscalingUnavailable = reason('Application Auto Scaling Describe*', err);
  }
  return facts;
}

/** Looks up the log groups, secrets and roles the definition names, and the security groups it runs with. */
export async function resourceFacts(opts: ClientOptions, def: TaskDefinition, networkConfiguration: DoctorFacts['networkConfiguration']): Promise<DoctorFacts> {
  const facts: DoctorFacts = {};
  const cs = def.containerDefinitions ?? [];
  const groups = new Set(cs.filter((c) => c.logConfiguration?.logDriver === 'awslogs').map((c) => c.logConfiguration!.options?.['awslogs-group']).filter((g): g is string => !!g));
  const secretArns = new Set(cs.flatMap((c) => c.secrets ?? []).map((s) => parseSecretValueFrom(s.valueFrom ?? '')?.secretArn).filter((a): a is string => !!a));
  const roleArns = new Set([def.taskRoleArn, def.executionRoleArn].filter((r): r is string => !!r));
  try {
    const logGroups: Record<string, boolean> = {};
    for (const g of groups) logGroups[g] = await logGroupExists(opts, g);
    facts.logGroups = logGroups;
  } catch (err) {
    facts.logGroupsUnavailable = reason('CloudWatch Logs DescribeLogGroups', err);
  }
  try {
    const secrets: Record<string, { arn: string } | null> = {};
    for (const a of secretArns) secrets[a] = await describeSecret(opts, a);
    facts.secrets = secrets;
  } catch (err) {
    facts.secretsUnavailable = reason('Secrets Manager DescribeSecret', err);
  }
  try {
    const roles: Record<string, { policy: Policy } | null> = {};
    for (const r of roleArns) roles[r] = await getRole(opts, r);
    facts.roles = roles;
  } catch (err) {
    facts.rolesUnavailable = reason('GET /skiff/v1/roles/NAME', err);
  }
  try {
    facts.egress = await egressFacts(opts, networkConfiguration?.awsvpcConfiguration?.subnets ?? []);
  } catch (err) {
    facts.egressUnavailable = reason('EC2 DescribeSubnets/DescribeRouteTables/DescribeNatGateways', err);
  }
  const sgIds = networkConfiguration?.awsvpcConfiguration?.securityGroups ?? [];
  if (sgIds.length) {
    try {
      const securityGroups: Record<string, SecurityGroupFacts | null> = {};
      for (const id of sgIds) securityGroups[id] = await describeSecurityGroup(opts, id);
      facts.securityGroups = securityGroups;
    } catch (err) {
      facts.securityGroupsUnavailable = reason('EC2 DescribeSecurityGroups', err);
    }
  }
  return facts;
}

/**
 * Who shares `cluster` and on what: how many access keys' RunTask, StartTask,
 * CreateService or UpdateService there succeeded (counted by the server from
 * its audit log: GET /skiff/v1/clusters/<ARN>/access-keys), and
 * the cluster's running tasks counted by DescribeTasks' `skiff.isolation`.
 */
export async function clusterFacts(opts: ClientOptions, cluster: string): Promise<Pick<DoctorFacts, 'cluster' | 'clusterUnavailable'>> {
  try {
    const { DescribeClustersCommand, DescribeTasksCommand, ListTasksCommand } = await import('@aws-sdk/client-ecs');
    const ecs = await ecsClient(opts);
    const described = await ecs.send(new DescribeClustersCommand({ clusters: [cluster] }));
    const arn = described.clusters?.[0]?.clusterArn;
    if (!arn) return { clusterUnavailable: `cluster ${cluster} not found` };
    const counted = (await (await skiffFetch(opts, `/skiff/v1/clusters/${encodeURIComponent(arn)}/access-keys`)).json()) as { accessKeys?: number; message?: string };
    if (typeof counted.accessKeys !== 'number') return { clusterUnavailable: `access keys of cluster ${cluster} not counted: ${counted.message ?? 'no answer'}` };
    const runningByIsolation: Record<string, number> = {};
    let nextToken: string | undefined;
    do {
      const page = await ecs.send(new ListTasksCommand({ cluster, desiredStatus: 'RUNNING', nextToken }));
      nextToken = page.nextToken;
      const arns = page.taskArns ?? [];
      if (arns.length) {
        const { tasks } = await ecs.send(new DescribeTasksCommand({ cluster, tasks: arns }));
        for (const t of tasks ?? []) {
          const iso = t.attributes?.find((a) => a.name === 'skiff.isolation')?.value ?? 'runc';
          runningByIsolation[iso] = (runningByIsolation[iso] ?? 0) + 1;
        }
      }
    } while (nextToken);
    return { cluster: { name: cluster, accessKeys: counted.accessKeys, runningByIsolation } };
  } catch (e) {
    return { clusterUnavailable: `cluster facts unavailable: ${(e as Error).message.split(';')[0]}` };
  }
}
