/** The ECS JSON 1.1 protocol: every operation Skiff serves, by name. */
import type { JsonProtocol } from '../api/http-server.ts';
import type { ControlContext } from './context.ts';
import { clusterOperations } from './clusters.ts';
import { taskDefinitionOperations } from './task-definitions.ts';
import { taskOperations } from './tasks.ts';
import { tagOperations } from './tags.ts';
import { serviceOperations } from './services.ts';
import { capacityProviderOperations } from './capacity-providers.ts';

export const ECS_TARGET_PREFIX = 'AmazonEC2ContainerServiceV20141113';

export function ecsProtocol(ctx: ControlContext): JsonProtocol {
  return {
    targetPrefix: ECS_TARGET_PREFIX,
    operations: {
      ...clusterOperations(ctx),
      ...taskDefinitionOperations(ctx),
      ...taskOperations(ctx),
      ...tagOperations(ctx),
      ...serviceOperations(ctx),
      ...capacityProviderOperations(ctx),
    },
  };
}
