/**
 * The task DNS: one UDP socket and one TCP listener per Skiff subnet, bound
 * to the subnet bridge's gateway address, port 53 — never a wildcard or host
 * address, so it serves only the tasks on that bridge and several Skiff
 * servers (each with its own bridges) can run on one host. Service names come
 * from the ServiceDirectory (see dns-answer.ts for what is answered how); every
 * other name goes to the forwarder (dns-forwarder.ts: upstream resolvers, a
 * cache, TC over UDP when an answer does not fit), or is REFUSED without one.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { existsSync } from 'node:fs';
import * as dnsPacket from 'dns-packet';
import type { Network, SubnetSpec } from '../network/network.ts';
import { gatewayAddress, parseCidr } from '../model/cidr.ts';
import { answerQuery, type Resolution } from './dns-answer.ts';
import type { Asker } from './service-directory.ts';
import { clientUdpLimit, replyFor, type DnsForwarder } from './dns-forwarder.ts';

export const DNS_PORT = 53;

export interface DnsResponderOptions {
  /** Answers a name for an asker (absent: every question gets SERVFAIL). */
  resolve?: (name: string, from: Asker) => Resolution;
  log?: (msg: string) => void;
  port?: number;
  /** Answers names outside the service namespace; absent: they are REFUSED. */
  forwarder?: DnsForwarder;
}

export class DnsResponder {
  private readonly sockets = new Map<string, Promise<dgram.Socket | undefined>>();
  private readonly tcpServers = new Map<string, net.Server>();
  private closed = false;
  private asked = 0;
  private readonly resolve: ((name: string, from: Asker) => Resolution) | undefined;

  constructor(private readonly opts: DnsResponderOptions = {}) {
    this.resolve = opts.resolve;
  }

  /** Addresses the responder is bound to. */
  async addresses(): Promise<string[]> {
    const out: string[] = [];
    for (const [addr, s] of this.sockets) if (await s) out.push(addr);
    return out;
  }

  /**
   * Serves the subnet's gateway (idempotent). The gateway must already be on its
   * bridge (after Network.ensureSubnet). A failure to bind is logged, not thrown:
   * tasks still run, only without names.
   */
  async listen(subnet: Pick<SubnetSpec, 'id' | 'cidr'>): Promise<boolean> {
    if (this.closed) return false;
    const address = gatewayAddress(parseCidr(subnet.cidr));
    let pending = this.sockets.get(address);
    if (!pending) {
      pending = this.bind(address, subnet.id);
      this.sockets.set(address, pending);
    }
    const s = await pending;
    if (!s) this.sockets.delete(address); // let a later ensureSubnet try again
    return s !== undefined;
  }

  private bind(address: string, subnetId: string): Promise<dgram.Socket | undefined> {
    return new Promise((resolve) => {
      const socket = dgram.createSocket({ type: 'udp4' });
      socket.once('error', (e) => {
        this.opts.log?.(`service discovery: cannot serve DNS on ${address}:${this.opts.port ?? DNS_PORT} (${e.message}); tasks on subnet ${subnetId} will not resolve service names`);
        socket.close();
        resolve(undefined);
      });
      socket.on('message', (msg, rinfo) => this.onMessage(socket, msg, rinfo, subnetId));
      socket.bind({ address, port: this.opts.port ?? DNS_PORT, exclusive: true }, () => {
        socket.removeAllListeners('error');
        socket.on('error', (e) => this.opts.log?.(`service discovery on ${address}: ${e.message}`));
        void this.listenTcp(address, subnetId).then(() => resolve(socket));
      });
    });
  }

  /** DNS over TCP on the same address (answers longer than a UDP reply takes): 2-byte length, message. */
  private listenTcp(address: string, subnetId: string): Promise<void> {
    const server = net.createServer((conn) => {
      let buf = Buffer.alloc(0);
      conn.setTimeout(10_000, () => conn.destroy());
      conn.on('error', () => {});
      conn.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + msg.length);
          void this.respond(msg, { subnetId, address: conn.remoteAddress ?? '' }, Infinity).then((reply) => {
            if (!reply || conn.destroyed) return;
            const len = Buffer.alloc(2);
            len.writeUInt16BE(reply.length);
            conn.write(Buffer.concat([len, reply]));
          });
        }
      });
    });
    this.tcpServers.set(address, server);
    // Resolves once listening, or once the failure is logged (UDP still serves): listen() answers after both.
    return new Promise((resolve) => {
      server.once('error', (e) => {
        this.opts.log?.(`task DNS: cannot serve TCP on ${address}:${this.opts.port ?? DNS_PORT} (${e.message})`);
        resolve();
      });
      server.listen({ host: address, port: this.opts.port ?? DNS_PORT, exclusive: true }, () => resolve());
    });
  }

  private onMessage(socket: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo, subnetId: string): void {
    void this.respond(msg, { subnetId, address: rinfo.address }, 'udp').then((reply) => {
      if (reply) socket.send(reply, rinfo.port, rinfo.address);
    });
  }

  /** The encoded reply to one message (undefined: drop it). `limit` 'udp': the asker's UDP size. Never rejects. */
  private async respond(msg: Buffer, from: Asker, limit: 'udp' | number): Promise<Buffer | undefined> {
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(msg) as dnsPacket.DecodedPacket;
    } catch {
      return undefined; // not DNS: drop
    }
    const resolve = this.resolve;
    let forward = false;
    const reply = answerQuery(query, (name) => {
      if (!resolve) return { rcode: 'SERVFAIL' };
      try {
        const r = resolve(name, from);
        forward = r.rcode === 'REFUSED' && this.opts.forwarder !== undefined;
        return r;
      } catch (e) {
        this.opts.log?.(`service discovery: answering ${name} failed: ${e instanceof Error ? e.message : e}`);
        return { rcode: 'SERVFAIL' };
      }
    }, this.asked++);
    if (!reply) return undefined;
    const max = limit === 'udp' ? clientUdpLimit(query) : limit;
    if (forward) return replyFor(query, await this.opts.forwarder!.answer(query), max);
    return replyFor(query, reply as dnsPacket.DecodedPacket, max);
  }

  /**
   * Serves every subnet whose bridge already exists (after a restart, when no
   * ensureSubnet may come for subnets whose tasks were adopted).
   */
  async listenOnExisting(subnets: Pick<SubnetSpec, 'id' | 'cidr' | 'bridge'>[]): Promise<void> {
    await Promise.all(subnets.filter((s) => existsSync(`/sys/class/net/${s.bridge}`)).map((s) => this.listen(s)));
  }

  async close(): Promise<void> {
    this.closed = true;
    const sockets = [...this.sockets.values()];
    this.sockets.clear();
    for (const t of this.tcpServers.values()) t.close();
    this.tcpServers.clear();
    await Promise.all(sockets.map(async (p) => {
      const s = await p;
      if (s) await new Promise<void>((r) => s.close(() => r()));
    }));
  }
}

/**
 * The same network, whose ensureSubnet also starts serving DNS on the subnet's
 * gateway once the bridge carries it. Every other member is the network's own.
 */
export function withServiceDiscovery(network: Network, responder: DnsResponder): Network {
  const ensureSubnet = async (subnet: SubnetSpec) => {
    await network.ensureSubnet(subnet);
    await responder.listen(subnet);
  };
  return new Proxy(network, {
    get(target, prop) {
      if (prop === 'ensureSubnet') return ensureSubnet;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
