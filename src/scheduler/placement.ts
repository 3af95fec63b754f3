/**
 * Placing new tasks: the one way tasks come into being, for RunTask and for the
 * service scheduler alike. Decide, store, then act:
 *
 *   const placement = new Placement();
 *   db.transaction(() => { ...; storeTasks(deps, batch, placement); ... })()   // tasks + addresses, all or nothing
 *   launchPlaced(deps, placement)                                              // only after the commit
 *   (abandonPlaced(deps, placement) when the transaction failed)
 *
 * Each task is stored PROVISIONING, desired RUNNING, with its address. A task
 * is given a ready network from the warm pool when its subnet has one: the
 * pooled entry's id becomes the task id, and its address (already reserved for
 * that id) the task's address; if the transaction fails, the entries go back
 * to the pool.
 *
 * With admission control (`deps.admission`), a task that does not fit on the
 * host (capacity.ts) is not stored: its reason (RESOURCE:CPU / RESOURCE:MEMORY)
 * goes to `placement.failures` and the batch's other tasks are placed.
 */
import { chooseIsolation, ISOLATION_TAG, LEGACY_ISOLATION, type Isolation, type IsolationChoice } from '../model/isolation.ts';
import { createHash } from 'node:crypto';
import type { ContainerDefinition, TaskDefinition } from '@aws-sdk/client-ecs';
import { ApiError, ErrorCode, invalidParameter } from '../api/errors.ts';
import { effectiveContainerConfig, effectiveTaskSize, type NormalisedOverrides } from '../ecs/run-task.ts';
import { containerStopTimeout } from '../ecs/task-definition.ts';
import type { ContainerRecord, TaskRecord } from '../model/task-record.ts';
import { MAX_TASKS_PER_SUBNET, type SubnetRecord } from '../store/networks-repo.ts';
import type { ClusterRecord } from '../store/clusters-repo.ts';
import type { Tag } from '../store/tags-repo.ts';
import type { PoolEntry } from '../network/warm-pool.ts';
import { newTaskId } from '../util/clock.ts';
import { runtimeIdFor } from '../model/runtime-id.ts';
import { containerArn, taskArn, type ArnContext } from '../ecs/arns.ts';
import type { Repos } from '../store/repos.ts';
import type { Clock } from '../util/clock.ts';
import type { Agent } from '../agent/agent.ts';
import type { WarmPool } from '../network/warm-pool.ts';
import { fit, type FitFailure, type HostAdmission } from './capacity.ts';

/** Ready task networks placement hands out before new ones are made. */
export type WarmNetworks = Pick<WarmPool, 'readyCount' | 'take' | 'giveBack' | 'warm'>;

/** What storing a batch needs: the repos it writes, time, the ARNs' region and account, and the warm pool (absent: none). */
export interface PlacementDeps extends Pick<Repos, 'networks' | 'tasks' | 'tags'> {
  clock: Clock;
  arns: ArnContext;
  warmPool?: WarmNetworks;
  /** The data dir's disk (store/disk-guard.ts): why new tasks may not start now, if they may not (absent: always). */
  disk?: { newTasksRefusal(): string | undefined };
  /** This host's capacity and overcommit: new tasks that do not fit are refused (absent: no admission control). */
  admission?: HostAdmission;
  /** How tasks' isolation is chosen (absent: every task runs on runc). */
  isolation?: IsolationDeps;
}

/** The server's default isolation and what each runtime is known to be on this host. */
export interface IsolationDeps {
  serverDefault: Isolation;
  /** The runtime's fingerprint if it was asked for already (sync), and a way to ask (async). */
  runtimes: {
    availability(name: string): { available: boolean; reasons: string[]; platform?: string } | undefined;
    ensure(name: string): Promise<{ available: boolean; reasons: string[]; platform?: string }>;
  };
}

/** The isolation tasks of `def` in `cluster` get (model/isolation.ts: task definition tag, cluster tag, server default). */
export function isolationFor(deps: Pick<PlacementDeps, 'tags' | 'isolation'>, cluster: ClusterRecord, def: TaskDefinition): IsolationChoice {
  return chooseIsolation(deps.tags.list(def.taskDefinitionArn!), deps.tags.list(cluster.arn), deps.isolation?.serverDefault ?? LEGACY_ISOLATION);
}

/**
 * InvalidParameterException unless the runtime of `choice` can run tasks on
 * this host, naming what is missing (its fingerprint's reasons).
 */
export async function requireRuntime(deps: Pick<PlacementDeps, 'isolation'>, choice: IsolationChoice): Promise<void> {
  if (!deps.isolation) {
    if (choice.isolation !== LEGACY_ISOLATION) throw invalidParameter(`Isolation ${choice.isolation} (${describeSource(choice)}) is not available: this Skiff runs tasks on ${LEGACY_ISOLATION} only.`);
    return;
  }
  const print = await deps.isolation.runtimes.ensure(choice.isolation);
  if (!print.available) {
    throw invalidParameter(
      `Isolation ${choice.isolation} (${describeSource(choice)}) is not available on this host: ${print.reasons.join('; ')}. Install what is missing, or choose another isolation with the tag ${ISOLATION_TAG}.`,
    );
  }
}

function describeSource(c: IsolationChoice): string {
  return c.source === 'server' ? "the server's --isolation" : `from the ${c.source}'s tag ${ISOLATION_TAG}`;
}

/** What acting on a committed placement needs. */
export interface LaunchDeps {
  agent: Pick<Agent, 'launch'>;
  warmPool?: WarmNetworks;
}

/** What to start: `capacityProviders` has one entry per task. */
export interface TaskBatch {
  cluster: ClusterRecord;
  def: TaskDefinition;
  /** Validated overrides (absent: none). */
  overrides?: NormalisedOverrides;
  /** Overrides as the caller sent them (echoed by DescribeTasks). */
  rawOverrides?: Record<string, unknown>;
  /** Subnets the tasks may use (absent: the default VPC's). */
  subnetIds?: string[];
  /** Security groups of the tasks (absent or empty: their VPC's default group). */
  securityGroups?: string[];
  /** awsvpcConfiguration.assignPublicIp is ENABLED (egress from a public subnet, src/network/egress.ts). */
  assignPublicIp?: boolean;
  startedBy?: string;
  group?: string;
  capacityProviders: string[];
  tags: Tag[];
  /** ECS enableExecuteCommand: the tasks accept ExecuteCommand. */
  enableExecuteCommand?: boolean;
}

/** What a transaction placed, for the steps after it. */
export class Placement {
  readonly ids: string[] = [];
  readonly pooled: PoolEntry[] = [];
  readonly usedSubnets = new Set<string>();
  /** One entry per task of the batch that did not fit on the host (not stored). */
  readonly failures: FitFailure[] = [];
}

function uuidFrom(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The subnets a task may use: the ones named, or the default VPC's. */
export function subnetsFor(deps: Pick<Repos, 'networks'>, names: string[] | undefined): SubnetRecord[] {
  const all = deps.networks.subnets();
  if (!names || names.length === 0) {
    const defaults = all.filter((s) => s.isDefault);
    if (defaults.length === 0) throw invalidParameter('There is no default subnet (it was deleted): give networkConfiguration.awsvpcConfiguration.subnets.');
    return defaults;
  }
  return names.map((id) => {
    const s = all.find((x) => x.id === id);
    if (!s) throw invalidParameter(`Subnet '${id}' does not exist. List subnets with \`skiff subnets\`.`);
    return s;
  });
}

/**
 * The security groups tasks in `subnets` get: the ones named, each existing and
 * in the subnets' VPC, or the VPC's default group. InvalidParameterException
 * otherwise, as ECS answers.
 */
export function securityGroupsFor(deps: Pick<Repos, 'networks'>, subnets: SubnetRecord[], names: string[] | undefined): string[] {
  const vpcs = [...new Set(subnets.map((s) => s.vpcId))];
  if (vpcs.length > 1) {
    throw invalidParameter(`The subnets ${subnets.map((s) => s.id).join(', ')} belong to different VPCs (${vpcs.join(', ')}); give subnets of one VPC.`);
  }
  const vpcId = vpcs[0];
  const groups = deps.networks.securityGroups();
  if (!names || names.length === 0) {
    const def = groups.find((g) => g.vpcId === vpcId && g.isDefault);
    return def ? [def.id] : [];
  }
  return names.map((id) => {
    const g = groups.find((x) => x.id === id);
    if (!g) throw invalidParameter(`Error retrieving security group information for [${id}]: The security group '${id}' does not exist (ErrorCode: InvalidGroup.NotFound). List groups with \`aws ec2 describe-security-groups\`.`);
    if (g.vpcId !== vpcId) throw invalidParameter(`Security group ${id} belongs to ${g.vpcId}, not to ${vpcId} of the subnets; give groups of the subnets' VPC.`);
    return g.id;
  });
}

/**
 * Stores the batch's tasks with their addresses. Must run inside a
 * `db.transaction`; throws ApiError (nothing stored once the transaction
 * rolls back) when an address runs out. Returns the new task ids (fewer than
 * asked when some did not fit: see `placement.failures`).
 */
export function storeTasks(deps: PlacementDeps, batch: TaskBatch, placement: Placement): string[] {
  const { cluster, def } = batch;
  const noRoom = deps.disk?.newTasksRefusal(); // the data dir's disk is (nearly) full: no new writable layers on it
  if (noRoom) throw new ApiError(ErrorCode.ServerException, noRoom);
  const subnets = subnetsFor(deps, batch.subnetIds);
  const groupIds = securityGroupsFor(deps, subnets, batch.securityGroups);
  const size = effectiveTaskSize(def, batch.overrides);
  const containers = effectiveContainerConfig(def, batch.overrides);
  const now = deps.clock.now();
  const isolation = isolationFor(deps, cluster, def);
  const platform = deps.isolation?.runtimes.availability(isolation.isolation)?.platform;
  const ids: string[] = [];
  const pool = deps.warmPool;
  const admission = deps.admission;
  let reserved = admission ? deps.tasks.reserved() : { cpu: 0, memory: 0 };
  for (const capacityProviderName of batch.capacityProviders) {
    const short = admission && fit(size, admission.capacity, reserved, admission.overcommit);
    if (short) {
      placement.failures.push(short);
      continue;
    }
    reserved = { cpu: reserved.cpu + size.cpu, memory: reserved.memory + size.memory };
    // Tasks fill the allowed subnets in order, so tasks run without a network
    // configuration share one subnet and reach each other directly.
    const subnet = subnets.find((s) => deps.networks.roomFor(s) > 0 || (pool?.readyCount(s.id) ?? 0) > 0) ?? subnets[0];
    placement.usedSubnets.add(subnet.id);
    const warm = pool?.take(subnet.id);
    if (warm) placement.pooled.push(warm);
    const id = warm?.id ?? newTaskId();
    const ipv4 = warm?.ipv4 ?? deps.networks.allocate(subnet, id);
    if (!ipv4) {
      throw new ApiError(
        ErrorCode.ClientException,
        `No room for another task in subnet(s) ${subnets.map((s) => s.id).join(', ')} (no free IP address, or the subnet's ${MAX_TASKS_PER_SUBNET}-task bridge limit): stop some tasks, or add subnets (aws ec2 create-subnet) and list them in awsvpcConfiguration.subnets.`,
      );
    }
    const record: TaskRecord = {
      isolation: isolation.isolation,
      ...(platform ? { isolationPlatform: platform } : {}),
      id,
      arn: taskArn(cluster.name, id, deps.arns),
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
          arn: containerArn(cluster.name, id, uuidFrom(id + c.name), deps.arns),
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
          ...(c.definition.healthCheck ? { healthCheck: c.definition.healthCheck as ContainerRecord['healthCheck'] } : {}),
          lastStatus: 'PENDING',
        }),
      ),
      overrides: batch.rawOverrides ?? {},
      startedBy: batch.startedBy,
      group: batch.group,
      ...(batch.enableExecuteCommand ? { enableExecuteCommand: true } : {}),
      launchType: 'FARGATE',
      capacityProviderName,
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
    deps.tasks.insert(record);
    deps.networks.setTaskSecurityGroups(id, groupIds);
    if (batch.assignPublicIp) deps.networks.setAssignPublicIp(id, true);
    if (batch.tags.length) deps.tags.put(record.arn, batch.tags);
    ids.push(id);
  }
  placement.ids.push(...ids);
  return ids;
}

/** After the commit: the agent starts the placed tasks; the warm pool refills the subnets used. */
export function launchPlaced(deps: LaunchDeps, placement: Placement): void {
  for (const id of placement.ids) deps.agent.launch(id);
  for (const s of placement.usedSubnets) deps.warmPool?.warm(s);
}

/** The transaction did not commit (or placed nothing new): pooled networks go back to the pool. */
export function abandonPlaced(deps: Pick<LaunchDeps, 'warmPool'>, placement: Placement): void {
  deps.warmPool?.giveBack(placement.pooled);
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
