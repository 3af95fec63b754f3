import { test } from 'node:test';
import assert from 'node:assert/strict';
import { egressItem } from './doctor-access.ts';
import type { CheckItem, DoctorFacts } from './doctor-types.ts';

function verdict(vpc: { assignPublicIp?: string; subnets?: string[] } | undefined, facts: DoctorFacts): CheckItem | undefined {
  const out: CheckItem[] = [];
  egressItem((id, title, status, message, fix) => out.push({ id, title, status, message, ...(fix ? { fix } : {}) }), vpc, facts);
  return out[0];
}

test('doctor explains why tasks will have no egress, and passes when they will', () => {
  const pub = { mapPublicIpOnLaunch: true };
  const priv = { mapPublicIpOnLaunch: false };
  assert.equal(verdict({ assignPublicIp: 'ENABLED' }, { egress: { subnets: { 'subnet-1': pub } } })?.status, 'pass');
  const noIp = verdict({ assignPublicIp: 'DISABLED' }, { egress: { subnets: { 'subnet-1': pub } } })!;
  assert.equal(noIp.status, 'warn');
  assert.match(noIp.message, /no egress: subnet-1: assignPublicIp is not ENABLED/);
  assert.match(noIp.fix!, /NAT gateway/);
  const privNoNat = verdict({ assignPublicIp: 'ENABLED' }, { egress: { subnets: { 'subnet-2': priv } } })!;
  assert.match(privNoNat.message, /subnet-2: the subnet is private .* no 0\.0\.0\.0\/0 route to a NAT gateway/);
  assert.equal(verdict(undefined, { egress: { subnets: { 'subnet-2': { ...priv, natGatewayId: 'nat-1', natGatewayPublic: true } } } })?.status, 'pass');
  assert.match(verdict(undefined, { egress: { subnets: { 'subnet-2': { ...priv, natGatewayId: 'nat-1', natGatewayPublic: false } } } })!.message, /nat-1, which is in a private subnet/);
  const closed = verdict({ assignPublicIp: 'ENABLED' }, {
    egress: { subnets: { 'subnet-1': pub } },
    securityGroups: { 'sg-1': { ingress: [], egress: [{ protocol: 'tcp', fromPort: 443, toPort: 443, cidrs: ['10.0.0.0/8'], groups: [] }] } },
  })!;
  assert.equal(closed.status, 'warn');
  assert.match(closed.message, /no security group \(sg-1\) allows outbound traffic to 0\.0\.0\.0\/0/);
  assert.match(verdict(undefined, { egressUnavailable: 'EC2 DescribeSubnets failed (x)' })!.message, /not checked/);
  assert.equal(verdict(undefined, {}), undefined, 'no facts gathered (offline): no item');
});
