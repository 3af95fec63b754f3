/**
 * Which gVisor platform this host runs: the fastest that really works. `kvm`
 * (the Sentry runs guest code in hardware virtualisation) is tried first, when
 * /dev/kvm is there, by running `/bin/true` in a throwaway sandbox within a
 * time limit: some hosts' /dev/kvm (nested, or PVM flavours) opens fine and then
 * hangs. `ptrace` (every host) is the fallback. Debian 12's runsc (20221219)
 * predates `systrap`. Decided once per process and runsc path.
 */
import { spawn } from 'node:child_process';
import { constants as fsc, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type GvisorPlatform = 'kvm' | 'ptrace';

export interface PlatformChoice {
  platform: GvisorPlatform;
  /** Why the faster platforms were not taken (empty when kvm works). */
  notes: string[];
}

/** How long a probe sandbox may take before the platform counts as hanging, ms. */
const PROBE_TIMEOUT_MS = 4000;

const chosen = new Map<string, Promise<PlatformChoice>>();

/** The platform for runsc at `runscPath` (`forced`: no probing). */
export function choosePlatform(runscPath: string, forced?: GvisorPlatform): Promise<PlatformChoice> {
  if (forced) return Promise.resolve({ platform: forced, notes: [`platform ${forced} set by the operator`] });
  let p = chosen.get(runscPath);
  if (!p) {
    p = probeAll(runscPath);
    chosen.set(runscPath, p);
  }
  return p;
}

async function probeAll(runscPath: string): Promise<PlatformChoice> {
  const notes: string[] = [];
  const kvm = await fsp.access('/dev/kvm', fsc.R_OK | fsc.W_OK).then(() => true, () => false);
  if (!kvm) notes.push('kvm: no usable /dev/kvm');
  else {
    const r = await probe(runscPath, 'kvm');
    if (r === 'ok') return { platform: 'kvm', notes };
    notes.push(`kvm: ${r}`);
  }
  return { platform: 'ptrace', notes };
}

/** Runs `/bin/true` in a sandbox on `platform`: 'ok', or what went wrong. Leaves nothing behind. */
export async function probe(runscPath: string, platform: GvisorPlatform, timeoutMs = PROBE_TIMEOUT_MS): Promise<string> {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'skiff-runsc-probe-'));
  try {
    return await new Promise<string>((resolve) => {
      const child = spawn(runscPath, ['--root', root, `--platform=${platform}`, '--network=none', 'do', '/bin/true'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => {
        if (stderr.length < 2000) stderr += d.toString();
      });
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch { /* gone */ }
        resolve(`a test sandbox did not finish within ${timeoutMs} ms (hangs on this host)`);
      }, timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        resolve(`cannot run ${runscPath}: ${e.message}`);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve(code === 0 ? 'ok' : `a test sandbox failed (status ${code}): ${stderr.trim().split('\n').pop() ?? ''}`);
      });
    });
  } finally {
    await fsp.rm(root, { recursive: true, force: true }).catch(() => {});
  }
}
