/**
 * Maps a stored TaskRecord to the ECS `Task` shape DescribeTasks/RunTask return.
 * Timestamps go out as epoch seconds (numbers), as the AWS JSON protocol does.
 */
import { LEGACY_ISOLATION } from '../model/isolation.ts';
import type { Task, Container, Attachment } from '@aws-sdk/client-ecs';
import type { TaskRecord } from '../model/task-record.ts';
import type { Tag } from '../store/tags-repo.ts';
import { taskHealth } from '../model/task-health.ts';

const secs = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

/** JSON-ready Task: Date fields are epoch-second numbers on the wire. */
export type WireTask = Omit<Task, 'createdAt' | 'connectivityAt' | 'pullStartedAt' | 'pullStoppedAt' | 'startedAt' | 'stoppingAt' | 'executionStoppedAt' | 'stoppedAt' | 'containers'> & {
  [k: string]: unknown;
};

export function taskView(t: TaskRecord, tags: Tag[]): WireTask {
  const attachment: Attachment = {
    id: t.network.attachmentId,
    type: 'ElasticNetworkInterface',
    status: t.network.status,
    details: [
      { name: 'subnetId', value: t.network.subnetId },
      { name: 'networkInterfaceId', value: `eni-${t.network.attachmentId.replaceAll('-', '').slice(0, 17)}` },
      ...(t.network.macAddress ? [{ name: 'macAddress', value: t.network.macAddress }] : []),
      { name: 'privateDnsName', value: `ip-${t.network.ipv4.replaceAll('.', '-')}.ec2.internal` },
      { name: 'privateIPv4Address', value: t.network.ipv4 },
    ],
  };
  const containers = t.containers.map((c) => {
    const out: Container & { [k: string]: unknown } = {
      containerArn: c.arn,
      taskArn: t.arn,
      name: c.name,
      image: c.image,
      ...(c.imageDigest ? { imageDigest: c.imageDigest } : {}),
      runtimeId: c.runtimeId,
      lastStatus: c.lastStatus,
      ...(c.exitCode !== undefined ? { exitCode: c.exitCode } : {}),
      ...(c.reason ? { reason: c.reason } : {}),
      networkBindings: [],
      networkInterfaces: [{ attachmentId: t.network.attachmentId, privateIpv4Address: t.network.ipv4 }],
      healthStatus: c.healthStatus ?? 'UNKNOWN',
      cpu: String(c.cpu),
      ...(c.memory !== undefined ? { memory: String(c.memory) } : {}),
      ...(c.memoryReservation !== undefined ? { memoryReservation: String(c.memoryReservation) } : {}),
    };
    return out;
  });
  const attributes = [{ name: 'ecs.cpu-architecture', value: t.cpuArchitecture === 'ARM64' ? 'arm64' : 'x86_64' }];
  attributes.push({ name: 'skiff.isolation', value: t.isolation ?? LEGACY_ISOLATION });
  if (t.isolationPlatform) attributes.push({ name: 'skiff.isolationPlatform', value: t.isolationPlatform });
  if (t.billing) {
    attributes.push({ name: 'skiff.billedSeconds', value: String(t.billing.billedSeconds) });
    attributes.push({ name: 'skiff.costUSD', value: t.billing.cost });
  }
  return {
    taskArn: t.arn,
    clusterArn: t.clusterArn,
    taskDefinitionArn: t.taskDefinitionArn,
    attachments: [attachment],
    attributes,
    availabilityZone: t.availabilityZone,
    capacityProviderName: t.capacityProviderName,
    launchType: t.launchType,
    platformVersion: '1.4.0',
    platformFamily: 'Linux',
    cpu: String(t.cpu),
    memory: String(t.memory),
    ephemeralStorage: { sizeInGiB: t.ephemeralStorageGiB },
    containers,
    desiredStatus: t.desiredStatus,
    lastStatus: t.lastStatus,
    healthStatus: taskHealth(t),
    connectivity: t.connectivityAt !== undefined ? 'CONNECTED' : undefined,
    connectivityAt: secs(t.connectivityAt),
    createdAt: secs(t.createdAt),
    pullStartedAt: secs(t.pullStartedAt),
    pullStoppedAt: secs(t.pullStoppedAt),
    startedAt: secs(t.startedAt),
    stoppingAt: secs(t.stoppingAt),
    executionStoppedAt: secs(t.executionStoppedAt),
    stoppedAt: secs(t.stoppedAt),
    stopCode: t.stopCode,
    stoppedReason: t.stoppedReason,
    startedBy: t.startedBy,
    group: t.group,
    overrides: overridesView(t),
    enableExecuteCommand: t.enableExecuteCommand ?? false,
    version: t.version,
    tags: tags.map((x) => ({ key: x.key, value: x.value })),
  };
}

/**
 * `overrides` as ECS shows it: every container by name in `containerOverrides`
 * (task definition order), with what the request overrode for it, if anything.
 */
export function overridesView(t: Pick<TaskRecord, 'containers' | 'overrides'>): Record<string, unknown> {
  const given = Array.isArray(t.overrides.containerOverrides) ? (t.overrides.containerOverrides as { name?: unknown }[]) : [];
  const containerOverrides = t.containers.map((c) => ({ name: c.name, ...given.find((o) => o?.name === c.name) }));
  return { inferenceAcceleratorOverrides: [], ...t.overrides, containerOverrides };
}

/**
 * A task as RunTask's response shows it, as ECS does at that moment: just
 * accepted (`lastStatus` PROVISIONING, `version` 1, its network interface
 * PRECREATED), whatever the agent has done since.
 */
export function runTaskView(t: TaskRecord, tags: Tag[]): WireTask {
  const view = taskView(t, tags);
  const attachments = (view.attachments ?? []).map((a) => ({ ...a, status: 'PRECREATED' }));
  const containers = (view.containers as Container[]).map((c) => ({ ...c, lastStatus: 'PENDING' }));
  return { ...view, lastStatus: 'PROVISIONING', version: 1, attachments, containers };
}
