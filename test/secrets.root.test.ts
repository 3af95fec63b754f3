/**
 * The Secrets Manager subset with the real AWS CLI: create, read, version, list,
 * describe and delete secrets; policies scoped to secret ARNs; values never in
 * the database, the server's output or the audit log in clear.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestServer, TEST_ROOT_KEY } from './support/skiff-server.ts';

let server: TestServer;
let dir: string;
const VALUE = `s3cr3t-${Date.now()}-value`;

before(async () => {
  server = new TestServer();
  await server.start();
  dir = mkdtempSync(join(tmpdir(), 'skiff-secrets-'));
});
after(async () => {
  await server?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function aws(key: { accessKeyId: string; secretAccessKey: string }, ...args: string[]) {
  const r = spawnSync('/usr/bin/aws', ['--endpoint-url', server.endpoint, '--output', 'json', ...args], {
    env: { PATH: process.env.PATH!, HOME: dir, AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey, AWS_DEFAULT_REGION: 'us-east-1', AWS_PAGER: '' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stderr: r.stderr, json: () => JSON.parse(r.stdout) };
}

test('create, get, put (versions), describe, list and delete with the AWS CLI', () => {
  const created = aws(TEST_ROOT_KEY, 'secretsmanager', 'create-secret', '--name', 'app/db', '--description', 'db password', '--secret-string', VALUE);
  assert.equal(created.status, 0, created.stderr);
  const arn: string = created.json().ARN;
  assert.match(arn, /^arn:aws:secretsmanager:us-east-1:123456789012:secret:app\/db-[A-Za-z]{6}$/);
  const got = aws(TEST_ROOT_KEY, 'secretsmanager', 'get-secret-value', '--secret-id', 'app/db').json();
  assert.equal(got.SecretString, VALUE);
  assert.deepEqual(got.VersionStages, ['AWSCURRENT']);
  assert.equal(aws(TEST_ROOT_KEY, 'secretsmanager', 'get-secret-value', '--secret-id', arn).json().SecretString, VALUE, 'by ARN too');

  assert.equal(aws(TEST_ROOT_KEY, 'secretsmanager', 'put-secret-value', '--secret-id', 'app/db', '--secret-string', `${VALUE}-2`).status, 0);
  assert.equal(aws(TEST_ROOT_KEY, 'secretsmanager', 'get-secret-value', '--secret-id', 'app/db').json().SecretString, `${VALUE}-2`);
  assert.equal(aws(TEST_ROOT_KEY, 'secretsmanager', 'get-secret-value', '--secret-id', 'app/db', '--version-stage', 'AWSPREVIOUS').json().SecretString, VALUE);

  const desc = aws(TEST_ROOT_KEY, 'secretsmanager', 'describe-secret', '--secret-id', 'app/db').json();
  assert.equal(desc.Description, 'db password');
  assert.equal(Object.keys(desc.VersionIdsToStages).length, 2);
  assert.ok(!JSON.stringify(desc).includes(VALUE), 'describe shows no value');
  const list = aws(TEST_ROOT_KEY, 'secretsmanager', 'list-secrets').json();
  assert.deepEqual(list.SecretList.map((s: { Name: string }) => s.Name), ['app/db']);

  const dup = aws(TEST_ROOT_KEY, 'secretsmanager', 'create-secret', '--name', 'app/db', '--secret-string', 'x');
  assert.match(dup.stderr, /ResourceExistsException/);
  assert.match(aws(TEST_ROOT_KEY, 'secretsmanager', 'get-secret-value', '--secret-id', 'nope').stderr, /ResourceNotFoundException/);

  aws(TEST_ROOT_KEY, 'secretsmanager', 'create-secret', '--name', 'tmp/x', '--secret-string', 'gone soon');
  const del = aws(TEST_ROOT_KEY, 'secretsmanager', 'delete-secret', '--secret-id', 'tmp/x', '--recovery-window-in-days', '7');
  assert.equal(del.status, 0, del.stderr);
  assert.match(aws(TEST_ROOT_KEY, 'secretsmanager', 'get-secret-value', '--secret-id', 'tmp/x').stderr, /InvalidRequestException.*marked for deletion/);
  assert.equal(aws(TEST_ROOT_KEY, 'secretsmanager', 'delete-secret', '--secret-id', 'tmp/x', '--force-delete-without-recovery').status, 0);
  assert.match(aws(TEST_ROOT_KEY, 'secretsmanager', 'describe-secret', '--secret-id', 'tmp/x').stderr, /ResourceNotFoundException/);
});

test('a key scoped to app/* secrets reads them and nothing else', async () => {
  aws(TEST_ROOT_KEY, 'secretsmanager', 'create-secret', '--name', 'other/key', '--secret-string', 'not for you');
  const res = await server.fetch('/skiff/v1/keys', {
    method: 'POST',
    body: JSON.stringify({
      name: 'app-reader',
      policy: { Statement: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: 'arn:aws:secretsmanager:*:*:secret:app/*' }] },
    }),
  });
  assert.equal(res.status, 200);
  const k = ((await res.json()) as { accessKey: { accessKeyId: string; secretAccessKey: string } }).accessKey;
  assert.equal(aws(k, 'secretsmanager', 'get-secret-value', '--secret-id', 'app/db').status, 0);
  const denied = aws(k, 'secretsmanager', 'get-secret-value', '--secret-id', 'other/key');
  assert.match(denied.stderr, /AccessDeniedException.*secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:123456789012:secret:other\/key-/);
  assert.match(aws(k, 'secretsmanager', 'put-secret-value', '--secret-id', 'app/db', '--secret-string', 'x').stderr, /AccessDeniedException/);
  assert.match(aws(k, 'secretsmanager', 'list-secrets').stderr, /AccessDeniedException/);
});

test('values are not in the database, the server output or the audit log in clear', async () => {
  for (const f of readdirSync(server.dataDir).filter((f) => f.startsWith('skiff.db'))) {
    assert.equal(readFileSync(join(server.dataDir, f)).includes(VALUE), false, `${f} holds no value`);
  }
  assert.equal(server.output.includes(VALUE), false);
  const audit = await (await server.fetch('/skiff/v1/audit?limit=1000')).text();
  assert.ok(audit.includes('secretsmanager:GetSecretValue'), 'reads are audited');
  assert.equal(audit.includes(VALUE), false, 'without values');
});
