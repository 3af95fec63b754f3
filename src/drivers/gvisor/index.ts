/**
 * The gvisor driver: each container runs in a gVisor sandbox (Debian's `runsc`),
 * its own application kernel (the Sentry) between the task and the host kernel.
 * It is the OCI-runtime driver of src/drivers/oci/ (conmon supervision, cgroup
 * v1 limits, overlay rootfs, exit files, adoption) with runsc's profile:
 *
 * - platform: kvm when it really works here, else ptrace (platform.ts); the
 *   fingerprint's `platform` says which;
 * - network `host` inside the task's network namespace: the Sentry's sockets
 *   are the namespace's, so the task keeps its address, its security groups
 *   (host-side nftables) and its route to the metadata endpoint unchanged, and
 *   the containers of one task (one sandbox each) share localhost as on runc.
 *   (`--network=sandbox` would move the interface into one sandbox's netstack,
 *   leaving the task's other containers without it);
 * - the container's seccomp profile applied inside the sandbox too
 *   (`--oci-seccomp`): the same syscalls answer EPERM as on runc, and adding
 *   SYS_PTRACE opens ptrace there as well;
 * - exec through `runsc exec` (the process must start in the sandbox's kernel);
 * - no user namespace mapping (the sandbox already runs as an unprivileged,
 *   namespaced host process; runsc does not take uid mappings).
 *
 * State lives under `<runtimeDir>/gvisor/` (layout: src/drivers/oci/paths.ts).
 */
import path from 'node:path';
import type { DriverDefinition, DriverFingerprint } from '../driver.ts';
import { hostProblems } from '../oci/fingerprint.ts';
import { OciDriver } from '../oci/oci-driver.ts';
import { choosePlatform } from './platform.ts';

const DEFAULT_RUNSC = '/usr/bin/runsc';
const DEFAULT_CONMON = '/usr/bin/conmon';

async function fingerprint(runscPath: string, conmonPath: string): Promise<DriverFingerprint> {
  const reasons = await hostProblems({ runcPath: runscPath, conmonPath }, 'runsc');
  const choice = reasons.length === 0 ? await choosePlatform(runscPath) : undefined;
  return {
    name: 'gvisor',
    available: reasons.length === 0,
    reasons,
    isolation: 'application-kernel',
    ...(choice ? { platform: choice.platform } : {}),
    features: { exec: true, stats: true, writableLayerUsage: true },
    attributes: { runsc: runscPath, conmon: conmonPath, network: 'host (inside the task namespace)', ...(choice?.notes.length ? { platformNotes: choice.notes.join('; ') } : {}) },
  };
}

export const driver: DriverDefinition = {
  name: 'gvisor',
  description: 'gVisor sandboxes (runsc) supervised by conmon: each container behind its own application kernel, cgroup v1 limits (does not share the host kernel)',
  create: (c) => {
    const runscPath = c.tools?.runsc ?? DEFAULT_RUNSC;
    const conmonPath = c.tools?.conmon ?? DEFAULT_CONMON;
    return new OciDriver({
      profile: {
        name: 'gvisor',
        fingerprint: () => fingerprint(runscPath, conmonPath),
        createArgs: async () => [`--platform=${(await choosePlatform(runscPath)).platform}`, '--network=host', '--oci-seccomp'],
        execVia: 'runtime',
        checkExecutable: true,
        userns: false,
      },
      stateDir: path.join(c.runtimeDir, 'gvisor'),
      runcPath: runscPath,
      conmonPath,
      cgroupRoot: c.cgroupRoot,
      logSizeMaxBytes: c.logSizeMaxBytes,
      maxConcurrentCreates: c.maxConcurrentCreates,
    });
  },
};
