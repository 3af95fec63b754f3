/**
 * The network for hosts that cannot give tasks their own network namespace
 * (anything but Linux). Like amazon-ecs-agent's unsupported platform stubs:
 * fingerprint() says why, every other method throws the same clear error.
 */
import type { Network, SubnetSpec, TaskAttachment } from './network.ts';
import type { TaskBandwidth } from '../model/task-record.ts';

export class UnsupportedNetworkError extends Error {
  constructor(readonly platform: string) {
    super(
      `task networking is not supported on ${platform}: Skiff needs Linux (network namespaces, veth, bridges, nftables) to give each task its own address`,
    );
    this.name = 'UnsupportedNetworkError';
  }
}

export class UnsupportedNetwork implements Network {
  constructor(readonly platform: string = process.platform) {}

  async fingerprint(): Promise<string[]> {
    return [new UnsupportedNetworkError(this.platform).message];
  }
  async ensureSubnet(_subnet: SubnetSpec): Promise<void> {
    throw new UnsupportedNetworkError(this.platform);
  }
  async attach(_taskId: string, _subnet: SubnetSpec, _ipv4: string): Promise<TaskAttachment> {
    throw new UnsupportedNetworkError(this.platform);
  }
  async shape(_taskId: string, _bandwidth: TaskBandwidth): Promise<void> {
    throw new UnsupportedNetworkError(this.platform);
  }
  async shaping(_taskId: string): Promise<TaskBandwidth | undefined> {
    throw new UnsupportedNetworkError(this.platform);
  }
  async detach(_taskId: string): Promise<void> {
    throw new UnsupportedNetworkError(this.platform);
  }
  async listAttached(): Promise<string[]> {
    throw new UnsupportedNetworkError(this.platform);
  }
}
