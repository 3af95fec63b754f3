/**
 * Task identity end to end, with real tasks: roles (`skiff roles`), secrets
 * injected with the execution role's permission (and never shown anywhere
 * else), the task metadata endpoint v4 and the task role credentials endpoint
 * at 169.254.170.2, read from inside tasks with busybox `wget`, and those
 * credentials used against Skiff's API with exactly the role's policy.
 *
 * Each task runs busybox httpd with CGI scripts that run inside the task:
 * /cgi-bin/env prints its environment, /cgi-bin/md?<suffix> fetches
 * $ECS_CONTAINER_METADATA_URI_V4<suffix>, /cgi-bin/creds its credentials and
 * /cgi-bin/get?<path> any path of 169.254.170.2 (to try another task's).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, lstatSync, statfsSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListClustersCommand,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { buildImage, busyboxImageFiles, pushImage } from '../src/images/oci-build.ts';
import { signedFetch } from '../src/cli/client.ts';
import { TestServer, TEST_ROOT_KEY, waitFor } from './support/skiff-server.ts';
import { startRegistry, type TestRegistry } from './support/registry.ts';
import { ipOf, waitTaskStatus } from './support/tasks.ts';
import { rejectsWith } from './support/api-errors.ts';

const ROOT = join(import.meta.dirname, '..');
const ACCOUNT = '123456789012';
const SECRET_VALUE = `pw-${process.pid}-${Date.now()}-Zq9`;
const JSON_SECRET_VALUE = `api-${process.pid}-${Date.now()}-Xk3`;
const CREDENTIALS_TTL_MS = 8000;

let server: TestServer;
let registry: TestRegistry;
let image: string;
let secretArn: string;
let jsonSecretArn: string;
let taskA: Task;
let taskB: Task;
let envA: Record<string, string>;
let envB: Record<string, string>;

const cgi = (body: string) => ({ content: `#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n${body}\n`, mode: 0o755 });

async function secretsCall(op: string, input: Record<string, unknown>): Promise<Record<string, string>> {
  const res = await signedFetch(new URL(server.endpoint + '/'), {
    method: 'POST',
    body: JSON.stringify(input),
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `secretsmanager.${op}` },
    service: 'secretsmanager',
    region: 'us-east-1',
    credentials: TEST_ROOT_KEY,
  });
  const body = (await res.json()) as Record<string, string>;
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

function skiff(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/skiff.js'), ...args], { env: server.clientEnv(), encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** GET from the task's httpd (the CGI runs inside the task). */
async function fromTask(task: Task, path: string): Promise<string> {
  const res = await fetch(`http://${ipOf(task)}:8080${path}`, { signal: AbortSignal.timeout(15_000) });
  return res.text();
}

/** Every regular file under `dir` (symlinks not followed) whose bytes contain one of `values`. */
function filesHolding(dir: string, values: string[]): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && values.some((v) => readFileSync(p).includes(v))) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}

/**
 * The secret values are nowhere under the data dir (by content, every file,
 * container rootfs mounts included), and in this server's memory dir (where
 * the runtime specs and runc's state live) only in owner-only files on a tmpfs.
 */
function assertSecretsOffDisk(values: string[], when: string): string[] {
  const onDisk = filesHolding(server.dataDir, values);
  assert.deepEqual(onDisk, [], `${when}: secret in clear under the data dir`);
  const runcRoot = join(server.dataDir, 'runtime', 'runc');
  assert.ok(lstatSync(runcRoot).isSymbolicLink(), 'the runc root links to the memory dir');
  const memory = dirname(readlinkSync(runcRoot));
  assert.match(memory, /^\/(run|dev\/shm)\/skiff\/[0-9a-f]{16}$/);
  assert.equal(statfsSync(memory).type, 0x01021994, `${memory} is on a tmpfs`);
  const inMemory = filesHolding(memory, values);
  for (const f of inMemory) assert.equal(statSync(f).mode & 0o777, 0o600, f);
  return inMemory;
}

const parseEnv = (text: string) => Object.fromEntries(text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

async function register(family: string, extra: Record<string, unknown>, containerExtra: Record<string, unknown> = {}): Promise<string> {
  const out = await server.ecs().send(
    new RegisterTaskDefinitionCommand({
      family,
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '256',
      memory: '512',
      ...extra,
      // httpd as PID 1 ignores SIGTERM: a short stopTimeout keeps stops quick.
      containerDefinitions: [{ name: 'app', image, command: ['httpd', '-f', '-p', '8080', '-h', '/www'], stopTimeout: 2, ...containerExtra }],
    }),
  );
  return out.taskDefinition!.taskDefinitionArn!;
}

async function run(taskDefinition: string): Promise<Task> {
  const out = await server.ecs().send(new RunTaskCommand({ taskDefinition, launchType: 'FARGATE' }));
  assert.equal(out.failures?.length ?? 0, 0, JSON.stringify(out.failures));
  return out.tasks![0];
}

before(async () => {
  registry = await startRegistry({ auth: 'none' });
  image = `${registry.host}/test/identity:1`;
  const files = [
    ...busyboxImageFiles(),
    { path: '/www/cgi-bin/env', ...cgi('env') },
    { path: '/www/cgi-bin/md', ...cgi('wget -qO- "$ECS_CONTAINER_METADATA_URI_V4$QUERY_STRING" 2>&1 || echo wget-failed') },
    { path: '/www/cgi-bin/creds', ...cgi('wget -qO- "http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" 2>&1 || echo wget-failed') },
    { path: '/www/cgi-bin/get', ...cgi('wget -qO- "http://169.254.170.2$QUERY_STRING" 2>&1 || echo wget-failed') },
  ];
  await pushImage(await buildImage({ files, config: { cmd: ['sh'] } }), image, { credentials: registry.credentials });
  server = new TestServer({ env: { SKIFF_TASK_CREDENTIALS_TTL_MS: String(CREDENTIALS_TTL_MS) } });
  await server.start();
  secretArn = (await secretsCall('CreateSecret', { Name: 'app/db', SecretString: SECRET_VALUE })).ARN;
  jsonSecretArn = (await secretsCall('CreateSecret', { Name: 'app/api', SecretString: JSON.stringify({ user: 'svc', token: JSON_SECRET_VALUE }) })).ARN;
  await secretsCall('CreateSecret', { Name: 'other/x', SecretString: 'not-for-the-task' });
});

after(async () => {
  await server?.destroy();
  await registry?.stop();
});

test('skiff roles: create, list, show, delete; duplicates, bad policies and unknown roles are refused', () => {
  const dir = server.dataDir;
  const policy = (name: string, doc: unknown) => {
    const f = join(dir, `${name}.json`);
    writeFileSync(f, JSON.stringify(doc));
    return f;
  };
  const execOk = policy('exec-ok', { Statement: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: 'arn:aws:secretsmanager:*:*:secret:app/*' }] });
  const execDenied = policy('exec-denied', { Statement: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: 'arn:aws:secretsmanager:*:*:secret:other/*' }] });
  const app = policy('app', { Statement: [{ Effect: 'Allow', Action: ['ecs:ListClusters', 'ecs:DescribeClusters'], Resource: '*' }] });
  for (const [name, file] of [['exec-ok', execOk], ['exec-denied', execDenied], ['app', app]]) {
    const r = skiff('roles', 'create', '--name', name, '--policy-file', file);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`arn:aws:iam::${ACCOUNT}:role/${name}`));
  }
  const listed = skiff('roles', 'list', '--output', 'json');
  assert.equal(listed.status, 0, listed.stderr);
  assert.deepEqual((JSON.parse(listed.stdout) as { roles: { name: string }[] }).roles.map((r) => r.name), ['app', 'exec-denied', 'exec-ok']);
  const shown = skiff('roles', 'show', 'app');
  assert.equal(shown.status, 0, shown.stderr);
  assert.match(shown.stdout, /Allow\s+ecs:ListClusters,ecs:DescribeClusters\s+\*/);

  const dup = skiff('roles', 'create', '--name', 'app', '--policy-file', app);
  assert.notEqual(dup.status, 0);
  assert.match(dup.stderr, /already exists/);
  const bad = skiff('roles', 'create', '--name', 'bad', '--policy-file', policy('bad', { Statement: [{ Effect: 'Permit', Action: 'ecs:X', Resource: '*' }] }));
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /Effect must be Allow or Deny/);
  const temp = skiff('roles', 'create', '--name', 'temp', '--policy-file', app);
  assert.equal(temp.status, 0, temp.stderr);
  assert.equal(skiff('roles', 'delete', 'temp').status, 0);
  const gone = skiff('roles', 'show', 'temp');
  assert.notEqual(gone.status, 0);
  assert.match(gone.stderr, /cannot be found/);
});

test('a key without skiff:CreateRole cannot create roles', async () => {
  const created = await server.fetch('/skiff/v1/keys', {
    method: 'POST',
    body: JSON.stringify({ name: 'viewer', policy: { Statement: [{ Effect: 'Allow', Action: 'skiff:Get*', Resource: '*' }] } }),
  });
  const key = ((await created.json()) as { accessKey: { accessKeyId: string; secretAccessKey: string } }).accessKey;
  const denied = await server.fetch('/skiff/v1/roles', { method: 'POST', body: JSON.stringify({ name: 'x', policy: { Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } }), key });
  assert.equal(denied.status, 400);
  assert.match(await denied.text(), /AccessDeniedException.*skiff:CreateRole/);
  const get = await server.fetch('/skiff/v1/roles/app', { key });
  assert.equal(get.status, 200, 'skiff:GetRole is a Get*');
});

test('secrets are injected with the execution role; metadata and credentials variables are set', async () => {
  const tdA = await register(
    'identity-a',
    { executionRoleArn: `arn:aws:iam::${ACCOUNT}:role/exec-ok`, taskRoleArn: `arn:aws:iam::${ACCOUNT}:role/app` },
    { secrets: [{ name: 'DB_PASSWORD', valueFrom: secretArn }, { name: 'API_TOKEN', valueFrom: `${jsonSecretArn}:token::` }] },
  );
  const tdB = await register('identity-b', {});
  [taskA, taskB] = await Promise.all([run(tdA), run(tdB)]);
  [taskA, taskB] = await Promise.all([waitTaskStatus(server.ecs(), taskA.taskArn!, 'RUNNING', 60_000), waitTaskStatus(server.ecs(), taskB.taskArn!, 'RUNNING', 60_000)]);
  envA = parseEnv(await waitFor('task A httpd', () => fromTask(taskA, '/cgi-bin/env').catch(() => undefined)));
  envB = parseEnv(await waitFor('task B httpd', () => fromTask(taskB, '/cgi-bin/env').catch(() => undefined)));

  assert.equal(envA.DB_PASSWORD, SECRET_VALUE);
  assert.equal(envA.API_TOKEN, JSON_SECRET_VALUE);
  assert.match(envA.ECS_CONTAINER_METADATA_URI_V4, /^http:\/\/169\.254\.170\.2\/v4\/[0-9a-f]{32}$/);
  assert.match(envA.ECS_CONTAINER_METADATA_URI, /^http:\/\/169\.254\.170\.2\/v3\/[0-9a-f]{32}$/);
  assert.match(envA.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, /^\/v2\/credentials\/[0-9a-f]{32}$/);
  assert.match(envB.ECS_CONTAINER_METADATA_URI_V4, /^http:\/\/169\.254\.170\.2\/v4\/[0-9a-f]{32}$/);
  assert.notEqual(envB.ECS_CONTAINER_METADATA_URI_V4, envA.ECS_CONTAINER_METADATA_URI_V4);
  assert.equal(envB.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, undefined, 'no task role, no credentials');
  assert.equal(envB.DB_PASSWORD, undefined);
});

test("a secret's value appears nowhere but in the task's environment", async (t) => {
  const values = [SECRET_VALUE, JSON_SECRET_VALUE];
  const ecs = server.ecs();
  const described = JSON.stringify(await ecs.send(new DescribeTasksCommand({ tasks: [taskA.taskArn!] })));
  const def = JSON.stringify(await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'identity-a' })));
  assert.ok(def.includes(secretArn), 'the definition shows the secret ARN');
  const audit = await (await server.fetch('/skiff/v1/audit?limit=10000')).text();
  const task = skiff('task', taskA.taskArn!, '--output', 'json').stdout;
  const phases = (JSON.parse(task) as { timings: { phase: string; durationMs: number }[] }).timings;
  const secretsPhase = phases.find((p) => p.phase === 'secrets');
  assert.ok(secretsPhase, 'the secrets step is timed');
  for (const v of values) {
    assert.ok(!described.includes(v), 'DescribeTasks');
    assert.ok(!def.includes(v), 'DescribeTaskDefinition');
    assert.ok(!audit.includes(v), 'audit log');
    assert.ok(!task.includes(v), 'skiff task');
    assert.ok(!server.output.includes(v), 'server log');
  }
  for (const f of ['skiff.db', 'skiff.db-wal', 'skiff.db-shm', 'audit.log']) {
    const file = join(server.dataDir, f);
    if (!existsSync(file)) continue;
    const raw = readFileSync(file);
    for (const v of values) assert.equal(raw.indexOf(v), -1, `${f} holds a secret in clear`);
  }
  // The runtime spec and runc's state hold the environment: in memory, readable by root only, never on disk.
  const inMemory = assertSecretsOffDisk(values, 'after start');
  assert.ok(inMemory.some((f) => f.includes('/specs/')), `the runtime spec holds the secret (in memory): ${inMemory}`);
});

test('a task whose execution role may not read the secret fails to start like ECS; secrets without an execution role are refused at registration', async () => {
  const secrets = [{ name: 'DB_PASSWORD', valueFrom: secretArn }];
  await rejectsWith(register('identity-none', {}, { secrets }), 'ClientException', /you must also specify a value for 'executionRoleArn'/);
  const denied = await run(await register('identity-denied', { executionRoleArn: `arn:aws:iam::${ACCOUNT}:role/exec-denied` }, { secrets }));
  const unknown = await run(await register('identity-unknown', { executionRoleArn: `arn:aws:iam::${ACCOUNT}:role/nobody` }, { secrets }));
  for (const [t, role] of [[denied, 'exec-denied'], [unknown, 'nobody']] as const) {
    const stopped = await waitTaskStatus(server.ecs(), t.taskArn!, 'STOPPED', 60_000);
    assert.equal(stopped.stopCode, 'TaskFailedToStart');
    assert.match(
      stopped.stoppedReason!,
      /^ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: .*AccessDeniedException: User: arn:aws:sts::\d{12}:assumed-role\//,
    );
    assert.ok(stopped.stoppedReason!.includes(`assumed-role/${role}/`), stopped.stoppedReason);
    assert.ok(stopped.stoppedReason!.includes(secretArn), 'names the secret');
    assert.ok(!stopped.stoppedReason!.includes(SECRET_VALUE));
    assert.equal(stopped.containers?.[0]?.lastStatus, 'STOPPED');
  }
});

test('the metadata endpoint v4 answers each task with its own container, task and stats', async () => {
  const container = JSON.parse(await fromTask(taskA, '/cgi-bin/md'));
  const c = taskA.containers![0];
  assert.equal(container.Name, 'app');
  assert.equal(container.DockerId, `${taskA.taskArn!.split('/').pop()}-app`);
  assert.equal(container.Image, image);
  assert.equal(container.ImageID, c.imageDigest);
  assert.equal(container.Labels['com.amazonaws.ecs.task-arn'], taskA.taskArn);
  assert.equal(container.Labels['com.amazonaws.ecs.cluster'], taskA.clusterArn);
  assert.equal(container.Labels['com.amazonaws.ecs.task-definition-family'], 'identity-a');
  assert.equal(container.DesiredStatus, 'RUNNING');
  assert.equal(container.KnownStatus, 'RUNNING');
  assert.equal(container.Type, 'NORMAL');
  assert.ok(Date.parse(container.CreatedAt) && Date.parse(container.StartedAt));
  assert.deepEqual(container.Networks[0].IPv4Addresses, [ipOf(taskA)]);
  assert.equal(container.Networks[0].NetworkMode, 'awsvpc');

  const task = JSON.parse(await fromTask(taskA, '/cgi-bin/md?/task'));
  assert.equal(task.TaskARN, taskA.taskArn);
  assert.equal(task.Cluster, taskA.clusterArn);
  assert.equal(task.Family, 'identity-a');
  assert.equal(task.Revision, '1');
  assert.equal(task.KnownStatus, 'RUNNING');
  assert.deepEqual(task.Limits, { CPU: 0.25, Memory: 512 });
  assert.equal(task.LaunchType, 'FARGATE');
  assert.equal(task.AvailabilityZone, taskA.availabilityZone);
  assert.ok(Date.parse(task.PullStartedAt) <= Date.parse(task.PullStoppedAt));
  assert.deepEqual(task.Containers.map((x: { Name: string }) => x.Name), ['app']);

  const stats = JSON.parse(await fromTask(taskA, '/cgi-bin/md?/stats'));
  assert.ok(stats.cpu_stats.cpu_usage.total_usage > 0, 'CPU time from the cgroup');
  assert.ok(stats.memory_stats.usage > 0);
  assert.equal(stats.memory_stats.limit, 512 * 1024 * 1024);
  assert.ok(stats.networks.eth0.rx_bytes > 0 && stats.networks.eth0.tx_bytes > 0, 'eth0 counters from the task namespace');
  assert.ok(stats.cpu_stats.online_cpus >= 1 && stats.cpu_stats.system_cpu_usage > 0);
  const taskStats = JSON.parse(await fromTask(taskA, '/cgi-bin/md?/task/stats'));
  assert.deepEqual(Object.keys(taskStats), [container.DockerId]);
  assert.ok(taskStats[container.DockerId].precpu_stats.system_cpu_usage > 0, 'the second reading carries the first as precpu_stats');

  const taskOfB = JSON.parse(await fromTask(taskB, '/cgi-bin/md?/task'));
  assert.equal(taskOfB.TaskARN, taskB.taskArn, "B's URI answers B");
});

test("a task cannot read another task's metadata or credentials", async () => {
  const mdPathA = new URL(envA.ECS_CONTAINER_METADATA_URI_V4).pathname;
  for (const path of [mdPathA, `${mdPathA}/task`, envA.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, '/v2/credentials/00000000000000000000000000000000', '/v4/00000000000000000000000000000000/task']) {
    const out = await fromTask(taskB, `/cgi-bin/get?${path}`);
    assert.match(out, /wget-failed/, `B reading ${path}`);
    assert.match(out, /40[04]/);
  }
  // A itself, through the generic path, is answered.
  assert.equal(JSON.parse(await fromTask(taskA, `/cgi-bin/get?${mdPathA}/task`)).TaskARN, taskA.taskArn);
});

test("task role credentials carry exactly the role's policy, refresh before expiry and expire", async () => {
  const first = JSON.parse(await fromTask(taskA, '/cgi-bin/creds'));
  assert.equal(first.RoleArn, `arn:aws:iam::${ACCOUNT}:role/app`);
  assert.match(first.AccessKeyId, /^ASIA[A-Z2-7]{16}$/);
  assert.ok(first.SecretAccessKey && first.Token);
  const issuedAt = Date.now();
  assert.ok(Date.parse(first.Expiration) - issuedAt <= CREDENTIALS_TTL_MS && Date.parse(first.Expiration) > issuedAt);

  const client = (c: { AccessKeyId: string; SecretAccessKey: string; Token?: string }) =>
    new ECSClient({ endpoint: server.endpoint, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.Token } });
  const listed = await client(first).send(new ListClustersCommand({}));
  assert.ok(listed.clusterArns!.some((a) => a.endsWith(':cluster/default')), 'allowed by the role');
  await assert.rejects(client(first).send(new ListTaskDefinitionsCommand({})), (err: Error) => {
    assert.equal(err.name, 'AccessDeniedException');
    assert.match(err.message, new RegExp(`arn:aws:sts::${ACCOUNT}:assumed-role/app/${taskA.taskArn!.split('/').pop()} is not authorized to perform: ecs:ListTaskDefinitions`));
    return true;
  });
  await assert.rejects(client({ ...first, Token: first.Token.slice(0, -4) + 'AAAA' }).send(new ListClustersCommand({})), { name: 'UnrecognizedClientException' });
  await assert.rejects(client({ ...first, Token: undefined }).send(new ListClustersCommand({})), { name: 'UnrecognizedClientException' });

  // Past half its lifetime, the endpoint hands out a new set.
  await new Promise((r) => setTimeout(r, Math.max(0, issuedAt + CREDENTIALS_TTL_MS / 2 + 300 - Date.now())));
  const second = JSON.parse(await fromTask(taskA, '/cgi-bin/creds'));
  assert.notEqual(second.AccessKeyId, first.AccessKeyId);
  assert.ok(Date.parse(second.Expiration) > Date.parse(first.Expiration));
  assert.ok((await client(first).send(new ListClustersCommand({}))).clusterArns, 'the old set works until it expires');

  await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(first.Expiration) + 300 - Date.now())));
  await assert.rejects(client(first).send(new ListClustersCommand({})), (err: Error) => {
    assert.equal(err.name, 'ExpiredTokenException');
    assert.match(err.message, /expired/);
    return true;
  });
  assert.ok((await client(second).send(new ListClustersCommand({}))).clusterArns, 'the refreshed set works');
  const audit = (await (await server.fetch('/skiff/v1/audit?action=ecs:ListTaskDefinitions')).json()) as { events: { principal: string; outcome: string }[] };
  assert.ok(audit.events.some((e) => e.principal?.includes('assumed-role/app/') && e.outcome === 'AccessDeniedException'), 'audited as the assumed role');
  for (const c of [first, second]) assert.ok(!server.output.includes(c.SecretAccessKey) && !server.output.includes(c.Token), 'credentials not logged');
});

test("rotating the master key keeps secrets, access keys and a running task's credentials working", async () => {
  const creds = JSON.parse(await fromTask(taskA, '/cgi-bin/creds'));
  const keyFile = join(server.dataDir, 'master.key');
  const oldKey = readFileSync(keyFile, 'utf8');
  const r = skiff('keys', 'rotate-master', '--output', 'json');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { fingerprint: string; rewrapped: { secretVersions: number; accessKeys: number; taskCredentials: number } };
  assert.equal(out.rewrapped.secretVersions, 3);
  assert.ok(out.rewrapped.accessKeys >= 2 && out.rewrapped.taskCredentials >= 1);
  assert.notEqual(readFileSync(keyFile, 'utf8'), oldKey);
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  assert.equal((await secretsCall('GetSecretValue', { SecretId: 'app/db' })).SecretString, SECRET_VALUE);
  const ecs = new ECSClient({ endpoint: server.endpoint, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: creds.AccessKeyId, secretAccessKey: creds.SecretAccessKey, sessionToken: creds.Token } });
  assert.ok((await ecs.send(new ListClustersCommand({}))).clusterArns, 'credentials issued before the rotation');
});

test('after a kill -9 and restart, running tasks still reach their metadata and get working credentials', async () => {
  await server.stop('SIGKILL');
  await server.start();
  assert.equal(JSON.parse(await fromTask(taskA, '/cgi-bin/md?/task')).TaskARN, taskA.taskArn);
  const creds = JSON.parse(await fromTask(taskA, '/cgi-bin/creds'));
  const ecs = new ECSClient({ endpoint: server.endpoint, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: creds.AccessKeyId, secretAccessKey: creds.SecretAccessKey, sessionToken: creds.Token } });
  assert.ok((await ecs.send(new ListClustersCommand({}))).clusterArns);
  assert.match(await fromTask(taskB, `/cgi-bin/get?${envA.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI}`), /wget-failed/);
  assert.equal(parseEnv(await fromTask(taskA, '/cgi-bin/env')).DB_PASSWORD, SECRET_VALUE, 'the container kept its environment');
  assert.equal((await secretsCall('GetSecretValue', { SecretId: 'app/db' })).SecretString, SECRET_VALUE, 'the rotated key was loaded');
  assert.ok(assertSecretsOffDisk([SECRET_VALUE, JSON_SECRET_VALUE], 'after a restart').length >= 1, 'the adopted container kept its spec in memory');
});

test('a stopped task loses its metadata and credentials', async () => {
  const creds = JSON.parse(await fromTask(taskA, '/cgi-bin/creds'));
  await server.ecs().send(new StopTaskCommand({ task: taskA.taskArn! }));
  await waitTaskStatus(server.ecs(), taskA.taskArn!, 'STOPPED', 60_000);
  await waitFor('the stopped container removed', async () => !existsSync(join(server.dataDir, 'runtime', 'bundles', `${taskA.containers![0].runtimeId}.json`)) || undefined, 30_000).catch(() => undefined);
  assertSecretsOffDisk([SECRET_VALUE, JSON_SECRET_VALUE], 'after stop');
  const ecs = new ECSClient({ endpoint: server.endpoint, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: creds.AccessKeyId, secretAccessKey: creds.SecretAccessKey, sessionToken: creds.Token } });
  await assert.rejects(ecs.send(new ListClustersCommand({})), { name: 'UnrecognizedClientException' });
});
