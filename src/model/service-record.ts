/**
 * The stored shape of an ECS service and its deployments, and the deployment
 * state table.
 *
 * Service status:    ACTIVE ──DeleteService──▶ DRAINING ──no live tasks──▶ INACTIVE
 * Deployment status: PRIMARY (the one the service converges to)
 *                      ──a newer deployment──▶ ACTIVE (its tasks are drained)
 *                      ──no live tasks──▶ INACTIVE (no longer shown)
 * rolloutState:      IN_PROGRESS ──PRIMARY healthy at desiredCount, no other live tasks──▶ COMPLETED
 *                    IN_PROGRESS ──circuit breaker──▶ FAILED
 */
import type { CapacityProviderName, NormalisedAwsVpcConfiguration, NormalisedStrategyItem } from './capacity.ts';
import type { ServiceLoadBalancer } from './load-balancer.ts';

export type ServiceStatus = 'ACTIVE' | 'DRAINING' | 'INACTIVE';
export type DeploymentStatus = 'PRIMARY' | 'ACTIVE' | 'INACTIVE';
export type RolloutState = 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';

/** Allowed deployment status transitions (walked by the unit test). */
export const DEPLOYMENT_TRANSITIONS: Record<DeploymentStatus, DeploymentStatus[]> = {
  PRIMARY: ['ACTIVE', 'INACTIVE'],
  ACTIVE: ['PRIMARY', 'INACTIVE'], // PRIMARY again: a rollback to it
  INACTIVE: [],
};

export interface DeploymentRecord {
  /** `ecs-svc/<19 digits>`; also the startedBy of every task it starts. */
  id: string;
  status: DeploymentStatus;
  taskDefinitionArn: string;
  /** Tasks run on these providers (split by base/weight); undefined: launch type FARGATE. */
  capacityProviderStrategy?: NormalisedStrategyItem[];
  networkConfiguration?: { awsvpcConfiguration: NormalisedAwsVpcConfiguration };
  rolloutState: RolloutState;
  rolloutStateReason: string;
  /** Tasks of this deployment that failed (counted for the circuit breaker). */
  failedTasks: number;
  createdAt: number;
  updatedAt: number;
  /** When it reached COMPLETED (a rollback returns to the latest one). */
  completedAt?: number;
  /** Tasks the last scheduler pass could not place for want of host capacity (counted as pending; retried every pass). */
  waitingForCapacity?: number;
}

export interface ServiceEvent {
  id: string;
  createdAt: number;
  message: string;
}

export interface DeploymentConfiguration {
  maximumPercent: number;
  minimumHealthyPercent: number;
  deploymentCircuitBreaker: { enable: boolean; rollback: boolean };
}

export interface ServiceRecord {
  id: string;
  arn: string;
  name: string;
  clusterName: string;
  clusterArn: string;
  status: ServiceStatus;
  desiredCount: number;
  taskDefinitionArn: string;
  launchType?: 'FARGATE';
  capacityProviderStrategy?: NormalisedStrategyItem[];
  networkConfiguration?: { awsvpcConfiguration: NormalisedAwsVpcConfiguration };
  /** Skiff listeners in front of the tasks (absent or empty: none); tasks are drained from them before they stop. */
  loadBalancers?: ServiceLoadBalancer[];
  deploymentConfiguration: DeploymentConfiguration;
  healthCheckGracePeriodSeconds: number;
  propagateTags: 'TASK_DEFINITION' | 'SERVICE' | 'NONE';
  enableECSManagedTags: boolean;
  /** ECS enableExecuteCommand: tasks started from now on accept ExecuteCommand (a change reaches running tasks with a new deployment, as in ECS). */
  enableExecuteCommand?: boolean;
  platformVersion: string;
  createdAt: number;
  createdBy?: string;
  clientToken?: string;
  /** Newest first; PRIMARY is always present while the service is not INACTIVE. */
  deployments: DeploymentRecord[];
  /** Newest first, at most MAX_EVENTS. */
  events: ServiceEvent[];
  /** Set once "has reached a steady state." is reported; cleared by any change. */
  steady: boolean;
  /** Bumped on every write (optimistic check of the applier). */
  version: number;
}

export const MAX_EVENTS = 100;
/** INACTIVE deployments kept (for rollback targets), beyond those shown. */
export const MAX_INACTIVE_DEPLOYMENTS = 5;
/** ECS limit. */
export const MAX_TASKS_PER_SERVICE = 5000;

/** What the reconciler needs to know about one task of the service. */
export interface ServiceTask {
  id: string;
  deploymentId: string;
  desiredStatus: 'RUNNING' | 'STOPPED';
  lastStatus: string;
  /** Task health: UNKNOWN when no essential container has a health check yet reporting. */
  healthStatus: 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN';
  /** Whether any essential container has a health check (then HEALTHY is required to count as healthy). */
  hasHealthCheck: boolean;
  capacityProviderName: string;
  createdAt: number;
  startedAt?: number;
  stopCode?: string;
  stoppedReason?: string;
  /**
   * Its health in the service's target groups when they have an HTTP health
   * check (undefined: none): then it counts as healthy only when HEALTHY, and
   * is replaced when UNHEALTHY after the grace period.
   */
  loadBalancerHealth?: 'INITIAL' | 'HEALTHY' | 'UNHEALTHY';
  /** UNHEALTHY: in which target group, "(target-group ARN)". */
  unhealthyIn?: string;
}

export const HEALTH_CHECK_FAILED_REASON = 'Task failed container health checks';

export function primaryOf(s: ServiceRecord): DeploymentRecord | undefined {
  return s.deployments.find((d) => d.status === 'PRIMARY');
}

/** Circuit breaker threshold: ceil(0.5 × desired), clamped to 3..200. */
export function circuitBreakerThreshold(desiredCount: number): number {
  return Math.min(200, Math.max(3, Math.ceil(0.5 * desiredCount)));
}

export type { CapacityProviderName };
