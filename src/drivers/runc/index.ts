export { RuncDriver, type RuncDriverOptions, type ContainerMeta, sanitizeName, UNKNOWN_EXIT_CODE } from './runc-driver.ts';
export { buildOciSpec, cpuSharesFor, DEFAULT_CAPABILITIES } from './spec.ts';
