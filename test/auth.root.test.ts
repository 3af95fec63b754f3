/**
 * The authenticated API end to end: the real AWS CLI, the AWS SDK and the skiff
 * CLI signing with Skiff keys (good, wrong, unknown, revoked, skewed, denied),
 * keys managed with `skiff keys`, the audit log read with `skiff audit`,
 * secrets never stored or printed in clear, a generated root key, and TLS.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Agent as HttpsAgent } from 'node:https';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateClusterCommand, DeleteClusterCommand, ECSClient, ListClustersCommand } from '@aws-sdk/client-ecs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { TestServer, TEST_ROOT_KEY } from './support/skiff-server.ts';

const AWS = '/usr/bin/aws';
const SKIFF = resolve(import.meta.dirname, '../bin/skiff.js');
let server: TestServer;
let dir: string;

before(async () => {
  server = new TestServer();
  await server.start();
  dir = mkdtempSync(join(tmpdir(), 'skiff-auth-'));
});
after(async () => {
  await server?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type Key = { accessKeyId: string; secretAccessKey: string };

const env = (key: Key, extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH!,
  HOME: dir,
  AWS_ACCESS_KEY_ID: key.accessKeyId,
  AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_PAGER: '',
  ...extra,
});

function aws(key: Key, ...args: string[]) {
  const r = spawnSync(AWS, ['--endpoint-url', server.endpoint, '--output', 'json', ...args], { env: env(key), encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function skiff(key: Key, ...args: string[]) {
  const r = spawnSync(process.execPath, [SKIFF, ...args], { env: env(key, { SKIFF_ENDPOINT: server.endpoint }), encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ecs(key: Key, extra: Partial<ConstructorParameters<typeof ECSClient>[0]> = {}) {
  return new ECSClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: key, maxAttempts: 1, ...extra });
}

async function rejectsWith(p: Promise<unknown>, name: string, status: number, message?: RegExp) {
  await assert.rejects(p, (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(e.name, name, e.message);
    assert.equal(e.$metadata?.httpStatusCode, status);
    if (message) assert.match(e.message, message);
    return true;
  });
}

function createKey(name: string, policy: unknown): Key {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(policy));
  const r = skiff(TEST_ROOT_KEY, 'keys', 'create', '--name', name, '--policy', file, '--output', 'json');
  assert.equal(r.status, 0, r.stderr);
  const k = JSON.parse(r.stdout).accessKey;
  assert.match(k.accessKeyId, /^AKIA[A-Z2-7]{16}$/);
  assert.equal(k.secretAccessKey.length, 40);
  return { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey };
}

test('unsigned calls are refused on the ECS API and on /skiff/v1; /healthz stays open', async () => {
  const res = await fetch(server.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.ListClusters' },
    body: '{}',
  });
  assert.equal(res.status, 403);
  assert.deepEqual(await res.json(), { __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
  const own = await fetch(`${server.endpoint}/skiff/v1/subnets`);
  assert.equal(own.status, 403);
  assert.equal(((await own.json()) as { __type: string }).__type, 'MissingAuthenticationTokenException');
  assert.equal((await fetch(`${server.endpoint}/skiff/v1/keys`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status, 403);
  assert.equal((await fetch(`${server.endpoint}/healthz`)).status, 200);
  assert.equal((await server.fetch('/skiff/v1/subnets')).status, 200, 'the signed helper gets through');
});

test('the AWS CLI: good key works, wrong secret and unknown key get the AWS error types', () => {
  const ok = aws(TEST_ROOT_KEY, 'ecs', 'list-clusters');
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout).clusterArns, ['arn:aws:ecs:us-east-1:123456789012:cluster/default']);
  const wrong = aws({ ...TEST_ROOT_KEY, secretAccessKey: 'not-the-secret' }, 'ecs', 'list-clusters');
  assert.notEqual(wrong.status, 0);
  assert.match(wrong.stderr, /\(InvalidSignatureException\).*The request signature we calculated does not match the signature you provided/);
  const unknown = aws({ accessKeyId: 'AKIANOSUCHKEY0000000', secretAccessKey: 'whatever-secret' }, 'ecs', 'list-clusters');
  assert.notEqual(unknown.status, 0);
  assert.match(unknown.stderr, /\(UnrecognizedClientException\).*The security token included in the request is invalid/);
});

test('the SDK: wrong secret, unknown key and a clock 10 minutes off, with AWS statuses', async () => {
  await ecs(TEST_ROOT_KEY).send(new ListClustersCommand({}));
  await rejectsWith(ecs({ ...TEST_ROOT_KEY, secretAccessKey: 'nope-nope' }).send(new ListClustersCommand({})), 'InvalidSignatureException', 403);
  await rejectsWith(ecs({ accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x'.repeat(40) }).send(new ListClustersCommand({})), 'UnrecognizedClientException', 403);
  await rejectsWith(
    ecs(TEST_ROOT_KEY, { systemClockOffset: -10 * 60_000 }).send(new ListClustersCommand({})),
    'InvalidSignatureException',
    403,
    /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/,
  );
  await rejectsWith(ecs(TEST_ROOT_KEY, { systemClockOffset: 10 * 60_000 }).send(new ListClustersCommand({})), 'InvalidSignatureException', 403, /Signature not yet current/);
  // Within the 5-minute window is fine.
  await ecs(TEST_ROOT_KEY, { systemClockOffset: -3 * 60_000 }).send(new ListClustersCommand({}));
});

test('a key with a narrow policy: allowed reads, denied writes (AccessDeniedException), explicit deny wins', async () => {
  const reader = createKey('reader', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['ecs:Describe*', 'ecs:List*'], Resource: '*' }] });
  assert.equal(aws(reader, 'ecs', 'list-clusters').status, 0);
  assert.equal(aws(reader, 'ecs', 'describe-clusters', '--clusters', 'default').status, 0);
  const denied = aws(reader, 'ecs', 'create-cluster', '--cluster-name', 'nope');
  assert.notEqual(denied.status, 0);
  assert.match(
    denied.stderr,
    /\(AccessDeniedException\).*User: arn:aws:iam::123456789012:user\/reader is not authorized to perform: ecs:CreateCluster on resource: arn:aws:ecs:us-east-1:123456789012:cluster\/nope because no identity-based policy allows the ecs:CreateCluster action/,
  );
  await rejectsWith(ecs(reader).send(new CreateClusterCommand({ clusterName: 'nope' })), 'AccessDeniedException', 400);
  assert.equal(aws(TEST_ROOT_KEY, 'ecs', 'describe-clusters', '--clusters', 'nope').stdout.includes('"ACTIVE"'), false, 'nothing was created');
  // Skiff's own endpoints are checked too.
  assert.equal(skiff(reader, 'subnets').status, 1, 'skiff:GetSubnets is not in the policy');
  assert.match(skiff(reader, 'subnets').stderr, /not authorized to perform: skiff:GetSubnets/);

  // Resource wildcards and an explicit deny that beats Allow *.
  const operator = createKey('operator', {
    Statement: [
      { Effect: 'Allow', Action: '*', Resource: '*' },
      { Effect: 'Deny', Action: 'ecs:DeleteCluster', Resource: 'arn:aws:ecs:*:*:cluster/prod-*' },
    ],
  });
  const op = ecs(operator);
  await op.send(new CreateClusterCommand({ clusterName: 'prod-eu' }));
  await op.send(new CreateClusterCommand({ clusterName: 'dev-1' }));
  await rejectsWith(op.send(new DeleteClusterCommand({ cluster: 'prod-eu' })), 'AccessDeniedException', 400, /with an explicit deny in an identity-based policy/);
  await op.send(new DeleteClusterCommand({ cluster: 'dev-1' }));
  await ecs(TEST_ROOT_KEY).send(new DeleteClusterCommand({ cluster: 'prod-eu' }));
});

test('skiff keys list shows no secrets; revoke makes the key unrecognized at once', () => {
  const temp = createKey('temp', { Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] });
  assert.equal(aws(temp, 'ecs', 'list-clusters').status, 0);
  const list = skiff(TEST_ROOT_KEY, 'keys', 'list', '--output', 'json');
  assert.equal(list.status, 0, list.stderr);
  const keys = JSON.parse(list.stdout).accessKeys as { accessKeyId: string; name: string; root: boolean }[];
  assert.ok(keys.some((k) => k.accessKeyId === temp.accessKeyId && k.name === 'temp'));
  assert.ok(keys.some((k) => k.accessKeyId === 'AKIDSKIFFTEST' && k.root));
  assert.ok(!list.stdout.includes(temp.secretAccessKey) && !list.stdout.includes(TEST_ROOT_KEY.secretAccessKey), 'no secret in the listing');
  const table = skiff(TEST_ROOT_KEY, 'keys', 'list');
  assert.match(table.stdout, /ACCESS KEY ID\s+NAME\s+STATUS/);

  const revoked = skiff(TEST_ROOT_KEY, 'keys', 'revoke', temp.accessKeyId);
  assert.equal(revoked.status, 0, revoked.stderr);
  assert.match(revoked.stdout, /Revoked/);
  const after = aws(temp, 'ecs', 'list-clusters');
  assert.notEqual(after.status, 0);
  assert.match(after.stderr, /UnrecognizedClientException/);
  assert.ok(!skiff(TEST_ROOT_KEY, 'keys', 'list', '--output', 'json').stdout.includes(temp.accessKeyId), 'revoked keys are hidden by default');
  assert.ok(skiff(TEST_ROOT_KEY, 'keys', 'list', '--all', '--output', 'json').stdout.includes(temp.accessKeyId));
  // The root key cannot be revoked through the API; bad policies are refused with what to fix.
  assert.match(skiff(TEST_ROOT_KEY, 'keys', 'revoke', 'AKIDSKIFFTEST').stderr, /root key cannot be revoked/);
  assert.match(skiff(TEST_ROOT_KEY, 'keys', 'create', '--policy', '{"Statement":[{"Effect":"Maybe","Action":"x","Resource":"*"}]}').stderr, /Effect must be Allow or Deny/);
});

test('secrets are encrypted at rest and never logged; the master key is 0600', () => {
  const k = createKey('at-rest', { Statement: [{ Effect: 'Allow', Action: 'ecs:List*', Resource: '*' }] });
  assert.equal(aws(k, 'ecs', 'list-clusters').status, 0);
  for (const f of readdirSync(server.dataDir).filter((f) => f.startsWith('skiff.db'))) {
    const bytes = readFileSync(join(server.dataDir, f));
    assert.equal(bytes.includes(k.secretAccessKey), false, `${f} holds no plain secret`);
    assert.equal(bytes.includes(TEST_ROOT_KEY.secretAccessKey), false, `${f} holds no plain root secret`);
  }
  assert.equal(statSync(join(server.dataDir, 'master.key')).mode & 0o777, 0o600);
  assert.equal(statSync(join(server.dataDir, 'skiff.db')).mode & 0o777, 0o600, 'the store is owner-only');
  assert.equal(server.output.includes(k.secretAccessKey) || server.output.includes(TEST_ROOT_KEY.secretAccessKey), false, 'server output has no secret');
});

test('skiff audit: who called what on which resource, and the outcome', async () => {
  const auditor = createKey('auditor', { Statement: [{ Effect: 'Allow', Action: 'ecs:ListClusters', Resource: '*' }] });
  assert.equal(aws(auditor, 'ecs', 'list-clusters').status, 0);
  assert.notEqual(aws(auditor, 'ecs', 'delete-cluster', '--cluster', 'default').status, 0);
  await fetch(server.endpoint, { method: 'POST', headers: { 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.RunTask', 'content-type': 'application/x-amz-json-1.1' }, body: '{}' });
  const r = skiff(TEST_ROOT_KEY, 'audit', '--since', '10m', '--output', 'json');
  assert.equal(r.status, 0, r.stderr);
  const events = JSON.parse(r.stdout).events as { accessKeyId?: string; principal?: string; action: string; resource?: string; outcome: string; status: number; time: string }[];
  const mine = events.filter((e) => e.accessKeyId === auditor.accessKeyId);
  assert.ok(mine.some((e) => e.action === 'ecs:ListClusters' && e.outcome === 'Success' && e.principal === 'arn:aws:iam::123456789012:user/auditor'));
  assert.ok(
    mine.some((e) => e.action === 'ecs:DeleteCluster' && e.outcome === 'AccessDeniedException' && e.resource === 'arn:aws:ecs:us-east-1:123456789012:cluster/default' && e.status === 400),
    JSON.stringify(mine),
  );
  assert.ok(events.some((e) => e.action === 'ecs:RunTask' && e.outcome === 'MissingAuthenticationTokenException' && !e.accessKeyId));
  assert.ok(!events.some((e) => e.action.includes('healthz')), '/healthz is not audited');
  assert.ok(!r.stdout.includes(auditor.secretAccessKey));
  // Filters, and the table form.
  const failed = JSON.parse(skiff(TEST_ROOT_KEY, 'audit', '--key', auditor.accessKeyId, '--failed', '--output', 'json').stdout).events as { action: string }[];
  assert.deepEqual(failed.map((e) => e.action), ['ecs:DeleteCluster']);
  assert.match(skiff(TEST_ROOT_KEY, 'audit', '--limit', '5').stdout, /TIME\s+KEY\s+PRINCIPAL\s+ACTION\s+RESOURCE\s+OUTCOME/);
  // Reading the audit log is itself an action a policy must allow.
  assert.match(skiff(auditor, 'audit').stderr, /not authorized to perform: skiff:GetAuditLog/);
});

test('without SKIFF_ROOT_*, the first start generates a root key in a 0600 file, prints its path and keeps it; --tls serves HTTPS', async () => {
  const s = new TestServer({ noRootKey: true, args: ['--tls'] });
  try {
    await s.start();
    const file = join(s.dataDir, 'root-credentials');
    assert.ok(s.output.includes(file), `the path is printed:\n${s.output}`);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const text = readFileSync(file, 'utf8');
    const id = /aws_access_key_id = (\S+)/.exec(text)![1];
    const secret = /aws_secret_access_key = (\S+)/.exec(text)![1];
    assert.equal(s.output.includes(secret), false, 'the secret itself is not printed');
    assert.ok(s.endpoint.startsWith('https://'));
    const endpoint = s.endpoint;
    const ca = readFileSync(join(s.dataDir, 'tls', 'cert.pem'));

    // The SDK over HTTPS, trusting the generated certificate.
    const client = new ECSClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: id, secretAccessKey: secret },
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({ httpsAgent: new HttpsAgent({ ca }) }),
    });
    const out = await client.send(new ListClustersCommand({}));
    assert.equal(out.clusterArns?.length, 1);
    // The AWS CLI with the shared-credentials file and the certificate as CA bundle.
    const r = spawnSync(AWS, ['--endpoint-url', endpoint, '--ca-bundle', join(s.dataDir, 'tls', 'cert.pem'), '--output', 'json', 'ecs', 'list-clusters'], {
      env: { PATH: process.env.PATH!, HOME: dir, AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: 'skiff', AWS_DEFAULT_REGION: 'us-east-1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    // Plain HTTP is not served.
    await assert.rejects(fetch(`${s.endpoint.replace('https://', 'http://')}/healthz`));

    // A restart keeps the same root key (and the same certificate).
    await s.stop();
    await s.start();
    assert.ok(readFileSync(file, 'utf8').includes(id));
    await client.send(new ListClustersCommand({}));
  } finally {
    await s.destroy();
  }
});

test('changing SKIFF_ROOT_* retires the previous root key', async () => {
  const s = new TestServer({ env: { SKIFF_ROOT_ACCESS_KEY_ID: 'AKIDFIRSTROOT', SKIFF_ROOT_SECRET_ACCESS_KEY: 'first-root-secret' } });
  try {
    await s.start();
    const first = { accessKeyId: 'AKIDFIRSTROOT', secretAccessKey: 'first-root-secret' };
    const c1 = new ECSClient({ endpoint: s.endpoint, region: 'us-east-1', credentials: first, maxAttempts: 1 });
    await c1.send(new ListClustersCommand({}));
    await s.stop();
    const s2 = new TestServer({ dataDir: s.dataDir, prefix: s.prefix, env: { SKIFF_ROOT_ACCESS_KEY_ID: 'AKIDSECONDROOT', SKIFF_ROOT_SECRET_ACCESS_KEY: 'second-root-secret' } });
    s2.port = s.port;
    await s2.start();
    try {
      await rejectsWith(c1.send(new ListClustersCommand({})), 'UnrecognizedClientException', 403);
      const c2 = new ECSClient({ endpoint: s2.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKIDSECONDROOT', secretAccessKey: 'second-root-secret' }, maxAttempts: 1 });
      await c2.send(new ListClustersCommand({}));
    } finally {
      await s2.stop('SIGKILL');
    }
  } finally {
    await s.destroy();
  }
});
