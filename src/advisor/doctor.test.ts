import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TaskDefinition } from '@aws-sdk/client-ecs';
import { doctor, type DoctorFacts } from './doctor.ts';

export const careless: TaskDefinition = {
  family: 'careless',
  cpu: '4096',
  memory: '16384',
  taskRoleArn: 'arn:aws:iam::123456789012:role/AdministratorAccess',
  containerDefinitions: [
    {
      name: 'app',
      image: 'registry.example/app:latest',
      user: 'root',
      stopTimeout: 2,
      command: ['sh', '-c', 'while true; do sleep 1; done'],
      environment: [
        { name: 'DB_PASSWORD', value: 'hunter2-very-secret' },
        { name: 'LOG_LEVEL', value: 'debug' },
      ],
      linuxParameters: { capabilities: { add: ['SYS_PTRACE'] } },
    },
  ],
};

export const careful: TaskDefinition = {
  family: 'careful',
  cpu: '256',
  memory: '512',
  taskRoleArn: 'arn:aws:iam::123456789012:role/careful-app',
  executionRoleArn: 'arn:aws:iam::123456789012:role/careful-exec',
  containerDefinitions: [
    {
      name: 'app',
      image: 'registry.example/app:1.4.2',
      user: '1000:1000',
      readonlyRootFilesystem: true,
      stopTimeout: 30,
      command: ['sh', '-c', 'trap "exit 0" TERM; exec httpd -f -p 8080'],
      environment: [{ name: 'LOG_LEVEL', value: 'info' }],
      secrets: [{ name: 'DB_PASSWORD', valueFrom: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db' }],
      linuxParameters: { capabilities: { drop: ['ALL'] } },
      healthCheck: { command: ['CMD-SHELL', 'wget -q -O- http://localhost:8080/ || exit 1'], interval: 30, retries: 3, startPeriod: 10, timeout: 5 },
      logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/careful', 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'app' } },
    },
  ],
};

const byId = (r: ReturnType<typeof doctor>) => Object.fromEntries(r.items.map((i) => [i.id, i]));

test('a careless task definition fails item by item, with how to fix each, and never echoes a secret', () => {
  const r = doctor(careless, {
    networkConfiguration: { awsvpcConfiguration: { assignPublicIp: 'ENABLED', securityGroups: ['sg-1'] } },
    rightsize: { status: 'ok', action: 'downsize', recommended: { cpu: 256, memory: 512 }, monthlySaving: '140.0', savingPercent: '93.7' },
    image: { sizeBytes: 1_400_000_000, layers: 23 },
  });
  const i = byId(r);
  for (const id of ['network.public-ip', 'iam.least-privilege', 'secrets.from-store', 'container.read-only-root', 'container.non-root', 'logging']) {
    assert.equal(i[id].status, 'fail', id);
    assert.ok(i[id].fix, `${id} says how to fix it`);
  }
  for (const id of ['network.security-groups', 'container.capabilities', 'health-check', 'service.autoscaling', 'service.circuit-breaker', 'shutdown.graceful', 'right-sized', 'image']) {
    assert.equal(i[id].status, 'warn', id);
  }
  assert.match(i['secrets.from-store'].message, /app:DB_PASSWORD=\[redacted\]/);
  assert.doesNotMatch(JSON.stringify(r), /hunter2/);
  assert.match(i['image'].message, /1400 MB.*23 layers.*:latest/);
  assert.match(i['shutdown.graceful'].message, /neither execs the app nor traps SIGTERM/);
  assert.match(i['service.autoscaling'].message, /no service named/);
  assert.equal(r.summary.fail, 6);
  assert.equal(r.items.length, 18);
  assert.equal(i['task-definition.valid'].status, 'pass');
});

const SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db';
const SG = 'sg-0123456789abcdef0';

/** Everything the server would say about `careful` run well as a service. */
export const carefulFacts = (): DoctorFacts => ({
  rightsize: { status: 'ok', action: 'keep', recommended: { cpu: 256, memory: 512 } },
  image: { sizeBytes: 1_200_000, layers: 1 },
  networkConfiguration: { awsvpcConfiguration: { assignPublicIp: 'DISABLED', securityGroups: [SG] } },
  securityGroups: { [SG]: { ingress: [{ protocol: 'tcp', fromPort: 8080, toPort: 8080, cidrs: ['10.0.0.0/16'], groups: [] }] } },
  logGroups: { '/careful': true },
  secrets: { [SECRET]: { arn: `${SECRET}-AbCdEf` } },
  roles: {
    [careful.taskRoleArn!]: { policy: { Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::careful/*' }] } },
    [careful.executionRoleArn!]: { policy: { Statement: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: `${SECRET}-*` }] } },
  },
  service: {
    name: 'careful',
    loadBalancers: [{ containerName: 'app', containerPort: 8080, targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/careful/1' }],
    healthCheckGracePeriodSeconds: 60,
    circuitBreaker: { enable: true, rollback: true },
    autoscaling: { target: { minCapacity: 2, maxCapacity: 10 }, policies: 1, scheduledActions: 0 },
  },
});

test('a careful task definition run well as a service passes every item', () => {
  const r = doctor(careful, carefulFacts());
  assert.deepEqual(r.items.filter((i) => i.status !== 'pass').map((i) => `${i.id}: ${i.message}`), []);
  assert.equal(r.items.length, 18);
});

test('without service facts the service items warn and say how to check them', () => {
  const { service: _, ...facts } = carefulFacts();
  const r = doctor(careful, { ...facts, serviceUnavailable: 'no --service given' });
  assert.deepEqual(r.items.filter((i) => i.status !== 'pass').map((i) => i.id), ['service.load-balancer', 'service.autoscaling', 'service.circuit-breaker']);
  for (const i of r.items.filter((x) => x.status !== 'pass')) {
    assert.match(i.message, /no --service given/);
    assert.match(i.fix!, /--service NAME/);
  }
});

/** The verdict of one item for `careful` with the facts changed by `change`. */
function verdict(id: string, change: (f: DoctorFacts) => void, def: TaskDefinition = careful) {
  const f = carefulFacts();
  change(f);
  const item = doctor(def, f).items.find((i) => i.id === id)!;
  assert.ok(item, id);
  if (item.status !== 'pass') assert.ok(item.fix, `${id} says what to do`);
  return item;
}

const withContainer = (patch: Partial<NonNullable<TaskDefinition['containerDefinitions']>[number]>, top: Partial<TaskDefinition> = {}): TaskDefinition => ({
  ...careful,
  ...top,
  containerDefinitions: [{ ...careful.containerDefinitions![0], ...patch }],
});

test('security groups: missing or open to the world on every port fails, one port open warns, unknown warns', () => {
  assert.equal(verdict('network.security-groups', (f) => (f.securityGroups = { [SG]: null })).status, 'fail');
  const allTraffic = verdict('network.security-groups', (f) => (f.securityGroups![SG]!.ingress.push({ protocol: '-1', cidrs: ['0.0.0.0/0'], groups: [] })));
  assert.equal(allTraffic.status, 'fail');
  assert.match(allTraffic.message, /all traffic from 0\.0\.0\.0\/0/);
  assert.match(allTraffic.fix!, /revoke-security-group-ingress/);
  assert.equal(verdict('network.security-groups', (f) => (f.securityGroups![SG]!.ingress = [{ protocol: 'tcp', fromPort: 0, toPort: 65535, cidrs: ['::/0'], groups: [] }])).status, 'fail');
  const onePort = verdict('network.security-groups', (f) => (f.securityGroups![SG]!.ingress = [{ protocol: 'tcp', fromPort: 443, toPort: 443, cidrs: ['0.0.0.0/0'], groups: [] }]));
  assert.equal(onePort.status, 'warn');
  assert.match(onePort.message, /tcp 443 from 0\.0\.0\.0\/0/);
  assert.equal(verdict('network.security-groups', (f) => (f.securityGroups![SG]!.ingress = [{ protocol: '-1', cidrs: [], groups: ['sg-0aaaaaaaaaaaaaaaa'] }])).status, 'pass');
  assert.equal(verdict('network.security-groups', (f) => (f.networkConfiguration = { awsvpcConfiguration: { securityGroups: [] } })).status, 'warn');
  assert.equal(verdict('network.security-groups', (f) => delete f.networkConfiguration).status, 'warn');
  const unreadable = verdict('network.security-groups', (f) => {
    delete f.securityGroups;
    f.securityGroupsUnavailable = 'EC2 DescribeSecurityGroups failed (AccessDenied)';
  });
  assert.equal(unreadable.status, 'warn');
  assert.match(unreadable.message, /AccessDenied/);
});

test('roles: a task or execution role that does not exist fails; a task role granting * on * fails least privilege', () => {
  const noTask = verdict('iam.roles-exist', (f) => (f.roles![careful.taskRoleArn!] = null));
  assert.equal(noTask.status, 'fail');
  assert.match(noTask.message, /taskRoleArn .*careful-app does not exist/);
  assert.match(noTask.fix!, /skiff roles create careful-app/);
  assert.equal(verdict('iam.roles-exist', (f) => (f.roles![careful.executionRoleArn!] = null)).status, 'fail');
  assert.equal(verdict('iam.roles-exist', (f) => delete f.roles).status, 'warn');
  assert.equal(verdict('iam.roles-exist', () => {}, { ...careful, taskRoleArn: undefined, executionRoleArn: undefined }).status, 'pass');
  const wide = verdict('iam.least-privilege', (f) => (f.roles![careful.taskRoleArn!] = { policy: { Statement: [{ Effect: 'Allow', Action: ['s3:*', 'sqs:SendMessage'], Resource: '*' }] } }));
  assert.equal(wide.status, 'fail');
  assert.match(wide.message, /allows 's3:\*' on every resource/);
  assert.equal(verdict('iam.least-privilege', (f) => (f.roles![careful.taskRoleArn!] = { policy: { Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::careful/*' }] } })).status, 'pass');
});

test('secrets: each way a secret cannot be read at start fails, naming the secret and what to do', () => {
  const missing = verdict('secrets.resolvable', (f) => (f.secrets![SECRET] = null));
  assert.equal(missing.status, 'fail');
  assert.match(missing.message, /secret:db do not exist/);
  const denied = verdict('secrets.resolvable', (f) => (f.roles![careful.executionRoleArn!] = { policy: { Statement: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:other-*' }] } }));
  assert.equal(denied.status, 'fail');
  assert.match(denied.message, /not allowed secretsmanager:GetSecretValue on .*secret:db-AbCdEf/);
  assert.match(denied.fix!, /"Action": "secretsmanager:GetSecretValue"/);
  assert.equal(verdict('secrets.resolvable', (f) => (f.roles![careful.executionRoleArn!] = null)).status, 'fail');
  const noRole = verdict('secrets.resolvable', () => {}, { ...careful, executionRoleArn: undefined });
  assert.equal(noRole.status, 'fail');
  assert.match(noRole.message, /no executionRoleArn/);
  const ssm = verdict('secrets.resolvable', () => {}, withContainer({ secrets: [{ name: 'X', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/x' }] }));
  assert.equal(ssm.status, 'fail');
  assert.match(ssm.message, /not a Secrets Manager secret ARN/);
  assert.equal(verdict('secrets.resolvable', (f) => delete f.secrets).status, 'warn');
  assert.equal(verdict('secrets.resolvable', () => {}, withContainer({ secrets: [] })).status, 'pass');
});

test('literal AWS keys in the environment fail with the task role (metadata endpoint credentials) as the fix', () => {
  const keys = verdict('secrets.from-store', () => {}, withContainer({ environment: [{ name: 'AWS_ACCESS_KEY_ID', value: 'AKIAABCDEFGHIJKLMNOP' }, { name: 'AWS_SECRET_ACCESS_KEY', value: 'x'.repeat(40) }] }));
  assert.equal(keys.status, 'fail');
  assert.match(keys.fix!, /set taskRoleArn: .*task metadata endpoint/);
  assert.doesNotMatch(JSON.stringify(keys), /AKIAABCDEFGHIJKLMNOP|xxxxxxxx/);
  assert.doesNotMatch(verdict('secrets.from-store', () => {}, withContainer({ environment: [{ name: 'DB_PASSWORD', value: 'hunter2' }] })).fix!, /taskRoleArn/);
});

test('logs: a missing awslogs group fails unless awslogs-create-group is true; other drivers warn', () => {
  const missing = verdict('logging', (f) => (f.logGroups!['/careful'] = false));
  assert.equal(missing.status, 'fail');
  assert.match(missing.message, /\/careful do not exist/);
  assert.match(missing.fix!, /aws logs create-log-group --log-group-name \/careful/);
  const created = verdict('logging', (f) => (f.logGroups!['/careful'] = false), withContainer({ logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/careful', 'awslogs-region': 'us-east-1', 'awslogs-create-group': 'true' } } }));
  assert.equal(created.status, 'pass');
  assert.match(created.message, /created at first start/);
  assert.equal(verdict('logging', () => {}, withContainer({ logConfiguration: { logDriver: 'splunk', options: {} } })).status, 'warn');
  assert.equal(verdict('logging', () => {}, withContainer({ logConfiguration: undefined })).status, 'fail');
  assert.equal(verdict('logging', (f) => delete f.logGroups).status, 'warn');
});

test('load balancer: no health check on the target container fails, no grace period warns, no load balancer warns', () => {
  const noHc = verdict('service.load-balancer', () => {}, withContainer({ healthCheck: undefined }));
  assert.equal(noHc.status, 'fail');
  assert.match(noHc.message, /'app', which have no healthCheck/);
  const wrong = verdict('service.load-balancer', (f) => (f.service!.loadBalancers[0].containerName = 'web'));
  assert.equal(wrong.status, 'fail');
  assert.match(wrong.message, /'web', which the task definition does not have/);
  const noGrace = verdict('service.load-balancer', (f) => delete f.service!.healthCheckGracePeriodSeconds);
  assert.equal(noGrace.status, 'warn');
  assert.match(noGrace.fix!, /--health-check-grace-period-seconds/);
  assert.equal(verdict('service.load-balancer', (f) => (f.service!.healthCheckGracePeriodSeconds = 5)).status, 'warn');
  assert.equal(verdict('service.load-balancer', (f) => (f.service!.loadBalancers = [])).status, 'warn');
});

test('autoscaling: no target, nothing scaling it, or a floor of one warn; the circuit breaker off fails', () => {
  const none = verdict('service.autoscaling', (f) => (f.service!.autoscaling = { target: null, policies: 0, scheduledActions: 0 }));
  assert.equal(none.status, 'warn');
  assert.match(none.fix!, /skiff autoscaling set careful --min 2/);
  assert.equal(verdict('service.autoscaling', (f) => (f.service!.autoscaling!.policies = 0)).status, 'warn');
  assert.equal(verdict('service.autoscaling', (f) => (f.service!.autoscaling = { target: { minCapacity: 2, maxCapacity: 4 }, policies: 0, scheduledActions: 1 })).status, 'pass');
  assert.equal(verdict('service.autoscaling', (f) => (f.service!.autoscaling!.target!.minCapacity = 1)).status, 'warn');
  const denied = verdict('service.autoscaling', (f) => {
    delete f.service!.autoscaling;
    f.service!.autoscalingUnavailable = 'AccessDeniedException';
  });
  assert.equal(denied.status, 'warn');
  assert.match(denied.message, /AccessDeniedException/);
  assert.equal(verdict('service.circuit-breaker', (f) => delete f.service!.circuitBreaker).status, 'fail');
  assert.equal(verdict('service.circuit-breaker', (f) => (f.service!.circuitBreaker = { enable: true, rollback: false })).status, 'warn');
});

test('without measurements, right-sizing and image items warn and say why', () => {
  const i = byId(doctor(careful, { rightsizeUnavailable: 'server not reachable', imageUnavailable: 'server not reachable' }));
  assert.equal(i['right-sized'].status, 'warn');
  assert.match(i['right-sized'].message, /server not reachable/);
  assert.equal(i['image'].status, 'warn');
});

test('an under-sized (throttled) family fails the right-sizing item; a shared task/execution role warns', () => {
  const i = byId(
    doctor(
      { ...careful, executionRoleArn: careful.taskRoleArn },
      { rightsize: { status: 'ok', action: 'upsize', recommended: { cpu: 512, memory: 1024 } }, image: { sizeBytes: 1, layers: 1 } },
    ),
  );
  assert.equal(i['right-sized'].status, 'fail');
  assert.match(i['right-sized'].fix!, /512 CPU \/ 1024 MiB/);
  assert.equal(i['iam.least-privilege'].status, 'warn');
});

test('an invalid definition fails the first item with the validation message', () => {
  const r = doctor(careful, { validationError: "No Fargate configuration exists for given values: 256 CPU, 4096 memory." });
  assert.equal(r.items[0].id, 'task-definition.valid');
  assert.equal(r.items[0].status, 'fail');
  assert.match(r.items[0].message, /No Fargate configuration/);
});

test('a cluster several access keys use, with tasks on runc, gets a warning to give each task its own kernel', () => {
  const def = { family: 'x', cpu: '256', memory: '512', networkMode: 'awsvpc', requiresCompatibilities: ['FARGATE'], containerDefinitions: [{ name: 'app', image: 'busybox' }] } as never;
  const item = (facts: Parameters<typeof doctor>[1]) => doctor(def, facts).items.find((i) => i.id === 'isolation');
  assert.equal(item({}), undefined, 'no cluster facts: no item');
  const shared = item({ cluster: { name: 'prod', accessKeys: 3, runningByIsolation: { runc: 2, gvisor: 1 } } });
  assert.equal(shared?.status, 'warn');
  assert.match(shared!.message, /used by 3 access keys and runs 2 task\(s\) on runc/);
  assert.match(shared!.fix ?? '', /skiff:isolation=gvisor/);
  assert.equal(item({ cluster: { name: 'prod', accessKeys: 3, runningByIsolation: { gvisor: 4 } } })?.status, 'pass');
  assert.equal(item({ cluster: { name: 'mine', accessKeys: 1, runningByIsolation: { runc: 4 } } })?.status, 'pass');
  const unknown = item({ clusterUnavailable: 'cluster prod not found' });
  assert.equal(unknown?.status, 'warn', 'facts that could not be read: said, not passed');
  assert.match(unknown!.message, /not checked: cluster prod not found/);
});
