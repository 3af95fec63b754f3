/**
 * Linux interface names, MACs and what sysfs says about links: small pure or
 * read-only helpers of LinuxNetwork (linux-network.ts).
 */
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { ipToInt } from '../model/cidr.ts';

/** The kernel's limit on interface names (IFNAMSIZ - 1). */
export const IFNAMSIZ = 15;
const IFNAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
/** Checks a Linux interface name: 1..15 chars, letters, digits, `_ . -`, not starting with a symbol. */
export function isValidIfName(name: string): boolean {
  return typeof name === 'string' && IFNAME_RE.test(name) && name.length <= IFNAMSIZ;
}

/**
 * The MAC for an interface that carries `ipv4`: locally administered unicast
 * `0a:58:` + the four address bytes (the scheme the CNI bridge plugin uses).
 * Deriving it from the address means a reused address keeps its MAC, so the
 * neighbour caches of the other tasks and of the host stay right when a task
 * stops and a new one gets its address a moment later; a random MAC would
 * leave them pointing at a dead interface for seconds.
 */
export function macForIpv4(ipv4: string): string {
  const n = ipToInt(ipv4);
  return ['0a', '58', ...[24, 16, 8, 0].map((sh) => ((n >>> sh) & 255).toString(16).padStart(2, '0'))].join(':');
}

/** A task's host-side veth: vethPrefix + as many leading hex chars of the task id as fit (at most 12). */
export function hostVethName(vethPrefix: string, taskId: string): string {
  return vethPrefix + taskId.slice(0, Math.min(12, IFNAMSIZ - vethPrefix.length));
}

/**
 * A task's ifb device (its traffic out, shaped: bandwidth.ts): vethPrefix + one
 * hex char fewer than its veth + `i`, so it never takes a veth's name.
 */
export function hostIfbName(vethPrefix: string, taskId: string): string {
  return vethPrefix + taskId.slice(0, Math.min(12, IFNAMSIZ - 1 - vethPrefix.length)) + 'i';
}

/** The names a veth prefix gives task links: host veths and ifb devices (for cleanup). */
export function taskLinkNames(vethPrefix: string): { veth: RegExp; ifb: RegExp } {
  const hex = (n: number) => `[0-9a-f]{${Math.min(12, n - vethPrefix.length)}}`;
  return { veth: new RegExp(`^${vethPrefix}${hex(IFNAMSIZ)}$`), ifb: new RegExp(`^${vethPrefix}${hex(IFNAMSIZ - 1)}i$`) };
}

export function readSys(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

export function isBridge(name: string): boolean {
  return existsSync(`/sys/class/net/${name}/bridge`);
}

export function masterOf(name: string): string | undefined {
  try {
    return basename(readlinkSync(`/sys/class/net/${name}/master`));
  } catch {
    return undefined;
  }
}

export function lastJsonLine(stdout: string): unknown {
  const lines = stdout.split('\n').filter((l) => l.trim().startsWith('['));
  const last = lines.at(-1);
  return last === undefined ? undefined : JSON.parse(last);
}

export interface IpAddrInfo {
  family: string;
  local: string;
  prefixlen: number;
}
export interface IpLink {
  ifname: string;
  address?: string;
  flags?: string[];
  addr_info?: IpAddrInfo[];
}
export interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
}
