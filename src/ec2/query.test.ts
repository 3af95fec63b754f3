import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterMatches, parseQueryBody, QueryReader, readFilters } from './query.ts';
import { responseXml } from './xml.ts';
import { errorXml, Ec2Error, toEc2Error } from './errors.ts';
import { ApiError, ErrorCode } from '../api/errors.ts';

test('a form body becomes a tree; numbered lists come back in index order', () => {
  const body =
    'Action=DescribeSecurityGroups&Version=2016-11-15&Filter.2.Name=group-name&Filter.2.Value.1=web&Filter.10.Name=vpc-id&Filter.10.Value.1=vpc-1&Filter.10.Value.2=vpc-2' +
    '&Filter.1.Name=group-id&Filter.1.Value.1=sg-1&GroupId.1=sg-a%2Bb';
  const q = new QueryReader(parseQueryBody(body));
  assert.equal(q.str('Action'), 'DescribeSecurityGroups');
  assert.deepEqual(q.strings('GroupId'), ['sg-a+b'], 'percent-decoded');
  const filters = readFilters(q, ['group-id', 'group-name', 'vpc-id']);
  assert.deepEqual(filters, [
    { name: 'group-id', values: ['sg-1'] },
    { name: 'group-name', values: ['web'] },
    { name: 'vpc-id', values: ['vpc-1', 'vpc-2'] },
  ]);
  assert.deepEqual(q.strings('Missing'), []);
});

test('nested structures: IpPermissions.N.IpRanges.M.CidrIp and typed readers', () => {
  const q = new QueryReader(parseQueryBody('IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=80&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0%2F0&DryRun=true'));
  const [p] = q.structs('IpPermissions');
  assert.equal(p!.int('FromPort'), 80);
  assert.equal(p!.structs('IpRanges')[0]!.str('CidrIp'), '0.0.0.0/0');
  assert.equal(q.bool('DryRun'), true);
});

test('bad input is InvalidParameterValue / MissingParameter with the parameter named', () => {
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return `${(e as Ec2Error).code}: ${(e as Error).message}`;
    }
    return 'no error';
  };
  assert.match(code(() => new QueryReader(parseQueryBody('IpPermissions.1.FromPort=eighty')).structs('IpPermissions')[0]!.int('FromPort')), /^InvalidParameterValue: IpPermissions\.1\.FromPort must be an integer/);
  assert.match(code(() => new QueryReader(parseQueryBody('GroupId.0=x')).strings('GroupId')), /^InvalidParameterValue: GroupId\.0 is not a list member/);
  assert.match(code(() => new QueryReader(parseQueryBody('DryRun=yes')).bool('DryRun')), /^InvalidParameterValue: DryRun must be true or false/);
  assert.match(code(() => new QueryReader(parseQueryBody('')).required('GroupName')), /^MissingParameter: .*GroupName/);
  assert.match(code(() => readFilters(new QueryReader(parseQueryBody('Filter.1.Name=tag:x')), ['vpc-id'])), /^InvalidParameterValue: The filter 'tag:x' is invalid/);
  assert.match(code(() => parseQueryBody('__proto__.x=1')), /^InvalidParameterValue/);
  assert.match(code(() => parseQueryBody('a..b=1')), /^InvalidParameterValue/);
});

test('filter values match exactly or with * and ? wildcards', () => {
  assert.ok(filterMatches(['web'], 'web'));
  assert.ok(!filterMatches(['web'], 'web2'));
  assert.ok(filterMatches(['w*'], 'web2'));
  assert.ok(filterMatches(['we?'], 'web'));
  assert.ok(!filterMatches(['we?'], 'webs'));
  assert.ok(!filterMatches(['a.c'], 'abc'), 'a dot is literal');
  assert.ok(!filterMatches(['x'], undefined));
});

test('responses: EC2 namespace, requestId, lists as <item>, absent members left out, text escaped', () => {
  const xml = responseXml('DescribeSecurityGroups', 'req-1', {
    securityGroupInfo: [{ groupId: 'sg-1', groupName: 'a<b&c', vpcId: undefined, ipPermissions: [] }],
    return: true,
  });
  assert.equal(
    xml,
    '<?xml version="1.0" encoding="UTF-8"?>\n<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-1</requestId>' +
      '<securityGroupInfo><item><groupId>sg-1</groupId><groupName>a&lt;b&amp;c</groupName><ipPermissions></ipPermissions></item></securityGroupInfo><return>true</return></DescribeSecurityGroupsResponse>',
  );
});

test('errors: EC2 codes in the <Response><Errors> document; auth errors in EC2 words', () => {
  assert.equal(
    errorXml(new Ec2Error('InvalidGroup.NotFound', "The security group 'sg-1' does not exist"), 'r1'),
    '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>InvalidGroup.NotFound</Code><Message>The security group &apos;sg-1&apos; does not exist</Message></Error></Errors><RequestID>r1</RequestID></Response>',
  );
  assert.equal(toEc2Error(new ApiError(ErrorCode.InvalidSignatureException, 'bad', { status: 403 }))!.code, 'AuthFailure');
  assert.equal(toEc2Error(new ApiError(ErrorCode.InvalidSignatureException, 'Signature expired: ...', { status: 403 }))!.code, 'RequestExpired');
  assert.equal(toEc2Error(new ApiError(ErrorCode.AccessDeniedException, 'no', { status: 400 }))!.code, 'UnauthorizedOperation');
  assert.equal(toEc2Error(new ApiError(ErrorCode.AccessDeniedException, 'no', { status: 400 }))!.status, 403);
  assert.equal(toEc2Error(new Error('bug')), undefined, 'a programmer error is not shown to the caller');
});
