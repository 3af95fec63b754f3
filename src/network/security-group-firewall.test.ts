import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyState, fullScript, profileName, ruleMatch, updateScript, type FirewallState } from './security-group-firewall.ts';

const opts = { table: 'sk_sg', hostAccess: true, alwaysReachable: ['169.254.170.2'] };

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
  const bad = emptyState();
  bad.peerSets.set('g_1', new Set(['10.0.0.1 }']));
  assert.throws(() => fullScript(bad, opts), /invalid firewall input/);
  const badPort = emptyState();
  badPort.profiles.set('p1', { ingress: [], egress: [] });
  badPort.tasks.set('10.0.0.5', { port: 'x" }; flush ruleset', profile: 'p1' });
  assert.throws(() => updateScript(emptyState(), badPort, opts), /invalid firewall input/);
});

test('a profile is the set of groups, in any order', () => {
  assert.equal(profileName(['sg-b', 'sg-a']), profileName(['sg-a', 'sg-b', 'sg-a']));
  assert.notEqual(profileName(['sg-a']), profileName(['sg-b']));
  assert.match(profileName([]), /^p[0-9a-f]{16}$/);
});

function oneTask(): FirewallState {
  const s = emptyState();
  s.peerSets.set('g_self', new Set(['10.0.0.9', '10.0.0.5']));
  s.profiles.set('p1', { ingress: [{ protocol: '-1', peerSet: 'g_self' }], egress: [{ protocol: '-1', cidr: '0.0.0.0/0' }] });
  s.tasks.set('10.0.0.5', { port: 'skaaaa', profile: 'p1' });
  return s;
}

test('the full script replaces both tables in one transaction: profile chains, address maps, anti-spoofing', () => {
  const script = fullScript(oneTask(), opts);
  const lines = script.split('\n');
  assert.deepEqual(lines.slice(0, 3), ['table inet sk_sg', 'delete table inet sk_sg', 'table inet sk_sg {']);
  assert.ok(lines.includes('  set g_self { type ipv4_addr; elements = { 10.0.0.5, 10.0.0.9 }; }'));
  assert.match(script, /chain i_p1 \{\n {4}ct state invalid drop\n {4}ip saddr @g_self accept\n {4}drop\n {2}\}/, 'inbound: allow rules, then drop');
  assert.match(script, /chain e_p1 \{\n {4}meta nfproto ipv4 return\n {4}drop\n {2}\}/, 'outbound: allowed returns to the hook, else drop');
  assert.ok(lines.includes('  map ingress { type ipv4_addr : verdict; elements = { 10.0.0.5 : jump i_p1 }; }'));
  assert.ok(lines.includes('  map egress { type ipv4_addr : verdict; elements = { 10.0.0.5 : jump e_p1 }; }'));
  assert.match(script, /chain forward \{\n.*hook forward.*\n {4}ct state established,related accept\n {4}ip saddr vmap @egress\n {4}ip daddr vmap @ingress\n/);
  assert.match(script, /ct original ip daddr 169\.254\.170\.2 accept comment "metadata"\n {4}ip saddr vmap @egress/);
  assert.match(script, /chain output \{\n.*policy accept;\n {2}\}/, 'host access on: the host may open connections');
  assert.match(fullScript(oneTask(), { ...opts, hostAccess: false }), /chain output \{\n.*\n {4}ct state established,related accept\n {4}ip daddr vmap @ingress\n/);
  assert.ok(lines.includes('table bridge sk_sg {'));
  assert.ok(lines.includes('  set port_addrs { type ifname . ipv4_addr; elements = { "skaaaa" . 10.0.0.5 }; }'));
  assert.match(script, /iifname != @ports accept\n {4}ether type ip iifname \. ip saddr @port_addrs accept\n {4}ether type arp iifname \. arp saddr ip @port_addrs accept\n {4}counter drop/);
});

test('updates: a task joining is a few elements; nothing when nothing changed; leaving removes what it added', () => {
  const a = oneTask();
  assert.equal(updateScript(a, oneTask(), opts), '');
  const b = oneTask();
  b.peerSets.get('g_self')!.add('10.0.0.6');
  b.tasks.set('10.0.0.6', { port: 'skbbbb', profile: 'p1' });
  assert.equal(
    updateScript(a, b, opts),
    [
      'add element inet sk_sg g_self { 10.0.0.6 }',
      'add element inet sk_sg ingress { 10.0.0.6 : jump i_p1 }',
      'add element inet sk_sg egress { 10.0.0.6 : jump e_p1 }',
      'add element bridge sk_sg ports { "skbbbb" }',
      'add element bridge sk_sg port_addrs { "skbbbb" . 10.0.0.6 }',
      '',
    ].join('\n'),
  );
  assert.equal(
    updateScript(b, a, opts),
    [
      'delete element inet sk_sg g_self { 10.0.0.6 }',
      'delete element inet sk_sg ingress { 10.0.0.6 }',
      'delete element inet sk_sg egress { 10.0.0.6 }',
      'delete element bridge sk_sg port_addrs { "skbbbb" . 10.0.0.6 }',
      'delete element bridge sk_sg ports { "skbbbb" }',
      '',
    ].join('\n'),
  );
});

test('updates: a new profile and set come before the elements naming them; gone ones after', () => {
  const a = oneTask();
  const b = oneTask();
  b.peerSets.set('g_web', new Set());
  b.profiles.set('p2', { ingress: [{ protocol: 'tcp', fromPort: 80, toPort: 80, peerSet: 'g_web' }], egress: [] });
  b.tasks.set('10.0.0.5', { port: 'skaaaa', profile: 'p2' }); // its groups changed
  const up = updateScript(a, b, opts).split('\n');
  const at = (l: string) => up.indexOf(l);
  assert.ok(at('add set inet sk_sg g_web { type ipv4_addr; }') >= 0);
  assert.ok(at('add rule inet sk_sg i_p2 ip saddr @g_web tcp dport 80 accept') > at('add set inet sk_sg g_web { type ipv4_addr; }'));
  assert.ok(at('add element inet sk_sg ingress { 10.0.0.5 : jump i_p2 }') > at('delete element inet sk_sg ingress { 10.0.0.5 }'));
  assert.ok(at('add element inet sk_sg ingress { 10.0.0.5 : jump i_p2 }') > at('add chain inet sk_sg i_p2'));
  b.profiles.delete('p1');
  b.peerSets.delete('g_self');
  const down = updateScript(a, b, opts).split('\n');
  assert.ok(down.indexOf('delete chain inet sk_sg i_p1') > down.indexOf('delete element inet sk_sg ingress { 10.0.0.5 }'));
  assert.ok(down.indexOf('delete set inet sk_sg g_self') > down.indexOf('delete chain inet sk_sg i_p1'));
  // Changed rules of an existing profile: its chains are flushed and refilled in the same transaction.
  const c = oneTask();
  c.profiles.set('p1', { ingress: [], egress: [] });
  assert.deepEqual(updateScript(a, c, opts).split('\n').filter((l) => l.includes('i_p1')), [
    'add chain inet sk_sg i_p1',
    'flush chain inet sk_sg i_p1',
    'add rule inet sk_sg i_p1 ct state invalid drop',
    'add rule inet sk_sg i_p1 drop',
  ]);
});
