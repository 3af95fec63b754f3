/**
 * Doctor checks of how the definition is operated: the service running it
 * (load balancer with health checks, autoscaling, circuit breaker), logs
 * shipped to an existing group, and right-sizing from measured use. Pure: each
 * function appends its verdict through `add`.
 */
import type { ContainerDefinition, TaskDefinition } from '@aws-sdk/client-ecs';
import { names, type Add, type DoctorFacts } from './doctor-types.ts';

/** The fewest tasks a production service should keep (one is a single point of failure). */
const MIN_TASKS = 2;

/** Right-sized per measured use (the family's rightsize verdict). */
export function rightSizedItem(add: Add, def: TaskDefinition, facts: DoctorFacts): void {
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
}

/** Load balancer + health checks, autoscaling and the circuit breaker of the service running the definition. */
export function serviceItems(add: Add, cs: ContainerDefinition[], facts: DoctorFacts): void {
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
export function loggingItem(add: Add, cs: ContainerDefinition[], facts: DoctorFacts): void {
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

