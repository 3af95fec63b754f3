import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describePermission, groupPermissions, normaliseProtocol, permissionKey, readPermissions } from './permissions.ts';
import { parseQueryBody, QueryReader } from './query.ts';
import type { Ec2Error } from './errors.ts';

const read = (body: string) => readPermissions(new QueryReader(parseQueryBody(body)), (ref) => ref.groupId ?? `sg-by-name-${ref.groupName}`);
const errorOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return `${(e as Ec2Error).code}: ${(e as Error).message}`;
  }
  return 'no error';
};

test('protocols: names and numbers, -1 for all', () => {
  assert.equal(normaliseProtocol('TCP'), 'tcp');
  assert.equal(normaliseProtocol('6'), 'tcp');
  assert.equal(normaliseProtocol('17'), 'udp');
  assert.equal(normaliseProtocol('1'), 'icmp');
  assert.equal(normaliseProtocol('-1'), '-1');
  assert.equal(normaliseProtocol('all'), '-1');
  assert.equal(normaliseProtocol('47'), '47');
  assert.match(errorOf(() => normaliseProtocol('256')), /^InvalidParameterValue: .*Unknown protocol/);
  assert.match(errorOf(() => normaliseProtocol(undefined)), /^MissingParameter/);
});

test('one rule per permission and source; ports per protocol', () => {
  const rules = read(
    'IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=80&IpPermissions.1.ToPort=81' +
      '&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0/8&IpPermissions.1.IpRanges.1.Description=lan&IpPermissions.1.IpRanges.2.CidrIp=0.0.0.0/0' +
      '&IpPermissions.1.Groups.1.GroupId=sg-0123456789abcdef0' +
      '&IpPermissions.2.IpProtocol=-1&IpPermissions.2.FromPort=5&IpPermissions.2.Groups.1.GroupName=web' +
      '&IpPermissions.3.IpProtocol=icmp&IpPermissions.3.FromPort=8&IpPermissions.3.ToPort=-1&IpPermissions.3.IpRanges.1.CidrIp=1.2.3.4/32' +
      '&IpPermissions.4.IpProtocol=udp&IpPermissions.4.FromPort=-1&IpPermissions.4.ToPort=-1&IpPermissions.4.IpRanges.1.CidrIp=1.2.3.0/24',
  );
  assert.deepEqual(rules, [
    { protocol: 'tcp', fromPort: 80, toPort: 81, cidr: '10.0.0.0/8', description: 'lan' },
    { protocol: 'tcp', fromPort: 80, toPort: 81, cidr: '0.0.0.0/0' },
    { protocol: 'tcp', fromPort: 80, toPort: 81, peerGroupId: 'sg-0123456789abcdef0' },
    { protocol: '-1', peerGroupId: 'sg-by-name-web' },
    { protocol: 'icmp', fromPort: 8, cidr: '1.2.3.4/32' },
    { protocol: 'udp', fromPort: 0, toPort: 65535, cidr: '1.2.3.0/24' },
  ]);
});

test('the legacy top-level form (IpProtocol, FromPort, ToPort, CidrIp)', () => {
  assert.deepEqual(read('IpProtocol=tcp&FromPort=22&ToPort=22&CidrIp=10.1.0.0/16'), [{ protocol: 'tcp', fromPort: 22, toPort: 22, cidr: '10.1.0.0/16' }]);
});

test('what is refused, and why', () => {
  assert.match(errorOf(() => read('IpPermissions.1.IpProtocol=tcp&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0/0')), /^InvalidParameterValue: .*both from and to ports/);
  assert.match(errorOf(() => read('IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=90&IpPermissions.1.ToPort=80&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0/0')), /FromPort must not exceed ToPort/);
  assert.match(errorOf(() => read('IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=1&IpPermissions.1.ToPort=70000&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0/0')), /0-65535/);
  assert.match(errorOf(() => read('IpPermissions.1.IpProtocol=icmp&IpPermissions.1.FromPort=-1&IpPermissions.1.ToPort=3&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0/0')), /give a type/);
  assert.match(errorOf(() => read('IpPermissions.1.IpProtocol=-1')), /^MissingParameter: .*IpRanges\.N\.CidrIp or Groups\.N\.GroupId/);
  assert.match(errorOf(() => read('IpPermissions.1.IpProtocol=-1&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.1/8')), /^InvalidParameterValue: .*host bits/);
  assert.match(errorOf(() => read('IpPermissions.1.IpProtocol=-1&IpPermissions.1.Ipv6Ranges.1.CidrIpv6=::/0')), /IPv4 only/);
  assert.match(errorOf(() => read('')), /^MissingParameter: .*IpPermissions/);
});

test('keys ignore descriptions; messages and described permissions group rules as EC2 does', () => {
  const a = { protocol: 'tcp', fromPort: 80, toPort: 80, cidr: '0.0.0.0/0', description: 'x' };
  const b = { protocol: 'tcp', fromPort: 80, toPort: 80, cidr: '0.0.0.0/0' };
  assert.equal(permissionKey(a), permissionKey(b));
  assert.notEqual(permissionKey(a), permissionKey({ ...b, toPort: 81 }));
  assert.equal(describePermission(b), 'peer: 0.0.0.0/0, TCP, from port: 80, to port: 80, ALLOW');
  assert.equal(describePermission({ protocol: '-1', peerGroupId: 'sg-1' }), 'peer: sg-1, ALL, ALLOW');
  assert.deepEqual(groupPermissions([a, { ...b, cidr: '10.0.0.0/8' }, { protocol: 'tcp', fromPort: 80, toPort: 80, peerGroupId: 'sg-1' }, { protocol: '-1', cidr: '0.0.0.0/0' }]), [
    { protocol: 'tcp', fromPort: 80, toPort: 80, ranges: [{ cidr: '0.0.0.0/0', description: 'x' }, { cidr: '10.0.0.0/8' }], peers: [{ groupId: 'sg-1' }] },
    { protocol: '-1', fromPort: undefined, toPort: undefined, ranges: [{ cidr: '0.0.0.0/0' }], peers: [] },
  ]);
});
