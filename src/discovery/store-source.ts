/** The service directory's view of the store (tasks, services, subnets). */
import type { Db } from '../store/db.ts';
import type { TasksRepo } from '../store/tasks-repo.ts';
import type { NetworksRepo } from '../store/networks-repo.ts';
import { ServicesRepo } from '../store/services-repo.ts';
import type { DirectorySource } from './service-directory.ts';

export function storeDirectorySource(db: Db, tasks: TasksRepo, networks: NetworksRepo): DirectorySource {
  const services = new ServicesRepo(db);
  return {
    unfinishedTasks: () => tasks.listUnfinished(),
    liveServices: () => services.listLive().map((s) => ({ id: s.id, name: s.name, clusterName: s.clusterName })),
    serviceTaskIds: (id) => services.snapshotTasks(id).filter((t) => t.lastStatus !== 'STOPPED').map((t) => t.id),
    vpcOfSubnet: (id) => networks.subnet(id)?.vpcId,
  };
}
