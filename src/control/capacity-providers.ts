/** PutClusterCapacityProviders: which of FARGATE / FARGATE_SPOT a cluster offers and its default strategy. */
import { invalidParameter } from '../api/errors.ts';
import { optObjectList, optStringList, reqString } from '../api/input.ts';
import { CAPACITY_PROVIDERS, validateCapacityProviderStrategy } from '../ecs/run-task.ts';
import { activeCluster, clusterView, type ClusterHandlerDeps } from './clusters.ts';

export function capacityProviderOperations(deps: ClusterHandlerDeps) {
  return {
    PutClusterCapacityProviders(input: Record<string, unknown>) {
      const cluster = activeCluster(deps, reqString(input, 'cluster'));
      const providers = optStringList(input, 'capacityProviders');
      if (!providers) throw invalidParameter(`capacityProviders is required: the providers the cluster offers, e.g. ["FARGATE", "FARGATE_SPOT"] (an empty list removes them all).`);
      for (const p of providers) {
        if (!(CAPACITY_PROVIDERS as readonly string[]).includes(p)) throw invalidParameter(`Capacity provider '${p}' does not exist; Skiff offers FARGATE and FARGATE_SPOT.`);
      }
      if (new Set(providers).size !== providers.length) throw invalidParameter(`capacityProviders lists a provider more than once.`);
      const raw = optObjectList(input, 'defaultCapacityProviderStrategy');
      if (!raw) throw invalidParameter(`defaultCapacityProviderStrategy is required (an empty list means: launch type FARGATE unless a request says otherwise).`);
      const strategy = raw.length ? validateCapacityProviderStrategy(raw, 'defaultCapacityProviderStrategy') : [];
      for (const s of strategy) {
        if (!providers.includes(s.capacityProvider)) {
          throw invalidParameter(`The default capacity provider strategy names ${s.capacityProvider}, which is not in capacityProviders. Add it to capacityProviders or remove it from the strategy.`);
        }
      }
      const updated = { ...cluster, capacityProviders: providers, defaultCapacityProviderStrategy: strategy };
      deps.clusters.put(updated);
      return { cluster: clusterView(deps, updated, false) };
    },
  };
}
