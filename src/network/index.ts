/** Picks the network implementation for this platform. */
import type { Network } from './network.ts';
import { LinuxNetwork, type LinuxNetworkOptions } from './linux-network.ts';
import { UnsupportedNetwork } from './unsupported-network.ts';

export type { Network, SubnetSpec, TaskAttachment } from './network.ts';
export { LinuxNetwork, NetworkError, type LinuxNetworkOptions } from './linux-network.ts';
export { UnsupportedNetwork, UnsupportedNetworkError } from './unsupported-network.ts';

export function createNetwork(opts: LinuxNetworkOptions = {}, platform: string = process.platform): Network {
  return platform === 'linux' ? new LinuxNetwork(opts) : new UnsupportedNetwork(platform);
}
