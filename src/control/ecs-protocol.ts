/** The ECS JSON 1.1 protocol: every operation Skiff serves, by name. */
import type { JsonProtocol } from '../api/http-server.ts';
import type { ControlContext } from './context.ts';
import { clusterOperations } from './clusters.ts';
import { taskDefinitionOperations } from './task-definitions.ts';
import { taskOperations } from './tasks.ts';
import { tagOperations } from './tags.ts';
import { serviceOperations } from './services.ts';
import { capacityProviderOperations } from './capacity-providers.ts';
import { executeCommandOperations } from './execute-command.ts';
import type { ExecSessions } from '../exec/sessions.ts';

export const ECS_TARGET_PREFIX = 'AmazonEC2ContainerServiceV20141113';

/** `exec`: where ExecuteCommand registers its sessions (absent: ExecuteCommand is not served). */
export function ecsProtocol(ctx: ControlContext, exec?: ExecSessions): JsonProtocol {
  return {
    targetPrefix: ECS_TARGET_PREFIX,
    operations: {
      ...clusterOperations(ctx),
      ...taskDefinitionOperations(ctx),
      ...taskOperations(ctx),
      ...tagOperations(ctx),
      ...serviceOperations(ctx),
      ...capacityProviderOperations(ctx),
      ...(exec ? executeCommandOperations(ctx, exec) : {}),
    },
  };
}
