/**
 * Forwards the questions the service directory does not own (anything outside
 * `skiff.local`) to upstream resolvers, with a small TTL-respecting cache.
 *
 * Contract:
 *   - upstreams: the operator's (`--dns-upstream IP[:PORT]`, repeatable), else the
 *     `nameserver` lines of the host's /etc/resolv.conf (loopback stubs such as
 *     systemd-resolved's 127.0.0.53 included: the forwarder runs in the host's
 *     namespace, where they answer). Tried in order; each gets `timeoutMs`.
 *   - UDP first; an upstream answer with TC set is asked again over TCP, so the
 *     forwarder always holds the whole answer. The client gets it whole over TCP;
 *     over UDP only if it fits the client's size (512 bytes, or its EDNS size),
 *     otherwise a truncated reply (TC, no records) and the client retries over TCP.
 *   - no upstream answers in time → SERVFAIL (not cached).
 *   - cache: by (name, type, class), for the smallest TTL of the answer's records
 *     (negative answers: 30 s), at most `maxTtlSeconds`, `maxEntries` entries
 *     (oldest out first); served with the remaining TTL and the asker's id.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import * as dnsPacket from 'dns-packet';
import { isIP } from 'node:net';
import { parseUpstream, type Upstream } from '../model/dns-upstream.ts';

export { parseUpstream, UpstreamError, type Upstream } from '../model/dns-upstream.ts';

/** The nameservers of a resolv.conf text. */
export function resolvConfUpstreams(text: string): Upstream[] {
  const out: Upstream[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m && isIP(m[1]!.replace(/%.*$/, ''))) out.push({ address: m[1]!.replace(/%.*$/, ''), port: 53 });
  }
  return out;
}

export const MAX_UDP_PLAIN = 512;
const NEGATIVE_TTL_SECONDS = 30;

interface CacheEntry {
  packet: dnsPacket.DecodedPacket;
  storedAt: number;
  expiresAt: number;
}

/** The cache key of a question. */
export const cacheKey = (q: dnsPacket.Question) => `${q.name.toLowerCase().replace(/\.$/, '')}|${q.type}|${q.class ?? 'IN'}`;

/** Seconds an answer may be cached: its smallest record TTL (negative: 30 s), capped. 0: do not cache. */
export function cacheTtl(answer: dnsPacket.DecodedPacket, maxTtlSeconds: number): number {
  const rcode = (answer.flags ?? 0) & 0xf;
  if (rcode !== 0 && rcode !== 3) return 0; // SERVFAIL, REFUSED, ...: not cached
  if (((answer.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) !== 0) return 0;
  const records = [...(answer.answers ?? []), ...(answer.authorities ?? [])].filter((r) => r.type !== 'OPT');
  if (records.length === 0 || (answer.answers ?? []).length === 0) return Math.min(NEGATIVE_TTL_SECONDS, maxTtlSeconds);
  const ttl = Math.min(...records.map((r) => ('ttl' in r && typeof r.ttl === 'number' ? r.ttl : maxTtlSeconds)));
  return Math.max(0, Math.min(ttl, maxTtlSeconds));
}

/** A small TTL cache of whole answers (pure apart from the clock passed in). */
export class DnsCache {
  private readonly entries = new Map<string, CacheEntry>();
  constructor(private readonly maxEntries = 1000, private readonly maxTtlSeconds = 300) {}

  get size(): number {
    return this.entries.size;
  }

  put(q: dnsPacket.Question, answer: dnsPacket.DecodedPacket, now: number): void {
    const ttl = cacheTtl(answer, this.maxTtlSeconds);
    if (ttl <= 0) return;
    const key = cacheKey(q);
    this.entries.delete(key);
    this.entries.set(key, { packet: answer, storedAt: now, expiresAt: now + ttl * 1000 });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  /** The cached answer for `q` with TTLs lowered by the time spent in the cache; undefined when absent or expired. */
  get(q: dnsPacket.Question, now: number): dnsPacket.DecodedPacket | undefined {
    const key = cacheKey(q);
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (now >= e.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    const aged = Math.floor((now - e.storedAt) / 1000);
    const age = <T extends dnsPacket.Answer>(r: T): T => ('ttl' in r && typeof r.ttl === 'number' ? { ...r, ttl: Math.max(0, r.ttl - aged) } : r);
    return { ...e.packet, answers: (e.packet.answers ?? []).map(age), authorities: (e.packet.authorities ?? []).map(age) };
  }
}

/** The largest UDP answer the asker takes: its EDNS payload size, else 512. */
export function clientUdpLimit(query: dnsPacket.DecodedPacket): number {
  const opt = (query.additionals ?? []).find((r) => r.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  return Math.max(MAX_UDP_PLAIN, Math.min(opt?.udpPayloadSize ?? MAX_UDP_PLAIN, 4096));
}

/** `answer` for the asker: with its id; over UDP, truncated (TC, question only) when it is longer than `limit`. */
export function replyFor(query: dnsPacket.DecodedPacket, answer: dnsPacket.DecodedPacket, limit = Infinity): Buffer {
  const whole = dnsPacket.encode({ ...answer, id: query.id, type: 'response' });
  if (whole.length <= limit) return whole;
  return dnsPacket.encode({
    id: query.id,
    type: 'response',
    flags: ((answer.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE) & ~0xf | ((answer.flags ?? 0) & 0xf),
    questions: query.questions ?? [],
    answers: [],
  });
}

/** SERVFAIL for a query (no upstream answered). */
export function servfail(query: dnsPacket.DecodedPacket): dnsPacket.DecodedPacket {
  return {
    id: query.id,
    type: 'response',
    flags: (query.flags ?? 0) & dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | 2,
    questions: query.questions ?? [],
    answers: [],
  } as unknown as dnsPacket.DecodedPacket;
}

export interface DnsForwarderOptions {
  /** `IP[:PORT]` texts; absent: /etc/resolv.conf's nameservers. */
  upstreams?: readonly string[];
  timeoutMs?: number;
  now?: () => number;
  log?: (msg: string) => void;
  resolvConfPath?: string;
}

export class DnsForwarder {
  readonly upstreams: readonly Upstream[];
  readonly cache = new DnsCache();
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: DnsForwarderOptions = {}) {
    if (opts.upstreams) this.upstreams = opts.upstreams.map(parseUpstream);
    else {
      let text = '';
      try {
        text = readFileSync(opts.resolvConfPath ?? '/etc/resolv.conf', 'utf8');
      } catch {
        /* no resolv.conf: no upstreams, every forwarded question gets SERVFAIL */
      }
      this.upstreams = resolvConfUpstreams(text);
    }
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.now = opts.now ?? Date.now;
  }

  /** The whole answer to a query (from the cache or an upstream), or SERVFAIL. Never throws. */
  async answer(query: dnsPacket.DecodedPacket): Promise<dnsPacket.DecodedPacket> {
    const q = query.questions?.[0];
    if (!q) return servfail(query);
    const cached = this.cache.get(q, this.now());
    if (cached) return cached;
    const ask = dnsPacket.encode({ id: Math.floor(Math.random() * 65536), type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [q] });
    for (const u of this.upstreams) {
      try {
        let reply = await this.udp(u, ask);
        if (((reply.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) !== 0) reply = await this.tcp(u, ask);
        this.cache.put(q, reply, this.now());
        return reply;
      } catch (e) {
        this.opts.log?.(`dns forwarder: ${u.address}:${u.port} did not answer ${q.name} (${(e as Error).message})`);
      }
    }
    return servfail(query);
  }

  private udp(u: Upstream, ask: Buffer): Promise<dnsPacket.DecodedPacket> {
    const id = ask.readUInt16BE(0);
    return new Promise((resolve, reject) => {
      const s = dgram.createSocket(net.isIPv6(u.address) ? 'udp6' : 'udp4');
      const done = (err?: Error, p?: dnsPacket.DecodedPacket) => {
        clearTimeout(timer);
        s.close();
        if (err) reject(err);
        else resolve(p!);
      };
      const timer = setTimeout(() => done(new Error('timeout')), this.timeoutMs);
      s.on('error', (e) => done(e));
      s.on('message', (msg) => {
        try {
          const p = dnsPacket.decode(msg) as dnsPacket.DecodedPacket;
          if (p.id === id && p.type === 'response') done(undefined, p);
        } catch {
          /* not DNS: keep waiting */
        }
      });
      s.send(ask, u.port, u.address);
    });
  }

  private tcp(u: Upstream, ask: Buffer): Promise<dnsPacket.DecodedPacket> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: u.address, port: u.port });
      let buf = Buffer.alloc(0);
      const timer = setTimeout(() => sock.destroy(new Error('timeout')), this.timeoutMs);
      sock.on('connect', () => sock.write(dnsPacket.streamEncode({ ...dnsPacket.decode(ask), type: 'query' } as dnsPacket.Packet)));
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          clearTimeout(timer);
          sock.end();
          try {
            resolve(dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))) as dnsPacket.DecodedPacket);
          } catch (e) {
            reject(e as Error);
          }
        }
      });
      sock.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      sock.on('close', () => reject(new Error('closed before an answer')));
    });
  }
}
