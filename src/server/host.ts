/**
 * The host, checked before anything is created: the runtimes (one driver per
 * isolation, src/agent/runtime-set.ts; the server's default isolation must be
 * usable here) and the task network pass preflight (root, cgroups, runc, conmon, nftables...), the
 * kernel settings many tasks need are raised, and the registry credentials
 * file is read (a bad one stops the start here).
 */
import { join } from 'node:path';
import type { ServerConfig } from '../config/server-config.ts';
import { driverDefinition, driverNames, preflightCheck } from '../drivers/registry.ts';
import type { DriverDefinition, DriverHostConfig } from '../drivers/driver.ts';
import { isIsolation } from '../model/isolation.ts';
import { RuntimeSet } from '../agent/runtime-set.ts';
import { createNetwork } from '../network/index.ts';
import type { Network } from '../network/network.ts';
import { loadRegistryAuth } from '../images/registry-auth.ts';
import type { RegistryCredentials } from '../images/images.ts';
import { preflight } from './preflight.ts';
import { ensureBridgeNetfilter, ensureKeyQuota } from './host-tuning.ts';

export interface Host {
  /** Every runtime, routed per task (bind it to the task store with `bindTasks` before use). */
  driver: RuntimeSet;
  /** Task networking without service discovery (agent-side.ts adds the DNS responder). */
  network: Network;
  /** The driver's state: bundles, container logs, task files. */
  runtimeDir: string;
  /** Credentials for an image reference's registry (from the registry auth file). */
  registryCredentials(imageReference: string): RegistryCredentials | undefined;
}

export async function prepareHost(c: Readonly<ServerConfig>, log: (msg: string) => void): Promise<Host> {
  const runtimeDir = join(c.dataDir, 'runtime');
  const driver = await runtimeSet(c, {
    runtimeDir,
    tools: { runc: c.runcPath, conmon: c.conmonPath },
    cgroupRoot: c.cgroupRoot,
    userns: c.userns,
    logSizeMaxBytes: c.logs.containerLogMaxBytes,
    maxConcurrentCreates: c.maxConcurrentCreates,
  });
  const network = createNetwork({ netnsPrefix: c.netnsPrefix, vethPrefix: c.vethPrefix, nftTable: c.nftTable, hostAccess: c.hostAccess, taskHostPorts: c.taskHostPorts, egress: c.egress, egressInterfaces: c.egressInterfaces });
  await preflight([preflightCheck({ fingerprint: () => driver.ensure(c.isolation) }), network]);
  for (const change of ensureKeyQuota()) log(`raised ${change} (one session keyring per running container)`);
  for (const change of ensureBridgeNetfilter()) log(`${change} (security groups filter traffic between tasks on one bridge)`);
  return { driver, network, runtimeDir, registryCredentials: loadRegistryAuth(c.registryAuthFile) };
}

/** The runtimes of every isolation the registry has a driver for (made lazily, when a task needs one). */
export async function runtimeSet(c: Readonly<Pick<ServerConfig, 'isolation'>>, config: DriverHostConfig): Promise<RuntimeSet> {
  const names = driverNames().filter(isIsolation);
  const definitions = new Map<string, DriverDefinition>(await Promise.all(names.map(async (n) => [n, await driverDefinition(n)] as const)));
  return new RuntimeSet({ definitions, config, serverDefault: c.isolation });
}
