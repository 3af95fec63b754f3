/**
 * Which resource ARNs an ECS operation acts on, for the policy check. Built
 * with the same parsers the operations use, so the resource checked is the
 * resource touched. Input that does not parse yields `*`, which only a
 * `Resource: "*"` statement allows (the operation then rejects the input).
 *
 *   clusters            CreateCluster, DeleteCluster, DescribeClusters, UpdateCluster, ListTasks, ListServices, ...
 *   tasks               StopTask, DescribeTasks; ExecuteCommand (plus the cluster)
 *   task definitions    RunTask / StartTask (plus the cluster), DescribeTaskDefinition, DeregisterTaskDefinition
 *   services            CreateService, UpdateService, DeleteService, DescribeServices
 *   any resource ARN    TagResource, UntagResource, ListTagsForResource
 *   `*`                 ListClusters, ListTaskDefinitions, ListTaskDefinitionFamilies, RegisterTaskDefinition, others
 */
import {
  clusterArn,
  parseServiceRef,
  parseTaskDefinitionRef,
  parseTaskRef,
  resolveClusterName,
  taskDefinitionArn,
  type ArnContext,
} from '../ecs/arns.ts';

export interface EcsResourceDeps {
  arns: ArnContext;
  /** The latest ACTIVE revision of a family, to name RunTask's task definition fully. */
  latestRevision?: (family: string) => number | undefined;
}

const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function attempt(fn: () => string[]): string[] {
  try {
    const r = fn();
    return r.length ? r : ['*'];
  } catch {
    return ['*'];
  }
}

export function ecsResources(operation: string, input: Record<string, unknown>, deps: EcsResourceDeps): string[] {
  const ctx = deps.arns;
  const cluster = () => clusterArn(resolveClusterName(str(input.cluster), ctx), ctx);
  const taskDef = (ref: unknown) => {
    const r = parseTaskDefinitionRef(str(ref), ctx);
    const rev = r.revision ?? deps.latestRevision?.(r.family);
    return rev === undefined ? taskDefinitionArn(r.family, 0, ctx).replace(/:0$/, '') : taskDefinitionArn(r.family, rev, ctx);
  };
  switch (operation) {
    case 'ListClusters':
    case 'ListTaskDefinitions':
    case 'ListTaskDefinitionFamilies':
    case 'RegisterTaskDefinition':
      return ['*'];
    case 'CreateCluster':
      return attempt(() => [clusterArn(resolveClusterName(str(input.clusterName), ctx), ctx)]);
    case 'DescribeClusters': {
      const names = strs(input.clusters);
      return attempt(() => (names.length ? names : ['default']).map((c) => clusterArn(resolveClusterName(c, ctx), ctx)));
    }
    case 'ExecuteCommand': // as ECS: the task and its cluster (the documented ECS Exec policy names both)
      return attempt(() => [parseTaskRef(str(input.cluster), str(input.task) ?? '', ctx).arn, cluster()]);
    case 'StopTask':
      return attempt(() => [parseTaskRef(str(input.cluster), str(input.task) ?? '', ctx).arn]);
    case 'DescribeTasks':
      return attempt(() => strs(input.tasks).map((t) => parseTaskRef(str(input.cluster), t, ctx).arn));
    case 'RunTask':
    case 'StartTask':
      return attempt(() => [taskDef(input.taskDefinition), cluster()]);
    case 'DescribeTaskDefinition':
    case 'DeregisterTaskDefinition':
      return attempt(() => [taskDef(input.taskDefinition)]);
    case 'DeleteTaskDefinitions':
      return attempt(() => strs(input.taskDefinitions).map(taskDef));
    case 'CreateService':
      return attempt(() => [parseServiceRef(str(input.cluster), str(input.serviceName) ?? '', ctx).arn]);
    case 'UpdateService':
    case 'DeleteService':
      return attempt(() => [parseServiceRef(str(input.cluster), str(input.service) ?? '', ctx).arn]);
    case 'DescribeServices':
      return attempt(() => strs(input.services).map((s) => parseServiceRef(str(input.cluster), s, ctx).arn));
    case 'TagResource':
    case 'UntagResource':
    case 'ListTagsForResource':
      return attempt(() => [str(input.resourceArn) ?? '*']);
    case 'ListTasks':
    case 'ListServices':
    case 'DeleteCluster':
    case 'UpdateCluster':
    case 'UpdateClusterSettings':
    case 'PutClusterCapacityProviders':
      return attempt(() => [cluster()]);
    default:
      // Cluster-scoped operations (ListTasks, ListServices, UpdateCluster, DeleteCluster, ...).
      return 'cluster' in input || /Cluster/.test(operation) ? attempt(() => [cluster()]) : ['*'];
  }
}
