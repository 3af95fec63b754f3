import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import { DnsResponder, withServiceDiscovery } from './dns-responder.ts';
import type { Network, SubnetSpec } from '../network/network.ts';

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind({ address: '127.0.0.1', port: 0 }, () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function ask(port: number, name: string): Promise<dnsPacket.DecodedPacket> {
  return new Promise((res, rej) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => (s.close(), rej(new Error('no answer'))), 2000);
    s.on('message', (m) => (clearTimeout(timer), s.close(), res(dnsPacket.decode(m) as dnsPacket.DecodedPacket)));
    s.send(dnsPacket.encode({ type: 'query', id: 9, questions: [{ type: 'A', name, class: 'IN' }] }), port, '127.0.0.1');
  });
}

test('the responder serves the subnet gateway over UDP, tells the directory which subnet and address asked', async () => {
  const port = await freeUdpPort();
  const asked: unknown[] = [];
  const dns = new DnsResponder({ port, resolve: (name, from) => (asked.push([name, from.subnetId]), { rcode: 'NOERROR', addresses: ['10.9.0.5'] }) });
  try {
    // 127.0.0.0/8's gateway (first address) is 127.0.0.1, a stand-in for a bridge address.
    assert.equal(await dns.listen({ id: 'subnet-lo', cidr: '127.0.0.0/8' }), true);
    assert.equal(await dns.listen({ id: 'subnet-lo', cidr: '127.0.0.0/8' }), true, 'idempotent');
    assert.deepEqual(await dns.addresses(), ['127.0.0.1']);
    const r = await ask(port, 'web');
    assert.deepEqual(r.answers!.map((a) => (a as { data: string }).data), ['10.9.0.5']);
    assert.deepEqual(asked, [['web', 'subnet-lo']]);
  } finally {
    await dns.close();
  }
  assert.equal(await dns.listen({ id: 'subnet-lo', cidr: '127.0.0.0/8' }), false, 'closed for good');
});

test('no directory yet: SERVFAIL; an address that cannot be bound is logged, not thrown', async () => {
  const port = await freeUdpPort();
  const logs: string[] = [];
  const dns = new DnsResponder({ port, log: (m) => logs.push(m) });
  try {
    await dns.listen({ id: 's', cidr: '127.0.0.0/8' });
    assert.equal((await ask(port, 'web')).flags! & 0xf, 2);
    // 192.0.2.1 (TEST-NET-1) is on no interface of this host.
    assert.equal(await dns.listen({ id: 'subnet-x', cidr: '192.0.2.0/24' }), false);
    assert.match(logs.join('\n'), /cannot serve DNS on 192\.0\.2\.1:\d+ .*subnet-x will not resolve service names/);
  } finally {
    await dns.close();
  }
});

test('withServiceDiscovery: ensureSubnet also starts DNS; everything else is the network itself', async () => {
  const calls: string[] = [];
  const inner = {
    prefix: 'x-',
    async fingerprint() {
      return [this.prefix];
    },
    async ensureSubnet(s: SubnetSpec) {
      calls.push(`ensure ${s.id}`);
    },
    async attach() {
      throw new Error('unused');
    },
    async detach() {},
    async shape() {},
    async shaping() {
      return undefined;
    },
    async listAttached() {
      return [];
    },
  };
  const listened: string[] = [];
  const responder = { listen: async (s: SubnetSpec) => (listened.push(s.id), true) } as unknown as DnsResponder;
  const net: Network = withServiceDiscovery(inner, responder);
  await net.ensureSubnet({ id: 'subnet-1', cidr: '10.0.0.0/20', vpcCidr: '10.0.0.0/16', bridge: 'br' });
  assert.deepEqual(calls, ['ensure subnet-1']);
  assert.deepEqual(listened, ['subnet-1']);
  assert.deepEqual(await net.fingerprint(), ['x-'], 'methods keep their own this');
  assert.equal((net as unknown as { prefix: string }).prefix, 'x-');
});
