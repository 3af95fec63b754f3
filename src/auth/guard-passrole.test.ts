/**
 * The guard's iam:PassRole step through the real HTTP path (Fastify on
 * loopback, SigV4-signed requests, a real key store and audit log): the
 * operation's own check first, then PassRole on each passed role with
 * iam:PassedToService; a refusal never reaches the handler and leaves an audit
 * row naming the role.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildHttpServer } from '../api/http-server.ts';
import { openDb, type Db } from '../store/db.ts';
import { AuditLog } from './audit.ts';
import { ecsPassedRoles } from './ecs-pass-role.ts';
import { ApiGuard } from './guard.ts';
import { KeyStore } from './keys.ts';
import { MasterKey } from './master-key.ts';
import { signRequest } from './sign-request.ts';

const ACCOUNT = '123456789012';
const PREFIX = 'AmazonEC2ContainerServiceV20141113';
const ROLE = (n: string) => `arn:aws:iam::${ACCOUNT}:role/${n}`;

let dir: string;
let db: Db;
let app: FastifyInstance;
let keys: KeyStore;
let audit: AuditLog;
let endpoint: string;
const ran: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-guard-passrole-'));
  db = openDb(join(dir, 'skiff.db'));
  keys = new KeyStore(db, MasterKey.generate());
  audit = new AuditLog(db);
  const guard = new ApiGuard({
    keys,
    audit,
    accountId: ACCOUNT,
    services: { [PREFIX]: 'ecs' },
    passedRoles: (service, op, input) =>
      service === 'ecs'
        ? ecsPassedRoles(op, input, { arns: { region: 'us-east-1', account: ACCOUNT }, taskDefinitionRoles: (f) => (f === 'admin-td' ? { taskRoleArn: ROLE('admin') } : {}) })
        : [],
  });
  const op = (name: string) => (input: Record<string, unknown>) => (ran.push(`${name} ${JSON.stringify(input)}`), {});
  app = buildHttpServer({ protocols: [{ targetPrefix: PREFIX, operations: { RunTask: op('RunTask'), RegisterTaskDefinition: op('RegisterTaskDefinition') } }], auth: guard, isReady: () => true });
  await app.listen({ host: '127.0.0.1', port: 0 });
  endpoint = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/`;
});

after(async () => {
  await app?.close();
  audit?.close();
  db?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function call(key: { accessKeyId: string; secretAccessKey: string }, op: string, input: unknown): Promise<{ status: number; body: { __type?: string; message?: string } }> {
  const url = new URL(endpoint);
  const body = JSON.stringify(input);
  const headers = await signRequest(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `${PREFIX}.${op}` },
    body,
    service: 'ecs',
    region: 'us-east-1',
    credentials: key,
  });
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, body: (await res.json()) as { __type?: string; message?: string } };
}

test('a denied PassRole is AWS AccessDeniedException, stops the call before the handler, and is audited with the role', async () => {
  const key = keys.create({ name: 'runner', policy: { Statement: [{ Effect: 'Allow', Action: ['ecs:RunTask', 'ecs:RegisterTaskDefinition'], Resource: '*' }] } });
  ran.length = 0;
  const r = await call(key, 'RunTask', { taskDefinition: 'plain:1', overrides: { taskRoleArn: ROLE('admin') } });
  assert.equal(r.status, 400);
  assert.equal(r.body.__type, 'AccessDeniedException');
  assert.equal(
    r.body.message,
    `User: arn:aws:iam::${ACCOUNT}:user/runner is not authorized to perform: iam:PassRole on resource: ${ROLE('admin')} because no identity-based policy allows the iam:PassRole action`,
  );
  assert.equal((await call(key, 'RunTask', { taskDefinition: 'admin-td' })).body.__type, 'AccessDeniedException', "the definition's role");
  assert.deepEqual(ran, [], 'the handler never ran');
  const ok = await call(key, 'RunTask', { taskDefinition: 'plain:1' });
  assert.equal(ok.status, 200, 'no role, no PassRole needed');
  assert.equal(ran.length, 1);

  const rows = audit.query({ accessKeyId: key.accessKeyId });
  const passRows = rows.filter((e) => e.action === 'iam:PassRole');
  assert.equal(passRows.length, 2);
  for (const e of passRows) {
    assert.equal(e.resource, ROLE('admin'));
    assert.equal(e.outcome, 'AccessDeniedException');
    assert.equal(e.principal, `arn:aws:iam::${ACCOUNT}:user/runner`);
  }
  // The call's own row is written when the response has gone out: give it a moment.
  const refused = () => audit.query({ accessKeyId: key.accessKeyId, action: 'ecs:RunTask' }).filter((e) => e.outcome === 'AccessDeniedException').length;
  for (let i = 0; i < 50 && refused() < 2; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(refused(), 2, 'the refused calls keep their own rows');
});

test("the operation's own permission is checked first; an allowed PassRole is audited as Success", async () => {
  const noRun = keys.create({ name: 'passer', policy: { Statement: [{ Effect: 'Allow', Action: 'iam:PassRole', Resource: '*' }] } });
  const r = await call(noRun, 'RunTask', { taskDefinition: 'admin-td' });
  assert.match(r.body.message ?? '', /not authorized to perform: ecs:RunTask/);
  assert.equal(audit.query({ accessKeyId: noRun.accessKeyId, action: 'iam:PassRole' }).length, 0);

  const deployer = keys.create({
    name: 'deployer',
    policy: {
      Statement: [
        { Effect: 'Allow', Action: 'ecs:*', Resource: '*' },
        { Effect: 'Allow', Action: 'iam:PassRole', Resource: ROLE('app'), Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } } },
      ],
    },
  });
  ran.length = 0;
  assert.equal((await call(deployer, 'RegisterTaskDefinition', { family: 'x', taskRoleArn: ROLE('app'), executionRoleArn: `arn:aws:iam::${ACCOUNT}:role/svc/app` })).status, 200);
  assert.equal(ran.length, 1);
  const rows = audit.query({ accessKeyId: deployer.accessKeyId, action: 'iam:PassRole' });
  assert.deepEqual(rows.map((e) => [e.resource, e.outcome]), [[ROLE('app'), 'Success']], 'one row for the one role both ARNs reach');
  const denied = await call(deployer, 'RegisterTaskDefinition', { family: 'x', taskRoleArn: ROLE('app'), executionRoleArn: ROLE('admin') });
  assert.match(denied.body.message ?? '', /iam:PassRole on resource: arn:aws:iam::123456789012:role\/admin /);
  assert.equal(ran.length, 1);
});
