/** The service directory's view of the store (tasks, services, subnets). */
import type { Repos } from '../store/repos.ts';
import type { DirectorySource } from './service-directory.ts';

export function storeDirectorySource({ tasks, services, networks }: Pick<Repos, 'tasks' | 'services' | 'networks'>): DirectorySource {
  return {
    unfinishedTasks: () => tasks.listUnfinished(),
    liveServices: () => services.listLive().map((s) => ({ id: s.id, name: s.name, clusterName: s.clusterName })),
    serviceTaskIds: (id) => services.snapshotTasks(id).filter((t) => t.lastStatus !== 'STOPPED').map((t) => t.id),
    vpcOfSubnet: (id) => networks.subnet(id)?.vpcId,
  };
}
