/**
 * What stops task networking on this host (LinuxNetwork.fingerprint): not
 * Linux, not root, iproute2's `ip` or `tc` or `nft` missing, nf_tables not loaded.
 * Each problem says how to fix it.
 */
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
