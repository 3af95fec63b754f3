import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bridgeVpcScript, egressMembersScript, egressRoute, egressScript } from './egress.ts';

test('egressRoute: the AWS matrix', () => {
  const base = { serverEgress: true, assignPublicIp: true, subnetPublic: true };
  assert.deepEqual(egressRoute(base), { egress: true, via: 'internet-gateway' });
  assert.match((egressRoute({ ...base, assignPublicIp: false }) as { reason: string }).reason, /assignPublicIp is not ENABLED/);
  assert.match((egressRoute({ ...base, subnetPublic: false }) as { reason: string }).reason, /private .* no 0\.0\.0\.0\/0 route to a NAT gateway/);
  assert.deepEqual(egressRoute({ ...base, subnetPublic: false, assignPublicIp: false, natGatewayId: 'nat-1', natGatewayPublic: true }), { egress: true, via: 'nat-gateway', natGatewayId: 'nat-1' });
  assert.equal(egressRoute({ ...base, subnetPublic: false, natGatewayId: 'nat-1', natGatewayPublic: false }).egress, false);
  assert.match((egressRoute({ ...base, serverEgress: false }) as { reason: string }).reason, /--no-egress/);
});

test('egressScript: egress rules before the boundary drops, NAT only when on; VPC isolation always', () => {
  const on = egressScript({ table: 'skiff', enabled: true });
  const inserts = on.split('\n').filter((l) => l.startsWith('insert rule inet skiff forward'));
  assert.equal(inserts.length, 4);
  // insert prepends: the last line becomes the first rule, so the VPC drop is inserted last.
  assert.match(inserts.at(-1)!, /iifname \. ip daddr != @bridge_vpc .*drop/);
  assert.match(on, /add rule inet skiff postrouting ip saddr @egress oifname != @bridges masquerade/);
  assert.match(on, /iifname @uplinks oifname != @bridges ct status & snat == 0 counter drop/);
  const off = egressScript({ table: 'skiff', enabled: false });
  assert.doesNotMatch(off, /masquerade|@egress accept/);
  assert.match(off, /@bridge_vpc/);
});

test('egress members and bridge elements are validated and replace the set whole', () => {
  assert.match(egressMembersScript('t', ['10.0.0.9', '10.0.0.5']), /flush set inet t egress\nadd element inet t egress \{ 10\.0\.0\.5, 10\.0\.0\.9 \}/);
  assert.doesNotMatch(egressMembersScript('t', []), /add element/);
  assert.throws(() => egressMembersScript('t', ['10.0.0.1; flush ruleset']));
  assert.equal(bridgeVpcScript('t', 'skb1', '10.1.0.0/16'), 'add element inet t bridge_vpc { "skb1" . 10.1.0.0/16 }\n');
  assert.throws(() => bridgeVpcScript('t', 'bad name', '10.1.0.0/16'));
});
