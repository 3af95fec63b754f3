/**
 * The service discovery DNS responder: one UDP socket per Skiff subnet, bound
 * to the subnet bridge's gateway address, port 53 — never a wildcard or host
 * address, so it serves only the tasks on that bridge and several Skiff
 * servers (each with its own bridges) can run on one host. Answers come from
 * the ServiceDirectory (see dns-answer.ts for what is answered how); nothing is
 * ever forwarded to another resolver.
 */
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import * as dnsPacket from 'dns-packet';
import type { Network, SubnetSpec } from '../network/network.ts';
import { gatewayAddress, parseCidr } from '../model/cidr.ts';
import { answerQuery, type Resolution } from './dns-answer.ts';
import type { Asker } from './service-directory.ts';

export const DNS_PORT = 53;

export interface DnsResponderOptions {
  /** Answers a name for an asker (absent: every question gets SERVFAIL). */
  resolve?: (name: string, from: Asker) => Resolution;
  log?: (msg: string) => void;
  port?: number;
}

export class DnsResponder {
  private readonly sockets = new Map<string, Promise<dgram.Socket | undefined>>();
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
        resolve(socket);
      });
    });
  }

  private onMessage(socket: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo, subnetId: string): void {
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(msg) as dnsPacket.DecodedPacket;
    } catch {
      return; // not DNS: drop
    }
    const resolve = this.resolve;
    const reply = answerQuery(query, (name) => {
      if (!resolve) return { rcode: 'SERVFAIL' };
      try {
        return resolve(name, { subnetId, address: rinfo.address });
      } catch (e) {
        this.opts.log?.(`service discovery: answering ${name} failed: ${e instanceof Error ? e.message : e}`);
        return { rcode: 'SERVFAIL' };
      }
    }, this.asked++);
    if (reply) socket.send(dnsPacket.encode(reply), rinfo.port, rinfo.address);
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
