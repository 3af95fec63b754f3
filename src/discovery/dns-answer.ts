/**
 * Builds the DNS response to one query packet (pure; the responder owns the
 * sockets). Skiff answers only for service names (see namespace.ts):
 * - A for a known service → its addresses (TTL 1 s: tasks come and go);
 * - any other type for a known service → NOERROR without answers;
 * - a name under skiff.local that is no service → NXDOMAIN;
 * - anything else → REFUSED (the responder then hands it to the forwarder, dns-forwarder.ts, if it has one);
 * - not a standard query → NOTIMP; no single IN question → FORMERR.
 * Recursion is never offered (RA = 0).
 */
import * as dnsPacket from 'dns-packet';

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type Rcode = keyof typeof RCODE;

/** What the directory says about a name. */
export type Resolution = { rcode: 'NOERROR'; addresses: string[] } | { rcode: 'NXDOMAIN' | 'REFUSED' | 'SERVFAIL' };

export const ANSWER_TTL_SECONDS = 1;
/** Answers are cut to fit a plain 512-byte UDP message (no EDNS, no TCP fallback needed). */
export const MAX_UDP_BYTES = 512;

const OPCODE_QUERY = 0;

/**
 * The response to `query`, or undefined when it must be dropped (it is itself a
 * response). `rotate` starts the address list at that offset, so successive
 * askers spread over the tasks (resolvers mostly take the first address).
 */
export function answerQuery(query: dnsPacket.DecodedPacket, resolve: (name: string) => Resolution, rotate = 0): dnsPacket.Packet | undefined {
  if (query.type === 'response') return undefined;
  const opcode = ((query.flags ?? 0) >> 11) & 0xf;
  const rd = (query.flags ?? 0) & dnsPacket.RECURSION_DESIRED;
  const reply = (rcode: Rcode, answers: dnsPacket.Answer[] = [], aa = false): dnsPacket.Packet => ({
    id: query.id,
    type: 'response',
    flags: (opcode << 11) | (aa ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | rd | RCODE[rcode],
    questions: query.questions ?? [],
    answers,
  });
  if (opcode !== OPCODE_QUERY) return reply('NOTIMP');
  const questions = query.questions ?? [];
  if (questions.length !== 1) return reply('FORMERR');
  const q = questions[0]!;
  if (q.class !== undefined && q.class !== 'IN') return reply('REFUSED');
  const r = resolve(q.name);
  if (r.rcode !== 'NOERROR') return reply(r.rcode, [], r.rcode === 'NXDOMAIN');
  const k = r.addresses.length ? rotate % r.addresses.length : 0;
  const addresses = [...r.addresses.slice(k), ...r.addresses.slice(0, k)];
  const answers: dnsPacket.Answer[] = q.type === 'A' ? addresses.map((data) => ({ type: 'A', class: 'IN', name: q.name, ttl: ANSWER_TTL_SECONDS, data })) : [];
  const out = reply('NOERROR', answers, true);
  while (answers.length && dnsPacket.encodingLength(out) > MAX_UDP_BYTES) answers.pop();
  return out;
}
