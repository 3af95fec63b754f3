import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ruleMatch, rulesetScript } from './task-firewall.ts';

test('rule → nft match: protocols, port ranges, ICMP type/code, CIDRs and peer sets, by direction', () => {
  assert.equal(ruleMatch({ protocol: 'tcp', fromPort: 80, toPort: 80, cidr: '0.0.0.0/0' }, 'ingress'), 'meta nfproto ipv4 tcp dport 80');
  assert.equal(ruleMatch({ protocol: 'udp', fromPort: 5000, toPort: 5010, cidr: '10.1.0.0/16' }, 'ingress'), 'ip saddr 10.1.0.0/16 udp dport 5000-5010');
  assert.equal(ruleMatch({ protocol: 'tcp', fromPort: 0, toPort: 65535, cidr: '10.1.0.0/16' }, 'egress'), 'ip daddr 10.1.0.0/16 meta l4proto tcp');
  assert.equal(ruleMatch({ protocol: 'icmp', cidr: '1.2.3.4/32' }, 'ingress'), 'ip saddr 1.2.3.4/32 meta l4proto icmp');
  assert.equal(ruleMatch({ protocol: 'icmp', fromPort: 8, toPort: 0, peerSet: 'g_1' }, 'ingress'), 'ip saddr @g_1 meta l4proto icmp icmp type 8 icmp code 0');
  assert.equal(ruleMatch({ protocol: '-1', peerSet: 'g_abc' }, 'egress'), 'ip daddr @g_abc');
  assert.equal(ruleMatch({ protocol: '-1', cidr: '0.0.0.0/0' }, 'egress'), 'meta nfproto ipv4');
  assert.equal(ruleMatch({ protocol: '47', cidr: '10.0.0.0/8' }, 'ingress'), 'ip saddr 10.0.0.0/8 meta l4proto 47');
});

test('nothing but checked values reaches the nft script', () => {
  assert.throws(() => ruleMatch({ protocol: 'tcp', fromPort: 1, toPort: 2, cidr: '1.2.3.4/32; flush ruleset' }, 'ingress'), /invalid firewall input/);
  assert.throws(() => ruleMatch({ protocol: '-1', peerSet: 'x; drop' }, 'ingress'), /invalid firewall input/);
  assert.throws(() => ruleMatch({ protocol: 'tcp', fromPort: -3, toPort: 2 }, 'ingress'), /invalid firewall input/);
  assert.throws(() => ruleMatch({ protocol: 'sctp' }, 'ingress'), /invalid firewall input/);
  assert.throws(() => rulesetScript({ ingress: [], egress: [], peerSets: { g_1: ['10.0.0.1 }'] }, trustedSources: [], alwaysReachable: [] }), /invalid firewall input/);
});

test('the ruleset replaces the table atomically: default drop both ways, replies, loopback, host and metadata', () => {
  const script = rulesetScript({
    ingress: [{ protocol: '-1', peerSet: 'g_self' }],
    egress: [{ protocol: '-1', cidr: '0.0.0.0/0' }],
    peerSets: { g_self: ['10.0.0.9', '10.0.0.5', '10.0.0.9'], g_empty: [] },
    trustedSources: ['10.0.0.1'],
    alwaysReachable: ['169.254.170.2'],
  });
  assert.equal(
    script,
    [
      'table inet skiff_sg',
      'delete table inet skiff_sg',
      'table inet skiff_sg {',
      '  set g_self { type ipv4_addr; elements = { 10.0.0.5, 10.0.0.9 }; }',
      '  set g_empty { type ipv4_addr; }',
      '  chain ingress {',
      '    type filter hook input priority filter; policy drop;',
      '    iifname "lo" accept',
      '    ct state established,related accept',
      '    ct state invalid drop',
      '    ip saddr 10.0.0.1 accept comment "host"',
      '    ip saddr @g_self accept',
      '  }',
      '  chain egress {',
      '    type filter hook output priority filter; policy drop;',
      '    oifname "lo" accept',
      '    ct state established,related accept',
      '    ip daddr 169.254.170.2 accept comment "metadata"',
      '    meta nfproto ipv4 accept',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
});
