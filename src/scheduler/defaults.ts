/**
 * What exists out of the box, as in a fresh AWS account: the `default` cluster and
 * a default VPC with one subnet per availability zone. Created once, on first start.
 */
import { newResourceId, type Clock } from '../util/clock.ts';
import { parseCidr, intToIp } from '../model/cidr.ts';
import { clusterArn, type ArnContext } from '../ecs/arns.ts';
import type { ClusterRecord } from '../store/clusters-repo.ts';
import type { Repos } from '../store/repos.ts';

export const DEFAULT_CLUSTER = 'default';
export const CAPACITY_PROVIDERS = ['FARGATE', 'FARGATE_SPOT'];
const DEFAULT_SUBNET_PREFIX = 20;
const ZONES = ['a', 'b', 'c'];

/**
 * A new ACTIVE cluster. `providers` defaults to both Fargate providers: the
 * out-of-box `default` cluster has them, as a cluster made in the ECS console
 * does; CreateCluster passes what the request asked for (nothing: none, as in AWS).
 */
export function newClusterRecord(
  deps: { clock: Clock; arns: ArnContext },
  name: string,
  settings: ClusterRecord['settings'],
  strategy: ClusterRecord['defaultCapacityProviderStrategy'],
  providers: string[] = [...CAPACITY_PROVIDERS],
): ClusterRecord {
  return {
    name,
    arn: clusterArn(name, deps.arns),
    status: 'ACTIVE',
    createdAt: deps.clock.now(),
    settings: settings.length ? settings : [{ name: 'containerInsights', value: 'disabled' }],
    capacityProviders: providers,
    defaultCapacityProviderStrategy: strategy,
  };
}

export interface DefaultsDeps extends Pick<Repos, 'db' | 'clusters' | 'networks'> {
  clock: Clock;
  arns: ArnContext;
}

export function ensureDefaults(deps: DefaultsDeps, opts: { vpcCidr: string; bridgePrefix: string }): void {
  deps.db.transaction(() => {
    if (!deps.clusters.get(DEFAULT_CLUSTER)) deps.clusters.put(newClusterRecord(deps, DEFAULT_CLUSTER, [], []));
    if (!deps.networks.defaultVpc()) {
      const vpcId = newResourceId('vpc');
      deps.networks.insertVpc({ id: vpcId, cidr: opts.vpcCidr, isDefault: true });
      const base = parseCidr(opts.vpcCidr).base;
      ZONES.forEach((zone, i) => {
        const subnetId = newResourceId('subnet');
        deps.networks.insertSubnet({
          id: subnetId,
          vpcId,
          cidr: `${intToIp(base + i * 2 ** (32 - DEFAULT_SUBNET_PREFIX))}/${DEFAULT_SUBNET_PREFIX}`,
          availabilityZone: `${deps.arns.region}${zone}`,
          isDefault: true,
          bridge: `${opts.bridgePrefix}${subnetId.slice(7, 15)}`,
        });
      });
    }
  })();
}
