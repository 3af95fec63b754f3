import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, ErrorCode } from '../api/errors.ts';
import { ECS_TASKS_TRUST_POLICY, RoleStore } from '../auth/roles.ts';
import { openDb } from '../store/db.ts';
import { IamError } from './errors.ts';
import { IamApi } from './iam-protocol.ts';
import { IamParams, page } from './query.ts';

const ACCOUNT = '123456789012';
const POLICY = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecs:ListClusters', Resource: '*' }] });
const form = (p: Record<string, string>) => new URLSearchParams({ Version: '2010-05-08', ...p }).toString();

function api() {
  const roles = new RoleStore(openDb(':memory:'), ACCOUNT, () => Date.UTC(2026, 0, 2, 3, 4, 5));
  const iam = new IamApi({ roles });
  const call = async (p: Record<string, string>) => {
    const { action, params } = iam.decode(form(p));
    return iam.run(action, params, 'req-1');
  };
  const fails = async (p: Record<string, string>) => {
    try {
      await call(p);
    } catch (err) {
      return iam.errorResponse(err, 'req-2');
    }
    assert.fail(`${p.Action} should have failed`);
  };
  return { roles, iam, call, fails };
}

test('params: flat values, Name.member.N lists in index order, IAM-worded validation', () => {
  const q = new IamParams('RoleName=a&Tags.member.2.Key=k2&Tags.member.1.Key=k1&Tags.member.1.Value=v1&MaxItems=5');
  assert.equal(q.required('RoleName'), 'a');
  assert.deepEqual(q.members('Tags').map((m) => Object.fromEntries(m)), [{ Key: 'k1', Value: 'v1' }, { Key: 'k2' }]);
  assert.equal(q.int('MaxItems', 1, 1000), 5);
  assert.throws(() => q.required('PolicyArn'), (e: IamError) => e.code === 'ValidationError' && /Value null at 'policyArn'/.test(e.message));
  assert.throws(() => new IamParams('MaxItems=0').int('MaxItems', 1, 1000), (e: IamError) => e.code === 'ValidationError' && /1 to 1000/.test(e.message));
  assert.throws(() => new IamParams('Tags.member.x.Key=a').members('Tags'), (e: IamError) => e.code === 'ValidationError');
});

test('pages: a marker resumes after the last item; a forged marker is refused', () => {
  const items = ['a', 'b', 'c', 'd', 'e'];
  const first = page(items, (x) => x, undefined, 2);
  assert.deepEqual(first.items, ['a', 'b']);
  assert.equal(first.isTruncated, true);
  const second = page(items, (x) => x, first.marker, 2);
  assert.deepEqual(second.items, ['c', 'd']);
  const last = page(items, (x) => x, second.marker, 2);
  assert.deepEqual(last, { items: ['e'], isTruncated: false });
  assert.throws(() => page(items, (x) => x, '!!', 2), (e: IamError) => e.code === 'ValidationError');
});

test('decode: Action and Version checked, unknown actions named', () => {
  const { iam } = api();
  assert.throws(() => iam.decode('Version=2010-05-08'), (e: IamError) => e.code === 'MissingAction' && e.status === 400);
  assert.throws(() => iam.decode(form({ Action: 'CreateUser' })), (e: IamError) => e.code === 'InvalidAction' && /CreateUser/.test(e.message) && /CreateRole/.test(e.message));
  assert.throws(() => iam.decode('Action=GetRole&Version=2016-11-15'), (e: IamError) => e.code === 'ValidationError' && /2010-05-08/.test(e.message));
  assert.deepEqual(iam.decode(form({ Action: 'GetRole', RoleName: 'x' })).params, { Version: '2010-05-08', Action: 'GetRole', RoleName: 'x' });
});

test('CreateRole and GetRolePolicy answer IAM XML with URL-encoded documents', async () => {
  const { call } = api();
  const xml = await call({ Action: 'CreateRole', RoleName: 'app', Path: '/team/', AssumeRolePolicyDocument: ECS_TASKS_TRUST_POLICY, Description: 'a & b', 'Tags.member.1.Key': 'env', 'Tags.member.1.Value': 'dev' });
  assert.match(xml, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<CreateRoleResponse xmlns="https:\/\/iam\.amazonaws\.com\/doc\/2010-05-08\/"><CreateRoleResult><Role>/);
  assert.match(xml, /<Path>\/team\/<\/Path><RoleName>app<\/RoleName><RoleId>AROA[A-Z2-7]{17}<\/RoleId><Arn>arn:aws:iam::123456789012:role\/team\/app<\/Arn><CreateDate>2026-01-02T03:04:05\.000Z<\/CreateDate>/);
  assert.ok(xml.includes(`<AssumeRolePolicyDocument>${encodeURIComponent(ECS_TASKS_TRUST_POLICY)}</AssumeRolePolicyDocument>`));
  assert.ok(xml.includes('<Description>a &amp; b</Description><MaxSessionDuration>3600</MaxSessionDuration><Tags><member><Key>env</Key><Value>dev</Value></member></Tags>'));
  assert.ok(xml.endsWith('</Role></CreateRoleResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></CreateRoleResponse>'));

  const put = await call({ Action: 'PutRolePolicy', RoleName: 'app', PolicyName: 'p', PolicyDocument: POLICY });
  assert.match(put, /<PutRolePolicyResponse [^>]+><ResponseMetadata><RequestId>req-1<\/RequestId><\/ResponseMetadata><\/PutRolePolicyResponse>$/);
  const got = await call({ Action: 'GetRolePolicy', RoleName: 'app', PolicyName: 'p' });
  assert.ok(got.includes(`<RoleName>app</RoleName><PolicyName>p</PolicyName><PolicyDocument>${encodeURIComponent(POLICY)}</PolicyDocument>`));
  const listed = await call({ Action: 'ListRolePolicies', RoleName: 'app' });
  assert.ok(listed.includes('<PolicyNames><member>p</member></PolicyNames><IsTruncated>false</IsTruncated>'));
});

test('ListRoles pages with MaxItems and Marker; ListAttachedRolePolicies and GetPolicy show attachments', async () => {
  const { call } = api();
  for (const n of ['c', 'a', 'b']) await call({ Action: 'CreateRole', RoleName: n, AssumeRolePolicyDocument: ECS_TASKS_TRUST_POLICY });
  const first = await call({ Action: 'ListRoles', MaxItems: '2' });
  assert.deepEqual([...first.matchAll(/<RoleName>(\w+)<\/RoleName>/g)].map((m) => m[1]), ['a', 'b']);
  const marker = /<IsTruncated>true<\/IsTruncated><Marker>([^<]+)<\/Marker>/.exec(first)![1];
  const second = await call({ Action: 'ListRoles', MaxItems: '2', Marker: marker });
  assert.deepEqual([...second.matchAll(/<RoleName>(\w+)<\/RoleName>/g)].map((m) => m[1]), ['c']);
  assert.ok(second.includes('<IsTruncated>false</IsTruncated>') && !second.includes('<Marker>'));

  const created = await call({ Action: 'CreatePolicy', PolicyName: 'list', PolicyDocument: POLICY, Description: 'lists' });
  assert.match(created, /<Policy><PolicyName>list<\/PolicyName><PolicyId>ANPA[A-Z2-7]{17}<\/PolicyId><Arn>arn:aws:iam::123456789012:policy\/list<\/Arn><Path>\/<\/Path><DefaultVersionId>v1<\/DefaultVersionId><AttachmentCount>0<\/AttachmentCount>/);
  const arn = `arn:aws:iam::${ACCOUNT}:policy/list`;
  await call({ Action: 'AttachRolePolicy', RoleName: 'a', PolicyArn: arn });
  assert.ok((await call({ Action: 'ListAttachedRolePolicies', RoleName: 'a' })).includes(`<AttachedPolicies><member><PolicyName>list</PolicyName><PolicyArn>${arn}</PolicyArn></member></AttachedPolicies>`));
  assert.ok((await call({ Action: 'GetPolicy', PolicyArn: arn })).includes('<AttachmentCount>1</AttachmentCount>'));
  assert.ok((await call({ Action: 'GetPolicyVersion', PolicyArn: arn, VersionId: 'v1' })).includes(`<Document>${encodeURIComponent(POLICY)}</Document><VersionId>v1</VersionId><IsDefaultVersion>true</IsDefaultVersion>`));
});

test('errors: IAM codes, HTTP statuses and the ErrorResponse document', async () => {
  const { call, fails, iam } = api();
  const missing = await fails({ Action: 'GetRole', RoleName: 'nobody' });
  assert.equal(missing.status, 404);
  assert.match(missing.body, /<ErrorResponse xmlns="https:\/\/iam\.amazonaws\.com\/doc\/2010-05-08\/"><Error><Type>Sender<\/Type><Code>NoSuchEntity<\/Code><Message>The role with name nobody cannot be found\.<\/Message><\/Error><RequestId>req-2<\/RequestId><\/ErrorResponse>$/);
  await call({ Action: 'CreateRole', RoleName: 'r', AssumeRolePolicyDocument: ECS_TASKS_TRUST_POLICY });
  const dup = await fails({ Action: 'CreateRole', RoleName: 'r', AssumeRolePolicyDocument: ECS_TASKS_TRUST_POLICY });
  assert.equal(dup.status, 409);
  assert.match(dup.body, /<Code>EntityAlreadyExists<\/Code>/);
  const malformed = await fails({ Action: 'PutRolePolicy', RoleName: 'r', PolicyName: 'p', PolicyDocument: '{"Statement": [' });
  assert.equal(malformed.status, 400);
  assert.match(malformed.body, /<Code>MalformedPolicyDocument<\/Code><Message>Syntax errors in policy/);
  await call({ Action: 'PutRolePolicy', RoleName: 'r', PolicyName: 'p', PolicyDocument: POLICY });
  const conflict = await fails({ Action: 'DeleteRole', RoleName: 'r' });
  assert.equal(conflict.status, 409);
  assert.match(conflict.body, /<Code>DeleteConflict<\/Code><Message>Cannot delete entity, must delete policies first\.<\/Message>/);
  const invalid = await fails({ Action: 'CreateRole', RoleName: 'bad name', AssumeRolePolicyDocument: ECS_TASKS_TRUST_POLICY });
  assert.equal(invalid.status, 400);
  assert.match(invalid.body, /<Code>ValidationError<\/Code>/);
  const denied = iam.errorResponse(new ApiError(ErrorCode.AccessDeniedException, 'User: x is not authorized to perform: iam:GetRole'), 'r');
  assert.equal(denied.status, 403);
  assert.match(denied.body, /<Code>AccessDenied<\/Code>/);
  const bug = iam.errorResponse(new TypeError('oops'), 'r');
  assert.equal(bug.status, 500);
  assert.match(bug.body, /<Type>Receiver<\/Type><Code>ServiceFailure<\/Code>/);
  assert.ok(!bug.body.includes('oops'), 'internal details stay in the log');
});

test("authorization resources: the role's ARN (with its path), the policy's ARN, else *", async () => {
  const { call, iam } = api();
  await call({ Action: 'CreateRole', RoleName: 'app', Path: '/team/', AssumeRolePolicyDocument: ECS_TASKS_TRUST_POLICY });
  assert.deepEqual(iam.resources('GetRole', { RoleName: 'app' }), [`arn:aws:iam::${ACCOUNT}:role/team/app`]);
  assert.deepEqual(iam.resources('CreateRole', { RoleName: 'new', Path: '/x/' }), [`arn:aws:iam::${ACCOUNT}:role/x/new`]);
  assert.deepEqual(iam.resources('AttachRolePolicy', { RoleName: 'app', PolicyArn: 'arn:aws:iam::123456789012:policy/p' }), [`arn:aws:iam::${ACCOUNT}:role/team/app`]);
  assert.deepEqual(iam.resources('GetPolicy', { PolicyArn: 'arn:aws:iam::123456789012:policy/p' }), ['arn:aws:iam::123456789012:policy/p']);
  assert.deepEqual(iam.resources('CreatePolicy', { PolicyName: 'p' }), [`arn:aws:iam::${ACCOUNT}:policy/p`]);
  assert.deepEqual(iam.resources('ListRoles', {}), ['*']);
});
