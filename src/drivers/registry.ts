/**
 * The driver registry: every runtime Skiff can run tasks with, by name. Adding a
 * runtime is one folder `src/drivers/<name>/` whose index.ts exports
 * `driver: DriverDefinition`, plus its one line in DRIVERS below
 * (src/drivers/registry.test.ts checks both stay in step, and that nothing
 * outside a driver's folder imports its files).
 *
 * Building blocks several drivers share (conmon supervision, OCI bundles,
 * cgroups) live in src/drivers/oci/, which is no driver of its own.
 *
 * Drivers are loaded when first asked for, so a runtime's code (and whatever it
 * imports) costs nothing on hosts that never pick it.
 */
import type { Driver, DriverDefinition, DriverFingerprint, DriverHostConfig } from './driver.ts';

type Loader = () => Promise<{ driver: DriverDefinition }>;

const DRIVERS: Record<string, Loader> = {
  runc: () => import('./runc/index.ts'),
  gvisor: () => import('./gvisor/index.ts'),
  fake: () => import('./fake/index.ts'),
  microvm: () => import('./microvm/index.ts'),
};

/** Every registered driver name, sorted. */
export function driverNames(): string[] {
  return Object.keys(DRIVERS).sort();
}

/** The definition of driver `name`; rejects naming the known drivers when there is none. */
export async function driverDefinition(name: string): Promise<DriverDefinition> {
  const load = Object.hasOwn(DRIVERS, name) ? DRIVERS[name] : undefined;
  if (!load) throw new Error(`unknown driver ${JSON.stringify(name)}: choose one of ${driverNames().join(', ')}`);
  const { driver } = await load();
  if (driver?.name !== name) throw new Error(`src/drivers/${name}/index.ts exports a driver named ${JSON.stringify(driver?.name)}: it must be ${JSON.stringify(name)}`);
  return driver;
}

/** Makes driver `name` for this host. */
export async function createDriver(name: string, config: DriverHostConfig): Promise<Driver> {
  return (await driverDefinition(name)).create(config);
}

/** What every registered driver can do on this host (for `skiff doctor` and choosing a driver per task). */
export async function fingerprintAll(config: DriverHostConfig): Promise<DriverFingerprint[]> {
  return Promise.all(driverNames().map(async (n) => (await createDriver(n, config)).fingerprint()));
}

/** A driver as a server preflight check: its reasons, if it cannot run tasks here. */
export function preflightCheck(driver: Pick<Driver, 'fingerprint'>): { fingerprint(): Promise<string[]> } {
  return { fingerprint: async () => (await driver.fingerprint()).reasons };
}
