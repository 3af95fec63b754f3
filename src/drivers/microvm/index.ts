/**
 * The microVM driver's public face: `driver` for the registry (src/drivers/registry.ts);
 * MicrovmDriver for the driver's own tests and bench.
 */
import type { DriverDefinition } from '../driver.ts';
import { MicrovmDriver } from './microvm-driver.ts';

export const driver: DriverDefinition = {
  name: 'microvm',
  description: 'a QEMU microvm per task with its own guest kernel (KVM where usable, else TCG); image layers shared over virtio-fs',
  create: (c) =>
    new MicrovmDriver({
      runtimeDir: c.runtimeDir,
      tools: {
        qemu: c.tools?.['qemu-system-x86_64'],
        virtiofsd: c.tools?.virtiofsd,
        busybox: c.tools?.busybox,
        kernel: c.tools?.['microvm-kernel'],
      },
      userns: c.userns,
    }),
};

export { MicrovmDriver, type MicrovmDriverOptions, UNKNOWN_EXIT_CODE } from './microvm-driver.ts';
