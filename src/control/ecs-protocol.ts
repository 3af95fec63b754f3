/** The ECS JSON 1.1 protocol: every operation Skiff serves, by name. */
import type { JsonProtocol } from '../api/http-server.ts';
import { clusterOperations, type ClusterHandlerDeps } from './clusters.ts';
import { taskDefinitionOperations, type TaskDefinitionHandlerDeps } from './task-definitions.ts';
import { taskOperations, type TaskHandlerDeps } from './tasks.ts';
import { tagOperations, type TagHandlerDeps } from './tags.ts';
import { serviceOperations, type ServiceHandlerDeps } from './services.ts';
import { capacityProviderOperations } from './capacity-providers.ts';
import { executeCommandOperations } from './execute-command.ts';
import type { ExecSessions } from '../exec/sessions.ts';

export const ECS_TARGET_PREFIX = 'AmazonEC2ContainerServiceV20141113';

/** What the ECS handlers together need: each group of operations declares (and sees) only its part. */
export type EcsApiDeps = ClusterHandlerDeps & TaskDefinitionHandlerDeps & TaskHandlerDeps & TagHandlerDeps & ServiceHandlerDeps;

/** `exec`: where ExecuteCommand registers its sessions (absent: ExecuteCommand is not served). */
export function ecsProtocol(deps: EcsApiDeps, exec?: ExecSessions): JsonProtocol {
  return {
    targetPrefix: ECS_TARGET_PREFIX,
    operations: {
      ...clusterOperations(deps),
      ...taskDefinitionOperations(deps),
      ...taskOperations(deps),
      ...tagOperations(deps),
      ...serviceOperations(deps),
      ...capacityProviderOperations(deps),
      ...(exec ? executeCommandOperations(deps, exec) : {}),
    },
  };
}
