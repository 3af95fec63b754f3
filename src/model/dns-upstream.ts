/** A DNS upstream resolver as the operator writes it (`--dns-upstream IP[:PORT]`). */
import { isIP } from 'node:net';

export interface Upstream {
  address: string;
  port: number;
}

export class UpstreamError extends Error {
  override name = 'UpstreamError';
}

/** Parses `IP[:PORT]` (IPv6 as `[addr]:port` or a bare address). */
export function parseUpstream(text: string): Upstream {
  const s = String(text).trim();
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? (isIP(s) ? [s, s, undefined] : /^([^:]+):(\d+)$/.exec(s));
  const address = m?.[1];
  const port = m?.[2] === undefined ? 53 : Number(m[2]);
  if (!address || !isIP(address) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UpstreamError(`"${s}" is not a DNS upstream: write an IP address with an optional port, e.g. 10.0.0.2, 10.0.0.2:5353 or [2001:db8::1]:53`);
  }
  return { address, port };
}
