/**
 * The store's repositories over one database, built once by the composition
 * root (src/server/) and handed on in parts: each consumer declares the few
 * repos it needs (`Pick<Repos, 'tasks' | 'tags'>`), never the whole set.
 */
import type { Db } from './db.ts';
import { ClustersRepo } from './clusters-repo.ts';
import { TaskDefinitionsRepo } from './task-definitions-repo.ts';
import { TagsRepo } from './tags-repo.ts';
import { TasksRepo } from './tasks-repo.ts';
import { NetworksRepo } from './networks-repo.ts';
import { RoutesRepo } from './routes-repo.ts';
import { ServicesRepo } from './services-repo.ts';
import { MeteringRepo } from './metering-repo.ts';
import { EfsRepo } from './efs-repo.ts';

export interface Repos {
  /** For transactions spanning several repos (`db.transaction(...)`). */
  readonly db: Db;
  readonly clusters: ClustersRepo;
  readonly taskDefinitions: TaskDefinitionsRepo;
  readonly tags: TagsRepo;
  readonly tasks: TasksRepo;
  readonly networks: NetworksRepo;
  /** NAT gateways and route tables (egress). */
  readonly routes: RoutesRepo;
  readonly services: ServicesRepo;
  readonly metering: MeteringRepo;
  /** EFS file systems, access points, mount targets. */
  readonly efs: EfsRepo;
}

/** Every repo over `db`; `tasks` replaces the plain TasksRepo (e.g. one that reports each update to metrics). */
export function openRepos(db: Db, opts: { tasks?: TasksRepo } = {}): Repos {
  return Object.freeze({
    db,
    clusters: new ClustersRepo(db),
    taskDefinitions: new TaskDefinitionsRepo(db),
    tags: new TagsRepo(db),
    tasks: opts.tasks ?? new TasksRepo(db),
    networks: new NetworksRepo(db),
    routes: new RoutesRepo(db),
    services: new ServicesRepo(db),
    metering: new MeteringRepo(db),
    efs: new EfsRepo(db),
  });
}
