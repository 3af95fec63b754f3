/**
 * The fake driver's public face (tests and scheduler-scale measurement only:
 * nothing really runs). `driver` makes it the registry way, from the host
 * settings: one FakeHost per runtime directory, kept for the life of the
 * process, so a driver made again over the same directory is a restarted
 * server adopting what still "runs". Test code may also use FakeDriver and
 * FakeHost directly, to steer the host.
 */
import { join } from 'node:path';
import type { DriverDefinition } from '../driver.ts';
import { FakeDriver } from './fake-driver.ts';
import { FakeHost } from './fake-host.ts';

const hosts = new Map<string, FakeHost>();

/** The fake host of a runtime directory (made on first use; logs under `<runtimeDir>/fake/logs`). */
export function fakeHostAt(runtimeDir: string): FakeHost {
  let host = hosts.get(runtimeDir);
  if (!host) hosts.set(runtimeDir, (host = new FakeHost({ logDir: join(runtimeDir, 'fake', 'logs') })));
  return host;
}

export const driver: DriverDefinition = {
  name: 'fake',
  description: 'FAKE, for tests and scale measurement: containers are in-memory programs; nothing runs, nothing is limited or isolated',
  create: (c) => new FakeDriver(fakeHostAt(c.runtimeDir)),
};

export { FakeDriver, type FakeDriverOptions } from './fake-driver.ts';
export { FakeHost, type FakeHostOptions, type FakeContainer, type FakeUsage, type FaultableOp } from './fake-host.ts';
export { parseProgram, type Program, type Step } from './program.ts';
