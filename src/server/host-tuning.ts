/**
 * Kernel settings a host running many tasks needs.
 *
 * Every runc container gets its own session keyring, owned by the container's
 * root — with user namespaces that is one host uid (100000) for all tasks, and
 * the kernel's default quota for a non-root uid is 200 keys (20,000 bytes). At
 * the 201st running task `runc create` fails with "unable to join session
 * keyring: disk quota exceeded". The server raises the quota (never lowers it)
 * at start; `scripts/setup.sh` also writes it to /etc/sysctl.d so it persists.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/** Enough for tens of thousands of tasks (each keyring is one key of ~42 bytes). */
export const KEY_QUOTA = { maxkeys: 20_000, maxbytes: 2_000_000 };

/** Raises kernel.keys.maxkeys/maxbytes to at least KEY_QUOTA; returns what it changed. */
export function ensureKeyQuota(procDir = '/proc/sys/kernel/keys'): string[] {
  const changed: string[] = [];
  for (const [name, want] of Object.entries(KEY_QUOTA)) {
    const file = `${procDir}/${name}`;
    const have = Number(readFileSync(file, 'utf8').trim());
    if (have < want) {
      writeFileSync(file, `${want}\n`);
      changed.push(`kernel.keys.${name} ${have} → ${want}`);
    }
  }
  return changed;
}

/**
 * Security groups filter task-to-task traffic in the host's inet hooks
 * (network/security-group-firewall.ts). Traffic between two tasks on one
 * bridge reaches those hooks only through br_netfilter with
 * net.bridge.bridge-nf-call-iptables = 1 — without it, tasks on the same
 * subnet would reach each other whatever their groups say. The server loads the
 * module if it must and turns the switch on (setup.sh persists both); it
 * refuses to start when it cannot, rather than run tasks unfiltered.
 */
export function ensureBridgeNetfilter(procDir = '/proc/sys/net/bridge', modprobe: () => unknown = () => spawnSync('modprobe', ['br_netfilter'], { stdio: 'ignore' })): string[] {
  const file = `${procDir}/bridge-nf-call-iptables`;
  const changed: string[] = [];
  if (!existsSync(file)) {
    modprobe();
    if (!existsSync(file)) {
      throw new Error('security groups need the br_netfilter kernel module: run `modprobe br_netfilter` (scripts/setup.sh does it and persists it)');
    }
    changed.push('loaded br_netfilter');
  }
  if (readFileSync(file, 'utf8').trim() !== '1') {
    writeFileSync(file, '1\n');
    changed.push('net.bridge.bridge-nf-call-iptables 0 → 1');
  }
  return changed;
}
