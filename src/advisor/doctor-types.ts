/**
 * The shapes `skiff doctor` works with: the facts gathered about a task
 * definition, one verdict per checklist item, and the report. doctor.ts
 * re-exports them; the checks by area are doctor-access.ts (network, IAM,
 * secrets), doctor-containers.ts (container hardening, health, shutdown,
 * image) and doctor-operations.ts (service, logs, right-sizing).
 */
import type { ContainerDefinition } from '@aws-sdk/client-ecs';
import type { Policy } from '../auth/policy.ts';

export type Verdict = 'pass' | 'warn' | 'fail';

export interface CheckItem {
  id: string;
  title: string;
  status: Verdict;
  /** What was found. */
  message: string;
  /** How to fix it (absent on pass). */
  fix?: string;
}

export interface DoctorFacts {
  /** Why the definition is not a valid Fargate task definition (from the same validation RegisterTaskDefinition runs). */
  validationError?: string;
  /** How the task is run (RunTask / service networkConfiguration), when known. */
  networkConfiguration?: { awsvpcConfiguration?: { assignPublicIp?: string; securityGroups?: string[]; subnets?: string[] } };
  /** Right-sizing verdict for the family, or why it could not be had. */
  rightsize?: {
    status: 'ok' | 'insufficient-data';
    message?: string;
    action?: string;
    recommended?: { cpu: number; memory: number };
    monthlySaving?: string;
    savingPercent?: string;
  };
  rightsizeUnavailable?: string;
  /** Image facts from the family's latest start on this server. */
  image?: { sizeBytes: number; layers: number };
  imageUnavailable?: string;
  /**
   * What the server holds for the resources the definition names, keyed as the
   * definition writes them: awslogs group name → exists; secret ARN (valueFrom
   * without its json-key/version suffix) → the secret's full ARN or null when it
   * does not exist; role ARN → its policy or null when it does not exist.
   * Each is absent when it was not looked up; its `...Unavailable` then says why.
   */
  logGroups?: Record<string, boolean>;
  logGroupsUnavailable?: string;
  secrets?: Record<string, { arn: string } | null>;
  secretsUnavailable?: string;
  roles?: Record<string, { policy: Policy } | null>;
  rolesUnavailable?: string;
  /** The security groups of `networkConfiguration`, by id: their ingress rules, or null when the group does not exist. */
  securityGroups?: Record<string, SecurityGroupFacts | null>;
  securityGroupsUnavailable?: string;
  /** What decides egress (network/egress.ts) for the subnets of `networkConfiguration` (or the default ones), by subnet id. */
  egress?: { subnets: Record<string, { mapPublicIpOnLaunch: boolean; natGatewayId?: string; natGatewayPublic?: boolean } | null> };
  egressUnavailable?: string;
  /**
   * Who shares the cluster the definition runs in, and on what: distinct access
   * keys that started tasks or services there (audit log), and its running
   * tasks by isolation (DescribeTasks attribute skiff.isolation).
   */
  cluster?: { name: string; accessKeys: number; runningByIsolation: Record<string, number> };
  clusterUnavailable?: string;
  /** The service the definition runs as, when one was named; `serviceUnavailable` says why not. */
  service?: ServiceFacts;
  serviceUnavailable?: string;
}

export interface SecurityGroupFacts {
  ingress: { protocol: string; fromPort?: number; toPort?: number; cidrs: string[]; groups: string[] }[];
  /** Outbound rules (absent: not read). */
  egress?: { protocol: string; fromPort?: number; toPort?: number; cidrs: string[]; groups: string[] }[];
}

export interface ServiceFacts {
  name: string;
  loadBalancers: { containerName?: string; containerPort?: number; targetGroupArn?: string; loadBalancerName?: string }[];
  healthCheckGracePeriodSeconds?: number;
  circuitBreaker?: { enable?: boolean; rollback?: boolean };
  /** Application Auto Scaling: the service's scalable target (null: none registered) and what scales it. */
  autoscaling?: { target: { minCapacity: number; maxCapacity: number } | null; policies: number; scheduledActions: number };
  autoscalingUnavailable?: string;
}

export interface DoctorReport {
  family: string;
  revision?: number;
  items: CheckItem[];
  summary: Record<Verdict, number>;
}
/** Appends one checklist verdict (the fix is kept only when the item does not pass). */
export type Add = (id: string, title: string, status: Verdict, message: string, fix?: string) => void;

/** `'a', 'b'`: container names for messages. */
export const names = (cs: ContainerDefinition[]): string => cs.map((c) => `'${c.name}'`).join(', ');
