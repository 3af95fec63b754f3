import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as dnsPacket from 'dns-packet';
import dgram from 'node:dgram';
import net from 'node:net';
import { cacheTtl, clientUdpLimit, DnsCache, DnsForwarder, parseUpstream, replyFor, resolvConfUpstreams } from './dns-forwarder.ts';
import { DnsResponder } from './dns-responder.ts';

const q = { type: 'A', name: 'x.example.test', class: 'IN' } as const;
const answer = (ttl: number, n = 1, rcode = 0) =>
  ({ id: 1, type: 'response', flags: rcode, questions: [q], answers: Array.from({ length: n }, (_, i) => ({ type: 'A', name: q.name, ttl, data: `198.19.0.${i + 1}` })) }) as unknown as dnsPacket.DecodedPacket;

test('upstreams: IP[:PORT] and resolv.conf nameservers; bad input says what to write', () => {
  assert.deepEqual(parseUpstream('10.0.0.2'), { address: '10.0.0.2', port: 53 });
  assert.deepEqual(parseUpstream('198.18.0.2:5353'), { address: '198.18.0.2', port: 5353 });
  assert.deepEqual(parseUpstream('[2001:db8::1]:53'), { address: '2001:db8::1', port: 53 });
  assert.throws(() => parseUpstream('dns.example:53'), /not a DNS upstream: write an IP address/);
  assert.throws(() => parseUpstream('10.0.0.2:70000'), /not a DNS upstream/);
  assert.deepEqual(resolvConfUpstreams('# c\nnameserver 127.0.0.53\nsearch x\nnameserver 10.0.0.1\n'), [
    { address: '127.0.0.53', port: 53 },
    { address: '10.0.0.1', port: 53 },
  ]);
});

test('cache: smallest TTL, capped; aged TTLs; expiry; SERVFAIL never cached; oldest out first', () => {
  assert.equal(cacheTtl(answer(60), 300), 60);
  assert.equal(cacheTtl(answer(9999), 300), 300);
  assert.equal(cacheTtl(answer(60, 0, 3), 300), 30, 'NXDOMAIN: 30 s');
  assert.equal(cacheTtl(answer(60, 1, 2), 300), 0, 'SERVFAIL: not cached');
  const c = new DnsCache(2, 300);
  c.put(q, answer(60), 1000);
  const hit = c.get({ ...q, name: 'X.Example.Test.' }, 11_000);
  assert.equal((hit?.answers?.[0] as { ttl: number }).ttl, 50, 'served with the remaining TTL, any case');
  assert.equal(c.get(q, 61_000), undefined, 'expired');
  c.put({ ...q, name: 'a' }, answer(60), 0);
  c.put({ ...q, name: 'b' }, answer(60), 0);
  c.put({ ...q, name: 'c' }, answer(60), 0);
  assert.equal(c.size, 2);
  assert.equal(c.get({ ...q, name: 'a' }, 1), undefined, 'the oldest left');
});

test('UDP replies over the asker size are truncated (TC, no records); TCP gets them whole', () => {
  const query = { id: 99, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [q] } as unknown as dnsPacket.DecodedPacket;
  assert.equal(clientUdpLimit(query), 512);
  const big = answer(60, 40);
  const cut = dnsPacket.decode(replyFor(query, big, 512)) as dnsPacket.DecodedPacket;
  assert.equal(cut.id, 99);
  assert.equal(cut.flag_tc, true);
  assert.equal(cut.answers?.length, 0);
  const whole = dnsPacket.decode(replyFor(query, big)) as dnsPacket.DecodedPacket;
  assert.equal(whole.answers?.length, 40);
  assert.equal(whole.flag_tc, false);
});

test('the responder forwards other names: UDP, TC then TCP from the upstream, cached; SERVFAIL when the upstream is silent', async () => {
  // The upstream on loopback: 'big' is 40 records (> 512 bytes: TC over UDP, whole over TCP); counts questions.
  const asked: string[] = [];
  const answerFor = (m: Buffer) => {
    const query = dnsPacket.decode(m) as dnsPacket.DecodedPacket;
    const name = query.questions![0]!.name;
    asked.push(name);
    return dnsPacket.encode({ ...answer(60, name === 'big.test' ? 40 : 1), id: query.id, questions: query.questions });
  };
  // One port number for both transports: TCP takes a free port, UDP the same number (retried if that one is taken).
  const upTcp = net.createServer((c) => c.once('data', (d) => {
    const a = answerFor(d.subarray(2));
    const len = Buffer.alloc(2);
    len.writeUInt16BE(a.length);
    c.end(Buffer.concat([len, a]));
  }));
  let up: dgram.Socket | undefined;
  for (let i = 0; i < 10 && !up; i++) {
    await new Promise<void>((r) => upTcp.listen(0, '127.0.0.1', () => r()));
    const candidate = dgram.createSocket('udp4');
    const ok = await new Promise<boolean>((r) => {
      candidate.once('error', () => r(false));
      candidate.bind((upTcp.address() as net.AddressInfo).port, '127.0.0.1', () => r(true));
    });
    if (ok) up = candidate;
    else await new Promise<void>((r) => (candidate.close(), upTcp.close(() => r())));
  }
  assert.ok(up, 'a port free for both UDP and TCP');
  up.on('message', (m, r) => {
    let a = answerFor(m);
    if (a.length > 512) a = dnsPacket.encode({ id: m.readUInt16BE(0), type: 'response', flags: dnsPacket.TRUNCATED_RESPONSE, questions: [] });
    up!.send(a, r.port, r.address);
  });
  const silent = dgram.createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
  const port = await new Promise<number>((r) => { const s = dgram.createSocket('udp4'); s.bind(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
  const dns = new DnsResponder({ port, resolve: () => ({ rcode: 'REFUSED' }), forwarder: new DnsForwarder({ upstreams: [`127.0.0.1:${up.address().port}`] }) });
  const askUdp = (name: string) => new Promise<dnsPacket.DecodedPacket>((res, rej) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => (s.close(), rej(new Error('no answer'))), 3000);
    s.on('message', (m) => (clearTimeout(timer), s.close(), res(dnsPacket.decode(m) as dnsPacket.DecodedPacket)));
    s.send(dnsPacket.encode({ type: 'query', id: 5, questions: [{ type: 'A', name, class: 'IN' }] }), port, '127.0.0.1');
  });
  try {
    assert.equal(await dns.listen({ id: 'subnet-lo', cidr: '127.0.0.0/8' }), true);
    const x = await askUdp('x.test');
    assert.equal(x.id, 5);
    assert.equal(x.answers?.length, 1);
    await askUdp('x.test');
    assert.deepEqual(asked, ['x.test'], 'the second came from the cache');
    const big = await askUdp('big.test');
    assert.equal(big.flag_tc, true);
    assert.deepEqual(asked.filter((n) => n === 'big.test').length, 2, 'UDP (TC) then TCP upstream');
    const whole = await new Promise<dnsPacket.DecodedPacket>((res, rej) => {
      const c = net.connect({ host: '127.0.0.1', port });
      let b = Buffer.alloc(0);
      c.on('connect', () => c.write(dnsPacket.streamEncode({ type: 'query', id: 6, questions: [{ type: 'A', name: 'big.test', class: 'IN' }] })));
      c.on('data', (d) => { b = Buffer.concat([b, d]); if (b.length >= 2 + b.readUInt16BE(0)) { c.end(); res(dnsPacket.decode(b.subarray(2)) as dnsPacket.DecodedPacket); } });
      c.on('error', rej);
    });
    assert.equal(whole.answers?.length, 40, 'whole over TCP, from the cache');
    assert.equal(asked.length, 3);
    const quiet = new DnsForwarder({ upstreams: [`127.0.0.1:${silent.address().port}`], timeoutMs: 100 });
    const failed = await quiet.answer({ id: 3, type: 'query', flags: 0, questions: [q] } as unknown as dnsPacket.DecodedPacket);
    assert.equal((failed.flags ?? 0) & 0xf, 2, 'SERVFAIL');
    assert.equal(quiet.cache.size, 0, 'not cached');
  } finally {
    await dns.close();
    up.close();
    upTcp.close();
    silent.close();
  }
});
