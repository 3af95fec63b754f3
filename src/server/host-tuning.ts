/**
 * Kernel limits a host running many tasks needs raised.
 *
 * Every runc container gets its own session keyring, owned by the container's
 * root — with user namespaces that is one host uid (100000) for all tasks, and
 * the kernel's default quota for a non-root uid is 200 keys (20,000 bytes). At
 * the 201st running task `runc create` fails with "unable to join session
 * keyring: disk quota exceeded". The server raises the quota (never lowers it)
 * at start; `scripts/setup.sh` also writes it to /etc/sysctl.d so it persists.
 */
import { readFileSync, writeFileSync } from 'node:fs';

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
