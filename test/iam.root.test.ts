/**
 * IAM roles through the IAM Query API, end to end: @aws-sdk/client-iam and the
 * AWS CLI against a real server (signed for `iam`, region us-east-1), every
 * operation Skiff serves and each of IAM's errors, the same roles seen through
 * Skiff's own `/skiff/v1/roles` and `skiff roles`, authorization as `iam:*`,
 * and a running task's role credentials following its policy as it changes in
 * place (PutRolePolicy, AttachRolePolicy, DetachRolePolicy), with no restart.
 *
 * The task runs busybox httpd with a CGI script that fetches its credentials
 * from the metadata endpoint (169.254.170.2) inside the task.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ECSClient, ListClustersCommand, RegisterTaskDefinitionCommand, RunTaskCommand, type Task } from '@aws-sdk/client-ecs';
import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  DeletePolicyCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetPolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  paginateListRoles,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { buildImage, busyboxImageFiles, pushImage } from '../src/images/oci-build.ts';
import { signedFetch } from '../src/cli/client.ts';
import { TestServer, TEST_ROOT_KEY, waitFor } from './support/skiff-server.ts';
import { startRegistry, type TestRegistry } from './support/registry.ts';
import { ipOf, waitTaskStatus } from './support/tasks.ts';

const ROOT = join(import.meta.dirname, '..');
const ACCOUNT = '123456789012';
const TRUST = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
const allow = (...actions: string[]) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }] });

let server: TestServer;
let registry: TestRegistry;
let image: string;

type Key = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
const iamClient = (credentials: Key = TEST_ROOT_KEY) => new IAMClient({ endpoint: server.endpoint, region: 'us-east-1', maxAttempts: 1, credentials });

/** Asserts `p` fails with the SDK error `name` and HTTP `status`; returns its message. */
async function rejectsWith(p: Promise<unknown>, name: string, status: number): Promise<string> {
  let message = '';
  await assert.rejects(p, (err: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(err.name, name, err.message);
    assert.equal(err.$metadata?.httpStatusCode, status);
    message = err.message;
    return true;
  });
  return message;
}

function cli(cmd: string, args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const skiff = (...args: string[]) => cli(process.execPath, [join(ROOT, 'bin/skiff.js'), ...args], server.clientEnv());

before(async () => {
  registry = await startRegistry({ auth: 'none' });
  image = `${registry.host}/test/iam:1`;
  const creds = `#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nwget -qO- "http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" 2>&1 || echo wget-failed\n`;
  const files = [...busyboxImageFiles(), { path: '/www/cgi-bin/creds', content: creds, mode: 0o755 }];
  await pushImage(await buildImage({ files, config: { cmd: ['sh'] } }), image, { credentials: registry.credentials });
  server = new TestServer();
  await server.start();
});

after(async () => {
  try {
    await server?.destroy();
  } finally {
    await registry?.stop();
  }
});

test('roles: CreateRole, GetRole, ListRoles (paged), UpdateAssumeRolePolicy, inline policies, DeleteRole', async () => {
  const iam = iamClient();
  const created = await iam.send(new CreateRoleCommand({ RoleName: 'app', Path: '/team/', AssumeRolePolicyDocument: TRUST, Description: 'the app', Tags: [{ Key: 'env', Value: 'dev' }] }));
  assert.equal(created.Role!.Arn, `arn:aws:iam::${ACCOUNT}:role/team/app`);
  assert.match(created.Role!.RoleId!, /^AROA[A-Z2-7]{17}$/);
  assert.ok(created.Role!.CreateDate instanceof Date && Math.abs(created.Role!.CreateDate.getTime() - Date.now()) < 60_000);
  assert.equal(decodeURIComponent(created.Role!.AssumeRolePolicyDocument!), TRUST, 'the trust policy comes back URL-encoded, as IAM sends it');

  const got = (await iam.send(new GetRoleCommand({ RoleName: 'app' }))).Role!;
  assert.equal(got.Path, '/team/');
  assert.equal(got.Description, 'the app');
  assert.equal(got.MaxSessionDuration, 3600);
  assert.deepEqual(got.Tags, [{ Key: 'env', Value: 'dev' }]);

  const trust2 = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: ['ecs-tasks.amazonaws.com', 'ec2.amazonaws.com'] }, Action: 'sts:AssumeRole' }] });
  await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'app', PolicyDocument: trust2 }));
  assert.equal(decodeURIComponent((await iam.send(new GetRoleCommand({ RoleName: 'app' }))).Role!.AssumeRolePolicyDocument!), trust2);

  for (const n of ['r1', 'r2', 'r3']) await iam.send(new CreateRoleCommand({ RoleName: n, AssumeRolePolicyDocument: TRUST }));
  const names: string[] = [];
  let pages = 0;
  for await (const page of paginateListRoles({ client: iam, pageSize: 2 }, {})) {
    pages++;
    names.push(...page.Roles!.map((r) => r.RoleName!));
  }
  assert.deepEqual(names, ['app', 'r1', 'r2', 'r3']);
  assert.equal(pages, 2, 'MaxItems 2 over 4 roles: two pages, the first truncated with a Marker');
  assert.deepEqual((await iam.send(new ListRolesCommand({ PathPrefix: '/team/' }))).Roles!.map((r) => r.RoleName), ['app']);

  await iam.send(new PutRolePolicyCommand({ RoleName: 'app', PolicyName: 'list', PolicyDocument: allow('ecs:ListClusters') }));
  await iam.send(new PutRolePolicyCommand({ RoleName: 'app', PolicyName: 'describe', PolicyDocument: allow('ecs:DescribeClusters') }));
  const policy = await iam.send(new GetRolePolicyCommand({ RoleName: 'app', PolicyName: 'list' }));
  assert.equal(policy.RoleName, 'app');
  assert.equal(decodeURIComponent(policy.PolicyDocument!), allow('ecs:ListClusters'));
  assert.deepEqual((await iam.send(new ListRolePoliciesCommand({ RoleName: 'app' }))).PolicyNames, ['describe', 'list']);
  const firstPage = await iam.send(new ListRolePoliciesCommand({ RoleName: 'app', MaxItems: 1 }));
  assert.deepEqual([firstPage.PolicyNames, firstPage.IsTruncated], [['describe'], true]);
  assert.deepEqual((await iam.send(new ListRolePoliciesCommand({ RoleName: 'app', Marker: firstPage.Marker }))).PolicyNames, ['list']);

  // Skiff's own API and CLI are views of the same role.
  const view = (await (await server.fetch('/skiff/v1/roles/app')).json()) as { role: { arn: string; policy: { Statement: unknown[] }; policies: { type: string; name: string }[] } };
  assert.equal(view.role.arn, `arn:aws:iam::${ACCOUNT}:role/team/app`);
  assert.deepEqual(view.role.policies.map((p) => `${p.type}:${p.name}`), ['inline:describe', 'inline:list']);
  assert.equal(view.role.policy.Statement.length, 2, 'the effective policy is the union of the statements');
  const shown = skiff('roles', 'show', 'app');
  assert.equal(shown.status, 0, shown.stderr);
  assert.match(shown.stdout, /list\s+Allow\s+ecs:ListClusters\s+\*/);
  assert.match(shown.stdout, /describe\s+Allow\s+ecs:DescribeClusters\s+\*/);

  await iam.send(new DeleteRolePolicyCommand({ RoleName: 'app', PolicyName: 'list' }));
  await iam.send(new DeleteRolePolicyCommand({ RoleName: 'app', PolicyName: 'describe' }));
  for (const n of ['app', 'r1', 'r2', 'r3']) await iam.send(new DeleteRoleCommand({ RoleName: n }));
  await rejectsWith(iam.send(new GetRoleCommand({ RoleName: 'app' })), 'NoSuchEntityException', 404);
});

test('a role made with `skiff roles create` is an IAM role with the inline policy skiff-policy', async () => {
  const file = join(server.dataDir, 'exec.json');
  writeFileSync(file, allow('secretsmanager:GetSecretValue'));
  const r = skiff('roles', 'create', '--name', 'made-by-skiff', '--policy-file', file);
  assert.equal(r.status, 0, r.stderr);
  const iam = iamClient();
  const role = (await iam.send(new GetRoleCommand({ RoleName: 'made-by-skiff' }))).Role!;
  assert.equal(role.Arn, `arn:aws:iam::${ACCOUNT}:role/made-by-skiff`);
  assert.match(decodeURIComponent(role.AssumeRolePolicyDocument!), /ecs-tasks\.amazonaws\.com/);
  assert.deepEqual((await iam.send(new ListRolePoliciesCommand({ RoleName: 'made-by-skiff' }))).PolicyNames, ['skiff-policy']);
  assert.match(decodeURIComponent((await iam.send(new GetRolePolicyCommand({ RoleName: 'made-by-skiff', PolicyName: 'skiff-policy' }))).PolicyDocument!), /secretsmanager:GetSecretValue/);
  await rejectsWith(iam.send(new DeleteRoleCommand({ RoleName: 'made-by-skiff' })), 'DeleteConflictException', 409);
  assert.equal(skiff('roles', 'delete', 'made-by-skiff').status, 0, "Skiff's delete takes the role's own policy with it");
  await rejectsWith(iam.send(new GetRoleCommand({ RoleName: 'made-by-skiff' })), 'NoSuchEntityException', 404);
});

test('managed policies: CreatePolicy, GetPolicy, Attach/Detach/ListAttachedRolePolicies, DeletePolicy', async () => {
  const iam = iamClient();
  await iam.send(new CreateRoleCommand({ RoleName: 'm-role', AssumeRolePolicyDocument: TRUST }));
  const created = (await iam.send(new CreatePolicyCommand({ PolicyName: 'read-clusters', PolicyDocument: allow('ecs:Describe*', 'ecs:List*'), Description: 'reads clusters' }))).Policy!;
  const arn = `arn:aws:iam::${ACCOUNT}:policy/read-clusters`;
  assert.equal(created.Arn, arn);
  assert.match(created.PolicyId!, /^ANPA[A-Z2-7]{17}$/);
  assert.equal(created.DefaultVersionId, 'v1');
  assert.equal(created.AttachmentCount, 0);
  await iam.send(new AttachRolePolicyCommand({ RoleName: 'm-role', PolicyArn: arn }));
  assert.equal((await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy!.AttachmentCount, 1);
  assert.deepEqual((await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'm-role' }))).AttachedPolicies, [{ PolicyName: 'read-clusters', PolicyArn: arn }]);
  const view = (await (await server.fetch('/skiff/v1/roles/m-role')).json()) as { role: { policies: { type: string; arn?: string }[] } };
  assert.deepEqual(view.role.policies.map((p) => `${p.type}:${p.arn}`), [`managed:${arn}`]);

  assert.equal(await rejectsWith(iam.send(new DeleteRoleCommand({ RoleName: 'm-role' })), 'DeleteConflictException', 409), 'Cannot delete entity, must detach all policies first.');
  assert.equal(await rejectsWith(iam.send(new DeletePolicyCommand({ PolicyArn: arn })), 'DeleteConflictException', 409), 'Cannot delete a policy attached to entities.');
  await iam.send(new DetachRolePolicyCommand({ RoleName: 'm-role', PolicyArn: arn }));
  assert.deepEqual((await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'm-role' }))).AttachedPolicies, []);
  await rejectsWith(iam.send(new DetachRolePolicyCommand({ RoleName: 'm-role', PolicyArn: arn })), 'NoSuchEntityException', 404);
  await iam.send(new DeletePolicyCommand({ PolicyArn: arn }));
  await rejectsWith(iam.send(new GetPolicyCommand({ PolicyArn: arn })), 'NoSuchEntityException', 404);
  await iam.send(new DeleteRoleCommand({ RoleName: 'm-role' }));
});

test("IAM's errors: NoSuchEntity, EntityAlreadyExists, DeleteConflict, MalformedPolicyDocument, ValidationError", async () => {
  const iam = iamClient();
  assert.equal(await rejectsWith(iam.send(new GetRoleCommand({ RoleName: 'nobody' })), 'NoSuchEntityException', 404), 'The role with name nobody cannot be found.');
  const elsewhere = new IAMClient({ endpoint: server.endpoint, region: 'eu-west-1', maxAttempts: 1, credentials: TEST_ROOT_KEY });
  await rejectsWith(elsewhere.send(new GetRoleCommand({ RoleName: 'nobody' })), 'NoSuchEntityException', 404); // IAM is global: any signing region
  await rejectsWith(iam.send(new PutRolePolicyCommand({ RoleName: 'nobody', PolicyName: 'p', PolicyDocument: allow('ecs:ListClusters') })), 'NoSuchEntityException', 404);
  await iam.send(new CreateRoleCommand({ RoleName: 'e-role', AssumeRolePolicyDocument: TRUST }));
  assert.equal(await rejectsWith(iam.send(new CreateRoleCommand({ RoleName: 'e-role', AssumeRolePolicyDocument: TRUST })), 'EntityAlreadyExistsException', 409), 'Role with name e-role already exists.');
  await rejectsWith(iam.send(new CreateRoleCommand({ RoleName: 'E-ROLE', AssumeRolePolicyDocument: TRUST })), 'EntityAlreadyExistsException', 409);
  await rejectsWith(iam.send(new GetRolePolicyCommand({ RoleName: 'e-role', PolicyName: 'none' })), 'NoSuchEntityException', 404);
  assert.match(await rejectsWith(iam.send(new PutRolePolicyCommand({ RoleName: 'e-role', PolicyName: 'p', PolicyDocument: '{"Statement": [' })), 'MalformedPolicyDocumentException', 400), /Syntax errors in policy/);
  assert.match(
    await rejectsWith(iam.send(new PutRolePolicyCommand({ RoleName: 'e-role', PolicyName: 'p', PolicyDocument: JSON.stringify({ Statement: [{ Effect: 'Permit', Action: 'ecs:X', Resource: '*' }] }) })), 'MalformedPolicyDocumentException', 400),
    /Effect must be Allow or Deny/,
  );
  await rejectsWith(iam.send(new CreateRoleCommand({ RoleName: 'no-trust', AssumeRolePolicyDocument: JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole' }] }) })), 'MalformedPolicyDocumentException', 400);
  await rejectsWith(iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'e-role', PolicyDocument: 'nope' })), 'MalformedPolicyDocumentException', 400);
  await rejectsWith(iam.send(new CreatePolicyCommand({ PolicyName: 'bad', PolicyDocument: '[]' })), 'MalformedPolicyDocumentException', 400);
  await rejectsWith(iam.send(new AttachRolePolicyCommand({ RoleName: 'e-role', PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' })), 'NoSuchEntityException', 404);
  await rejectsWith(iam.send(new CreateRoleCommand({ RoleName: 'bad name', AssumeRolePolicyDocument: TRUST })), 'ValidationError', 400);
  await iam.send(new PutRolePolicyCommand({ RoleName: 'e-role', PolicyName: 'p', PolicyDocument: allow('ecs:ListClusters') }));
  assert.equal(await rejectsWith(iam.send(new DeleteRoleCommand({ RoleName: 'e-role' })), 'DeleteConflictException', 409), 'Cannot delete entity, must delete policies first.');
  await iam.send(new CreatePolicyCommand({ PolicyName: 'dup', PolicyDocument: allow('ecs:ListClusters') }));
  await rejectsWith(iam.send(new CreatePolicyCommand({ PolicyName: 'dup', PolicyDocument: allow('ecs:ListClusters') })), 'EntityAlreadyExistsException', 409);
  await iam.send(new DeletePolicyCommand({ PolicyArn: `arn:aws:iam::${ACCOUNT}:policy/dup` }));
  await iam.send(new DeleteRolePolicyCommand({ RoleName: 'e-role', PolicyName: 'p' }));
  await iam.send(new DeleteRoleCommand({ RoleName: 'e-role' }));
});

test('authorization: iam:<Action> on the role ARN; a key without iam:* is refused; a signature for another service is refused', async () => {
  const iam = iamClient();
  await iam.send(new CreateRoleCommand({ RoleName: 'visible', AssumeRolePolicyDocument: TRUST }));
  const res = await server.fetch('/skiff/v1/keys', {
    method: 'POST',
    body: JSON.stringify({ name: 'iam-reader', policy: { Statement: [{ Effect: 'Allow', Action: ['ecs:*', 'iam:GetRole'], Resource: [`arn:aws:iam::${ACCOUNT}:role/visible`, 'arn:aws:ecs:*'] }] } }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const key = ((await res.json()) as { accessKey: Key }).accessKey;
  const narrow = iamClient(key);
  assert.equal((await narrow.send(new GetRoleCommand({ RoleName: 'visible' }))).Role!.RoleName, 'visible', 'allowed on that role');
  const denied = await rejectsWith(narrow.send(new CreateRoleCommand({ RoleName: 'sneaky', AssumeRolePolicyDocument: TRUST })), 'AccessDenied', 403);
  assert.match(denied, new RegExp(`user/iam-reader is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::${ACCOUNT}:role/sneaky`));
  await rejectsWith(narrow.send(new ListRolesCommand({})), 'AccessDenied', 403);
  await rejectsWith(narrow.send(new PutRolePolicyCommand({ RoleName: 'visible', PolicyName: 'p', PolicyDocument: allow('*') })), 'AccessDenied', 403);
  assert.equal((await iam.send(new ListRolePoliciesCommand({ RoleName: 'visible' }))).PolicyNames!.length, 0, 'the refused call changed nothing');
  const audit = (await (await server.fetch('/skiff/v1/audit?action=iam:CreateRole')).json()) as { events: { principal?: string; resource?: string; outcome: string }[] };
  assert.ok(
    audit.events.some((e) => e.principal?.endsWith('user/iam-reader') && e.resource === `arn:aws:iam::${ACCOUNT}:role/sneaky` && e.outcome === 'AccessDenied'),
    `the refusal is audited as iam:CreateRole on the role: ${JSON.stringify(audit.events)}`,
  );

  const wrong = await signedFetch(new URL(server.endpoint + '/'), {
    method: 'POST',
    body: 'Action=ListRoles&Version=2010-05-08',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    service: 's3',
    region: 'us-east-1',
    credentials: TEST_ROOT_KEY,
  });
  assert.equal(wrong.status >= 400 && wrong.status < 500, true);
  assert.match(await wrong.text(), /Credential should be scoped to correct service/);
  await iam.send(new DeleteRoleCommand({ RoleName: 'visible' }));
});

test('iam:PassRole is checked on the ARN of the role passed, its path included', async () => {
  const iam = iamClient();
  await iam.send(new CreateRoleCommand({ RoleName: 'pathy', Path: '/team/', AssumeRolePolicyDocument: TRUST }));
  await iam.send(new CreateRoleCommand({ RoleName: 'plain', AssumeRolePolicyDocument: TRUST }));
  const res = await server.fetch('/skiff/v1/keys', {
    method: 'POST',
    body: JSON.stringify({
      name: 'deployer',
      policy: { Statement: [{ Effect: 'Allow', Action: 'ecs:RegisterTaskDefinition', Resource: '*' }, { Effect: 'Allow', Action: 'iam:PassRole', Resource: `arn:aws:iam::${ACCOUNT}:role/team/*` }] },
    }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const key = ((await res.json()) as { accessKey: Key }).accessKey;
  const ecs = new ECSClient({ endpoint: server.endpoint, region: 'us-east-1', maxAttempts: 1, credentials: key });
  const register = (taskRoleArn: string) =>
    ecs.send(new RegisterTaskDefinitionCommand({ family: 'pass', taskRoleArn, containerDefinitions: [{ name: 'app', image: 'busybox', memory: 64 }], requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc', cpu: '256', memory: '512' }));
  const ok = await register(`arn:aws:iam::${ACCOUNT}:role/pathy`);
  assert.equal(ok.taskDefinition!.taskRoleArn, `arn:aws:iam::${ACCOUNT}:role/pathy`, 'named without its path, the role reached is role/team/pathy');
  await assert.rejects(register(`arn:aws:iam::${ACCOUNT}:role/plain`), (err: Error) => {
    assert.equal(err.name, 'AccessDeniedException');
    assert.match(err.message, new RegExp(`iam:PassRole on resource: arn:aws:iam::${ACCOUNT}:role/plain`));
    return true;
  });
  for (const n of ['pathy', 'plain']) await iam.send(new DeleteRoleCommand({ RoleName: n }));
});

test('the AWS CLI: aws iam create-role / get-role / delete-role with --endpoint-url', () => {
  const trustFile = join(server.dataDir, 'trust.json');
  writeFileSync(trustFile, TRUST);
  const env = server.clientEnv();
  const aws = (...args: string[]) => cli('aws', [...args, '--endpoint-url', server.endpoint, '--output', 'json'], env);
  const created = aws('iam', 'create-role', '--role-name', 'cli-role', '--assume-role-policy-document', `file://${trustFile}`);
  assert.equal(created.status, 0, created.stderr);
  assert.equal(JSON.parse(created.stdout).Role.Arn, `arn:aws:iam::${ACCOUNT}:role/cli-role`);
  const got = aws('iam', 'get-role', '--role-name', 'cli-role');
  assert.equal(got.status, 0, got.stderr);
  assert.deepEqual(JSON.parse(got.stdout).Role.AssumeRolePolicyDocument, JSON.parse(TRUST), 'the CLI decodes the URL-encoded document');
  const missing = aws('iam', 'delete-role', '--role-name', 'no-such-role');
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /NoSuchEntity.*The role with name no-such-role cannot be found/);
  assert.equal(aws('iam', 'delete-role', '--role-name', 'cli-role').status, 0);
});

test("a role's policy changes in place and a running task's credentials follow it, no restart", async () => {
  const iam = iamClient();
  await iam.send(new CreateRoleCommand({ RoleName: 'live', AssumeRolePolicyDocument: TRUST }));
  await iam.send(new PutRolePolicyCommand({ RoleName: 'live', PolicyName: 'ecs', PolicyDocument: allow('ecs:ListClusters') }));
  const def = await server.ecs().send(
    new RegisterTaskDefinitionCommand({
      family: 'iam-live',
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '256',
      memory: '512',
      taskRoleArn: `arn:aws:iam::${ACCOUNT}:role/live`,
      containerDefinitions: [{ name: 'app', image, command: ['httpd', '-f', '-p', '8080', '-h', '/www'], stopTimeout: 2 }],
    }),
  );
  const out = await server.ecs().send(new RunTaskCommand({ taskDefinition: def.taskDefinition!.taskDefinitionArn!, launchType: 'FARGATE' }));
  assert.equal(out.failures?.length ?? 0, 0, JSON.stringify(out.failures));
  const task: Task = await waitTaskStatus(server.ecs(), out.tasks![0].taskArn!, 'RUNNING', 60_000);
  const text = await waitFor('the task reads its credentials', async () => {
    const t = await fetch(`http://${ipOf(task)}:8080/cgi-bin/creds`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.text()).catch(() => undefined);
    return t?.includes('AccessKeyId') ? t : undefined;
  });
  const creds = JSON.parse(text) as { AccessKeyId: string; SecretAccessKey: string; Token: string; RoleArn: string };
  assert.equal(creds.RoleArn, `arn:aws:iam::${ACCOUNT}:role/live`);
  const ecs = new ECSClient({ endpoint: server.endpoint, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: creds.AccessKeyId, secretAccessKey: creds.SecretAccessKey, sessionToken: creds.Token } });
  const listClusters = () => ecs.send(new ListClustersCommand({}));
  const refused = async (why: string) =>
    assert.rejects(listClusters(), (err: Error) => {
      assert.equal(err.name, 'AccessDeniedException', why);
      assert.match(err.message, /assumed-role\/live\/.* is not authorized to perform: ecs:ListClusters/);
      return true;
    });

  assert.ok((await listClusters()).clusterArns!.length >= 1, 'allowed by the inline policy');
  await iam.send(new PutRolePolicyCommand({ RoleName: 'live', PolicyName: 'ecs', PolicyDocument: JSON.stringify({ Statement: [{ Effect: 'Deny', Action: 'ecs:ListClusters', Resource: '*' }] }) }));
  await refused('the same credentials, the next call: the policy put again denies it');
  await iam.send(new PutRolePolicyCommand({ RoleName: 'live', PolicyName: 'ecs', PolicyDocument: allow('ecs:DescribeClusters') }));
  await refused('no statement allows it any more');
  const managed = (await iam.send(new CreatePolicyCommand({ PolicyName: 'list-clusters', PolicyDocument: allow('ecs:ListClusters') }))).Policy!.Arn!;
  await iam.send(new AttachRolePolicyCommand({ RoleName: 'live', PolicyArn: managed }));
  assert.ok((await listClusters()).clusterArns, 'allowed again by the attached managed policy');
  await iam.send(new DetachRolePolicyCommand({ RoleName: 'live', PolicyArn: managed }));
  await refused('detached: refused again');
  const audit = (await (await server.fetch('/skiff/v1/audit?action=ecs:ListClusters')).json()) as { events: { principal?: string; outcome: string }[] };
  const byRole = audit.events.filter((e) => e.principal?.includes('assumed-role/live/'));
  assert.deepEqual(byRole.map((e) => e.outcome).sort(), ['AccessDeniedException', 'AccessDeniedException', 'AccessDeniedException', 'Success', 'Success']);
});
