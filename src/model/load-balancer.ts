/**
 * A service's load balancers as Skiff stores them: the ECS `loadBalancers`
 * entry (which container and port receive traffic, and the target group or
 * load balancer name that identifies it) plus the host port Skiff's listener
 * for that entry serves on.
 *
 * Conventions (Skiff extensions carried in fields every AWS client can send):
 *   service tag `skiff:loadBalancerPort`          host port(s) of the listener(s), comma-separated in
 *                                                 the order of `loadBalancers`; Skiff picks free ports
 *                                                 when absent and writes the tag back, so DescribeServices
 *                                                 (include TAGS) and ListTagsForResource show them.
 *   service tag `skiff:deregistrationDelaySeconds` the service's deregistration delay (0..3600), over
 *                                                 SKIFF_LB_DEREGISTRATION_DELAY_SECONDS (default 300, as AWS).
 */
export interface ServiceLoadBalancer {
  targetGroupArn?: string;
  loadBalancerName?: string;
  containerName: string;
  containerPort: number;
  /** Host port of Skiff's listener for this entry (on the server's --host). */
  listenerPort: number;
}

export const LISTENER_PORT_TAG = 'skiff:loadBalancerPort';
export const DEREGISTRATION_DELAY_TAG = 'skiff:deregistrationDelaySeconds';
/** ECS: a service can register with up to five target groups. */
export const MAX_LOAD_BALANCERS = 5;
/** AWS's default deregistration delay (target group attribute deregistration_delay.timeout_seconds). */
export const DEFAULT_DEREGISTRATION_DELAY_SECONDS = 300;
export const MAX_DEREGISTRATION_DELAY_SECONDS = 3600;

/** The entry as ECS shows it (DescribeServices). */
export function loadBalancerView(lb: ServiceLoadBalancer): Omit<ServiceLoadBalancer, 'listenerPort'> {
  return {
    ...(lb.targetGroupArn ? { targetGroupArn: lb.targetGroupArn } : {}),
    ...(lb.loadBalancerName ? { loadBalancerName: lb.loadBalancerName } : {}),
    containerName: lb.containerName,
    containerPort: lb.containerPort,
  };
}

/** Identity of an entry: its target group, else its load balancer name. */
export function loadBalancerKey(lb: Pick<ServiceLoadBalancer, 'targetGroupArn' | 'loadBalancerName'>): string {
  return lb.targetGroupArn ?? `name:${lb.loadBalancerName}`;
}

/**
 * A target group's HTTP health check, as ALB runs it (CreateTargetGroup's
 * HealthCheck* members). Always on, as for ALB's ip targets; service tags
 * override ALB's defaults since ECS carries no target group settings:
 *   skiff:healthCheckPath              GET this path on each target's traffic port, default /
 *   skiff:healthCheckIntervalSeconds   1..300 (ALB: 5..300), default 30
 *   skiff:healthCheckTimeoutSeconds    1..120, less than the interval, default 5
 *   skiff:healthyThresholdCount        2..10, default 5: successes that make an unhealthy target healthy
 *   skiff:unhealthyThresholdCount      2..10, default 2: failures that make a target unhealthy
 *   skiff:healthCheckMatcher           HTTP codes that pass: "200", "200,302", "200-299" (default 200)
 * A registered target is `initial` (no traffic) until it passes one check.
 */
export interface TargetHealthCheck {
  path: string;
  intervalSeconds: number;
  timeoutSeconds: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
  matcher: string;
}

/** ALB's default health check path. */
export const DEFAULT_HEALTH_CHECK_PATH = '/';

export const HEALTH_CHECK_TAGS = {
  path: 'skiff:healthCheckPath',
  intervalSeconds: 'skiff:healthCheckIntervalSeconds',
  timeoutSeconds: 'skiff:healthCheckTimeoutSeconds',
  healthyThreshold: 'skiff:healthyThresholdCount',
  unhealthyThreshold: 'skiff:unhealthyThresholdCount',
  matcher: 'skiff:healthCheckMatcher',
} as const;

/** Why ECS stops a task its target group found unhealthy (the task's stoppedReason starts with this). */
export const ELB_HEALTH_CHECK_FAILED_REASON = 'Task failed ELB health checks in';

/** A task's health in its service's target groups (the load balancers report it, the service scheduler reads it). */
export interface TaskTargetHealth {
  state: 'INITIAL' | 'HEALTHY' | 'UNHEALTHY';
  /** UNHEALTHY: where, as "(target-group ARN)" or "(load-balancer NAME)". */
  targetGroup?: string;
}
