import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  broadcastAddress,
  containsCidr,
  containsIp,
  formatCidr,
  gatewayAddress,
  intToIp,
  ipToInt,
  isIpv4,
  isUsable,
  networkAddress,
  nthAddress,
  nthUsable,
  overlaps,
  parseCidr,
  prefixToNetmask,
  subnetCidrProblem,
  usableAddresses,
  usableCount,
  vpcCidrProblem,
} from './cidr.ts';

test('ipToInt / intToIp round-trip and strictness', () => {
  assert.equal(ipToInt('0.0.0.0'), 0);
  assert.equal(ipToInt('255.255.255.255'), 0xffffffff);
  assert.equal(ipToInt('10.1.2.3'), 0x0a010203);
  assert.equal(intToIp(0xac1f0001), '172.31.0.1');
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.-1', ' 1.2.3.4', '1.2.3.4 ', 'a.b.c.d', '1..2.3']) {
    assert.throws(() => ipToInt(bad), /invalid IPv4/, bad);
    assert.equal(isIpv4(bad), false);
  }
  assert.throws(() => intToIp(-1));
  assert.throws(() => intToIp(2 ** 32));
});

test('parseCidr validates and normalises', () => {
  const c = parseCidr('172.31.16.0/20');
  assert.deepEqual(c, { base: ipToInt('172.31.16.0'), prefixLength: 20, size: 4096 });
  assert.equal(formatCidr(c), '172.31.16.0/20');
  assert.throws(() => parseCidr('172.31.16.1/20'), /host bits set \(did you mean 172\.31\.16\.0\/20\?\)/);
  assert.equal(formatCidr(parseCidr('172.31.16.1/20', { allowHostBits: true })), '172.31.16.0/20');
  for (const bad of ['10.0.0.0', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/024', '10.0.0/8', '10.0.0.0/8/8', 'x/8']) {
    assert.throws(() => parseCidr(bad), /invalid/, bad);
  }
  assert.equal(parseCidr('0.0.0.0/0').size, 2 ** 32);
  assert.equal(parseCidr('10.0.0.7/32').size, 1);
  assert.equal(prefixToNetmask(20), '255.255.240.0');
  assert.equal(prefixToNetmask(0), '0.0.0.0');
  assert.equal(prefixToNetmask(32), '255.255.255.255');
});

test('network, broadcast, gateway and nth addresses', () => {
  assert.equal(networkAddress('10.0.1.0/24'), '10.0.1.0');
  assert.equal(broadcastAddress('10.0.1.0/24'), '10.0.1.255');
  assert.equal(gatewayAddress('10.0.1.0/24'), '10.0.1.1');
  assert.equal(broadcastAddress('172.31.0.0/16'), '172.31.255.255');
  assert.equal(nthAddress('10.0.1.0/24', 0), '10.0.1.0');
  assert.equal(nthAddress('10.0.1.0/24', 255), '10.0.1.255');
  assert.throws(() => nthAddress('10.0.1.0/24', 256), /outside/);
  assert.equal(nthUsable('10.0.1.0/24', 0), '10.0.1.4');
  assert.equal(nthUsable('10.0.1.0/24', 250), '10.0.1.254');
  assert.throws(() => nthUsable('10.0.1.0/24', 251), /outside the 251 usable/);
  assert.throws(() => nthUsable('10.0.1.0/24', -1));
});

test('usable addresses exclude the AWS reserves (first four, last one)', () => {
  assert.equal(usableCount('10.0.1.0/24'), 251);
  assert.equal(usableCount('10.0.0.0/16'), 65531);
  const all = [...usableAddresses('10.0.1.0/28')];
  assert.equal(all.length, 11);
  assert.equal(usableCount('10.0.1.0/28'), 11);
  assert.equal(all[0], '10.0.1.4');
  assert.equal(all.at(-1), '10.0.1.14');
  for (const reserved of ['10.0.1.0', '10.0.1.1', '10.0.1.2', '10.0.1.3', '10.0.1.15']) {
    assert.ok(!all.includes(reserved));
    assert.equal(isUsable('10.0.1.0/28', reserved), false, reserved);
    assert.equal(containsIp('10.0.1.0/28', reserved), true, reserved);
  }
  assert.equal(isUsable('10.0.1.0/28', '10.0.1.4'), true);
  assert.equal(isUsable('10.0.1.0/28', '10.0.1.16'), false);
  assert.equal(usableCount('10.0.1.0/30'), 0);
  assert.deepEqual([...usableAddresses('10.0.1.0/30')], []);
});

test('contains and overlap', () => {
  assert.equal(containsIp('10.0.0.0/16', '10.0.255.255'), true);
  assert.equal(containsIp('10.0.0.0/16', '10.1.0.0'), false);
  assert.equal(containsIp('0.0.0.0/0', '255.255.255.255'), true);
  assert.equal(containsCidr('10.0.0.0/16', '10.0.4.0/24'), true);
  assert.equal(containsCidr('10.0.0.0/16', '10.0.0.0/16'), true);
  assert.equal(containsCidr('10.0.4.0/24', '10.0.0.0/16'), false);
  assert.equal(containsCidr('10.0.0.0/16', '10.1.0.0/24'), false);
  assert.equal(overlaps('10.0.0.0/16', '10.0.200.0/24'), true);
  assert.equal(overlaps('10.0.200.0/24', '10.0.0.0/16'), true);
  assert.equal(overlaps('10.0.0.0/24', '10.0.1.0/24'), false);
  assert.equal(overlaps('10.0.0.0/25', '10.0.0.128/25'), false);
  assert.equal(overlaps('10.0.0.0/24', '10.0.0.255/32'), true);
});

test('prefix limits /16../28 and VPC containment', () => {
  assert.equal(vpcCidrProblem('172.31.0.0/16'), null);
  assert.match(vpcCidrProblem('10.0.0.0/8')!, /between \/16 and \/28/);
  assert.match(vpcCidrProblem('10.0.0.0/29')!, /between \/16 and \/28/);
  assert.match(vpcCidrProblem('10.0.0.1/16')!, /host bits/);
  assert.equal(subnetCidrProblem('172.31.16.0/20', '172.31.0.0/16'), null);
  assert.equal(subnetCidrProblem('172.31.16.0/28'), null);
  assert.match(subnetCidrProblem('172.32.0.0/20', '172.31.0.0/16')!, /not within the VPC/);
  assert.match(subnetCidrProblem('172.31.0.0/20', '172.31.0.0/8')!, /^VPC /);
  assert.match(subnetCidrProblem('nonsense')!, /invalid CIDR/);
});
