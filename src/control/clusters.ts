/** CreateCluster, DescribeClusters, ListClusters, DeleteCluster. */
import type { Cluster } from '@aws-sdk/client-ecs';
import { ApiError, ErrorCode, clusterNotFound, invalidParameter } from '../api/errors.ts';
import { optObjectList, optString, optStringList, optInt, reqString } from '../api/input.ts';
import type { ClusterRecord } from '../store/clusters-repo.ts';
import { paginate } from '../ecs/pagination.ts';
import { clusterArn, resolveClusterName } from '../ecs/arns.ts';
import { validateCapacityProviderStrategy } from '../ecs/run-task.ts';
import type { ControlContext } from './context.ts';
import { readTags } from './tags.ts';
import { ServicesRepo } from '../store/services-repo.ts';

export const CAPACITY_PROVIDERS = ['FARGATE', 'FARGATE_SPOT'];

/**
 * A new ACTIVE cluster. `providers` defaults to both Fargate providers: the
 * out-of-box `default` cluster has them, as a cluster made in the ECS console
 * does; CreateCluster passes what the request asked for (nothing: none, as in AWS).
 */
export function newClusterRecord(
  ctx: ControlContext,
  name: string,
  settings: ClusterRecord['settings'],
  strategy: ClusterRecord['defaultCapacityProviderStrategy'],
  providers: string[] = [...CAPACITY_PROVIDERS],
): ClusterRecord {
  return {
    name,
    arn: clusterArn(name, ctx.arns),
    status: 'ACTIVE',
    createdAt: ctx.clock.now(),
    settings: settings.length ? settings : [{ name: 'containerInsights', value: 'disabled' }],
    capacityProviders: providers,
    defaultCapacityProviderStrategy: strategy,
  };
}

/** The cluster name from a name or ARN (absent → `default`), validated. */
export function clusterNameOf(ctx: ControlContext, ref: string | undefined): string {
  return resolveClusterName(ref, ctx.arns);
}

/** The ACTIVE cluster a request names, or ClusterNotFoundException. */
export function activeCluster(ctx: ControlContext, ref: string | undefined): ClusterRecord {
  const name = clusterNameOf(ctx, ref);
  const c = ctx.clusters.get(name);
  if (!c || c.status !== 'ACTIVE') throw clusterNotFound(ref ?? name);
  return c;
}

export function clusterView(ctx: ControlContext, c: ClusterRecord, includeTags: boolean): Cluster {
  const active = c.status === 'ACTIVE' ? ctx.tasks.list({ cluster: c.name, activeOnly: true }) : [];
  return {
    clusterArn: c.arn,
    clusterName: c.name,
    status: c.status,
    registeredContainerInstancesCount: 0,
    runningTasksCount: active.filter((t) => t.lastStatus === 'RUNNING').length,
    pendingTasksCount: active.filter((t) => t.lastStatus !== 'RUNNING').length,
    activeServicesCount: c.status === 'ACTIVE' ? new ServicesRepo(ctx.db).countLiveInCluster(c.name) : 0,
    statistics: [],
    settings: c.settings as Cluster['settings'],
    capacityProviders: c.capacityProviders,
    defaultCapacityProviderStrategy: c.defaultCapacityProviderStrategy,
    ...(includeTags ? { tags: ctx.tags.list(c.arn) } : {}),
  };
}

export function clusterOperations(ctx: ControlContext) {
  return {
    CreateCluster(input: Record<string, unknown>) {
      const name = clusterNameOf(ctx, optString(input, 'clusterName') ?? 'default');
      const tags = readTags(input);
      const settings = (optObjectList(input, 'settings') ?? []).map((s) => {
        if (s.name !== 'containerInsights' || !['enabled', 'disabled', 'enhanced'].includes(String(s.value))) {
          throw invalidParameter(`Cluster setting must be containerInsights with value enabled, enhanced or disabled.`);
        }
        return { name: 'containerInsights', value: String(s.value) };
      });
      const { providers, defaultCapacityProviderStrategy: strategy } = requestedCapacityProviders(input);
      const existing = ctx.clusters.get(name);
      if (existing?.status === 'ACTIVE') {
        // ECS answers CreateCluster on an existing name with the existing cluster.
        return { cluster: clusterView(ctx, existing, true) };
      }
      const record = newClusterRecord(ctx, name, settings, strategy, providers);
      ctx.db.transaction(() => {
        ctx.clusters.put(record);
        if (tags.length) ctx.tags.put(record.arn, tags);
      })();
      return { cluster: clusterView(ctx, record, true) };
    },

    DescribeClusters(input: Record<string, unknown>) {
      const refs = optStringList(input, 'clusters', { max: 100 }) ?? ['default'];
      const include = optStringList(input, 'include') ?? [];
      const clusters: Cluster[] = [];
      const failures: { arn: string; reason: string }[] = [];
      for (const ref of refs) {
        const name = clusterNameOf(ctx, ref);
        const c = ctx.clusters.get(name);
        if (c) clusters.push(clusterView(ctx, c, include.includes('TAGS')));
        else failures.push({ arn: clusterArn(name, ctx.arns), reason: 'MISSING' });
      }
      return { clusters, failures };
    },

    ListClusters(input: Record<string, unknown>) {
      const arns = ctx.clusters.listActive().map((c) => c.arn);
      const { page, nextToken } = paginate(arns, optInt(input, 'maxResults'), optString(input, 'nextToken'), {
        defaultMax: 100,
        query: 'ListClusters',
      });
      return { clusterArns: page, ...(nextToken ? { nextToken } : {}) };
    },

    DeleteCluster(input: Record<string, unknown>) {
      const c = activeCluster(ctx, reqString(input, 'cluster'));
      const services = new ServicesRepo(ctx.db).countLiveInCluster(c.name);
      if (services > 0) {
        throw new ApiError(
          ErrorCode.ClusterContainsServicesException,
          `The cluster cannot be deleted while services are active: ${services} service(s) in cluster '${c.name}'. Delete them with DeleteService first.`,
        );
      }
      const active = ctx.tasks.countActiveInCluster(c.name);
      if (active > 0) {
        throw new ApiError(
          ErrorCode.ClusterContainsTasksException,
          `The cluster cannot be deleted while tasks are active: ${active} task(s) in cluster '${c.name}' are not STOPPED. Stop them with StopTask first.`,
        );
      }
      const deleted: ClusterRecord = { ...c, status: 'INACTIVE' };
      ctx.clusters.put(deleted);
      return { cluster: clusterView(ctx, deleted, false) };
    },
  };
}

/**
 * CreateCluster's `capacityProviders` and `defaultCapacityProviderStrategy`:
 * providers FARGATE / FARGATE_SPOT, each once; the strategy by the usual rules
 * and naming only providers in the list. Neither given: none (launch type
 * FARGATE still works; a strategy needs PutClusterCapacityProviders first).
 */
export function requestedCapacityProviders(input: Record<string, unknown>): Pick<ClusterRecord, 'defaultCapacityProviderStrategy'> & { providers: string[] } {
  const providers = optStringList(input, 'capacityProviders') ?? [];
  for (const p of providers) {
    if (!CAPACITY_PROVIDERS.includes(p)) throw invalidParameter(`Capacity provider '${p}' does not exist; Skiff offers FARGATE and FARGATE_SPOT.`);
  }
  if (new Set(providers).size !== providers.length) throw invalidParameter(`capacityProviders lists a provider more than once; give each once.`);
  const raw = optObjectList(input, 'defaultCapacityProviderStrategy') ?? [];
  const strategy = raw.length ? validateCapacityProviderStrategy(raw, 'defaultCapacityProviderStrategy') : [];
  for (const s of strategy) {
    if (!providers.includes(s.capacityProvider)) {
      throw invalidParameter(
        `The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster: ${s.capacityProvider}. Add it to capacityProviders or remove it from defaultCapacityProviderStrategy.`,
      );
    }
  }
  return { providers, defaultCapacityProviderStrategy: strategy };
}
