/**
 * iam:PassRole end to end (issue #16), as the attacker would try it: a key
 * allowed only to register task definitions, run and describe tasks, manage
 * services and read task logs, facing an `admin` role (Allow * on *) and an
 * execution role that may read a secret the key may not. Every way of handing
 * one of those roles to a task is refused with AWS's AccessDeniedException
 * naming iam:PassRole and the role, nothing is created, and the audit log
 * records the denied PassRole. The same key plus `iam:PassRole` on one role
 * (for ecs-tasks.amazonaws.com) can pass exactly that role: a real task gets
 * its credentials at 169.254.170.2, and those credentials (a task role session)
 * cannot pass the admin role either.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateServiceCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  UpdateServiceCommand,
  type RegisterTaskDefinitionCommandInput,
} from '@aws-sdk/client-ecs';
import { signedFetch } from '../src/cli/client.ts';
import { TEST_ROOT_KEY, waitFor } from './support/skiff-server.ts';
import { startBusyboxStack, type BusyboxStack } from './support/stack.ts';
import { rejectsWith } from './support/api-errors.ts';
import { waitTaskStatus } from './support/tasks.ts';

const ACCOUNT = '123456789012';
const ROLE = (n: string) => `arn:aws:iam::${ACCOUNT}:role/${n}`;
const SECRET_VALUE = `top-${process.pid}-${Date.now()}-Qv7`;
type Key = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

let stack: BusyboxStack;
let secretArn: string;
let attacker: Key;
let deployer: Key;

const ecs = (key: Key) => new ECSClient({ endpoint: stack.server.endpoint, region: 'us-east-1', credentials: key, maxAttempts: 1 });

/** The actions the attacker holds (plus services and log reads). */
const ATTACKER_ACTIONS = [
  'ecs:RegisterTaskDefinition', 'ecs:RunTask', 'ecs:DescribeTasks', 'ecs:DescribeTaskDefinition',
  'ecs:CreateService', 'ecs:UpdateService', 'ecs:DescribeServices', 'skiff:GetTaskLogs',
];

async function createKey(name: string, statements: unknown[]): Promise<Key> {
  const res = await stack.server.fetch('/skiff/v1/keys', { method: 'POST', body: JSON.stringify({ name, policy: { Version: '2012-10-17', Statement: statements } }) });
  const body = (await res.json()) as { accessKey: Key };
  assert.equal(res.status, 200, JSON.stringify(body));
  return { accessKeyId: body.accessKey.accessKeyId, secretAccessKey: body.accessKey.secretAccessKey };
}

async function createRole(name: string, statements: unknown[]): Promise<void> {
  const res = await stack.server.fetch('/skiff/v1/roles', { method: 'POST', body: JSON.stringify({ name, policy: { Statement: statements } }) });
  assert.equal(res.status, 200, await res.text());
}

/** A task definition that prints its task role credentials (if any) and its environment, then waits. */
function definition(family: string, extra: Partial<RegisterTaskDefinitionCommandInput> = {}, secrets?: { name: string; valueFrom: string }[]): RegisterTaskDefinitionCommandInput {
  const script = 'wget -qO- "http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" 2>&1; echo; echo CREDS-DONE; env; sleep 300';
  return {
    family,
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE'],
    cpu: '256',
    memory: '512',
    ...extra,
    containerDefinitions: [{ name: 'app', image: stack.image, command: ['sh', '-c', script], stopTimeout: 2, ...(secrets ? { secrets } : {}) }],
  };
}

/** AWS's wording for a denied PassRole. */
const passRoleDenied = (principal: string, role: string) =>
  new RegExp(`^User: ${principal.replace(/[/.]/g, '\\$&')} is not authorized to perform: iam:PassRole on resource: ${ROLE(role).replace(/[/.]/g, '\\$&')} because no identity-based policy allows the iam:PassRole action$`);
const ATTACKER = `arn:aws:iam::${ACCOUNT}:user/attacker`;

async function audit(query: string): Promise<{ principal?: string; action: string; resource?: string; outcome: string; accessKeyId?: string }[]> {
  const res = await stack.server.fetch(`/skiff/v1/audit?${query}`);
  assert.equal(res.status, 200);
  return ((await res.json()) as { events: never[] }).events;
}

async function taskCount(): Promise<number> {
  return (await stack.ecs.send(new ListTasksCommand({}))).taskArns!.length + (await stack.ecs.send(new ListTasksCommand({ desiredStatus: 'STOPPED' }))).taskArns!.length;
}

before(async () => {
  stack = await startBusyboxStack('test/passrole:1');
  await createRole('admin', [{ Effect: 'Allow', Action: '*', Resource: '*' }]);
  await createRole('app', [{ Effect: 'Allow', Action: ['ecs:RunTask', 'ecs:ListClusters'], Resource: '*' }]);
  const res = await signedFetch(new URL(stack.server.endpoint + '/'), {
    method: 'POST',
    body: JSON.stringify({ Name: 'prod/db', SecretString: SECRET_VALUE }),
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.CreateSecret' },
    service: 'secretsmanager',
    region: 'us-east-1',
    credentials: TEST_ROOT_KEY,
  });
  secretArn = ((await res.json()) as { ARN: string }).ARN;
  await createRole('exec-secret', [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secretArn }]);
  // The operator (root key) registers definitions carrying the roles: root may pass any role.
  await stack.ecs.send(new RegisterTaskDefinitionCommand(definition('plain')));
  await stack.ecs.send(new RegisterTaskDefinitionCommand(definition('admin-td', { taskRoleArn: ROLE('admin') })));
  await stack.ecs.send(new RegisterTaskDefinitionCommand(definition('secret-td', { executionRoleArn: ROLE('exec-secret') }, [{ name: 'DB', valueFrom: secretArn }])));
  attacker = await createKey('attacker', [{ Effect: 'Allow', Action: ATTACKER_ACTIONS, Resource: '*' }]);
  deployer = await createKey('deployer', [
    { Effect: 'Allow', Action: ATTACKER_ACTIONS, Resource: '*' },
    { Effect: 'Allow', Action: 'iam:PassRole', Resource: ROLE('app'), Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } } },
  ]);
});

after(async () => {
  await stack?.stop();
});

test('(a) RegisterTaskDefinition with an admin taskRoleArn is refused and registers nothing', async () => {
  await rejectsWith(ecs(attacker).send(new RegisterTaskDefinitionCommand(definition('evil', { taskRoleArn: ROLE('admin') }))), 'AccessDeniedException', passRoleDenied(ATTACKER, 'admin'));
  // An IAM path in the ARN reaches the same role, and is checked as that role.
  await rejectsWith(
    ecs(attacker).send(new RegisterTaskDefinitionCommand(definition('evil', { taskRoleArn: `arn:aws:iam::${ACCOUNT}:role/any/path/admin` }))),
    'AccessDeniedException',
    passRoleDenied(ATTACKER, 'admin'),
  );
  await rejectsWith(stack.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'evil' })), 'ClientException');
  // Without a role the same key registers fine: the check is on the role, not the operation.
  const ok = await ecs(attacker).send(new RegisterTaskDefinitionCommand(definition('evil')));
  assert.equal(ok.taskDefinition?.revision, 1);
});

test('(b) RunTask with overrides.taskRoleArn, or of a definition carrying the admin role, is refused and starts nothing', async () => {
  const before = await taskCount();
  await rejectsWith(
    ecs(attacker).send(new RunTaskCommand({ taskDefinition: 'evil', launchType: 'FARGATE', overrides: { taskRoleArn: ROLE('admin') } })),
    'AccessDeniedException',
    passRoleDenied(ATTACKER, 'admin'),
  );
  await rejectsWith(ecs(attacker).send(new RunTaskCommand({ taskDefinition: 'admin-td', launchType: 'FARGATE' })), 'AccessDeniedException', passRoleDenied(ATTACKER, 'admin'));
  // Overriding the definition's role away is not a way around it either: the override is what is passed.
  await rejectsWith(
    ecs(attacker).send(new RunTaskCommand({ taskDefinition: 'plain', launchType: 'FARGATE', overrides: { taskRoleArn: `arn:aws:iam::${ACCOUNT}:role/x/admin` } })),
    'AccessDeniedException',
    passRoleDenied(ATTACKER, 'admin'),
  );
  assert.equal(await taskCount(), before, 'no task was created');
});

test('(c) an execution role that may read a secret the key may not: refused at register and at run', async () => {
  const before = await taskCount();
  await rejectsWith(
    ecs(attacker).send(new RegisterTaskDefinitionCommand(definition('steal', { executionRoleArn: ROLE('exec-secret') }, [{ name: 'DB', valueFrom: secretArn }]))),
    'AccessDeniedException',
    passRoleDenied(ATTACKER, 'exec-secret'),
  );
  // The operator's definition with that execution role, run with a command override that would print the secret.
  await rejectsWith(
    ecs(attacker).send(new RunTaskCommand({ taskDefinition: 'secret-td', launchType: 'FARGATE', overrides: { containerOverrides: [{ name: 'app', command: ['env'] }] } })),
    'AccessDeniedException',
    passRoleDenied(ATTACKER, 'exec-secret'),
  );
  await rejectsWith(
    ecs(attacker).send(new RunTaskCommand({ taskDefinition: 'evil', launchType: 'FARGATE', overrides: { executionRoleArn: ROLE('exec-secret') } })),
    'AccessDeniedException',
    passRoleDenied(ATTACKER, 'exec-secret'),
  );
  assert.equal(await taskCount(), before, 'no task was created');
});

test('(d) CreateService and UpdateService with a definition carrying a role the key may not pass are refused', async () => {
  await rejectsWith(
    ecs(attacker).send(new CreateServiceCommand({ serviceName: 'evil', taskDefinition: 'admin-td', desiredCount: 1 })),
    'AccessDeniedException',
    passRoleDenied(ATTACKER, 'admin'),
  );
  const missing = await stack.ecs.send(new DescribeServicesCommand({ services: ['evil'] }));
  assert.equal(missing.services?.length ?? 0, 0, 'the service was not created');

  const created = await ecs(attacker).send(new CreateServiceCommand({ serviceName: 'web', taskDefinition: 'plain', desiredCount: 0 }));
  assert.match(created.service!.taskDefinition!, /task-definition\/plain:1$/);
  await rejectsWith(
    ecs(attacker).send(new UpdateServiceCommand({ service: 'web', taskDefinition: 'secret-td' })),
    'AccessDeniedException',
    passRoleDenied(ATTACKER, 'exec-secret'),
  );
  await ecs(attacker).send(new UpdateServiceCommand({ service: 'web', desiredCount: 0 })); // no new definition: no role passed
  const svc = (await stack.ecs.send(new DescribeServicesCommand({ services: ['web'] }))).services![0];
  assert.match(svc.taskDefinition!, /task-definition\/plain:1$/, 'the service still runs its old definition');
  assert.equal(svc.deployments?.length, 1);
});

test('the audit log records each denied PassRole with the role, next to the refused call', async () => {
  const events = await audit(`action=iam:PassRole&accessKeyId=${attacker.accessKeyId}&limit=1000`);
  const denied = events.filter((e) => e.outcome === 'AccessDeniedException');
  assert.ok(denied.length >= 10, `every refusal audited (got ${denied.length})`);
  assert.ok(denied.every((e) => e.principal === ATTACKER && e.action === 'iam:PassRole'));
  assert.deepEqual([...new Set(denied.map((e) => e.resource))].sort(), [ROLE('admin'), ROLE('exec-secret')]);
  const runs = await audit(`action=ecs:RunTask&accessKeyId=${attacker.accessKeyId}&limit=1000`);
  assert.ok(runs.some((e) => e.outcome === 'AccessDeniedException'), 'the RunTask call itself is audited as refused');
  assert.ok(!JSON.stringify(events).includes(SECRET_VALUE));
});

test('with iam:PassRole on one role for ecs-tasks, a key passes that role and no other; the task gets its credentials', async (t) => {
  await rejectsWith(ecs(deployer).send(new RunTaskCommand({ taskDefinition: 'admin-td', launchType: 'FARGATE' })), 'AccessDeniedException', passRoleDenied(`arn:aws:iam::${ACCOUNT}:user/deployer`, 'admin'));
  const reg = await ecs(deployer).send(new RegisterTaskDefinitionCommand(definition('app-td', { taskRoleArn: ROLE('app') })));
  assert.equal(reg.taskDefinition?.taskRoleArn, ROLE('app'));
  const run = await ecs(deployer).send(new RunTaskCommand({ taskDefinition: 'plain', launchType: 'FARGATE', overrides: { taskRoleArn: ROLE('app') } }));
  assert.equal(run.failures?.length ?? 0, 0, JSON.stringify(run.failures));
  const task = run.tasks![0];
  t.after(() => stack.ecs.send(new StopTaskCommand({ task: task.taskArn! })).then(() => undefined, () => undefined));
  await waitTaskStatus(stack.ecs, task.taskArn!, 'RUNNING', 60_000);
  // The log route answers one JSON event per line; the task printed the credentials document as one line.
  const messages = await waitFor('the credentials in the task log', async () => {
    const text = await (await stack.server.fetch(`/skiff/v1/tasks/${task.taskArn!.split('/').pop()}/logs`, { key: deployer })).text();
    const lines = text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { message: string }).message);
    return lines.includes('CREDS-DONE') && lines;
  });
  const line = messages.find((m) => m.includes('"AccessKeyId"'));
  assert.ok(line, `credentials printed by the task: ${messages.slice(0, 5).join(' | ')}`);
  const creds = JSON.parse(line.slice(line.indexOf('{'))) as { AccessKeyId: string; SecretAccessKey: string; Token: string; RoleArn: string };
  assert.equal(creds.RoleArn, ROLE('app'));

  // The task role's session (the role allows ecs:RunTask, not iam:PassRole) cannot pass the admin role on.
  const session = { accessKeyId: creds.AccessKeyId, secretAccessKey: creds.SecretAccessKey, sessionToken: creds.Token };
  const taskId = task.taskArn!.split('/').pop()!;
  await rejectsWith(
    ecs(session).send(new RunTaskCommand({ taskDefinition: 'plain', launchType: 'FARGATE', overrides: { taskRoleArn: ROLE('admin') } })),
    'AccessDeniedException',
    passRoleDenied(`arn:aws:sts::${ACCOUNT}:assumed-role/app/${taskId}`, 'admin'),
  );

  const allowed = await audit(`action=iam:PassRole&accessKeyId=${deployer.accessKeyId}`);
  assert.ok(allowed.some((e) => e.resource === ROLE('app') && e.outcome === 'Success'), 'the allowed PassRole is audited too');
  const bySession = await audit(`action=iam:PassRole&accessKeyId=${creds.AccessKeyId}`);
  assert.ok(bySession.some((e) => e.resource === ROLE('admin') && e.outcome === 'AccessDeniedException' && e.principal?.includes('assumed-role/app/')));
});

test('PassRole granted only for another service, or denied explicitly, does not pass the role to ECS', async () => {
  const lambdaOnly = await createKey('lambda-only', [
    { Effect: 'Allow', Action: ATTACKER_ACTIONS, Resource: '*' },
    { Effect: 'Allow', Action: 'iam:PassRole', Resource: '*', Condition: { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } } },
  ]);
  await rejectsWith(
    ecs(lambdaOnly).send(new RegisterTaskDefinitionCommand(definition('x', { taskRoleArn: ROLE('app') }))),
    'AccessDeniedException',
    passRoleDenied(`arn:aws:iam::${ACCOUNT}:user/lambda-only`, 'app'),
  );
  const denyAdmin = await createKey('deny-admin', [
    { Effect: 'Allow', Action: ['ecs:RegisterTaskDefinition', 'iam:PassRole'], Resource: '*' },
    { Effect: 'Deny', Action: 'iam:PassRole', Resource: ROLE('admin') },
  ]);
  await rejectsWith(
    ecs(denyAdmin).send(new RegisterTaskDefinitionCommand(definition('x', { executionRoleArn: ROLE('admin') }))),
    'AccessDeniedException',
    /is not authorized to perform: iam:PassRole on resource: arn:aws:iam::123456789012:role\/admin with an explicit deny in an identity-based policy$/,
  );
  assert.equal((await ecs(denyAdmin).send(new RegisterTaskDefinitionCommand(definition('x', { executionRoleArn: ROLE('exec-secret') })))).taskDefinition?.revision, 1);
  // A Condition on a key Skiff never sets is refused when the policy is stored, not silently ignored.
  const res = await stack.server.fetch('/skiff/v1/keys', {
    method: 'POST',
    body: JSON.stringify({ name: 'bad', policy: { Statement: [{ Effect: 'Deny', Action: '*', Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }] } }),
  });
  assert.equal(res.status, 400);
  assert.match(await res.text(), /InvalidParameterException.*operator 'IpAddress' is not supported/);
});
