/**
 * Doctor checks of what a task can reach and what it holds: public addresses,
 * security groups open to the world, least-privilege and existing roles,
 * literal secrets in the environment, secrets readable at start. Pure: each
 * function appends its verdict through `add`.
 */
import type { ContainerDefinition, TaskDefinition } from '@aws-sdk/client-ecs';
import { evaluate, type Policy } from '../auth/policy.ts';
import { parseSecretValueFrom } from '../secrets/task-secrets.ts';
import type { Add, DoctorFacts } from './doctor-types.ts';
import { egressRoute } from '../network/egress.ts';

const SECRET_NAME = /(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AUTH_?KEY|CONN(ECTION)?_?STRING|DATABASE_URL|DSN)/i;
const SECRET_VALUE = /(AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|^ghp_[A-Za-z0-9]{20,}|^xox[bp]-|:\/\/[^/\s:]+:[^@\s]+@)/;
const BROAD_ROLE = /(admin|poweruser|fullaccess|:root$|\*)/i;
const WORLD = new Set(['0.0.0.0/0', '::/0']);

type AwsVpc = NonNullable<DoctorFacts['networkConfiguration']>['awsvpcConfiguration'];

/** Private addresses only: assignPublicIp is not ENABLED. */
/**
 * A cluster several teams (access keys) start tasks in should not run them on
 * runc: runc tasks share the host kernel, so one team's kernel exploit reaches
 * every other team's tasks. gVisor or a microVM gives each task its own kernel.
 */
export function sharedKernelItem(add: Add, facts: DoctorFacts): void {
  const c = facts.cluster;
  const title = 'tasks of different teams do not share a kernel';
  if (!c) {
    if (facts.clusterUnavailable) add('isolation', title, 'warn', `not checked: ${facts.clusterUnavailable}`, 'run skiff doctor against a reachable Skiff server with a key that may describe the cluster');
    return;
  }
  const onRunc = c.runningByIsolation.runc ?? 0;
  if (c.accessKeys >= 2 && onRunc > 0) {
    add(
      'isolation',
      title,
      'warn',
      `cluster ${c.name} is used by ${c.accessKeys} access keys and runs ${onRunc} task(s) on runc, which share the host's kernel with every other task`,
      `tag the cluster (or the task definitions) skiff:isolation=gvisor so each task gets a kernel of its own, e.g. \`aws ecs tag-resource --resource-arn <cluster ARN> --tags key=skiff:isolation,value=gvisor\``,
    );
    return;
  }
  add('isolation', title, 'pass', c.accessKeys >= 2 ? `cluster ${c.name} is shared by ${c.accessKeys} access keys and runs no task on runc` : `cluster ${c.name} is used by ${c.accessKeys} access key(s)`);
}

export function publicIpItem(add: Add, vpc: AwsVpc): void {
  if (vpc?.assignPublicIp === 'ENABLED') {
    add('network.public-ip', 'tasks in private subnets without public IPs', 'fail', 'assignPublicIp is ENABLED: every task gets an address reachable from the internet',
      'set networkConfiguration.awsvpcConfiguration.assignPublicIp to DISABLED and reach the task through a load balancer in a public subnet');
  } else {
    add('network.public-ip', 'tasks in private subnets without public IPs', 'pass',
      vpc ? 'assignPublicIp is not ENABLED' : 'no public IP is requested; Skiff gives tasks private addresses only and routes nothing outside');
  }
}

/**
 * Whether the task will reach outside networks, and why not — what AWS users
 * learn the hard way with private subnets and no NAT gateway. Never a failure
 * (private tasks are often meant to be), a warning naming the cause and the fix.
 * Image pulls are the host's on Skiff: they work either way.
 */
export function egressItem(add: Add, vpc: AwsVpc, facts: DoctorFacts): void {
  const id = 'network.egress';
  const title = 'outbound access to outside networks';
  if (!facts.egress) {
    if (facts.egressUnavailable) add(id, title, 'warn', `not checked: ${facts.egressUnavailable}`, 'run skiff doctor against a reachable Skiff server');
    return;
  }
  const assignPublicIp = vpc?.assignPublicIp === 'ENABLED';
  const why: string[] = [];
  for (const [subnetId, s] of Object.entries(facts.egress.subnets)) {
    if (!s) {
      why.push(`${subnetId} does not exist`);
      continue;
    }
    const r = egressRoute({ serverEgress: true, assignPublicIp, subnetPublic: s.mapPublicIpOnLaunch, ...(s.natGatewayId ? { natGatewayId: s.natGatewayId, natGatewayPublic: s.natGatewayPublic === true } : {}) });
    if (!r.egress) why.push(`${subnetId}: ${r.reason}`);
  }
  const groups = Object.entries(facts.securityGroups ?? {});
  const closed = groups.filter(([, g]) => g?.egress && !g.egress.some((e) => e.cidrs.some((c) => WORLD.has(c)))).map(([gid]) => gid);
  if (why.length) {
    add(id, title, 'warn', `tasks will have no egress: ${why.join('; ')}`,
      'if the app calls outside services, run it in a public subnet with assignPublicIp ENABLED, or give its subnet a route table with 0.0.0.0/0 to a NAT gateway in a public subnet (aws ec2 create-nat-gateway, create-route-table, create-route, associate-route-table)');
  } else if (groups.length && closed.length === groups.length) {
    add(id, title, 'warn', `the route exists, but no security group (${closed.join(', ')}) allows outbound traffic to 0.0.0.0/0: only the addresses its egress rules name are reachable`,
      'authorize the egress the app needs (aws ec2 authorize-security-group-egress), or accept that it reaches nothing else');
  } else {
    add(id, title, 'pass', 'tasks reach outside networks (unless the server runs with --no-egress)');
  }
}

/** The task role is dedicated, narrow and not the execution role. */
export function leastPrivilegeItem(add: Add, def: TaskDefinition, facts: DoctorFacts): void {
  const roles = [def.taskRoleArn, def.executionRoleArn].filter((r): r is string => !!r);
  const broad = roles.filter((r) => BROAD_ROLE.test(r.split('/').pop() ?? r) || r.endsWith(':root'));
  const taskPolicy = def.taskRoleArn ? facts.roles?.[def.taskRoleArn]?.policy : undefined;
  const wide = taskPolicy ? wildcardGrants(taskPolicy) : [];
  if (wide.length) {
    add('iam.least-privilege', 'least-privilege task role', 'fail', `task role ${def.taskRoleArn} allows ${wide.join(', ')} on every resource`,
      'replace the wildcards with the actions the app calls, on the ARNs it touches (`skiff roles create` with a narrower policy)');
  } else if (broad.length) {
    add('iam.least-privilege', 'least-privilege task role', 'fail', `role(s) ${broad.join(', ')} look broad (admin / full access / root)`,
      'give the task its own role with only the actions and resources the app uses');
  } else if (def.taskRoleArn && def.taskRoleArn === def.executionRoleArn) {
    add('iam.least-privilege', 'least-privilege task role', 'warn', 'the task role is also the execution role: the app gets the image-pull and log permissions meant for the agent',
      'use separate roles: an execution role for pulls/logs/secrets, a task role for the app');
  } else if (!def.taskRoleArn) {
    add('iam.least-privilege', 'least-privilege task role', 'warn', 'no taskRoleArn: fine if the app calls no AWS APIs',
      'if the app calls AWS APIs, give it a dedicated task role scoped to those calls (never long-lived keys in the environment)');
  } else {
    add('iam.least-privilege', 'least-privilege task role', 'pass',
      `task role ${def.taskRoleArn} is dedicated${taskPolicy ? ' and grants no wildcard action on every resource' : ' (its policy was not read: review it for wildcards)'}`);
  }
}

/** No secret-looking literal in the environment. */
export function literalSecretsItem(add: Add, cs: ContainerDefinition[]): void {
  const literal: string[] = [];
  for (const c of cs) {
    for (const e of c.environment ?? []) {
      if (e.value && (SECRET_NAME.test(e.name ?? '') || SECRET_VALUE.test(e.value))) literal.push(`${c.name}:${e.name}=[redacted]`);
    }
  }
  const refs = cs.reduce((n, c) => n + (c.secrets?.length ?? 0), 0);
  const awsKeys = literal.some((l) => /:AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)=/.test(l));
  if (literal.length) {
    add('secrets.from-store', 'secrets referenced from the secret store', 'fail', `secret-looking values are literal environment variables: ${literal.join(', ')}`,
      (awsKeys ? 'drop the AWS keys and set taskRoleArn: the app gets short-lived credentials for that role from the task metadata endpoint; ' : '') +
        'move them to "secrets": [{"name": ..., "valueFrom": <secret ARN>}] so the value is injected at start and never stored in the task definition');
  } else {
    add('secrets.from-store', 'secrets referenced from the secret store', 'pass', refs ? `${refs} secret(s) referenced with valueFrom; no literal secrets in the environment` : 'no secret-looking literal environment values');
  }
}

/** "<action>" of every Allow statement that grants an action wildcard (`*`, `s3:*`) on every resource (`*`). */
function wildcardGrants(policy: Policy): string[] {
  const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  const out = new Set<string>();
  for (const st of policy.Statement) {
    if (st.Effect !== 'Allow' || !list(st.Resource).includes('*')) continue;
    if (st.NotAction) out.add(`every action but ${list(st.NotAction).join(', ')}`);
    for (const a of list(st.Action)) if (a === '*' || a.endsWith(':*')) out.add(`'${a}'`);
  }
  return [...out];
}

const SG_TITLE = 'security groups not open to the world';

/** Ingress open to the internet: every port (fail) or some ports (warn). */
export function securityGroupItem(add: Add, vpc: AwsVpc, facts: DoctorFacts): void {
  const tighten = "allow ingress only from the load balancer's or the callers' security group (or known CIDRs) on the app port: `aws ec2 revoke-security-group-ingress` the open rule";
  if (!vpc) {
    add('network.security-groups', SG_TITLE, 'warn', 'how the task is run is not known, so its security groups cannot be checked',
      'run doctor with --service NAME (or put "networkConfiguration" in the file) so the groups can be checked');
    return;
  }
  const ids = vpc.securityGroups ?? [];
  if (ids.length === 0) {
    add('network.security-groups', SG_TITLE, 'warn', "no securityGroups: tasks get their VPC's default group, shared by everything that names none",
      'create a security group for this service and name it in networkConfiguration.awsvpcConfiguration.securityGroups');
    return;
  }
  const groups = facts.securityGroups;
  if (!groups) {
    add('network.security-groups', SG_TITLE, 'warn', `the groups ${ids.join(', ')} could not be read: ${facts.securityGroupsUnavailable ?? 'not looked up'}`,
      'run doctor with a key allowed ec2:DescribeSecurityGroups');
    return;
  }
  const missing = ids.filter((id) => groups[id] === null || groups[id] === undefined);
  const allPorts: string[] = [];
  const somePorts: string[] = [];
  for (const id of ids) {
    for (const r of groups[id]?.ingress ?? []) {
      const world = r.cidrs.filter((c) => WORLD.has(c));
      if (!world.length) continue;
      const every = r.protocol === '-1' || ((r.fromPort ?? 0) <= 0 && (r.toPort ?? 65535) >= 65535);
      if (every) allPorts.push(`${id} (${r.protocol === '-1' ? 'all traffic' : `${r.protocol} all ports`} from ${world.join(', ')})`);
      else somePorts.push(`${id} (${r.protocol} ${r.fromPort === r.toPort ? r.fromPort : `${r.fromPort}-${r.toPort}`} from ${world.join(', ')})`);
    }
  }
  if (missing.length) {
    add('network.security-groups', SG_TITLE, 'fail', `security group(s) ${missing.join(', ')} do not exist: tasks cannot start with them`,
      'create them (`aws ec2 create-security-group`) or name existing ones in networkConfiguration.awsvpcConfiguration.securityGroups');
  } else if (allPorts.length) {
    add('network.security-groups', SG_TITLE, 'fail', `ingress on every port from anywhere: ${allPorts.join('; ')}`, tighten);
  } else if (somePorts.length) {
    add('network.security-groups', SG_TITLE, 'warn', `ingress from anywhere: ${somePorts.join('; ')}`, tighten);
  } else {
    add('network.security-groups', SG_TITLE, 'pass', `the groups ${ids.join(', ')} allow no ingress from 0.0.0.0/0 or ::/0`);
  }
}

/** The task and execution roles the definition names exist on the server. */
export function rolesExistItem(add: Add, def: TaskDefinition, facts: DoctorFacts): void {
  const title = 'task and execution roles exist';
  const named = ([['taskRoleArn', def.taskRoleArn], ['executionRoleArn', def.executionRoleArn]] as const).filter((n): n is readonly ['taskRoleArn' | 'executionRoleArn', string] => !!n[1]);
  if (!named.length) {
    add('iam.roles-exist', title, 'pass', 'the definition names no roles');
    return;
  }
  if (!facts.roles) {
    add('iam.roles-exist', title, 'warn', `${named.map(([k, v]) => `${k} ${v}`).join(', ')} could not be looked up: ${facts.rolesUnavailable ?? 'not looked up'}`,
      'run doctor against the server with a key allowed skiff:GetRole');
    return;
  }
  const missing = named.filter(([, arn]) => !facts.roles![arn]);
  if (missing.length) {
    add('iam.roles-exist', title, 'fail', `${missing.map(([k, v]) => `${k} ${v}`).join(', ')} does not exist: ${missing.some(([k]) => k === 'executionRoleArn') ? 'secrets cannot be read at start' : 'the task gets no credentials'}`,
      `create it: \`skiff roles create ${missing[0][1].split('/').pop()} --policy <file>\` (or point the definition at an existing role: \`skiff roles list\`)`);
  } else add('iam.roles-exist', title, 'pass', `${named.map(([k, v]) => `${k} ${v}`).join(', ')} exist${named.length > 1 ? '' : 's'}`);
}

/** Every container secret names an existing secret the execution role may read (what task start does). */
export function secretsResolvableItem(add: Add, def: TaskDefinition, cs: ContainerDefinition[], facts: DoctorFacts): void {
  const title = 'secrets readable at start';
  const refs = cs.flatMap((c) => (c.secrets ?? []).map((s) => ({ container: c.name, name: s.name ?? '', valueFrom: s.valueFrom ?? '', ref: parseSecretValueFrom(s.valueFrom ?? '') })));
  if (!refs.length) {
    add('secrets.resolvable', title, 'pass', 'no secrets referenced');
    return;
  }
  const bad = refs.filter((r) => !r.ref);
  if (bad.length) {
    add('secrets.resolvable', title, 'fail', `${bad.map((r) => `${r.container}:${r.name}`).join(', ')} valueFrom is not a Secrets Manager secret ARN (Skiff serves no SSM parameters)`,
      'use "valueFrom": "arn:aws:secretsmanager:<region>:<account>:secret:<name>" (`aws secretsmanager create-secret` prints it)');
    return;
  }
  if (!def.executionRoleArn) {
    add('secrets.resolvable', title, 'fail', 'secrets are referenced but the definition has no executionRoleArn: the task fails to start (AccessDeniedException)',
      'set executionRoleArn to a role allowed secretsmanager:GetSecretValue on these secrets');
    return;
  }
  if (!facts.secrets || !facts.roles) {
    add('secrets.resolvable', title, 'warn', `the secrets and the execution role could not be looked up: ${[facts.secretsUnavailable, facts.rolesUnavailable].filter(Boolean).join('; ') || 'not looked up'}`,
      'run doctor against the server with a key allowed secretsmanager:DescribeSecret and skiff:GetRole');
    return;
  }
  const missing = refs.filter((r) => !facts.secrets![r.ref!.secretArn]);
  const role = facts.roles[def.executionRoleArn];
  if (missing.length) {
    add('secrets.resolvable', title, 'fail', `secret(s) ${[...new Set(missing.map((r) => r.ref!.secretArn))].join(', ')} do not exist: the task fails to start (ResourceNotFoundException)`,
      'create them (`aws secretsmanager create-secret --name ...`) or fix valueFrom');
    return;
  }
  if (!role) {
    add('secrets.resolvable', title, 'fail', `the execution role ${def.executionRoleArn} does not exist, so no secret can be read at start`,
      `create it with a policy allowing secretsmanager:GetSecretValue on the secrets (\`skiff roles create ${def.executionRoleArn.split('/').pop()} --policy <file>\`)`);
    return;
  }
  const denied = [...new Set(refs.map((r) => facts.secrets![r.ref!.secretArn]!.arn))].filter((arn) => evaluate(role.policy, 'secretsmanager:GetSecretValue', arn) !== 'allow');
  if (denied.length) {
    add('secrets.resolvable', title, 'fail', `the execution role ${def.executionRoleArn} is not allowed secretsmanager:GetSecretValue on ${denied.join(', ')}: the task fails to start`,
      `add {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": [${denied.map((a) => `"${a}"`).join(', ')}]} to the role's policy`);
  } else {
    add('secrets.resolvable', title, 'pass', `${refs.length} secret(s) exist and the execution role may read them`);
  }
}

