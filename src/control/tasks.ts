/**
 * RunTask, StopTask, DescribeTasks, ListTasks.
 *
 * RunTask decides everything before acting: it validates, resolves the task
 * definition, subnet and addresses, and stores the tasks (PROVISIONING, desired
 * RUNNING) with their addresses and the client token in one transaction. Only
 * then does the agent start them. A retried call with the same clientToken gets
 * the same tasks back.
 *
 * A task is given a ready network from the warm pool when its subnet has one:
 * the pooled entry's id becomes the task id, and its address (already reserved
 * for that id) the task's address, in the same transaction; if the transaction
 * fails, the entries go back to the pool.
 */
import { createHash } from 'node:crypto';
import { ApiError, ErrorCode, invalidParameter } from '../api/errors.ts';
import { optInt, optString, optStringList, reqString } from '../api/input.ts';
import { validateRunTaskInput, effectiveContainerConfig, effectiveTaskSize, requestHash } from '../ecs/run-task.ts';
import { paginate } from '../ecs/pagination.ts';
import { containerStopTimeout } from '../ecs/task-definition.ts';
import type { ContainerRecord, TaskRecord } from '../agent/task-record.ts';
import type { ContainerDefinition } from '@aws-sdk/client-ecs';
import type { SubnetRecord } from '../store/networks-repo.ts';
import type { PoolEntry } from '../network/warm-pool.ts';
import { newTaskId } from '../util/clock.ts';
import { containerArn, taskArn, tryParseTaskRef } from '../ecs/arns.ts';
import type { ControlContext } from './context.ts';
import { activeCluster } from './clusters.ts';
import { resolveTaskDefinition } from './task-definitions.ts';
import { readTags } from './tags.ts';
import { taskView } from './task-view.ts';

/** Runtime id of a container on this host: `<taskId>-<name>` with only safe characters. */
function runtimeIdFor(taskId: string, containerName: string): string {
  return `${taskId}-${containerName.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

function uuidFrom(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function taskOperations(ctx: ControlContext) {
  /** Picks the subnets a RunTask may use: the ones named, or the default VPC's. */
  function subnetsFor(names: string[] | undefined): SubnetRecord[] {
    const all = ctx.networks.subnets();
    if (!names || names.length === 0) return all.filter((s) => s.isDefault);
    return names.map((id) => {
      const s = all.find((x) => x.id === id);
      if (!s) throw invalidParameter(`Subnet '${id}' does not exist. List subnets with \`skiff subnets\`.`);
      return s;
    });
  }

  return {
    RunTask(input: Record<string, unknown>) {
      const cluster = activeCluster(ctx, optString(input, 'cluster'));
      const def = resolveTaskDefinition(ctx, reqString(input, 'taskDefinition'));
      if (def.status !== 'ACTIVE') {
        throw new ApiError(ErrorCode.ClientException, `TaskDefinition ${def.family}:${def.revision} is inactive; register a new revision or run an ACTIVE one.`);
      }
      const req = validateRunTaskInput(input as never, def, { allowMissingNetworkConfiguration: true });
      const tags = readTags(input);
      const hash = requestHash(input as never);

      const pooled: PoolEntry[] = [];
      const usedSubnets = new Set<string>();
      const run = ctx.db.transaction(() => {
        if (req.clientToken) {
          const prior = ctx.db
            .prepare(`SELECT request_hash, task_ids FROM client_tokens WHERE cluster = ? AND token = ?`)
            .get(cluster.name, req.clientToken) as { request_hash: string; task_ids: string } | undefined;
          if (prior) {
            if (prior.request_hash !== hash) {
              throw new ApiError(
                ErrorCode.ConflictException,
                `The clientToken '${req.clientToken}' was already used with different parameters. Use a new clientToken for a different request.`,
              );
            }
            return { ids: JSON.parse(prior.task_ids) as string[], created: false };
          }
        }
        const subnets = subnetsFor(req.networkConfiguration?.awsvpcConfiguration.subnets);
        const size = effectiveTaskSize(def, req.overrides);
        const containers = effectiveContainerConfig(def, req.overrides);
        const now = ctx.clock.now();
        const ids: string[] = [];
        const pool = ctx.warmPool;
        for (let i = 0; i < req.count; i++) {
          // Tasks fill the allowed subnets in order, so tasks run without a network
          // configuration share one subnet and reach each other directly.
          const subnet =
            subnets.find((s) => ctx.networks.availableCount(s) > 0 || (pool?.readyCount(s.id) ?? 0) > 0) ?? subnets[0];
          usedSubnets.add(subnet.id);
          const warm = pool?.take(subnet.id);
          if (warm) pooled.push(warm);
          const id = warm?.id ?? newTaskId();
          const ipv4 = warm?.ipv4 ?? ctx.networks.allocate(subnet, id);
          if (!ipv4) {
            throw new ApiError(
              ErrorCode.ClientException,
              `No free IP address in subnet(s) ${subnets.map((s) => s.id).join(', ')}: stop some tasks or choose another subnet.`,
            );
          }
          const record: TaskRecord = {
            id,
            arn: taskArn(cluster.name, id, ctx.arns),
            clusterName: cluster.name,
            clusterArn: cluster.arn,
            taskDefinitionArn: def.taskDefinitionArn!,
            family: def.family!,
            revision: def.revision!,
            cpu: size.cpu,
            memory: size.memory,
            ephemeralStorageGiB: size.ephemeralStorageGiB,
            cpuArchitecture: def.runtimePlatform?.cpuArchitecture === 'ARM64' ? 'ARM64' : 'X86_64',
            containers: containers.map(
              (c): ContainerRecord => ({
                name: c.name,
                runtimeId: runtimeIdFor(id, c.name),
                arn: containerArn(cluster.name, id, uuidFrom(id + c.name), ctx.arns),
                image: c.image,
                essential: c.essential,
                command: c.command,
                entryPoint: c.entryPoint,
                environment: c.environment,
                workingDirectory: c.definition.workingDirectory,
                user: c.definition.user,
                cpu: c.cpu,
                memory: c.memory,
                memoryReservation: c.memoryReservation,
                stopTimeoutSec: containerStopTimeout(c.definition),
                dependsOn: (c.definition.dependsOn ?? []).map((d) => ({
                  containerName: d.containerName!,
                  condition: d.condition as ContainerRecord['dependsOn'][number]['condition'],
                })),
                readonlyRootFilesystem: c.definition.readonlyRootFilesystem,
                ...containerHardening(c.definition),
                lastStatus: 'PENDING',
              }),
            ),
            overrides: (input.overrides as Record<string, unknown>) ?? {},
            startedBy: req.startedBy,
            group: req.group,
            launchType: 'FARGATE',
            capacityProviderName: 'FARGATE',
            availabilityZone: subnet.availabilityZone,
            desiredStatus: 'RUNNING',
            lastStatus: 'PROVISIONING',
            createdAt: now,
            network: {
              attachmentId: uuidFrom(`${id}/eni`),
              subnetId: subnet.id,
              vpcId: subnet.vpcId,
              ipv4,
              status: 'PRECREATED',
            },
            timings: [],
            version: 1,
          };
          ctx.tasks.insert(record);
          if (tags.length) ctx.tags.put(record.arn, tags);
          ids.push(id);
        }
        if (req.clientToken) {
          ctx.db
            .prepare(`INSERT INTO client_tokens (cluster, token, request_hash, task_ids, created_at) VALUES (?, ?, ?, ?, ?)`)
            .run(cluster.name, req.clientToken, hash, JSON.stringify(ids), now);
        }
        return { ids, created: true };
      });
      let result: { ids: string[]; created: boolean };
      try {
        result = run();
      } catch (err) {
        ctx.warmPool?.giveBack(pooled);
        throw err;
      }
      if (!result.created) ctx.warmPool?.giveBack(pooled);
      const ran = result;

      if (ran.created) for (const id of ran.ids) ctx.agent.launch(id);
      for (const s of usedSubnets) ctx.warmPool?.warm(s);
      const tasks = ran.ids.map((id) => ctx.tasks.get(id)!).map((t) => taskView(t, ctx.tags.list(t.arn)));
      return { tasks, failures: [] };
    },

    StopTask(input: Record<string, unknown>) {
      const cluster = activeCluster(ctx, optString(input, 'cluster'));
      const ref = reqString(input, 'task');
      const reason = optString(input, 'reason', { max: 255 }) ?? 'Task stopped by user';
      const parsed = tryParseTaskRef(cluster.name, ref, ctx.arns);
      const found = parsed && parsed.cluster === cluster.name ? ctx.tasks.get(parsed.taskId) : undefined;
      if (!found || found.clusterName !== cluster.name) {
        throw invalidParameter(`The referenced task '${ref}' was not found in cluster '${cluster.name}'.`);
      }
      let task = found;
      if (found.desiredStatus !== 'STOPPED') {
        task = ctx.tasks.update(found.id, (t) => {
          t.desiredStatus = 'STOPPED';
          t.stopCode ??= 'UserInitiated';
          t.stoppedReason ??= reason;
        });
        ctx.agent.stop(task.id, 'UserInitiated', reason);
      }
      return { task: taskView(task, ctx.tags.list(task.arn)) };
    },

    DescribeTasks(input: Record<string, unknown>) {
      const cluster = activeCluster(ctx, optString(input, 'cluster'));
      const refs = optStringList(input, 'tasks') ?? [];
      if (refs.length === 0) throw invalidParameter('tasks must name at least one task (id or ARN).');
      if (refs.length > 100) throw invalidParameter(`DescribeTasks takes at most 100 tasks per call (got ${refs.length}).`);
      const include = optStringList(input, 'include') ?? [];
      const tasks = [];
      const failures = [];
      for (const ref of refs) {
        const parsed = tryParseTaskRef(cluster.name, ref, ctx.arns);
        const t = parsed && parsed.cluster === cluster.name ? ctx.tasks.get(parsed.taskId) : undefined;
        if (t && t.clusterName === cluster.name) {
          const view = taskView(t, ctx.tags.list(t.arn));
          if (!include.includes('TAGS')) delete view.tags;
          tasks.push(view);
        } else {
          failures.push({ arn: parsed?.arn ?? ref, reason: 'MISSING' });
        }
      }
      return { tasks, failures };
    },

    ListTasks(input: Record<string, unknown>) {
      const cluster = activeCluster(ctx, optString(input, 'cluster'));
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
      if (optString(input, 'serviceName')) {
        // No services exist yet (issue: services); a service name matches no task.
        return { taskArns: [] };
      }
      if (startedBy && family) throw invalidParameter('ListTasks takes startedBy or family, not both.');
      const arns = ctx.tasks
        .list({ cluster: cluster.name, family, startedBy, desiredStatus: desiredStatus as 'RUNNING' | 'STOPPED' })
        .map((t) => t.arn);
      const { page, nextToken } = paginate(arns, optInt(input, 'maxResults'), optString(input, 'nextToken'), {
        defaultMax: 100,
        query: `ListTasks:${cluster.name}:${family ?? ''}:${startedBy ?? ''}:${desiredStatus}`,
      });
      return { taskArns: page, ...(nextToken ? { nextToken } : {}) };
    },
  };
}

/** The hardening settings of a container definition a task keeps (capabilities, init, ulimits). */
function containerHardening(d: ContainerDefinition): Pick<ContainerRecord, 'linuxParameters' | 'ulimits'> {
  const lp = d.linuxParameters;
  const caps = lp?.capabilities;
  return {
    ...(lp && (caps || lp.initProcessEnabled !== undefined)
      ? { linuxParameters: { ...(caps ? { capabilities: { add: caps.add, drop: caps.drop } } : {}), ...(lp.initProcessEnabled !== undefined ? { initProcessEnabled: lp.initProcessEnabled } : {}) } }
      : {}),
    ...(d.ulimits?.length ? { ulimits: d.ulimits.map((u) => ({ name: u.name!, softLimit: u.softLimit!, hardLimit: u.hardLimit! })) } : {}),
  };
}
