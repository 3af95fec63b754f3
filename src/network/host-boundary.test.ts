import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boundaryScript, HostPortError, parseTaskHostPort, parseTaskHostPorts } from './host-boundary.ts';

test('host ports: PORT/PROTOCOL, a bare port is TCP, anything else says what to write', () => {
  assert.deepEqual(parseTaskHostPort('5432/tcp'), { port: 5432, protocol: 'tcp' });
  assert.deepEqual(parseTaskHostPort(' 8125/UDP '), { port: 8125, protocol: 'udp' });
  assert.deepEqual(parseTaskHostPort('80'), { port: 80, protocol: 'tcp' });
  for (const bad of ['0/tcp', '65536/tcp', '5432/sctp', 'tcp/5432', '54 32', '-1', '5432/', '', '1-2/tcp', '5432/tcp; flush ruleset']) {
    assert.throws(() => parseTaskHostPort(bad), (e: Error) => e instanceof HostPortError && /PORT\/PROTOCOL .*e\.g\. 5432\/tcp/.test(e.message), bad);
  }
  assert.deepEqual(parseTaskHostPorts(['8125/udp,5432/tcp', '5432', '53/udp']), [
    { port: 53, protocol: 'udp' },
    { port: 5432, protocol: 'tcp' },
    { port: 8125, protocol: 'udp' },
  ]);
  assert.throws(() => parseTaskHostPorts(['1/tcp', 'x', '99999']), (e: Error) => e.message.split('\n').length === 2, 'every problem at once');
});

test('the restricted boundary: replies, metadata, DNS on the own gateway, the named ports, then drop', () => {
  const s = boundaryScript({ table: 'sk', hostAccess: true, taskToHost: 'restricted', taskHostPorts: [{ port: 5432, protocol: 'tcp' }, { port: 8125, protocol: 'udp' }] });
  const rules = s.split('\n').filter((l) => l.startsWith('add rule inet sk task_to_host'));
  assert.deepEqual(
    rules.map((l) => l.replace('add rule inet sk task_to_host ', '').replace(/ comment .*/, '')),
    [
      'ct state established,related accept',
      'meta l4proto tcp ct status dnat ct original ip daddr 169.254.170.2 ct original proto-dst 80 accept',
      'meta l4proto { tcp, udp } th dport 53 fib daddr . iif type local accept',
      'meta l4proto . th dport @host_ports accept',
      'counter drop',
    ],
  );
  assert.match(s, /^flush set inet sk host_ports$/m, 'ports from an earlier start do not linger');
  assert.match(s, /^add element inet sk host_ports \{ tcp \. 5432, udp \. 8125 \}$/m);
  assert.match(s, /^add rule inet sk input iifname @bridges jump task_to_host$/m);
  assert.doesNotMatch(s, /host to task/, 'host access on: no output drop');
  const closedNone = boundaryScript({ table: 'sk', hostAccess: false, taskToHost: 'restricted', taskHostPorts: [] });
  assert.doesNotMatch(closedNone, /add element inet sk host_ports/);
  assert.match(closedNone, /add rule inet sk output oifname @bridges ct state new counter drop/);
  const open = boundaryScript({ table: 'sk', hostAccess: true, taskToHost: 'allow', taskHostPorts: [] });
  assert.doesNotMatch(open, /jump task_to_host|task_to_host .*drop/);
  assert.throws(() => boundaryScript({ table: 'sk', hostAccess: true, taskToHost: 'restricted', taskHostPorts: [{ port: 0, protocol: 'tcp' }] }), HostPortError);
});
