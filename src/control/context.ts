/** What the control plane's operations are given: the store, the agent, identity and time. */
import type { Db } from '../store/db.ts';
import type { ClustersRepo } from '../store/clusters-repo.ts';
import type { TaskDefinitionsRepo } from '../store/task-definitions-repo.ts';
import type { TagsRepo } from '../store/tags-repo.ts';
import type { TasksRepo } from '../store/tasks-repo.ts';
import type { NetworksRepo } from '../store/networks-repo.ts';
import type { Agent } from '../agent/agent.ts';
import type { Clock } from '../util/clock.ts';
import type { ArnContext } from '../ecs/arns.ts';
import type { WarmPool } from '../network/warm-pool.ts';
import type { LoadBalancerDirectory } from '../lb/load-balancers.ts';

export interface ControlContext {
  db: Db;
  clusters: ClustersRepo;
  taskDefinitions: TaskDefinitionsRepo;
  tags: TagsRepo;
  tasks: TasksRepo;
  networks: NetworksRepo;
  agent: Agent;
  /** Ready task networks RunTask hands out before making new ones (absent: none). */
  warmPool?: WarmPool;
  clock: Clock;
  region: string;
  accountId: string;
  /** Region and account every ARN this server issues carries. */
  arns: ArnContext;
  /** The service scheduler, woken when a service changes (absent: services wait for its next pass). */
  serviceScheduler?: { wake(): void };
  /** Skiff's load balancers (absent: services with loadBalancers are refused). */
  loadBalancers?: LoadBalancerDirectory;
  /** The data dir's disk (store/disk-guard.ts): why new tasks may not start now, if they may not (absent: always). */
  disk?: { newTasksRefusal(): string | undefined };
}
