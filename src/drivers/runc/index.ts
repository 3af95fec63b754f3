/**
 * The runc driver's public face: `driver` for the registry (src/drivers/registry.ts);
 * RuncDriver and the spec builder for the runc driver's own tests. The driver
 * itself is the OCI-runtime driver of src/drivers/oci/ with runc's defaults.
 */
import type { DriverDefinition } from '../driver.ts';
import { OciDriver } from '../oci/oci-driver.ts';

export const driver: DriverDefinition = {
  name: 'runc',
  userNamespaces: true,
  description: 'runc containers supervised by conmon: namespaces, cgroup v1 limits, optional user namespace (shares the host kernel)',
  create: (c) =>
    new OciDriver({
      stateDir: c.runtimeDir,
      runcPath: c.tools?.runc,
      conmonPath: c.tools?.conmon,
      cgroupRoot: c.cgroupRoot,
      userns: c.userns,
      logSizeMaxBytes: c.logSizeMaxBytes,
      maxConcurrentCreates: c.maxConcurrentCreates,
    }),
};

export { OciDriver as RuncDriver, type RuncDriverOptions, type ContainerMeta, sanitizeName, UNKNOWN_EXIT_CODE } from '../oci/oci-driver.ts';
export { buildOciSpec, cpuSharesFor, DEFAULT_CAPABILITIES } from '../oci/spec.ts';
