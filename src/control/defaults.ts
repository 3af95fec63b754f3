/**
 * What exists out of the box, as in a fresh AWS account: the `default` cluster and
 * a default VPC with one subnet per availability zone. Created once, on first start.
 */
import { newResourceId } from '../util/clock.ts';
import { parseCidr, intToIp } from '../network/cidr.ts';
import type { ControlContext } from './context.ts';
import { newClusterRecord } from './clusters.ts';

export const DEFAULT_CLUSTER = 'default';
const DEFAULT_SUBNET_PREFIX = 20;
const ZONES = ['a', 'b', 'c'];

export function ensureDefaults(ctx: ControlContext, opts: { vpcCidr: string; bridgePrefix: string }): void {
  ctx.db.transaction(() => {
    if (!ctx.clusters.get(DEFAULT_CLUSTER)) ctx.clusters.put(newClusterRecord(ctx, DEFAULT_CLUSTER, [], []));
    if (!ctx.networks.defaultVpc()) {
      const vpcId = newResourceId('vpc');
      ctx.networks.insertVpc({ id: vpcId, cidr: opts.vpcCidr, isDefault: true });
      const base = parseCidr(opts.vpcCidr).base;
      ZONES.forEach((zone, i) => {
        const subnetId = newResourceId('subnet');
        ctx.networks.insertSubnet({
          id: subnetId,
          vpcId,
          cidr: `${intToIp(base + i * 2 ** (32 - DEFAULT_SUBNET_PREFIX))}/${DEFAULT_SUBNET_PREFIX}`,
          availabilityZone: `${ctx.region}${zone}`,
          isDefault: true,
          bridge: `${opts.bridgePrefix}${subnetId.slice(7, 15)}`,
        });
      });
    }
  })();
}
