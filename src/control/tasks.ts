/**
 * RunTask, StopTask, DescribeTasks, ListTasks.
 *
 * RunTask decides everything before acting: it validates, resolves the task
 * definition, subnet and addresses, and stores the tasks (PROVISIONING, desired
 * RUNNING) with their addresses and the client token in one transaction. Only
 * then does the agent start them. A retried call with the same clientToken gets
 * the same tasks back. Storing and launching is scheduler/placement.ts, shared with
 * the service scheduler. With a capacity provider strategy (given, or the
 * cluster's default) the tasks are split over FARGATE / FARGATE_SPOT by base
 * and weight. StopTask on a task its service's load balancer sends traffic to
 * drains it first (scheduler/stop-task.ts stopTaskAfterDrain). Tasks that
 * do not fit on the host are not started: each is a `failures` entry with the
 * cluster's ARN and reason RESOURCE:CPU / RESOURCE:MEMORY, as ECS answers
 * (scheduler/capacity.ts).
 */
import { StopReason } from '../model/task-status.ts';
import { ApiError, ErrorCode, invalidParameter } from '../api/errors.ts';
import { optInt, optString, optStringList, reqString } from '../api/input.ts';
import { checkStrategyAssociated, validateRunTaskInput, requestHash } from '../ecs/run-task.ts';
import { paginate } from '../ecs/pagination.ts';
import type { TaskRecord } from '../model/task-record.ts';
import { parseServiceRef, tryParseTaskRef } from '../ecs/arns.ts';
import type { Repos } from '../store/repos.ts';
import { activeCluster } from './clusters.ts';
import { resolveTaskDefinition } from '../scheduler/task-definitions.ts';
import { readTags } from './tags.ts';
import { runTaskView, taskView } from './task-view.ts';
import { PreSerialized } from '../api/http-server.ts';
import { Placement, abandonPlaced, isolationFor, launchPlaced, requireRuntime, storeTasks, type LaunchDeps, type PlacementDeps, type TaskBatch } from '../scheduler/placement.ts';
import { effectiveStrategy, splitByStrategy } from '../scheduler/capacity-split.ts';
import { stopTaskAfterDrain, type StopDeps } from '../scheduler/stop-task.ts';
import type { ChangeSignal } from '../scheduler/signal.ts';
import { limitOf, shortOf } from '../scheduler/capacity.ts';
import type { TaskDefinition } from '@aws-sdk/client-ecs';

export interface TaskHandlerDeps extends PlacementDeps, StopDeps, Pick<Repos, 'db' | 'clusters' | 'taskDefinitions'> {
  agent: StopDeps['agent'] & LaunchDeps['agent'];
  /** Told when a task of a service was stopped, so the service scheduler replaces it soon. */
  servicesChanged: Pick<ChangeSignal, 'notify'>;
}

export function taskOperations(deps: TaskHandlerDeps) {
  /**
   * Each task's DescribeTasks JSON (without tags), by the store's change stamp of
   * its document: the view is a pure function of the document, so while the
   * stamp holds, neither the document nor the view is read or built again.
   */
  const viewCache = new Map<string, { stamp: number; cluster: string; json: Buffer }>();
  function describeJson(taskIds: string[], clusterName: string, withTags: boolean): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    const stamps = withTags ? new Map<string, number>() : deps.tasks.changeStamps(taskIds);
    const misses: string[] = [];
    for (const id of taskIds) {
      const hit = viewCache.get(id);
      if (hit && hit.stamp === stamps.get(id)) {
        if (hit.cluster === clusterName) out.set(id, hit.json);
      } else misses.push(id);
    }
    for (const [id, { doc, stamp }] of deps.tasks.docs(misses)) {
      const t = JSON.parse(doc) as TaskRecord;
      const view = taskView(t, withTags ? deps.tags.list(t.arn) : []);
      if (!withTags) delete view.tags;
      const json = Buffer.from(JSON.stringify(view));
      if (!withTags) {
        if (viewCache.size >= 20_000) viewCache.clear(); // bounded: a cache, not a copy of the store
        viewCache.set(id, { stamp, cluster: t.clusterName, json });
      }
      if (t.clusterName === clusterName) out.set(id, json);
    }
    return out;
  }

  return {
    async RunTask(input: Record<string, unknown>) {
      const cluster = activeCluster(deps, optString(input, 'cluster'));
      const def = resolveTaskDefinition(deps, reqString(input, 'taskDefinition'));
      if (def.status !== 'ACTIVE') {
        throw new ApiError(ErrorCode.ClientException, `TaskDefinition ${def.family}:${def.revision} is inactive; register a new revision or run an ACTIVE one.`);
      }
      const req = validateRunTaskInput(input as never, def, { allowMissingNetworkConfiguration: true });
      const tags = readTags(input);
      const hash = requestHash(input as never);
      // The runtime must be usable here (the one wait: everything after it runs without yielding).
      await requireRuntime(deps, isolationFor(deps, cluster, def));

      if (req.capacityProviderStrategy) checkStrategyAssociated(req.capacityProviderStrategy, cluster.capacityProviders, cluster.name);
      const strategy = effectiveStrategy(req.capacityProviderStrategy, req.launchType, cluster.defaultCapacityProviderStrategy);
      const batch: TaskBatch = {
        cluster,
        def,
        overrides: req.overrides,
        rawOverrides: (input.overrides as Record<string, unknown>) ?? {},
        subnetIds: req.networkConfiguration?.awsvpcConfiguration.subnets,
        securityGroups: req.networkConfiguration?.awsvpcConfiguration.securityGroups,
        assignPublicIp: req.networkConfiguration?.awsvpcConfiguration.assignPublicIp === 'ENABLED',
        startedBy: req.startedBy,
        group: req.group,
        capacityProviders: strategy ? splitByStrategy(strategy, req.count) : Array<string>(req.count).fill('FARGATE'),
        tags,
        enableExecuteCommand: req.enableExecuteCommand,
      };
      const placement = new Placement();
      const run = deps.db.transaction(() => {
        if (req.clientToken) {
          const prior = deps.db
            .prepare(`SELECT request_hash, task_ids FROM client_tokens WHERE cluster = ? AND token = ?`)
            .get(cluster.name, req.clientToken) as { request_hash: string; task_ids: string } | undefined;
          if (prior) {
            if (prior.request_hash !== hash) throw clientTokenConflict(deps, req.clientToken, JSON.parse(prior.task_ids) as string[]);
            return { ids: JSON.parse(prior.task_ids) as string[], created: false };
          }
        }
        const ids = storeTasks(deps, batch, placement);
        if (req.clientToken && ids.length > 0) { // nothing placed: a retry with the token may find room
          deps.db
            .prepare(`INSERT INTO client_tokens (cluster, token, request_hash, task_ids, created_at) VALUES (?, ?, ?, ?, ?)`)
            .run(cluster.name, req.clientToken, hash, JSON.stringify(ids), deps.clock.now());
        }
        return { ids, created: true };
      });
      let ran: { ids: string[]; created: boolean };
      try {
        ran = run();
      } catch (err) {
        abandonPlaced(deps, placement);
        throw err;
      }
      if (!ran.created) abandonPlaced(deps, placement);
      const stored = new Map(ran.created ? ran.ids.map((id) => [id, deps.tasks.get(id)!]) : []);
      launchPlaced(deps, placement);
      // New tasks as ECS shows them at this moment (what the agent has done since is DescribeTasks' news);
      // a retried call's tasks as they are now.
      const tasks = ran.ids
        .map((id) => (ran.created ? stored.get(id) : undefined) ?? deps.tasks.get(id)!)
        .map((t) => (ran.created ? runTaskView : taskView)(t, deps.tags.list(t.arn)));
      return { tasks, failures: ran.created ? refusals(deps, cluster.arn, placement, def) : [] };
    },

    StopTask(input: Record<string, unknown>) {
      const cluster = activeCluster(deps, optString(input, 'cluster'));
      const ref = reqString(input, 'task');
      const reason = optString(input, 'reason', { max: 255 }) ?? StopReason.UserInitiated;
      const parsed = tryParseTaskRef(cluster.name, ref, deps.arns);
      const found = parsed && parsed.cluster === cluster.name ? deps.tasks.get(parsed.taskId) : undefined;
      if (!found || found.clusterName !== cluster.name) {
        throw invalidParameter(`The referenced task '${ref}' was not found in cluster '${cluster.name}'.`);
      }
      let task = found;
      if (found.desiredStatus !== 'STOPPED') {
        task = deps.tasks.update(found.id, (t) => {
          t.desiredStatus = 'STOPPED';
          t.stopCode ??= 'UserInitiated';
          t.stoppedReason ??= reason;
        });
        // A target of its service's load balancer is drained first (out of rotation now, stopped after the delay);
        // its service starts a replacement meanwhile, as the task no longer counts as desired RUNNING.
        stopTaskAfterDrain(deps, task.id);
        deps.servicesChanged.notify();
      }
      return { task: taskView(task, deps.tags.list(task.arn)) };
    },

    DescribeTasks(input: Record<string, unknown>) {
      const cluster = activeCluster(deps, optString(input, 'cluster'));
      const refs = optStringList(input, 'tasks') ?? [];
      if (refs.length === 0) throw invalidParameter('tasks must name at least one task (id or ARN).');
      if (refs.length > 100) throw invalidParameter(`DescribeTasks takes at most 100 tasks per call (got ${refs.length}).`);
      const withTags = (optStringList(input, 'include') ?? []).includes('TAGS');
      const parsed = refs.map((ref) => ({ ref, p: tryParseTaskRef(cluster.name, ref, deps.arns) }));
      const ids = [...new Set(parsed.flatMap(({ p }) => (p && p.cluster === cluster.name ? [p.taskId] : [])))];
      const found = describeJson(ids, cluster.name, withTags);
      const tasks: Buffer[] = [];
      const failures: { arn: string; reason: string }[] = [];
      for (const { ref, p } of parsed) {
        const json = p && p.cluster === cluster.name ? found.get(p.taskId) : undefined;
        if (json !== undefined) tasks.push(json);
        else failures.push({ arn: p?.arn ?? ref, reason: 'MISSING' });
      }
      return PreSerialized.array('tasks', tasks, `,"failures":${JSON.stringify(failures)}`);
    },

    ListTasks(input: Record<string, unknown>) {
      const cluster = activeCluster(deps, optString(input, 'cluster'));
      const desiredStatus = optString(input, 'desiredStatus') ?? 'RUNNING';
      if (desiredStatus !== 'RUNNING' && desiredStatus !== 'STOPPED') {
        throw invalidParameter(`desiredStatus must be RUNNING or STOPPED (got ${desiredStatus}).`);
      }
      const family = optString(input, 'family');
      const startedBy = optString(input, 'startedBy');
      const launchType = optString(input, 'launchType');
      if (launchType && launchType !== 'FARGATE') {
        return { taskArns: [] };
      }
      const serviceName = optString(input, 'serviceName');
      if (startedBy && family) throw invalidParameter('ListTasks takes startedBy or family, not both.');
      let tasks = deps.tasks.listRefs({ cluster: cluster.name, family, startedBy, desiredStatus: desiredStatus as 'RUNNING' | 'STOPPED' });
      if (serviceName) {
        const svc = deps.services.byName(cluster.name, parseServiceRef(cluster.name, serviceName, deps.arns).service);
        const ids = new Set(svc ? deps.services.taskIds(svc.id) : []);
        tasks = tasks.filter((t) => ids.has(t.id));
      }
      const arns = tasks.map((t) => t.arn);
      const { page, nextToken } = paginate(arns, optInt(input, 'maxResults'), optString(input, 'nextToken'), {
        defaultMax: 100,
        query: `ListTasks:${cluster.name}:${family ?? ''}:${startedBy ?? ''}:${serviceName ?? ''}:${desiredStatus}`,
      });
      return { taskArns: page, ...(nextToken ? { nextToken } : {}) };
    },
  };
}

/** RunTask's `failures` for the tasks that did not fit on the host: reason RESOURCE:CPU / RESOURCE:MEMORY, and what to do in `detail`. */
function refusals(deps: Pick<PlacementDeps, 'admission'>, clusterArn: string, placement: Placement, def: TaskDefinition): { arn: string; reason: string; detail: string }[] {
  const a = deps.admission;
  if (!a) return [];
  const limit = limitOf(a);
  return placement.failures.map((reason) => ({
    arn: clusterArn,
    reason,
    detail:
      `Host ${a.host} has ${shortOf(reason)} for a task of ${def.family}:${def.revision} ` +
      `(it takes ${limit.cpu} CPU units and ${limit.memory} MiB in all: capacity × overcommit ${a.overcommit}). ` +
      `Stop tasks, run a smaller size, or start the server with a larger --overcommit.`,
  }));
}

/** A clientToken reused with other parameters: ConflictException with the token's tasks as `resourceIds`, as ECS answers. */
function clientTokenConflict(deps: Pick<Repos, 'tasks'>, token: string, taskIds: string[]): ApiError {
  const resourceIds = taskIds.map((id) => deps.tasks.get(id)?.arn).filter((a): a is string => a !== undefined);
  return new ApiError(
    ErrorCode.ConflictException,
    `The clientToken '${token}' was already used with different parameters (tasks ${resourceIds.join(', ') || 'none'}). Use a new clientToken for a different request.`,
    { fields: { resourceIds } },
  );
}
