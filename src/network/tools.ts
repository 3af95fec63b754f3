/**
 * What stops task networking on this host (LinuxNetwork.fingerprint): not
 * Linux, not root, iproute2's `ip` or `tc` or `nft` missing, nf_tables not
 * loaded, the kernel without what bandwidth shaping uses (bandwidth.ts).
 * Each problem says how to fix it.
 */
import { randomBytes } from 'node:crypto';
import { run as exec } from '../util/exec.ts';

export async function networkToolProblems(ip: string, nft: string, tc = 'tc'): Promise<string[]> {
  const problems: string[] = [];
  if (process.platform !== 'linux') {
    return [`task networking needs Linux (network namespaces, veth, bridges, nftables); this host is ${process.platform}`];
  }
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root) problems.push('not running as root: creating namespaces, veths, bridges and nftables rules needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)');
  try {
    const r = await exec(ip, ['-V']);
    if (r.code !== 0 || !/iproute2/.test(r.stdout + r.stderr)) {
      problems.push(`\`${ip}\` is not iproute2's ip: apt-get install -y iproute2`);
    }
  } catch {
    problems.push(`\`${ip}\` (iproute2) is missing: apt-get install -y iproute2`);
  }
  try {
    if ((await exec(tc, ['-V'])).code !== 0) problems.push(`\`${tc}\` does not run: apt-get install -y iproute2`);
    else if (root) {
      const p = await shapingKernelProblem(ip, tc);
      if (p) problems.push(p);
    }
  } catch {
    problems.push(`\`${tc}\` (iproute2's traffic control: bandwidth by task size) is missing: apt-get install -y iproute2`);
  }
  try {
    const r = await exec(nft, ['-v']);
    if (r.code !== 0) problems.push(`\`${nft}\` does not run: apt-get install -y nftables`);
    else if (root) {
      const l = await exec(nft, ['list', 'tables']);
      if (l.code !== 0) problems.push(`nftables is not usable on this kernel (${l.stderr.trim()}): load the nf_tables module (modprobe nf_tables)`);
    }
  } catch {
    problems.push(`\`${nft}\` (nftables) is missing: apt-get install -y nftables`);
  }
  return problems;
}

/**
 * Whether this kernel has what shaping a task uses, tried on a scratch ifb
 * device (made and removed here): ifb, the tbf and ingress qdiscs, the u32
 * classifier and the mirred action.
 */
async function shapingKernelProblem(ip: string, tc: string): Promise<string | undefined> {
  const dev = `skprb${randomBytes(4).toString('hex')}`;
  const need = 'bandwidth by task size needs CONFIG_IFB, CONFIG_NET_SCH_TBF, CONFIG_NET_SCH_INGRESS, CONFIG_NET_CLS_U32 and CONFIG_NET_ACT_MIRRED (built in or as modules)';
  const made = await exec(ip, ['link', 'add', dev, 'type', 'ifb']);
  if (made.code !== 0) return `this kernel cannot make an ifb device (${made.stderr.trim()}): ${need}`;
  try {
    const script = [
      `qdisc add dev ${dev} root handle 1: tbf rate 1000000bit burst 65536 limit 196608`,
      `qdisc add dev ${dev} handle ffff: ingress`,
      `filter add dev ${dev} parent ffff: protocol all prio 1 handle 800::800 u32 match u32 0 0 action mirred egress redirect dev ${dev}`,
    ].join('\n');
    const r = await exec(tc, ['-batch', '-'], { input: script + '\n' });
    return r.code === 0 ? undefined : `this kernel cannot shape traffic as Skiff does (${r.stderr.trim().split('\n')[0]}): ${need}`;
  } finally {
    await exec(ip, ['link', 'del', dev]);
  }
}
