import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveServerConfig } from './server-config.ts';

test('egress settings: on by default; --no-egress / SKIFF_EGRESS=0 off; interfaces and DNS upstreams from flags over env', () => {
  const d = resolveServerConfig({}, {});
  assert.equal(d.egress, true);
  assert.equal(d.egressInterfaces, undefined, 'default: the default routes decide');
  assert.equal(d.dnsUpstreams, undefined, 'default: /etc/resolv.conf');
  assert.equal(resolveServerConfig({ egress: false }, {}).egress, false);
  assert.equal(resolveServerConfig({}, { SKIFF_EGRESS: '0' }).egress, false);
  assert.deepEqual(resolveServerConfig({}, { SKIFF_EGRESS_INTERFACES: 'eth1, eth2' }).egressInterfaces, ['eth1', 'eth2']);
  assert.deepEqual(resolveServerConfig({ dnsUpstream: ['10.0.0.2:5353'] }, { SKIFF_DNS_UPSTREAMS: '10.0.0.9' }).dnsUpstreams, ['10.0.0.2:5353']);
  assert.deepEqual(resolveServerConfig({}, { SKIFF_DNS_UPSTREAMS: 'none' }).dnsUpstreams, ['none']);
  assert.throws(() => resolveServerConfig({ dnsUpstream: ['dns.example'] }, {}), /--dns-upstream .*"dns\.example" is not IP\[:PORT\]/);
});
