import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as dnsPacket from 'dns-packet';
import { answerQuery, MAX_UDP_BYTES, RCODE, type Resolution } from './dns-answer.ts';

/** Encodes a query, runs it through answerQuery and decodes the wire bytes of the reply, as a resolver would. */
function roundTrip(q: dnsPacket.Packet, resolve: (name: string) => Resolution, rotate = 0) {
  const query = dnsPacket.decode(dnsPacket.encode(q)) as dnsPacket.DecodedPacket;
  const reply = answerQuery(query, resolve, rotate);
  if (!reply) return undefined;
  const d = dnsPacket.decode(dnsPacket.encode(reply)) as dnsPacket.DecodedPacket;
  return { ...d, rcode: d.flags! & 0xf, addresses: (d.answers ?? []).map((a) => (a as { data: string }).data) };
}
const query = (name: string, type: dnsPacket.RecordType = 'A'): dnsPacket.Packet => ({ type: 'query', id: 77, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] });
const found = (addresses: string[]) => () => ({ rcode: 'NOERROR' as const, addresses });

test('A for a service: its addresses, authoritative, TTL 1, id and question echoed, no recursion offered', () => {
  const r = roundTrip(query('web'), found(['10.0.0.5', '10.0.0.6']))!;
  assert.equal(r.id, 77);
  assert.equal(r.type, 'response');
  assert.equal(r.rcode, RCODE.NOERROR);
  assert.equal(r.flag_aa, true);
  assert.equal(r.flag_rd, true, 'RD copied');
  assert.equal(r.flag_ra, false);
  assert.deepEqual(r.questions, [{ name: 'web', type: 'A', class: 'IN' }]);
  assert.deepEqual(r.addresses, ['10.0.0.5', '10.0.0.6']);
  assert.deepEqual(r.answers!.map((a) => [a.name, a.type, (a as { ttl: number }).ttl]), [['web', 'A', 1], ['web', 'A', 1]]);
});

test('other types for a known name: NOERROR without answers; a known name without tasks: NOERROR, empty', () => {
  assert.deepEqual(roundTrip(query('web', 'AAAA'), found(['10.0.0.5']))!.addresses, []);
  assert.equal(roundTrip(query('web', 'AAAA'), found(['10.0.0.5']))!.rcode, RCODE.NOERROR);
  assert.deepEqual(roundTrip(query('web'), found([]))!.addresses, []);
});

test('unknown names NXDOMAIN, foreign names REFUSED, failures SERVFAIL', () => {
  assert.equal(roundTrip(query('nope.default.skiff.local'), () => ({ rcode: 'NXDOMAIN' }))!.rcode, RCODE.NXDOMAIN);
  const refused = roundTrip(query('example.com'), () => ({ rcode: 'REFUSED' }))!;
  assert.equal(refused.rcode, RCODE.REFUSED);
  assert.equal(refused.flag_aa, false);
  assert.equal(roundTrip(query('web'), () => ({ rcode: 'SERVFAIL' }))!.rcode, RCODE.SERVFAIL);
});

test('malformed or unusual queries', () => {
  const asked: string[] = [];
  const resolve = (n: string) => (asked.push(n), { rcode: 'NOERROR' as const, addresses: ['10.0.0.1'] });
  assert.equal(roundTrip({ type: 'response', id: 1, questions: [{ type: 'A', name: 'web' }] }, resolve), undefined, 'responses are dropped');
  assert.equal(roundTrip({ type: 'query', id: 1, questions: [] }, resolve)!.rcode, RCODE.FORMERR);
  assert.equal(roundTrip({ type: 'query', id: 1, questions: [{ type: 'A', name: 'a' }, { type: 'A', name: 'b' }] }, resolve)!.rcode, RCODE.FORMERR);
  assert.equal(roundTrip({ type: 'query', id: 1, questions: [{ type: 'A', name: 'web', class: 'CH' }] }, resolve)!.rcode, RCODE.REFUSED);
  const notify = roundTrip({ type: 'query', id: 1, flags: 4 << 11, questions: [{ type: 'SOA', name: 'web' }] }, resolve)!;
  assert.equal(notify.rcode, RCODE.NOTIMP);
  assert.equal((notify.flags! >> 11) & 0xf, 4, 'opcode echoed');
  assert.deepEqual(asked, [], 'the directory is never asked for refused shapes');
});

test('many tasks: the answer is capped to stay a small UDP packet', () => {
  const many = Array.from({ length: 100 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
  const q = dnsPacket.decode(dnsPacket.encode(query('big.default.skiff.local'))) as dnsPacket.DecodedPacket;
  const bytes = dnsPacket.encode(answerQuery(q, found(many))!);
  assert.ok(bytes.length <= MAX_UDP_BYTES && bytes.length > MAX_UDP_BYTES - 40, `${bytes.length} bytes`);
  const r = roundTrip(query('big.default.skiff.local'), found(many))!;
  assert.ok(r.addresses.length >= 10 && r.addresses.length < 100, `${r.addresses.length} addresses`);
  assert.deepEqual(r.addresses, many.slice(0, r.addresses.length));
});

test('rotation spreads askers over the addresses', () => {
  assert.deepEqual(roundTrip(query('web'), found(['a1', 'a2', 'a3'].map((_, i) => `10.0.0.${i + 1}`)), 4)!.addresses, ['10.0.0.2', '10.0.0.3', '10.0.0.1']);
});
