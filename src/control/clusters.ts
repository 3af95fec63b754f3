/** CreateCluster, DescribeClusters, ListClusters, DeleteCluster. */
import type { Cluster } from '@aws-sdk/client-ecs';
import { ApiError, ErrorCode, clusterNotFound, invalidParameter } from '../api/errors.ts';
import { optObjectList, optString, optStringList, optInt, reqString } from '../api/input.ts';
import type { ClusterRecord } from '../store/clusters-repo.ts';
import { paginate } from '../ecs/pagination.ts';
import { clusterArn, resolveClusterName, type ArnContext } from '../ecs/arns.ts';
import { validateCapacityProviderStrategy } from '../ecs/run-task.ts';
import type { Repos } from '../store/repos.ts';
import type { Clock } from '../util/clock.ts';
import { readTags } from './tags.ts';
import { CAPACITY_PROVIDERS, newClusterRecord } from '../scheduler/defaults.ts';

export interface ClusterHandlerDeps extends Pick<Repos, 'db' | 'clusters' | 'tags' | 'tasks' | 'services'> {
  clock: Clock;
  arns: ArnContext;
}

/** The cluster name from a name or ARN (absent → `default`), validated. */
export function clusterNameOf(deps: { arns: ArnContext }, ref: string | undefined): string {
  return resolveClusterName(ref, deps.arns);
}

/** The ACTIVE cluster a request names, or ClusterNotFoundException. */
export function activeCluster(deps: Pick<Repos, 'clusters'> & { arns: ArnContext }, ref: string | undefined): ClusterRecord {
  const name = clusterNameOf(deps, ref);
  const c = deps.clusters.get(name);
  if (!c || c.status !== 'ACTIVE') throw clusterNotFound(ref ?? name);
  return c;
}

export function clusterView(deps: Pick<Repos, 'tasks' | 'services' | 'tags'>, c: ClusterRecord, includeTags: boolean): Cluster {
  const active = c.status === 'ACTIVE' ? deps.tasks.list({ cluster: c.name, activeOnly: true }) : [];
  return {
    clusterArn: c.arn,
    clusterName: c.name,
    status: c.status,
    registeredContainerInstancesCount: 0,
    runningTasksCount: active.filter((t) => t.lastStatus === 'RUNNING').length,
    pendingTasksCount: active.filter((t) => t.lastStatus !== 'RUNNING').length,
    activeServicesCount: c.status === 'ACTIVE' ? deps.services.countLiveInCluster(c.name) : 0,
    statistics: [],
    settings: c.settings as Cluster['settings'],
    capacityProviders: c.capacityProviders,
    defaultCapacityProviderStrategy: c.defaultCapacityProviderStrategy,
    ...(includeTags ? { tags: deps.tags.list(c.arn) } : {}),
  };
}

export function clusterOperations(deps: ClusterHandlerDeps) {
  return {
    CreateCluster(input: Record<string, unknown>) {
      const name = clusterNameOf(deps, optString(input, 'clusterName') ?? 'default');
      const tags = readTags(input);
      const settings = (optObjectList(input, 'settings') ?? []).map((s) => {
        if (s.name !== 'containerInsights' || !['enabled', 'disabled', 'enhanced'].includes(String(s.value))) {
          throw invalidParameter(`Cluster setting must be containerInsights with value enabled, enhanced or disabled.`);
        }
        return { name: 'containerInsights', value: String(s.value) };
      });
      const { providers, defaultCapacityProviderStrategy: strategy } = requestedCapacityProviders(input);
      const existing = deps.clusters.get(name);
      if (existing?.status === 'ACTIVE') {
        // ECS answers CreateCluster on an existing name with the existing cluster.
        return { cluster: clusterView(deps, existing, true) };
      }
      const record = newClusterRecord(deps, name, settings, strategy, providers);
      deps.db.transaction(() => {
        deps.clusters.put(record);
        if (tags.length) deps.tags.put(record.arn, tags);
      })();
      return { cluster: clusterView(deps, record, true) };
    },

    DescribeClusters(input: Record<string, unknown>) {
      const refs = optStringList(input, 'clusters', { max: 100 }) ?? ['default'];
      const include = optStringList(input, 'include') ?? [];
      const clusters: Cluster[] = [];
      const failures: { arn: string; reason: string }[] = [];
      for (const ref of refs) {
        const name = clusterNameOf(deps, ref);
        const c = deps.clusters.get(name);
        if (c) clusters.push(clusterView(deps, c, include.includes('TAGS')));
        else failures.push({ arn: clusterArn(name, deps.arns), reason: 'MISSING' });
      }
      return { clusters, failures };
    },

    ListClusters(input: Record<string, unknown>) {
      const arns = deps.clusters.listActive().map((c) => c.arn);
      const { page, nextToken } = paginate(arns, optInt(input, 'maxResults'), optString(input, 'nextToken'), {
        defaultMax: 100,
        query: 'ListClusters',
      });
      return { clusterArns: page, ...(nextToken ? { nextToken } : {}) };
    },

    DeleteCluster(input: Record<string, unknown>) {
      const c = activeCluster(deps, reqString(input, 'cluster'));
      const services = deps.services.countLiveInCluster(c.name);
      if (services > 0) {
        throw new ApiError(
          ErrorCode.ClusterContainsServicesException,
          `The cluster cannot be deleted while services are active: ${services} service(s) in cluster '${c.name}'. Delete them with DeleteService first.`,
        );
      }
      const active = deps.tasks.countActiveInCluster(c.name);
      if (active > 0) {
        throw new ApiError(
          ErrorCode.ClusterContainsTasksException,
          `The cluster cannot be deleted while tasks are active: ${active} task(s) in cluster '${c.name}' are not STOPPED. Stop them with StopTask first.`,
        );
      }
      const deleted: ClusterRecord = { ...c, status: 'INACTIVE' };
      deps.clusters.put(deleted);
      return { cluster: clusterView(deps, deleted, false) };
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
