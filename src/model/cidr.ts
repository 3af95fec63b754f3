/**
 * Small, pure IPv4 helpers for subnets and task addresses.
 *
 * Addresses are handled as unsigned 32-bit numbers. Parsing is strict: four
 * decimal octets 0..255 without leading zeros (so "010.0.0.1" is never read as
 * octal by some other tool), and a CIDR's host bits must be zero unless the
 * caller asks for them to be masked off.
 *
 * AWS reserves five addresses in every subnet: the network address, network+1
 * (VPC router, our gateway), network+2 (DNS), network+3 (future use) and the
 * broadcast address. Skiff reserves the same ones, so a /24 has 251 usable
 * addresses, a /28 has 11.
 */

export interface Ipv4Cidr {
  /** Network address as an unsigned 32-bit number. */
  readonly base: number;
  readonly prefixLength: number;
  /** Number of addresses in the block (2^(32-prefix)). */
  readonly size: number;
}

/** AWS limits for VPC and subnet CIDR blocks. */
export const MIN_SUBNET_PREFIX = 16;
export const MAX_SUBNET_PREFIX = 28;
/** Addresses AWS reserves at the start of every subnet (network, router, DNS, future). */
export const RESERVED_AT_START = 4;
/** Addresses AWS reserves at the end (broadcast). */
export const RESERVED_AT_END = 1;

const OCTET = /^(?:0|[1-9][0-9]{0,2})$/;

/** Parses dotted-quad IPv4 into an unsigned 32-bit number; throws on anything else. */
export function ipToInt(ip: string): number {
  if (typeof ip !== 'string') throw new Error(`invalid IPv4 address: ${String(ip)}`);
  const parts = ip.split('.');
  if (parts.length !== 4) throw new Error(`invalid IPv4 address: "${ip}"`);
  let n = 0;
  for (const p of parts) {
    if (!OCTET.test(p)) throw new Error(`invalid IPv4 address: "${ip}"`);
    const v = Number(p);
    if (v > 255) throw new Error(`invalid IPv4 address: "${ip}" (octet ${v} > 255)`);
    n = n * 256 + v;
  }
  return n >>> 0;
}

export function intToIp(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`not an IPv4 number: ${n}`);
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function isIpv4(ip: string): boolean {
  try {
    ipToInt(ip);
    return true;
  } catch {
    return false;
  }
}

function maskOf(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** Dotted netmask for a prefix length, e.g. 24 → 255.255.255.0. */
export function prefixToNetmask(prefixLength: number): string {
  return intToIp(maskOf(prefixLength));
}

export interface ParseCidrOptions {
  /** Mask off host bits ("10.0.0.5/24" → 10.0.0.0/24) instead of rejecting them. */
  allowHostBits?: boolean;
}

/** Parses "a.b.c.d/n". Throws with a message that says what is wrong. */
export function parseCidr(cidr: string | Ipv4Cidr, opts: ParseCidrOptions = {}): Ipv4Cidr {
  if (typeof cidr !== 'string') return cidr;
  const m = /^([0-9.]+)\/(0|[1-9][0-9]?)$/.exec(cidr);
  if (!m) throw new Error(`invalid CIDR block: "${cidr}" (expected a.b.c.d/n)`);
  const prefixLength = Number(m[2]);
  if (prefixLength > 32) throw new Error(`invalid CIDR block: "${cidr}" (prefix length ${prefixLength} > 32)`);
  const addr = ipToInt(m[1]!);
  const mask = maskOf(prefixLength);
  const base = (addr & mask) >>> 0;
  if (base !== addr && !opts.allowHostBits) {
    throw new Error(`invalid CIDR block: "${cidr}" has host bits set (did you mean ${intToIp(base)}/${prefixLength}?)`);
  }
  return { base, prefixLength, size: 2 ** (32 - prefixLength) };
}

export function formatCidr(c: Ipv4Cidr): string {
  return `${intToIp(c.base)}/${c.prefixLength}`;
}

export function networkAddress(cidr: string | Ipv4Cidr): string {
  return intToIp(parseCidr(cidr).base);
}

export function broadcastAddress(cidr: string | Ipv4Cidr): string {
  const c = parseCidr(cidr);
  return intToIp(c.base + c.size - 1);
}

/** The subnet's gateway: the first usable address (network + 1), as the AWS VPC router. */
export function gatewayAddress(cidr: string | Ipv4Cidr): string {
  const c = parseCidr(cidr);
  if (c.size < 4) throw new Error(`CIDR block ${formatCidr(c)} is too small to have a gateway`);
  return intToIp(c.base + 1);
}

/** Address at offset `n` from the network address (0 = network). Throws when outside the block. */
export function nthAddress(cidr: string | Ipv4Cidr, n: number): string {
  const c = parseCidr(cidr);
  if (!Number.isInteger(n) || n < 0 || n >= c.size) {
    throw new Error(`offset ${n} is outside ${formatCidr(c)} (0..${c.size - 1})`);
  }
  return intToIp(c.base + n);
}

/** Number of addresses a task can get (all but the five AWS reserves). */
export function usableCount(cidr: string | Ipv4Cidr): number {
  const c = parseCidr(cidr);
  return Math.max(0, c.size - RESERVED_AT_START - RESERVED_AT_END);
}

/** The n-th (0-based) address a task can get: network+4+n, up to broadcast-1. */
export function nthUsable(cidr: string | Ipv4Cidr, n: number): string {
  const c = parseCidr(cidr);
  const count = usableCount(c);
  if (!Number.isInteger(n) || n < 0 || n >= count) {
    throw new Error(`host index ${n} is outside the ${count} usable addresses of ${formatCidr(c)}`);
  }
  return intToIp(c.base + RESERVED_AT_START + n);
}

/** Every address a task can get, in order (excludes the first four and the broadcast). */
export function* usableAddresses(cidr: string | Ipv4Cidr): Generator<string> {
  const c = parseCidr(cidr);
  const end = c.base + c.size - RESERVED_AT_END;
  for (let a = c.base + RESERVED_AT_START; a < end; a++) yield intToIp(a);
}

/** True when `ip` lies in the block (reserved addresses included). */
export function containsIp(cidr: string | Ipv4Cidr, ip: string): boolean {
  const c = parseCidr(cidr);
  const a = ipToInt(ip);
  return a >= c.base && a < c.base + c.size;
}

/** True when `inner` lies entirely in `outer` (equal blocks count). */
export function containsCidr(outer: string | Ipv4Cidr, inner: string | Ipv4Cidr): boolean {
  const o = parseCidr(outer);
  const i = parseCidr(inner);
  return i.prefixLength >= o.prefixLength && i.base >= o.base && i.base + i.size <= o.base + o.size;
}

/** True when `ip` is in the block and not one of its five reserved addresses. */
export function isUsable(cidr: string | Ipv4Cidr, ip: string): boolean {
  const c = parseCidr(cidr);
  const a = ipToInt(ip);
  return a >= c.base + RESERVED_AT_START && a < c.base + c.size - RESERVED_AT_END;
}

/** True when the two blocks share at least one address. */
export function overlaps(a: string | Ipv4Cidr, b: string | Ipv4Cidr): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  return x.base < y.base + y.size && y.base < x.base + x.size;
}

/**
 * What is wrong with a VPC CIDR block, or null when it is fine
 * (a valid block, prefix /16../28 as AWS allows).
 */
export function vpcCidrProblem(cidr: string): string | null {
  let c: Ipv4Cidr;
  try {
    c = parseCidr(cidr);
  } catch (e) {
    return (e as Error).message;
  }
  if (c.prefixLength < MIN_SUBNET_PREFIX || c.prefixLength > MAX_SUBNET_PREFIX) {
    return `CIDR block ${cidr} has prefix /${c.prefixLength}; it must be between /${MIN_SUBNET_PREFIX} and /${MAX_SUBNET_PREFIX}`;
  }
  return null;
}

/**
 * What is wrong with a subnet CIDR block, or null when it is fine: a valid
 * block, prefix /16../28, and inside the VPC block when one is given.
 */
export function subnetCidrProblem(cidr: string, vpcCidr?: string): string | null {
  const p = vpcCidrProblem(cidr);
  if (p) return p;
  if (vpcCidr !== undefined) {
    const v = vpcCidrProblem(vpcCidr);
    if (v) return `VPC ${v}`;
    if (!containsCidr(vpcCidr, cidr)) return `subnet CIDR block ${cidr} is not within the VPC CIDR block ${vpcCidr}`;
  }
  return null;
}
