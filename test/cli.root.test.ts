/**
 * The tools users already have: the AWS CLI (Debian's awscli, /usr/bin/aws)
 * pointed at Skiff with --endpoint-url, and Skiff's own CLI, in table and JSON.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestServer } from './support/skiff-server.ts';
import { startBusyboxStack, type BusyboxStack } from './support/stack.ts';

const AWS = '/usr/bin/aws';
const SKIFF = resolve(import.meta.dirname, '../bin/skiff.js');
let stack: BusyboxStack;
let server: TestServer;
let image: string;
let dir: string;

before(async () => {
  stack = await startBusyboxStack('test/busybox:cli');
  ({ server, image } = stack);
  dir = mkdtempSync(join(tmpdir(), 'skiff-cli-'));
});
after(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// A clean environment: no profile or region surprises from the host.
const env = () => ({
  PATH: process.env.PATH!,
  HOME: dir,
  AWS_ACCESS_KEY_ID: 'AKIDSKIFFTEST',
  AWS_SECRET_ACCESS_KEY: 'skiff-test-secret',
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_PAGER: '',
});

function aws(...args: string[]) {
  const r = spawnSync(AWS, ['--endpoint-url', server.endpoint, '--output', 'json', ...args], { env: env(), encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout) };
}

function skiff(...args: string[]) {
  const r = spawnSync(process.execPath, [SKIFF, ...args], { env: { ...env(), SKIFF_ENDPOINT: server.endpoint }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the AWS CLI registers a task definition from JSON, runs it, waits for it and reads its address', () => {
  const file = join(dir, 'taskdef.json');
  writeFileSync(
    file,
    JSON.stringify({
      family: 'cli-demo',
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: '256',
      memory: '512',
      containerDefinitions: [{ name: 'app', image, essential: true, command: ['sh', '-c', 'echo from-aws-cli; sleep 10'] }],
    }),
  );
  const reg = aws('ecs', 'register-task-definition', '--cli-input-json', `file://${file}`);
  assert.equal(reg.status, 0, reg.stderr);
  assert.equal(reg.json().taskDefinition.revision, 1);

  const run = aws('ecs', 'run-task', '--task-definition', 'cli-demo', '--count', '1');
  assert.equal(run.status, 0, run.stderr);
  const arn: string = run.json().tasks[0].taskArn;
  // The CLI's waiter polls every 6 s and gives up if it first sees the task STOPPED: the task runs 10 s.
  const running = aws('ecs', 'wait', 'tasks-running', '--tasks', arn);
  assert.equal(running.status, 0, running.stderr);
  const ip = aws('ecs', 'describe-tasks', '--tasks', arn, '--query', "tasks[0].attachments[0].details[?name=='privateIPv4Address'].value | [0]");
  assert.match(ip.json(), /^10\.\d+\.\d+\.\d+$/);
  assert.equal(aws('ecs', 'wait', 'tasks-stopped', '--tasks', arn).status, 0);
  const stopped = aws('ecs', 'describe-tasks', '--tasks', arn).json().tasks[0];
  assert.equal(stopped.lastStatus, 'STOPPED');
  assert.equal(stopped.containers[0].exitCode, 0);

  const listed = aws('ecs', 'list-tasks', '--desired-status', 'STOPPED', '--family', 'cli-demo');
  assert.deepEqual(listed.json().taskArns, [arn]);

  const ps = skiff('ps', '--all', '--output', 'json');
  assert.equal(ps.status, 0, ps.stderr);
  assert.ok((JSON.parse(ps.stdout) as { tasks: { taskArn: string }[] }).tasks.some((t) => t.taskArn === arn));
  const table = skiff('ps', '--all');
  assert.match(table.stdout, /^TASK\s+FAMILY\s+STATUS\s+IP/);
  assert.match(table.stdout, new RegExp(`${arn.split('/').pop()}\\s+cli-demo:1\\s+STOPPED\\s+${ip.json().replaceAll('.', '\\.')}`));

  const detail = skiff('task', arn, '--output', 'json');
  const d = JSON.parse(detail.stdout) as { timings: { phase: string }[]; billing: { billedSeconds: number } };
  assert.deepEqual(d.timings.map((t) => t.phase).slice(0, 4).sort(), ['cgroup', 'image-pull', 'network', 'secrets']);
  assert.equal(d.billing.billedSeconds, 60);
  assert.match(skiff('task', arn).stdout, /billed\s+60 s, \$0\.000205708333/);
  assert.match(skiff('logs', arn).stdout, /from-aws-cli/);
});

test('AWS CLI errors carry the ECS error type and a message that says what to fix', () => {
  const r = aws('ecs', 'describe-task-definition', '--task-definition', 'does-not-exist');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /ClientException/);
  assert.match(r.stderr, /RegisterTaskDefinition/);
  const c = aws('ecs', 'list-tasks', '--cluster', 'nowhere');
  assert.match(c.stderr, /ClusterNotFoundException/);
});

test('skiff subnets lists the default VPC subnets as a table and as JSON', () => {
  const json = skiff('subnets', '--output', 'json');
  assert.equal(json.status, 0, json.stderr);
  const subnets = (JSON.parse(json.stdout) as { subnets: { cidrBlock: string; defaultForAz: boolean }[] }).subnets;
  assert.equal(subnets.length, 3);
  assert.ok(subnets.every((s) => s.defaultForAz));
  const prefix = server.vpcCidr.split('.').slice(0, 2).join('.');
  assert.deepEqual(subnets.map((s) => s.cidrBlock), [`${prefix}.0.0/20`, `${prefix}.16.0/20`, `${prefix}.32.0/20`]);
  assert.match(skiff('subnets').stdout, /^SUBNET\s+VPC\s+CIDR\s+ZONE\s+DEFAULT\s+FREE IPS/);
});

test('the skiff CLI explains how to reach a server that is not there', () => {
  const r = spawnSync(process.execPath, [SKIFF, '--endpoint', 'http://127.0.0.1:9', 'subnets'], { env: env(), encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot reach Skiff at http:\/\/127\.0\.0\.1:9.*skiff server/);
});
