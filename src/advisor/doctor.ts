/**
 * `skiff doctor`: checks a task definition (and, when given, how it is run and
 * what Skiff measured about it) against the production-readiness checklist.
 * Pure: a definition and facts in, one verdict per checklist item out.
 *
 * Items that depend on Skiff features not built yet (security groups,
 * autoscaling, the deployment circuit breaker) are reported as `warn` with the
 * reason, never skipped silently. Secret values are never echoed.
 */
import type { ContainerDefinition, TaskDefinition } from '@aws-sdk/client-ecs';

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
  const sgs = vpc?.securityGroups ?? [];
  add('network.security-groups', 'security groups not open to the world', 'warn',
    `Skiff does not enforce security groups yet (planned: nftables rules per task interface), so ${sgs.length ? `the groups ${sgs.join(', ')} cannot be checked` : 'no ingress rules can be checked'}; tasks are reachable from the host and from other tasks`,
    'on ECS, allow ingress only from the load balancer\'s security group on the app port; never 0.0.0.0/0 to the tasks');

  // 3. Task role.
  const roles = [def.taskRoleArn, def.executionRoleArn].filter((r): r is string => !!r);
  const broad = roles.filter((r) => BROAD_ROLE.test(r.split('/').pop() ?? r) || r.endsWith(':root'));
  if (broad.length) {
    add('iam.least-privilege', 'least-privilege task role', 'fail', `role(s) ${broad.join(', ')} look broad (admin / full access / root)`,
      'give the task its own role with only the actions and resources the app uses');
  } else if (def.taskRoleArn && def.taskRoleArn === def.executionRoleArn) {
    add('iam.least-privilege', 'least-privilege task role', 'warn', 'the task role is also the execution role: the app gets the image-pull and log permissions meant for the agent',
      'use separate roles: an execution role for pulls/logs/secrets, a task role for the app');
  } else if (!def.taskRoleArn) {
    add('iam.least-privilege', 'least-privilege task role', 'warn', 'no taskRoleArn: fine if the app calls no AWS APIs',
      'if the app calls AWS APIs, give it a dedicated task role scoped to those calls (never long-lived keys in the environment)');
  } else {
    add('iam.least-privilege', 'least-privilege task role', 'pass', `task role ${def.taskRoleArn} is dedicated (review its policies for wildcards)`);
  }

  // 4. Secrets.
  const literal: string[] = [];
  for (const c of cs) {
    for (const e of c.environment ?? []) {
      if (e.value && (SECRET_NAME.test(e.name ?? '') || SECRET_VALUE.test(e.value))) literal.push(`${c.name}:${e.name}=[redacted]`);
    }
  }
  const refs = cs.reduce((n, c) => n + (c.secrets?.length ?? 0), 0);
  if (literal.length) {
    add('secrets.from-store', 'secrets referenced from the secret store', 'fail', `secret-looking values are literal environment variables: ${literal.join(', ')}`,
      'move them to "secrets": [{"name": ..., "valueFrom": <secret ARN>}] so the value is injected at start and never stored in the task definition');
  } else {
    add('secrets.from-store', 'secrets referenced from the secret store', 'pass', refs ? `${refs} secret(s) referenced with valueFrom; no literal secrets in the environment` : 'no secret-looking literal environment values');
  }

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

  // 9-10. Service features Skiff does not have yet.
  add('service.autoscaling', 'autoscaling configured', 'warn', 'Skiff has no services or autoscaling yet, so this cannot be checked',
    'when this runs as a service: target tracking on CPU or memory (e.g. 70%), with min ≥ 2 tasks across zones');
  add('service.circuit-breaker', 'deployment circuit breaker enabled', 'warn', 'Skiff has no services or deployments yet, so this cannot be checked',
    'when this runs as a service: deploymentCircuitBreaker {"enable": true, "rollback": true}');

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
  const noLogs = cs.filter((c) => !c.logConfiguration);
  if (noLogs.length) {
    add('logging', 'logs configured', 'fail', `container(s) ${names(noLogs)} have no logConfiguration: on ECS their output is lost (Skiff keeps it locally, which does not carry over)`,
      'add "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": ..., "awslogs-region": ..., "awslogs-stream-prefix": ...}}');
  } else add('logging', 'logs configured', 'pass', `every container sends logs with ${[...new Set(cs.map((c) => c.logConfiguration!.logDriver))].join(', ')}`);

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
