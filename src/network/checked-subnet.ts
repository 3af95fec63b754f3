/**
 * The error of the network layer, and a subnet spec checked once (bridge name,
 * CIDRs) with its parsed blocks and gateway, for LinuxNetwork.
 */
import type { SubnetSpec } from './network.ts';
import { gatewayAddress, parseCidr, subnetCidrProblem, type Ipv4Cidr } from '../model/cidr.ts';
import { isValidIfName } from './links.ts';

export class NetworkError extends Error {
  constructor(message: string, readonly detail?: string) {
    super(detail ? `${message}: ${detail.trim()}` : message);
    this.name = 'NetworkError';
  }
}

export interface CheckedSubnet {
  spec: SubnetSpec;
  cidr: Ipv4Cidr;
  vpc: Ipv4Cidr;
  gateway: string;
}

export function checkSubnet(subnet: SubnetSpec): CheckedSubnet {
  if (!subnet || typeof subnet !== 'object') throw new NetworkError('subnet spec is missing');
  if (!isValidIfName(subnet.bridge)) {
    throw new NetworkError(
      `invalid bridge name "${subnet.bridge}" for subnet ${subnet.id}: use 1..15 letters, digits, '_', '.', '-'`,
    );
  }
  const problem = subnetCidrProblem(subnet.cidr, subnet.vpcCidr);
  if (problem) throw new NetworkError(`subnet ${subnet.id}: ${problem}`);
  const cidr = parseCidr(subnet.cidr);
  return { spec: subnet, cidr, vpc: parseCidr(subnet.vpcCidr), gateway: gatewayAddress(cidr) };
}
