/**
 * `skiff doctor`: checks a task definition (and, when given, how it is run and
 * what Skiff measured about it) against the production-readiness checklist.
 * Pure: a definition and facts in, one verdict per checklist item out.
 *
 * Items whose facts were not gathered (no service named, the server not
 * reachable, the key not allowed to look) are reported as `warn` with the
 * reason, never skipped silently. Secret values are never echoed.
 */
import type { ContainerDefinition, TaskDefinition } from '@aws-sdk/client-ecs';
import { evaluate, type Policy } from '../auth/policy.ts';
import { parseSecretValueFrom } from '../secrets/task-secrets.ts';

export type Verdict = 'pass' | 'warn' | 'fail';

export interface CheckItem {
  id: string;
  title: string;
  status: Verdict;
  /** What was found. */
  message: string;
  /** How to fix it (absent on pass). */
  fix?: string;
}

export interface DoctorFacts {
  /** Why the definition is not a valid Fargate task definition (from the same validation RegisterTaskDefinition runs). */
  validationError?: string;
  /** How the task is run (RunTask / service networkConfiguration), when known. */
  networkConfiguration?: { awsvpcConfiguration?: { assignPublicIp?: string; securityGroups?: string[]; subnets?: string[] } };
  /** Right-sizing verdict for the family, or why it could not be had. */
  rightsize?: {
    status: 'ok' | 'insufficient-data';
    message?: string;
    action?: string;
    recommended?: { cpu: number; memory: number };
    monthlySaving?: string;
    savingPercent?: string;
  };
  rightsizeUnavailable?: string;
  /** Image facts from the family's latest start on this server. */
  image?: { sizeBytes: number; layers: number };
  imageUnavailable?: string;
  /**
   * What the server holds for the resources the definition names, keyed as the
   * definition writes them: awslogs group name → exists; secret ARN (valueFrom
   * without its json-key/version suffix) → the secret's full ARN or null when it
   * does not exist; role ARN → its policy or null when it does not exist.
   * Each is absent when it was not looked up; its `...Unavailable` then says why.
   */
  logGroups?: Record<string, boolean>;
  logGroupsUnavailable?: string;
  secrets?: Record<string, { arn: string } | null>;
  secretsUnavailable?: string;
  roles?: Record<string, { policy: Policy } | null>;
  rolesUnavailable?: string;
  /** The security groups of `networkConfiguration`, by id: their ingress rules, or null when the group does not exist. */
  securityGroups?: Record<string, SecurityGroupFacts | null>;
  securityGroupsUnavailable?: string;
  /** The service the definition runs as, when one was named; `serviceUnavailable` says why not. */
  service?: ServiceFacts;
  serviceUnavailable?: string;
}

export interface SecurityGroupFacts {
  ingress: { protocol: string; fromPort?: number; toPort?: number; cidrs: string[]; groups: string[] }[];
}

export interface ServiceFacts {
  name: string;
  loadBalancers: { containerName?: string; containerPort?: number; targetGroupArn?: string; loadBalancerName?: string }[];
  healthCheckGracePeriodSeconds?: number;
  circuitBreaker?: { enable?: boolean; rollback?: boolean };
  /** Application Auto Scaling: the service's scalable target (null: none registered) and what scales it. */
  autoscaling?: { target: { minCapacity: number; maxCapacity: number } | null; policies: number; scheduledActions: number };
  autoscalingUnavailable?: string;
}

export interface DoctorReport {
  family: string;
  revision?: number;
  items: CheckItem[];
  summary: Record<Verdict, number>;
}

const SECRET_NAME = /(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AUTH_?KEY|CONN(ECTION)?_?STRING|DATABASE_URL|DSN)/i;
const SECRET_VALUE = /(AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|^ghp_[A-Za-z0-9]{20,}|^xox[bp]-|:\/\/[^/\s:]+:[^@\s]+@)/;
const BROAD_ROLE = /(admin|poweruser|fullaccess|:root$|\*)/i;
const MIN_STOP_TIMEOUT = 10;
const WORLD = new Set(['0.0.0.0/0', '::/0']);
/** The fewest tasks a production service should keep (one is a single point of failure). */
const MIN_TASKS = 2;
const MB = 1_000_000;

const names = (cs: ContainerDefinition[]) => cs.map((c) => `'${c.name}'`).join(', ');

function isRootUser(user: string): boolean {
  const u = user.split(':')[0].trim();
  return u === 'root' || u === '0';
}

/** True when PID 1 is a shell running a script that neither execs nor traps signals. */
function shellSwallowsSigterm(c: ContainerDefinition): boolean {
  const argv = [...(c.entryPoint ?? []), ...(c.command ?? [])];
  const shell = argv.findIndex((a) => /(^|\/)(ba|da|a)?sh$/.test(a));
  if (shell < 0 || argv[shell + 1] !== '-c') return false;
  const script = argv.slice(shell + 2).join(' ');
  return !/\bexec\b/.test(script) && !/\btrap\b/.test(script);
}

type Add = (id: string, title: string, status: Verdict, message: string, fix?: string) => void;

export function doctor(def: TaskDefinition, facts: DoctorFacts = {}): DoctorReport {
  const cs = def.containerDefinitions ?? [];
  const essential = cs.filter((c) => c.essential !== false);
  const items: CheckItem[] = [];
  const add = (id: string, title: string, status: Verdict, message: string, fix?: string) =>
    items.push({ id, title, status, message, ...(status !== 'pass' && fix ? { fix } : {}) });

  // 0. Valid at all.
  if (facts.validationError) {
    add('task-definition.valid', 'valid Fargate task definition', 'fail', facts.validationError, 'fix the definition; RegisterTaskDefinition would refuse it');
  } else add('task-definition.valid', 'valid Fargate task definition', 'pass', 'passes the checks RegisterTaskDefinition runs');

  // 1. Private addresses only.
  const vpc = facts.networkConfiguration?.awsvpcConfiguration;
  if (vpc?.assignPublicIp === 'ENABLED') {
    add('network.public-ip', 'tasks in private subnets without public IPs', 'fail', 'assignPublicIp is ENABLED: every task gets an address reachable from the internet',
      'set networkConfiguration.awsvpcConfiguration.assignPublicIp to DISABLED and reach the task through a load balancer in a public subnet');
  } else {
    add('network.public-ip', 'tasks in private subnets without public IPs', 'pass',
      vpc ? 'assignPublicIp is not ENABLED' : 'no public IP is requested; Skiff gives tasks private addresses only and routes nothing outside');
  }

  // 2. Security groups.
  securityGroupItem(add, vpc, facts);

  // 3. Task role.
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

  // 3b. The roles named exist.
  rolesExistItem(add, def, facts);

  // 4. Secrets.
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

  // 4b. Secrets resolvable at start.
  secretsResolvableItem(add, def, cs, facts);

  // 5. Read-only root filesystem.
  const writable = cs.filter((c) => c.readonlyRootFilesystem !== true);
  if (writable.length) {
    add('container.read-only-root', 'read-only root filesystem', 'fail', `container(s) ${names(writable)} have a writable root filesystem`,
      'set "readonlyRootFilesystem": true and mount a volume (or use /tmp on a volume) for the paths the app writes');
  } else add('container.read-only-root', 'read-only root filesystem', 'pass', 'every container has a read-only root filesystem');

  // 6. Non-root user.
  const root = cs.filter((c) => c.user !== undefined && isRootUser(c.user));
  const unset = cs.filter((c) => c.user === undefined);
  if (root.length) {
    add('container.non-root', 'non-root user', 'fail', `container(s) ${names(root)} run as root`, 'set "user" to an unprivileged uid:gid such as "1000:1000" (and make the image work as that user)');
  } else if (unset.length) {
    add('container.non-root', 'non-root user', 'warn', `container(s) ${names(unset)} set no user: the image's USER decides, and many images run as root`,
      'set "user" explicitly to a non-root uid:gid such as "1000:1000"');
  } else add('container.non-root', 'non-root user', 'pass', 'every container sets a non-root user');

  // 7. Capabilities.
  const privileged = cs.filter((c) => c.privileged === true);
  const adds = cs.filter((c) => (c.linuxParameters?.capabilities?.add ?? []).length > 0);
  const noDrop = cs.filter((c) => !(c.linuxParameters?.capabilities?.drop ?? []).some((d) => d.toUpperCase() === 'ALL'));
  if (privileged.length) {
    add('container.capabilities', 'dropped capabilities', 'fail', `container(s) ${names(privileged)} are privileged`, 'remove "privileged": true');
  } else if (adds.length) {
    add('container.capabilities', 'dropped capabilities', 'warn', `container(s) ${names(adds)} add capabilities (${[...new Set(adds.flatMap((c) => c.linuxParameters!.capabilities!.add!))].join(', ')})`,
      'add SYS_PTRACE only while debugging; remove it for production');
  } else if (noDrop.length) {
    add('container.capabilities', 'dropped capabilities', 'warn', `container(s) ${names(noDrop)} keep the default capability set`,
      'set "linuxParameters": {"capabilities": {"drop": ["ALL"]}} (add back only what the app needs)');
  } else add('container.capabilities', 'dropped capabilities', 'pass', 'every container drops ALL capabilities and adds none');

  // 8. Health checks.
  const noHc = essential.filter((c) => !c.healthCheck);
  const slowHc = cs.filter((c) => (c.healthCheck?.startPeriod ?? 0) > 120);
  if (noHc.length) {
    add('health-check', 'health checks configured', 'warn', `essential container(s) ${names(noHc)} have no healthCheck: a hung process looks healthy`,
      'add "healthCheck": {"command": ["CMD-SHELL", "wget -q -O- http://localhost:PORT/health || exit 1"], "interval": 30, "retries": 3, "startPeriod": 10}');
  } else if (slowHc.length) {
    add('health-check', 'health checks configured', 'warn', `container(s) ${names(slowHc)} have a startPeriod over 120 s: failures are ignored that long`, 'set startPeriod close to the real start time');
  } else add('health-check', 'health checks configured', 'pass', 'every essential container has a health check');

  // 9-10b. How the service runs it.
  serviceItems(add, cs, facts);

  // 11. Graceful shutdown.
  const shortStop = cs.filter((c) => c.stopTimeout !== undefined && c.stopTimeout < MIN_STOP_TIMEOUT);
  const swallow = cs.filter((c) => shellSwallowsSigterm(c) && c.linuxParameters?.initProcessEnabled !== true);
  if (swallow.length) {
    add('shutdown.graceful', 'stopTimeout and SIGTERM handling', 'warn', `container(s) ${names(swallow)} run a shell as PID 1 that neither execs the app nor traps SIGTERM: they are SIGKILLed after stopTimeout`,
      'start the app with `exec` in the script, trap TERM, or set linuxParameters.initProcessEnabled: true');
  } else if (shortStop.length) {
    add('shutdown.graceful', 'stopTimeout and SIGTERM handling', 'warn', `container(s) ${names(shortStop)} have stopTimeout under ${MIN_STOP_TIMEOUT} s: in-flight work may be cut off`,
      'give stopTimeout enough time to drain (30 s is the default; up to 120 s)');
  } else add('shutdown.graceful', 'stopTimeout and SIGTERM handling', 'pass', 'stop timeouts leave time to drain, and no PID 1 shell swallows SIGTERM');

  // 12. Logs.
  loggingItem(add, cs, facts);

  // 13. Right-sized per measured use.
  const rs = facts.rightsize;
  if (!rs) {
    add('right-sized', 'right-sized per measured use', 'warn', facts.rightsizeUnavailable ?? 'no measurements available', 'run the task under real load on Skiff, then `skiff rightsize --family ' + def.family + '`');
  } else if (rs.status !== 'ok') {
    add('right-sized', 'right-sized per measured use', 'warn', rs.message ?? 'not enough data', 'let the tasks run under real load longer, then check again');
  } else if (rs.action === 'keep') {
    add('right-sized', 'right-sized per measured use', 'pass', `measured use fits the current size ${def.cpu}/${def.memory}`);
  } else if (rs.action === 'upsize') {
    add('right-sized', 'right-sized per measured use', 'fail', `measured use is beyond the targets at ${def.cpu}/${def.memory}: the tasks are throttled or close to their memory limit`,
      `use ${rs.recommended!.cpu} CPU / ${rs.recommended!.memory} MiB (\`skiff rightsize --family ${def.family}\`)`);
  } else {
    add('right-sized', 'right-sized per measured use', 'warn', `over-provisioned: ${rs.recommended!.cpu} CPU / ${rs.recommended!.memory} MiB would do, saving $${rs.monthlySaving} (${rs.savingPercent}%) per task-month`,
      `set cpu ${rs.recommended!.cpu} and memory ${rs.recommended!.memory}`);
  }

  // 14. Image size and layers (and pinning).
  const unpinned = cs.filter((c) => !c.image?.includes('@') && (/:latest$/.test(c.image ?? '') || !/:[^/]+$/.test(c.image ?? '')));
  const img = facts.image;
  const problems: string[] = [];
  if (img && img.sizeBytes > 1000 * MB) problems.push(`the image is ${(img.sizeBytes / MB).toFixed(0)} MB (over 1000 MB)`);
  if (img && img.layers > 10) problems.push(`it has ${img.layers} layers (over 10)`);
  if (unpinned.length) problems.push(`container(s) ${names(unpinned)} use :latest or no tag`);
  if (problems.length) {
    add('image', 'image size and layer count', 'warn', problems.join('; '), 'use a minimal multi-stage image with few layers, pinned by a version tag or digest (see `skiff coldstart --family ' + def.family + '`)');
  } else if (!img) {
    add('image', 'image size and layer count', 'warn', facts.imageUnavailable ?? 'no task of this family has started on this server: image size and layers unknown', 'run the task once, then run doctor again');
  } else {
    add('image', 'image size and layer count', 'pass', `image is ${(img.sizeBytes / MB).toFixed(1)} MB in ${img.layers} layer(s), pinned by tag or digest`);
  }

  const summary = { pass: 0, warn: 0, fail: 0 };
  for (const i of items) summary[i.status]++;
  return { family: def.family ?? '', ...(def.revision ? { revision: def.revision } : {}), items, summary };
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
function securityGroupItem(add: Add, vpc: NonNullable<DoctorFacts['networkConfiguration']>['awsvpcConfiguration'], facts: DoctorFacts): void {
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
function rolesExistItem(add: Add, def: TaskDefinition, facts: DoctorFacts): void {
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
function secretsResolvableItem(add: Add, def: TaskDefinition, cs: ContainerDefinition[], facts: DoctorFacts): void {
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

/** Load balancer + health checks, autoscaling and the circuit breaker of the service running the definition. */
function serviceItems(add: Add, cs: ContainerDefinition[], facts: DoctorFacts): void {
  const svc = facts.service;
  const lbTitle = 'load balancer with health checks';
  const asTitle = 'autoscaling configured';
  const cbTitle = 'deployment circuit breaker enabled';
  if (!svc) {
    const why = facts.serviceUnavailable ?? 'no service named';
    add('service.load-balancer', lbTitle, 'warn', `${why}: the load balancer and health check grace period cannot be checked`, 'run doctor with --service NAME for the service that runs this definition');
    add('service.autoscaling', asTitle, 'warn', `${why}: autoscaling cannot be checked`, 'run doctor with --service NAME for the service that runs this definition');
    add('service.circuit-breaker', cbTitle, 'warn', `${why}: the deployment configuration cannot be checked`, 'run doctor with --service NAME for the service that runs this definition');
    return;
  }

  // Load balancer: the container it sends to exists and has a health check; a grace period covers the start.
  if (!svc.loadBalancers.length) {
    add('service.load-balancer', lbTitle, 'warn', `service ${svc.name} has no load balancer: clients must find tasks themselves and deployments do not drain connections (fine for a worker)`,
      'create the service with "loadBalancers": [{"targetGroupArn": ..., "containerName": ..., "containerPort": ...}] and "healthCheckGracePeriodSeconds"');
  } else {
    const byName = new Map(cs.map((c) => [c.name, c]));
    const unknown = svc.loadBalancers.filter((lb) => !byName.has(lb.containerName));
    const unchecked = svc.loadBalancers.filter((lb) => byName.has(lb.containerName) && !byName.get(lb.containerName)!.healthCheck);
    const startPeriod = Math.max(0, ...svc.loadBalancers.map((lb) => byName.get(lb.containerName)?.healthCheck?.startPeriod ?? 0));
    const grace = svc.healthCheckGracePeriodSeconds ?? 0;
    if (unknown.length) {
      add('service.load-balancer', lbTitle, 'fail', `the load balancer sends to container(s) ${unknown.map((lb) => `'${lb.containerName}'`).join(', ')}, which the task definition does not have`,
        `set loadBalancers[].containerName to one of ${names(cs)}`);
    } else if (unchecked.length) {
      add('service.load-balancer', lbTitle, 'fail', `the load balancer sends to container(s) ${unchecked.map((lb) => `'${lb.containerName}'`).join(', ')}, which have no healthCheck: a hung task keeps receiving traffic`,
        'add a "healthCheck" to that container (e.g. {"command": ["CMD-SHELL", "wget -q -O- http://localhost:PORT/health || exit 1"]})');
    } else if (grace <= 0) {
      add('service.load-balancer', lbTitle, 'warn', `service ${svc.name} has no healthCheckGracePeriodSeconds: a slow-starting task can be replaced before it is ready`,
        `set healthCheckGracePeriodSeconds to at least the start time (e.g. ${Math.max(60, startPeriod)}) with \`aws ecs update-service --health-check-grace-period-seconds\``);
    } else if (grace < startPeriod) {
      add('service.load-balancer', lbTitle, 'warn', `healthCheckGracePeriodSeconds ${grace} is shorter than the health check's startPeriod ${startPeriod}`,
        `set healthCheckGracePeriodSeconds to at least ${startPeriod}`);
    } else {
      add('service.load-balancer', lbTitle, 'pass', `service ${svc.name} has ${svc.loadBalancers.length} load balancer(s) sending to health-checked containers, with a ${grace} s grace period`);
    }
  }

  // Autoscaling: a scalable target with something that moves it, and a floor of MIN_TASKS.
  const as = svc.autoscaling;
  const scaleFix = `\`skiff autoscaling set ${svc.name} --min ${MIN_TASKS} --max 10\` then \`skiff autoscaling track ${svc.name} --cpu 70\``;
  if (!as) {
    add('service.autoscaling', asTitle, 'warn', `autoscaling could not be read: ${svc.autoscalingUnavailable ?? 'not looked up'}`, 'run doctor with a key allowed application-autoscaling:Describe*');
  } else if (!as.target) {
    add('service.autoscaling', asTitle, 'warn', `service ${svc.name} has no scalable target: its task count never follows load`, scaleFix);
  } else if (as.policies + as.scheduledActions === 0) {
    add('service.autoscaling', asTitle, 'warn', `service ${svc.name} is registered (${as.target.minCapacity}-${as.target.maxCapacity} tasks) but has no scaling policy or scheduled action: nothing scales it`,
      `\`skiff autoscaling track ${svc.name} --cpu 70\``);
  } else if (as.target.minCapacity < MIN_TASKS) {
    add('service.autoscaling', asTitle, 'warn', `minCapacity is ${as.target.minCapacity}: at the floor one task failing takes the service down`,
      `\`skiff autoscaling set ${svc.name} --min ${MIN_TASKS} --max ${Math.max(as.target.maxCapacity, MIN_TASKS)}\``);
  } else {
    add('service.autoscaling', asTitle, 'pass', `service ${svc.name} scales between ${as.target.minCapacity} and ${as.target.maxCapacity} tasks (${as.policies} polic${as.policies === 1 ? 'y' : 'ies'}, ${as.scheduledActions} scheduled action(s))`);
  }

  // Circuit breaker.
  const cb = svc.circuitBreaker;
  if (cb?.enable && cb.rollback) {
    add('service.circuit-breaker', cbTitle, 'pass', 'a failing deployment stops and rolls back');
  } else if (cb?.enable) {
    add('service.circuit-breaker', cbTitle, 'warn', 'the circuit breaker stops a failing deployment but does not roll back: the service stays on the broken revision',
      'set deploymentConfiguration.deploymentCircuitBreaker {"enable": true, "rollback": true}');
  } else {
    add('service.circuit-breaker', cbTitle, 'fail', `service ${svc.name} has no deployment circuit breaker: a revision whose tasks never start keeps being retried`,
      '`aws ecs update-service --deployment-configuration "deploymentCircuitBreaker={enable=true,rollback=true}"`');
  }
}

/** Every container ships its output with awslogs to a log group that exists (or is created at start). */
function loggingItem(add: Add, cs: ContainerDefinition[], facts: DoctorFacts): void {
  const title = 'logs configured';
  const awslogsFix = 'add "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": ..., "awslogs-region": ..., "awslogs-stream-prefix": ..., "awslogs-create-group": "true"}}';
  const noLogs = cs.filter((c) => !c.logConfiguration);
  const other = cs.filter((c) => c.logConfiguration && c.logConfiguration.logDriver !== 'awslogs');
  if (noLogs.length) {
    add('logging', title, 'fail', `container(s) ${names(noLogs)} have no logConfiguration: their output stays in Skiff's local task log only, not in CloudWatch Logs`, awslogsFix);
    return;
  }
  if (other.length) {
    add('logging', title, 'warn', `container(s) ${names(other)} use ${[...new Set(other.map((c) => c.logConfiguration!.logDriver))].join(', ')}: Skiff ships only awslogs, so their output is not searchable`, awslogsFix);
    return;
  }
  const groups = new Map<string, boolean>(); // group → created at start
  for (const c of cs) {
    const o = c.logConfiguration!.options ?? {};
    const g = o['awslogs-group'] ?? '';
    groups.set(g, (groups.get(g) ?? false) || o['awslogs-create-group'] === 'true');
  }
  if (groups.has('')) {
    add('logging', title, 'fail', 'an awslogs logConfiguration has no awslogs-group', awslogsFix);
    return;
  }
  if (!facts.logGroups) {
    add('logging', title, 'warn', `every container uses awslogs, but whether the log group(s) ${[...groups.keys()].join(', ')} exist could not be checked: ${facts.logGroupsUnavailable ?? 'not looked up'}`,
      'run doctor against the server with a key allowed logs:DescribeLogGroups');
    return;
  }
  const missing = [...groups].filter(([g, create]) => !facts.logGroups![g] && !create).map(([g]) => g);
  const created = [...groups].filter(([g, create]) => !facts.logGroups![g] && create).map(([g]) => g);
  if (missing.length) {
    add('logging', title, 'fail', `log group(s) ${missing.join(', ')} do not exist and awslogs-create-group is not "true": tasks fail to start (ResourceInitializationError)`,
      `create ${missing.length > 1 ? 'them' : 'it'} (\`aws logs create-log-group --log-group-name ${missing[0]}\`) or set "awslogs-create-group": "true"`);
  } else {
    add('logging', title, 'pass', `every container ships with awslogs to ${[...groups.keys()].join(', ')}${created.length ? ` (${created.join(', ')} created at first start)` : ''}`);
  }
}
