import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openDb } from '../store/db.ts';
import { MasterKey } from '../auth/master-key.ts';
import { SecretStore } from './secret-store.ts';
import { parseSecretValueFrom, resolveContainerSecrets, SecretResolutionError } from './task-secrets.ts';

const BASE = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db';
const ARN = `${BASE}-AbCdEf`;
const WHO = 'arn:aws:sts::123456789012:assumed-role/exec/0123';
const allow = (resource: string) => ({ Statement: [{ Effect: 'Allow' as const, Action: 'secretsmanager:GetSecretValue', Resource: resource }] });

function store() {
  const s = new SecretStore(openDb(':memory:'), MasterKey.fromBytes(randomBytes(32)));
  s.create(ARN, 'app/db', undefined, { string: '{"user":"admin","password":"pw-SECRET-1"}' }, 'v1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
  s.put(ARN, { string: '{"user":"admin","password":"pw-SECRET-2"}' }, 'v2-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb');
  return s;
}

test('valueFrom: a secret ARN with the optional json-key:version-stage:version-id suffix', () => {
  assert.deepEqual(parseSecretValueFrom(ARN), { secretArn: ARN });
  assert.deepEqual(parseSecretValueFrom(`${ARN}:password::`), { secretArn: ARN, jsonKey: 'password' });
  assert.deepEqual(parseSecretValueFrom(`${ARN}:password:AWSPREVIOUS:`), { secretArn: ARN, jsonKey: 'password', versionStage: 'AWSPREVIOUS' });
  assert.deepEqual(parseSecretValueFrom(`${ARN}:::v1-x`), { secretArn: ARN, versionId: 'v1-x' });
  assert.equal(parseSecretValueFrom('arn:aws:ssm:us-east-1:123456789012:parameter/db'), undefined);
  assert.equal(parseSecretValueFrom('db-password'), undefined);
});

test('resolves whole values, JSON keys, stages and partial ARNs when the execution role allows it', () => {
  const s = store();
  const env = resolveContainerSecrets(
    'app',
    [
      { name: 'WHOLE', valueFrom: ARN },
      { name: 'PW', valueFrom: `${BASE}:password::` },
      { name: 'OLD_PW', valueFrom: `${ARN}:password:AWSPREVIOUS:` },
    ],
    { roleArn: 'arn:aws:iam::123456789012:role/exec', policy: allow(`${BASE}-*`), principalArn: WHO },
    s,
  );
  assert.deepEqual(env, { WHOLE: '{"user":"admin","password":"pw-SECRET-2"}', PW: 'pw-SECRET-2', OLD_PW: 'pw-SECRET-1' });
});

test('no role, an unknown role, an implicit or explicit deny: AccessDeniedException, never the value', () => {
  const s = store();
  const secrets = [{ name: 'PW', valueFrom: `${ARN}:password::` }];
  const cases = [
    { roleArn: undefined, policy: undefined, why: /has no execution role/ },
    { roleArn: 'arn:aws:iam::123456789012:role/gone', policy: undefined, why: /does not exist/ },
    { roleArn: 'arn:aws:iam::123456789012:role/exec', policy: allow('arn:aws:secretsmanager:*:*:secret:other-*'), why: /no identity-based policy allows/ },
    {
      roleArn: 'arn:aws:iam::123456789012:role/exec',
      policy: { Statement: [...allow('*').Statement, { Effect: 'Deny' as const, Action: 'secretsmanager:*', Resource: ARN }] },
      why: /explicit deny/,
    },
  ];
  for (const c of cases) {
    assert.throws(
      () => resolveContainerSecrets('app', secrets, { roleArn: c.roleArn, policy: c.policy, principalArn: WHO }, s),
      (err: Error) => {
        assert.ok(err instanceof SecretResolutionError);
        assert.match(err.message, /^unable to pull secrets or registry auth: .*AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role\/exec\/0123 is not authorized to perform: secretsmanager:GetSecretValue on resource: /);
        assert.match(err.message, c.why);
        assert.doesNotMatch(err.message, /pw-SECRET/);
        return true;
      },
    );
  }
});

test('a missing secret, version or JSON key fails with ECS wording', () => {
  const s = store();
  const who = { roleArn: 'arn:aws:iam::123456789012:role/exec', policy: allow('*'), principalArn: WHO };
  assert.throws(() => resolveContainerSecrets('app', [{ name: 'X', valueFrom: `${BASE.replace('app/db', 'nope')}` }], who, s), /ResourceNotFoundException/);
  assert.throws(() => resolveContainerSecrets('app', [{ name: 'X', valueFrom: `${ARN}::AWSNOPE:` }], who, s), /can't find the specified secret value/);
  assert.throws(() => resolveContainerSecrets('app', [{ name: 'X', valueFrom: `${ARN}:missing::` }], who, s), /did not contain json key missing/);
  assert.throws(() => resolveContainerSecrets('app', [{ name: 'X', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/x' }], who, s), /not a Secrets Manager secret ARN/);
});
