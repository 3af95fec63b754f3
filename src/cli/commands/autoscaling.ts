/**
 * `skiff autoscaling`: service autoscaling through the Application Auto Scaling
 * API (the same calls `aws application-autoscaling` makes):
 *
 *   targets | policies | schedules | activities [SERVICE]   list (table or --output json)
 *   set SERVICE --min N --max N                              register or update the scalable target
 *   track SERVICE --cpu PCT | --memory PCT                   a target tracking policy
 *   schedule SERVICE NAME --schedule EXPR [--min N] [--max N] [--timezone TZ]   a scheduled action
 *   unset SERVICE                                            deregister (removes its policies and schedules)
 *
 * SERVICE is a service name (in --cluster, default `default`) or a resource id
 * `service/<cluster>/<service>`.
 */
import type { Command } from 'commander';
import { credentials, resolveEndpoint, resolveRegion, signedFetch, type ClientOptions } from '../client.ts';
import { render } from '../render.ts';
import type { CommandModule } from '../context.ts';

const TARGET_PREFIX = 'AnyScaleFrontendService';
const NS = { ServiceNamespace: 'ecs' } as const;
const DIMENSION = 'ecs:service:DesiredCount';

/** One Application Auto Scaling call; an error response becomes an Error naming its AWS type. */
async function call<T>(opts: ClientOptions, operation: string, input: Record<string, unknown>): Promise<T> {
  const url = new URL(resolveEndpoint(opts) + '/');
  let res: Response;
  try {
    res = await signedFetch(url, {
      method: 'POST',
      body: JSON.stringify(input),
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `${TARGET_PREFIX}.${operation}` },
      service: 'application-autoscaling',
      region: resolveRegion(opts),
      credentials,
    });
  } catch (err) {
    throw new Error(`cannot reach Skiff at ${url.origin} (${(err as Error).cause ?? (err as Error).message}); start it with \`skiff server\` or set --endpoint / SKIFF_ENDPOINT`);
  }
  const text = await res.text();
  if (!res.ok) {
    let body: { __type?: string; message?: string } = {};
    try {
      body = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    throw new Error(body.__type ? `${body.__type}: ${body.message}` : `HTTP ${res.status}: ${text}`);
  }
  return (text ? JSON.parse(text) : {}) as T;
}

/** Every page of a Describe call. */
async function all<T>(opts: ClientOptions, operation: string, input: Record<string, unknown>, key: string): Promise<T[]> {
  const out: T[] = [];
  let NextToken: string | undefined;
  do {
    const page = await call<Record<string, unknown> & { NextToken?: string }>(opts, operation, { ...input, ...(NextToken ? { NextToken } : {}) });
    out.push(...((page[key] as T[]) ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return out;
}

function resourceId(service: string, cluster = 'default'): string {
  return service.startsWith('service/') ? service : `service/${cluster}/${service}`;
}

const iso = (epochSeconds: number | undefined) => (epochSeconds === undefined ? undefined : new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'));

function wholeNumber(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} must be a whole number of at least 0 (got ${v})`);
  return n;
}

interface TargetView {
  ResourceId: string;
  MinCapacity: number;
  MaxCapacity: number;
  CreationTime: number;
  SuspendedState?: Record<string, boolean>;
}
interface PolicyView {
  PolicyName: string;
  ResourceId: string;
  TargetTrackingScalingPolicyConfiguration?: {
    TargetValue: number;
    PredefinedMetricSpecification?: { PredefinedMetricType: string };
    ScaleOutCooldown?: number;
    ScaleInCooldown?: number;
    DisableScaleIn?: boolean;
  };
}
interface ScheduledActionView {
  ScheduledActionName: string;
  ResourceId: string;
  Schedule: string;
  Timezone?: string;
  ScalableTargetAction?: { MinCapacity?: number; MaxCapacity?: number };
}
interface ActivityView {
  ResourceId: string;
  StartTime: number;
  StatusCode: string;
  Description: string;
  Cause: string;
  NotScaledReasons?: { Code: string }[];
}

export const autoscalingCommands: CommandModule = ({ program, globals, format }) => {
  const as = program.command('autoscaling').description('service autoscaling: scalable targets, target tracking, scheduled scaling, activities');
  const withCluster = (c: Command) => c.option('--cluster <cluster>', 'cluster of SERVICE when it is a name', 'default');
  const filter = (service: string | undefined, cluster: string) => (service ? { ResourceId: resourceId(service, cluster) } : {});

  withCluster(as.command('targets').description('scalable targets: min and max desired count').argument('[service]')).action(async (service: string | undefined, o: { cluster: string }) => {
    const input = { ...NS, ...(service ? { ResourceIds: [resourceId(service, o.cluster)] } : {}) };
    const targets = await all<TargetView>(globals(), 'DescribeScalableTargets', input, 'ScalableTargets');
    render(format(), { ScalableTargets: targets }, () => ({
      columns: ['RESOURCE', 'MIN', 'MAX', 'SUSPENDED', 'CREATED'],
      rows: targets.map((t) => [
        t.ResourceId,
        t.MinCapacity,
        t.MaxCapacity,
        Object.entries(t.SuspendedState ?? {}).filter(([, v]) => v).map(([k]) => k.replace(/Suspended$/, '')).join(',') || 'no',
        iso(t.CreationTime),
      ]),
    }));
  });

  withCluster(as.command('policies').description('target tracking scaling policies').argument('[service]')).action(async (service: string | undefined, o: { cluster: string }) => {
    const policies = await all<PolicyView>(globals(), 'DescribeScalingPolicies', { ...NS, ...filter(service, o.cluster) }, 'ScalingPolicies');
    render(format(), { ScalingPolicies: policies }, () => ({
      columns: ['RESOURCE', 'POLICY', 'METRIC', 'TARGET', 'OUT COOLDOWN', 'IN COOLDOWN', 'SCALE IN'],
      rows: policies.map((p) => {
        const c = p.TargetTrackingScalingPolicyConfiguration;
        const metric = c?.PredefinedMetricSpecification?.PredefinedMetricType === 'ECSServiceAverageMemoryUtilization' ? 'memory' : 'cpu';
        return [p.ResourceId, p.PolicyName, metric, c ? `${c.TargetValue} %` : undefined, `${c?.ScaleOutCooldown} s`, `${c?.ScaleInCooldown} s`, c?.DisableScaleIn ? 'disabled' : 'yes'];
      }),
    }));
  });

  withCluster(as.command('schedules').description('scheduled actions').argument('[service]')).action(async (service: string | undefined, o: { cluster: string }) => {
    const actions = await all<ScheduledActionView>(globals(), 'DescribeScheduledActions', { ...NS, ...filter(service, o.cluster) }, 'ScheduledActions');
    render(format(), { ScheduledActions: actions }, () => ({
      columns: ['RESOURCE', 'NAME', 'SCHEDULE', 'TIMEZONE', 'MIN', 'MAX'],
      rows: actions.map((a) => [a.ResourceId, a.ScheduledActionName, a.Schedule, a.Timezone ?? 'UTC', a.ScalableTargetAction?.MinCapacity, a.ScalableTargetAction?.MaxCapacity]),
    }));
  });

  withCluster(as.command('activities').description('scaling activities, newest first').argument('[service]'))
    .option('--not-scaled', 'also alarms that changed nothing, with the reason (max/min capacity reached, deployment in progress)')
    .action(async (service: string | undefined, o: { cluster: string; notScaled?: boolean }) => {
      const input = { ...NS, ...filter(service, o.cluster), ...(o.notScaled ? { IncludeNotScaledActivities: true } : {}) };
      const activities = await all<ActivityView>(globals(), 'DescribeScalingActivities', input, 'ScalingActivities');
      render(format(), { ScalingActivities: activities }, () => ({
        columns: ['TIME', 'RESOURCE', 'STATUS', 'DESCRIPTION', 'CAUSE', ...(o.notScaled ? ['NOT SCALED'] : [])],
        rows: activities.map((a) => [
          iso(a.StartTime),
          a.ResourceId,
          a.StatusCode,
          a.Description,
          a.Cause,
          ...(o.notScaled ? [a.NotScaledReasons?.map((r) => r.Code).join(',')] : []),
        ]),
      }));
    });

  withCluster(as.command('set').description("register a service as a scalable target, or change its min/max desired count").argument('<service>'))
    .option('--min <n>', 'minimum desired count')
    .option('--max <n>', 'maximum desired count')
    .action(async (service: string, o: { cluster: string; min?: string; max?: string }) => {
      const ResourceId = resourceId(service, o.cluster);
      const out = await call<{ ScalableTargetARN: string }>(globals(), 'RegisterScalableTarget', {
        ...NS,
        ResourceId,
        ScalableDimension: DIMENSION,
        ...(o.min !== undefined ? { MinCapacity: wholeNumber(o.min, '--min') } : {}),
        ...(o.max !== undefined ? { MaxCapacity: wholeNumber(o.max, '--max') } : {}),
      });
      render(format(), out, () => ({ columns: ['RESOURCE', 'SCALABLE TARGET ARN'], rows: [[ResourceId, out.ScalableTargetARN]] }));
    });

  withCluster(as.command('track').description('keep average CPU or memory utilization at a target (a target tracking policy)').argument('<service>'))
    .option('--cpu <percent>', 'target average CPU utilization')
    .option('--memory <percent>', 'target average memory utilization')
    .option('--name <policy>', 'policy name (default: cpu<PCT>-target-tracking / memory<PCT>-target-tracking)')
    .option('--scale-out-cooldown <seconds>', 'seconds after a scale-out before the next one', '300')
    .option('--scale-in-cooldown <seconds>', 'seconds after a scale-in before the next one', '300')
    .option('--no-scale-in', 'never remove tasks (DisableScaleIn)')
    .action(async (service: string, o: { cluster: string; cpu?: string; memory?: string; name?: string; scaleOutCooldown: string; scaleInCooldown: string; scaleIn: boolean }) => {
      if ((o.cpu === undefined) === (o.memory === undefined)) throw new Error('give one of --cpu PERCENT or --memory PERCENT');
      const kind = o.cpu !== undefined ? 'cpu' : 'memory';
      const target = Number(o.cpu ?? o.memory);
      if (!Number.isFinite(target) || target <= 0) throw new Error(`--${kind} must be a percentage above 0 (got ${o.cpu ?? o.memory})`);
      const ResourceId = resourceId(service, o.cluster);
      const PolicyName = o.name ?? `${kind}${target}-target-tracking`;
      const out = await call<{ PolicyARN: string; Alarms: { AlarmName: string }[] }>(globals(), 'PutScalingPolicy', {
        ...NS,
        ResourceId,
        ScalableDimension: DIMENSION,
        PolicyName,
        PolicyType: 'TargetTrackingScaling',
        TargetTrackingScalingPolicyConfiguration: {
          TargetValue: target,
          PredefinedMetricSpecification: { PredefinedMetricType: kind === 'cpu' ? 'ECSServiceAverageCPUUtilization' : 'ECSServiceAverageMemoryUtilization' },
          ScaleOutCooldown: wholeNumber(o.scaleOutCooldown, '--scale-out-cooldown'),
          ScaleInCooldown: wholeNumber(o.scaleInCooldown, '--scale-in-cooldown'),
          DisableScaleIn: !o.scaleIn,
        },
      });
      render(format(), out, () => ({ columns: ['RESOURCE', 'POLICY', 'ALARMS'], rows: [[ResourceId, PolicyName, out.Alarms.map((a) => a.AlarmName).join(' ')]] }));
    });

  withCluster(as.command('schedule').description('a scheduled action: set min/max at a time (at), on a schedule (cron) or every interval (rate)').argument('<service>').argument('<name>'))
    .requiredOption('--schedule <expr>', 'at(2026-12-24T18:00:00) | cron(0 9 ? * MON-FRI *) | rate(6 hours)')
    .option('--min <n>', 'minimum desired count from then on')
    .option('--max <n>', 'maximum desired count from then on')
    .option('--timezone <tz>', 'time zone of at()/cron() (IANA name, default UTC)')
    .action(async (service: string, name: string, o: { cluster: string; schedule: string; min?: string; max?: string; timezone?: string }) => {
      if (o.min === undefined && o.max === undefined) throw new Error('give --min, --max or both: what the action sets');
      const ResourceId = resourceId(service, o.cluster);
      await call(globals(), 'PutScheduledAction', {
        ...NS,
        ResourceId,
        ScalableDimension: DIMENSION,
        ScheduledActionName: name,
        Schedule: o.schedule,
        ...(o.timezone ? { Timezone: o.timezone } : {}),
        ScalableTargetAction: {
          ...(o.min !== undefined ? { MinCapacity: wholeNumber(o.min, '--min') } : {}),
          ...(o.max !== undefined ? { MaxCapacity: wholeNumber(o.max, '--max') } : {}),
        },
      });
      const out = { ResourceId, ScheduledActionName: name, Schedule: o.schedule, Timezone: o.timezone ?? 'UTC' };
      render(format(), out, () => ({ columns: ['RESOURCE', 'NAME', 'SCHEDULE', 'TIMEZONE'], rows: [[ResourceId, name, o.schedule, out.Timezone]] }));
    });

  withCluster(as.command('unset').description('deregister the scalable target (its policies and scheduled actions go with it)').argument('<service>')).action(
    async (service: string, o: { cluster: string }) => {
      const ResourceId = resourceId(service, o.cluster);
      await call(globals(), 'DeregisterScalableTarget', { ...NS, ResourceId, ScalableDimension: DIMENSION });
      render(format(), { ResourceId, deregistered: true }, () => ({ columns: ['RESOURCE', 'DEREGISTERED'], rows: [[ResourceId, 'yes']] }));
    },
  );
};
