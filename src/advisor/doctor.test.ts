import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TaskDefinition } from '@aws-sdk/client-ecs';
import { doctor } from './doctor.ts';

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
  assert.match(i['service.autoscaling'].message, /no services or autoscaling yet/);
  assert.equal(r.summary.fail, 6);
  assert.equal(r.items.length, 15);
  assert.equal(i['task-definition.valid'].status, 'pass');
});

test('a careful task definition passes: only the items Skiff cannot check yet are warnings', () => {
  const r = doctor(careful, {
    rightsize: { status: 'ok', action: 'keep', recommended: { cpu: 256, memory: 512 } },
    image: { sizeBytes: 1_200_000, layers: 1 },
  });
  assert.equal(r.summary.fail, 0);
  assert.deepEqual(r.items.filter((i) => i.status !== 'pass').map((i) => i.id), ['network.security-groups', 'service.autoscaling', 'service.circuit-breaker']);
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
