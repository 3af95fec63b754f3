/**
 * The Application Auto Scaling API (AWS JSON 1.1, `X-Amz-Target:
 * AnyScaleFrontendService.<Op>`, SigV4 service `application-autoscaling`) for
 * ECS services: RegisterScalableTarget, DescribeScalableTargets,
 * DeregisterScalableTarget, PutScalingPolicy (TargetTrackingScaling on
 * ECSServiceAverageCPUUtilization / ECSServiceAverageMemoryUtilization),
 * DescribeScalingPolicies, DeleteScalingPolicy, PutScheduledAction,
 * DescribeScheduledActions, DeleteScheduledAction, DescribeScalingActivities.
 *
 * Requests are validated here with AWS's error types (ValidationException,
 * ObjectNotFoundException, LimitExceededException, InvalidNextTokenException)
 * before anything is stored; the autoscaler (autoscaler.ts) does the scaling.
 * IAM actions are `application-autoscaling:<Op>` on the scalable target's ARN
 * (`*` when there is none yet).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { JsonProtocol } from '../api/http-server.ts';
import { ApiError, ErrorCode } from '../api/errors.ts';
import { pageOf } from '../ecs/pagination.ts';
import type { Autoscaler } from './autoscaler.ts';
import type { AutoscalingRepo } from './repo.ts';
import {
  DEFAULT_COOLDOWN_SECONDS,
  ECS_DESIRED_COUNT,
  ECS_NAMESPACE,
  MetricType,
  parseEcsResourceId,
  type ActivityRecord,
  type ScalableTargetRecord,
  type ScheduledActionRecord,
  type TargetTrackingPolicyRecord,
} from './model.ts';
import { isValidTimezone, parseSchedule, ScheduleError } from './schedule.ts';
import { MAX_TASKS_PER_SERVICE } from '../model/service-record.ts';

export const AUTOSCALING_TARGET_PREFIX = 'AnyScaleFrontendService';
/** The SigV4 signing name and IAM service prefix. */
export const AUTOSCALING_SERVICE = 'application-autoscaling';

/** AWS's ServiceNamespace values (all accepted as valid input; Skiff serves `ecs`). */
const NAMESPACES = ['ecs', 'elasticmapreduce', 'ec2', 'appstream', 'dynamodb', 'rds', 'sagemaker', 'custom-resource', 'comprehend', 'lambda', 'cassandra', 'kafka', 'elasticache', 'neptune', 'workspaces'];
const MAX_POLICIES_PER_TARGET = 50;
const MAX_SCHEDULED_ACTIONS_PER_TARGET = 200;
const MAX_COOLDOWN = 31_536_000;
/** Scheduled action and policy names: printable, no leading/trailing space; scheduled action names also no `:` `/` `|`. */
const POLICY_NAME_RE = /^[^\u0000-\u001f\u007f-\u009f]{1,256}$/;
const ACTION_NAME_RE = /^(?! )[^\u0000-\u001f\u007f-\u009f:/|]{1,256}(?<! )$/;

type Input = Record<string, unknown>;
const secs = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

const validation = (message: string) => new ApiError(ErrorCode.ValidationException, message);
const notNull = (field: string) => validation(`1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
const camel = (field: string) => field.charAt(0).toLowerCase() + field.slice(1);

function str(input: Input, field: string, required: true): string;
function str(input: Input, field: string, required?: false): string | undefined;
function str(input: Input, field: string, required = false): string | undefined {
  const v = input[field];
  if (v === undefined || v === null) {
    if (required) throw notNull(camel(field));
    return undefined;
  }
  if (typeof v !== 'string') throw validation(`${field} must be a string.`);
  if (required && v === '') throw validation(`1 validation error detected: Value '' at '${camel(field)}' failed to satisfy constraint: Member must have length greater than or equal to 1`);
  return v;
}

function int(input: Input, field: string, min: number, max: number): number | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw validation(`${field} must be a whole number.`);
  if (v < min || v > max) throw validation(`${field} must be from ${min} to ${max} (got ${v}).`);
  return v;
}

function bool(input: Input, field: string): boolean | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw validation(`${field} must be true or false.`);
  return v;
}

function obj(input: Input, field: string): Input | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw validation(`${field} must be an object.`);
  return v as Input;
}

function strList(input: Input, field: string, max: number): string[] | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw validation(`${field} must be a list of strings.`);
  if (v.length > max) throw validation(`${field} can name at most ${max} items (got ${v.length}).`);
  return v as string[];
}

/** A timestamp field: epoch seconds (what the SDKs and the CLI send) → epoch ms. */
function time(input: Input, field: string): number | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return Math.round(v * 1000);
  if (typeof v === 'string' && !Number.isNaN(Date.parse(v))) return Date.parse(v);
  throw validation(`${field} must be a timestamp (epoch seconds).`);
}

function namespace(input: Input): string {
  const ns = str(input, 'ServiceNamespace', true);
  if (!NAMESPACES.includes(ns)) {
    throw validation(`1 validation error detected: Value '${ns}' at 'serviceNamespace' failed to satisfy constraint: Member must satisfy enum value set: [${NAMESPACES.join(', ')}]`);
  }
  if (ns !== ECS_NAMESPACE) throw validation(`Skiff scales ECS services only: use ServiceNamespace ecs (got ${ns}).`);
  return ns;
}

function resourceId(input: Input, required: true): string;
function resourceId(input: Input, required: false): string | undefined;
function resourceId(input: Input, required: boolean): string | undefined {
  const id = required ? str(input, 'ResourceId', true) : str(input, 'ResourceId');
  if (id !== undefined && !parseEcsResourceId(id)) {
    throw validation(`Unsupported resource ID '${id}' for service namespace ecs: use service/<cluster-name>/<service-name>, e.g. service/default/web.`);
  }
  return id;
}

function dimension(input: Input, required: boolean): string | undefined {
  const d = required ? str(input, 'ScalableDimension', true) : str(input, 'ScalableDimension');
  if (d !== undefined && d !== ECS_DESIRED_COUNT) {
    throw validation(`Unsupported scalable dimension '${d}' for service namespace ecs: use ${ECS_DESIRED_COUNT}.`);
  }
  return d;
}

/** The identity every Put/Delete/Deregister names. */
function identity(input: Input): { namespace: string; resourceId: string; dimension: string } {
  return { namespace: namespace(input), resourceId: resourceId(input, true), dimension: dimension(input, true)! };
}

/** Filters of a Describe call; a dimension needs a resource id (AWS's rule). */
function filters(input: Input, idsField: 'ResourceIds' | 'ResourceId'): { namespace: string; resourceIds?: string[]; dimension?: string } {
  const ns = namespace(input);
  let ids: string[] | undefined;
  if (idsField === 'ResourceIds') {
    ids = strList(input, 'ResourceIds', 50);
    for (const id of ids ?? []) resourceId({ ResourceId: id }, true);
  } else {
    const id = resourceId(input, false);
    ids = id === undefined ? undefined : [id];
  }
  const dim = dimension(input, false);
  if (dim !== undefined && !ids?.length) throw validation('If you specify a scalable dimension, you must also specify a resource ID.');
  return { namespace: ns, resourceIds: ids, dimension: dim };
}

const describeTarget = (id: { namespace: string; resourceId: string; dimension: string }) =>
  `service namespace: ${id.namespace}, resource ID: ${id.resourceId}, scalable dimension: ${id.dimension}`;

const invalidNextToken = () => new ApiError(ErrorCode.InvalidNextTokenException, 'Invalid token: pass the NextToken of the previous page of the same query.');

/** MaxResults/NextToken paging; tokens are bound to the query they were issued for. */
function paginate<T>(items: T[], input: Input, maxAllowed: number, query: unknown): { page: T[]; NextToken?: string } {
  const max = int(input, 'MaxResults', 1, maxAllowed) ?? maxAllowed;
  const { page, nextToken } = pageOf(items, max, str(input, 'NextToken'), { query, invalidToken: invalidNextToken });
  return { page, ...(nextToken ? { NextToken: nextToken } : {}) };
}

const targetView = (t: ScalableTargetRecord) => ({
  ServiceNamespace: t.namespace,
  ResourceId: t.resourceId,
  ScalableDimension: t.dimension,
  MinCapacity: t.minCapacity,
  MaxCapacity: t.maxCapacity,
  RoleARN: t.roleArn,
  CreationTime: secs(t.createdAt),
  SuspendedState: t.suspended,
  ScalableTargetARN: t.arn,
});

const policyView = (p: TargetTrackingPolicyRecord) => ({
  PolicyARN: p.arn,
  PolicyName: p.name,
  ServiceNamespace: p.namespace,
  ResourceId: p.resourceId,
  ScalableDimension: p.dimension,
  PolicyType: 'TargetTrackingScaling',
  TargetTrackingScalingPolicyConfiguration: {
    TargetValue: p.targetValue,
    PredefinedMetricSpecification: { PredefinedMetricType: p.metric },
    ScaleOutCooldown: p.scaleOutCooldown,
    ScaleInCooldown: p.scaleInCooldown,
    DisableScaleIn: p.disableScaleIn,
  },
  Alarms: p.alarms,
  CreationTime: secs(p.createdAt),
});

const scheduledActionView = (a: ScheduledActionRecord) => ({
  ScheduledActionName: a.name,
  ScheduledActionARN: a.arn,
  ServiceNamespace: a.namespace,
  Schedule: a.schedule,
  ...(a.timezone ? { Timezone: a.timezone } : {}),
  ResourceId: a.resourceId,
  ScalableDimension: a.dimension,
  ...(a.startTime !== undefined ? { StartTime: secs(a.startTime) } : {}),
  ...(a.endTime !== undefined ? { EndTime: secs(a.endTime) } : {}),
  ScalableTargetAction: {
    ...(a.minCapacity !== undefined ? { MinCapacity: a.minCapacity } : {}),
    ...(a.maxCapacity !== undefined ? { MaxCapacity: a.maxCapacity } : {}),
  },
  CreationTime: secs(a.createdAt),
});

const activityView = (a: ActivityRecord) => ({
  ActivityId: a.id,
  ServiceNamespace: a.namespace,
  ResourceId: a.resourceId,
  ScalableDimension: a.dimension,
  Description: a.description,
  Cause: a.cause,
  StartTime: secs(a.startTime),
  ...(a.endTime !== undefined ? { EndTime: secs(a.endTime) } : {}),
  StatusCode: a.status,
  ...(a.statusMessage ? { StatusMessage: a.statusMessage } : {}),
  ...(a.notScaledReasons ? { NotScaledReasons: a.notScaledReasons } : {}),
});

export interface AutoscalingIds {
  region: string;
  account: string;
  now: () => number;
}

export function autoscalingProtocol(repo: AutoscalingRepo, autoscaler: Pick<Autoscaler, 'applyRange' | 'serviceIsActive'>, ids: AutoscalingIds): JsonProtocol {
  const requireTarget = (id: { namespace: string; resourceId: string; dimension: string }) => {
    const t = repo.target(id.namespace, id.resourceId, id.dimension);
    if (!t) throw new ApiError(ErrorCode.ObjectNotFoundException, `No scalable target registered for ${describeTarget(id)}. Register it with RegisterScalableTarget first.`);
    return t;
  };
  const scopedArn = (kind: 'scalingPolicy' | 'scheduledAction', id: { namespace: string; resourceId: string }, nameKey: string, name: string) =>
    `arn:aws:autoscaling:${ids.region}:${ids.account}:${kind}:${randomUUID()}:resource/${id.namespace}/${id.resourceId}:${nameKey}/${name}`;

  return {
    targetPrefix: AUTOSCALING_TARGET_PREFIX,
    operations: {
      RegisterScalableTarget: (input) => {
        const id = identity(input);
        const min = int(input, 'MinCapacity', 0, MAX_TASKS_PER_SERVICE);
        const max = int(input, 'MaxCapacity', 0, MAX_TASKS_PER_SERVICE);
        const role = str(input, 'RoleARN');
        const suspended = obj(input, 'SuspendedState');
        const tags = obj(input, 'Tags');
        if (tags && Object.values(tags).some((v) => typeof v !== 'string')) throw validation('Tags must map tag keys to string values.');
        const ref = parseEcsResourceId(id.resourceId)!;
        if (!autoscaler.serviceIsActive(ref.cluster, ref.service)) throw validation(`ECS service doesn't exist: ${id.resourceId}. Create it with CreateService (cluster ${ref.cluster}) first.`);
        const existing = repo.target(id.namespace, id.resourceId, id.dimension);
        if (!existing && (min === undefined || max === undefined)) throw validation('MinCapacity and MaxCapacity are required to register a new scalable target.');
        const newMin = min ?? existing!.minCapacity;
        const newMax = max ?? existing!.maxCapacity;
        if (newMin > newMax) throw validation(`Minimum capacity cannot be greater than maximum capacity (MinCapacity ${newMin}, MaxCapacity ${newMax}).`);
        const base = existing ?? {
          arn: `arn:aws:application-autoscaling:${ids.region}:${ids.account}:scalable-target/${randomBytes(18).toString('hex')}`,
          ...id,
          roleArn: `arn:aws:iam::${ids.account}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService`,
          createdAt: ids.now(),
          suspended: { DynamicScalingInSuspended: false, DynamicScalingOutSuspended: false, ScheduledScalingSuspended: false },
        };
        const t: ScalableTargetRecord = { ...base, minCapacity: newMin, maxCapacity: newMax, ...(role ? { roleArn: role } : {}) };
        if (suspended) {
          t.suspended = {
            DynamicScalingInSuspended: bool(suspended, 'DynamicScalingInSuspended') ?? t.suspended.DynamicScalingInSuspended,
            DynamicScalingOutSuspended: bool(suspended, 'DynamicScalingOutSuspended') ?? t.suspended.DynamicScalingOutSuspended,
            ScheduledScalingSuspended: bool(suspended, 'ScheduledScalingSuspended') ?? t.suspended.ScheduledScalingSuspended,
          };
        }
        repo.putTarget(t);
        autoscaler.applyRange(t);
        return { ScalableTargetARN: t.arn };
      },

      DescribeScalableTargets: (input) => {
        const f = filters(input, 'ResourceIds');
        const { page, NextToken } = paginate(repo.targets(f), input, 50, ['targets', f]);
        return { ScalableTargets: page.map(targetView), ...(NextToken ? { NextToken } : {}) };
      },

      DeregisterScalableTarget: (input) => {
        const id = identity(input);
        const t = repo.target(id.namespace, id.resourceId, id.dimension);
        if (!t) throw new ApiError(ErrorCode.ObjectNotFoundException, `No scalable target found for ${describeTarget(id)}.`);
        repo.deleteTarget(t);
        return {};
      },

      PutScalingPolicy: (input) => {
        const name = str(input, 'PolicyName', true);
        if (!POLICY_NAME_RE.test(name)) throw validation('PolicyName must be 1-256 printable characters.');
        const id = identity(input);
        const type = str(input, 'PolicyType');
        if (type !== 'TargetTrackingScaling') {
          throw validation(`Skiff supports PolicyType TargetTrackingScaling only (got ${type ?? 'none, which AWS takes as StepScaling'}).`);
        }
        if (input.StepScalingPolicyConfiguration) throw validation('StepScalingPolicyConfiguration cannot be used with PolicyType TargetTrackingScaling.');
        const cfg = obj(input, 'TargetTrackingScalingPolicyConfiguration');
        if (!cfg) throw validation('TargetTrackingScalingPolicyConfiguration is required for PolicyType TargetTrackingScaling.');
        const target = cfg.TargetValue;
        if (typeof target !== 'number' || !Number.isFinite(target)) throw validation('TargetTrackingScalingPolicyConfiguration.TargetValue is required: the utilization to keep, in percent (e.g. 75.0).');
        if (target < 8.515920e-109 || target > 1.174271e108) throw validation(`TargetValue must be greater than 0 (got ${target}).`);
        if (cfg.CustomizedMetricSpecification) {
          throw validation('CustomizedMetricSpecification is not supported by Skiff: use PredefinedMetricSpecification with ECSServiceAverageCPUUtilization or ECSServiceAverageMemoryUtilization.');
        }
        const spec = obj(cfg, 'PredefinedMetricSpecification');
        const metric = spec && str(spec, 'PredefinedMetricType');
        if (!metric) throw validation('PredefinedMetricSpecification.PredefinedMetricType is required: ECSServiceAverageCPUUtilization or ECSServiceAverageMemoryUtilization.');
        if (metric !== MetricType.cpu && metric !== MetricType.memory) {
          throw validation(`PredefinedMetricType ${metric} is not valid for an ECS service in Skiff: use ECSServiceAverageCPUUtilization or ECSServiceAverageMemoryUtilization.`);
        }
        const scaleOut = int(cfg, 'ScaleOutCooldown', 0, MAX_COOLDOWN) ?? DEFAULT_COOLDOWN_SECONDS;
        const scaleIn = int(cfg, 'ScaleInCooldown', 0, MAX_COOLDOWN) ?? DEFAULT_COOLDOWN_SECONDS;
        const disableScaleIn = bool(cfg, 'DisableScaleIn') ?? false;
        requireTarget(id);
        const existing = repo.policy(id.namespace, id.resourceId, id.dimension, name);
        if (!existing && repo.policies({ namespace: id.namespace, resourceIds: [id.resourceId], dimension: id.dimension }).length >= MAX_POLICIES_PER_TARGET) {
          throw new ApiError(ErrorCode.LimitExceededException, `A scalable target can have at most ${MAX_POLICIES_PER_TARGET} scaling policies; delete one first.`);
        }
        const alarm = (kind: 'AlarmHigh' | 'AlarmLow') => {
          const alarmName = `TargetTracking-${id.resourceId}-${kind}-${randomUUID()}`;
          return { AlarmName: alarmName, AlarmARN: `arn:aws:cloudwatch:${ids.region}:${ids.account}:alarm:${alarmName}` };
        };
        const high = existing?.alarms[0] ?? alarm('AlarmHigh');
        const low = disableScaleIn ? undefined : (existing?.alarms[1] ?? alarm('AlarmLow'));
        const p: TargetTrackingPolicyRecord = {
          arn: existing?.arn ?? scopedArn('scalingPolicy', id, 'policyName', name),
          name,
          ...id,
          metric,
          targetValue: target,
          scaleOutCooldown: scaleOut,
          scaleInCooldown: scaleIn,
          disableScaleIn,
          alarms: low ? [high, low] : [high],
          createdAt: existing?.createdAt ?? ids.now(),
        };
        repo.putPolicy(p);
        return { PolicyARN: p.arn, Alarms: p.alarms };
      },

      DescribeScalingPolicies: (input) => {
        const f = filters(input, 'ResourceId');
        const names = strList(input, 'PolicyNames', 50);
        const { page, NextToken } = paginate(repo.policies({ ...f, names }), input, 10, ['policies', f, names]);
        return { ScalingPolicies: page.map(policyView), ...(NextToken ? { NextToken } : {}) };
      },

      DeleteScalingPolicy: (input) => {
        const name = str(input, 'PolicyName', true);
        const id = identity(input);
        const p = repo.policy(id.namespace, id.resourceId, id.dimension, name);
        if (!p) throw new ApiError(ErrorCode.ObjectNotFoundException, `No scaling policy found for ${describeTarget(id)}, policy name: ${name}`);
        repo.deletePolicy(p.arn);
        return {};
      },

      PutScheduledAction: (input) => {
        const name = str(input, 'ScheduledActionName', true);
        if (!ACTION_NAME_RE.test(name)) throw validation('ScheduledActionName must be 1-256 printable characters without : / | and without leading or trailing spaces.');
        const id = identity(input);
        const schedule = str(input, 'Schedule');
        const timezone = str(input, 'Timezone');
        const startTime = time(input, 'StartTime');
        const endTime = time(input, 'EndTime');
        const action = obj(input, 'ScalableTargetAction');
        const min = action ? int(action, 'MinCapacity', 0, MAX_TASKS_PER_SERVICE) : undefined;
        const max = action ? int(action, 'MaxCapacity', 0, MAX_TASKS_PER_SERVICE) : undefined;
        if (schedule !== undefined) {
          try {
            parseSchedule(schedule);
          } catch (e) {
            if (e instanceof ScheduleError) throw validation(`Schedule is not valid: ${e.message}`);
            throw e;
          }
        }
        if (timezone !== undefined && !isValidTimezone(timezone)) throw validation(`Timezone '${timezone}' is not a valid IANA time zone name (e.g. Etc/UTC, America/New_York).`);
        requireTarget(id);
        const existing = repo.scheduledAction(id.namespace, id.resourceId, id.dimension, name);
        if (!existing) {
          if (schedule === undefined) throw notNull('schedule');
          if (repo.scheduledActions({ namespace: id.namespace, resourceIds: [id.resourceId], dimension: id.dimension }).length >= MAX_SCHEDULED_ACTIONS_PER_TARGET) {
            throw new ApiError(ErrorCode.LimitExceededException, `A scalable target can have at most ${MAX_SCHEDULED_ACTIONS_PER_TARGET} scheduled actions; delete one first.`);
          }
        }
        const a: ScheduledActionRecord = existing
          ? { ...existing }
          : { arn: scopedArn('scheduledAction', id, 'scheduledActionName', name), name, ...id, schedule: schedule!, createdAt: ids.now() };
        if (schedule !== undefined) a.schedule = schedule;
        if (timezone !== undefined) a.timezone = timezone;
        if (startTime !== undefined) a.startTime = startTime;
        if (endTime !== undefined) a.endTime = endTime;
        if (action) {
          if (min !== undefined) a.minCapacity = min;
          if (max !== undefined) a.maxCapacity = max;
        }
        if (a.minCapacity === undefined && a.maxCapacity === undefined) throw validation('ScalableTargetAction must set MinCapacity, MaxCapacity or both.');
        if (a.minCapacity !== undefined && a.maxCapacity !== undefined && a.minCapacity > a.maxCapacity) {
          throw validation(`Minimum capacity cannot be greater than maximum capacity (MinCapacity ${a.minCapacity}, MaxCapacity ${a.maxCapacity}).`);
        }
        if (a.startTime !== undefined && a.endTime !== undefined && a.endTime <= a.startTime) throw validation('EndTime must be after StartTime.');
        // A changed action runs for instants after this change only.
        if (existing) a.lastRunFor = Math.max(a.lastRunFor ?? 0, ids.now());
        repo.putScheduledAction(a);
        return {};
      },

      DescribeScheduledActions: (input) => {
        const f = filters(input, 'ResourceId');
        const names = strList(input, 'ScheduledActionNames', 50);
        const { page, NextToken } = paginate(repo.scheduledActions({ ...f, names }), input, 50, ['scheduled', f, names]);
        return { ScheduledActions: page.map(scheduledActionView), ...(NextToken ? { NextToken } : {}) };
      },

      DeleteScheduledAction: (input) => {
        const name = str(input, 'ScheduledActionName', true);
        const id = identity(input);
        const a = repo.scheduledAction(id.namespace, id.resourceId, id.dimension, name);
        if (!a) throw new ApiError(ErrorCode.ObjectNotFoundException, `No scheduled action found for ${describeTarget(id)}, scheduled action name: ${name}`);
        repo.deleteScheduledAction(a.arn);
        return {};
      },

      DescribeScalingActivities: (input) => {
        const f = filters(input, 'ResourceId');
        const notScaled = bool(input, 'IncludeNotScaledActivities') ?? false;
        const all = repo.activities(f).filter((a) => notScaled || !a.notScaledReasons);
        const { page, NextToken } = paginate(all, input, 50, ['activities', f, notScaled]);
        return { ScalingActivities: page.map(activityView), ...(NextToken ? { NextToken } : {}) };
      },
    },
  };
}

/** The scalable target ARN an operation acts on, for the policy check (`*` when it names none or none exists). */
export function autoscalingResources(repo: AutoscalingRepo, input: Record<string, unknown>): string[] {
  const { ServiceNamespace: ns, ResourceId: rid, ScalableDimension: dim } = input;
  if (typeof ns !== 'string' || typeof rid !== 'string' || typeof dim !== 'string') return ['*'];
  return [repo.target(ns, rid, dim)?.arn ?? '*'];
}
