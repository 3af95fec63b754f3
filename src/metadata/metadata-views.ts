/**
 * The JSON the task metadata endpoint v4 returns, built from a task's stored
 * record (pure functions): container metadata (`${URI}`), task metadata
 * (`${URI}/task`) and stats in Docker's stats shape (`${URI}/stats`,
 * `${URI}/task/stats`), with the field names ECS uses. One field is Skiff's
 * own, as ECS has none for it: `SkiffBandwidth` in each Networks entry, the
 * rates the task's traffic is shaped to each way (network/bandwidth.ts).
 */
import type { ContainerRecord, TaskRecord } from '../model/task-record.ts';
import { hostnameFor } from '../agent/start-rules.ts';
import type { ResourceUsage } from '../drivers/driver.ts';
import { gatewayAddress } from '../model/cidr.ts';
import { UNKNOWN_CLOCK, type ClockDrift } from './clock-status.ts';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** The gateway of a subnet with its prefix length, as ECS shows SubnetGatewayIpv4Address (10.0.0.1/20). */
export function gatewayOf(cidr: string): string {
  return `${gatewayAddress(cidr)}/${cidr.split('/')[1]}`;
}

export function containerMetadata(task: TaskRecord, c: ContainerRecord, ctx: { region: string; subnetCidr?: string }) {
  return {
    DockerId: c.runtimeId,
    Name: c.name,
    DockerName: `ecs-${task.family}-${task.revision}-${c.name}`,
    Image: c.image,
    ImageID: c.imageDigest ?? '',
    Labels: {
      'com.amazonaws.ecs.cluster': task.clusterArn,
      'com.amazonaws.ecs.container-name': c.name,
      'com.amazonaws.ecs.task-arn': task.arn,
      'com.amazonaws.ecs.task-definition-family': task.family,
      'com.amazonaws.ecs.task-definition-version': String(task.revision),
    },
    DesiredStatus: task.desiredStatus,
    KnownStatus: c.lastStatus,
    ...(c.exitCode !== undefined ? { ExitCode: c.exitCode } : {}),
    Limits: { CPU: c.cpu, Memory: c.memory ?? 0 },
    CreatedAt: iso(task.createdAt),
    ...(c.startedAt !== undefined ? { StartedAt: iso(c.startedAt) } : {}),
    Type: 'NORMAL',
    ...(c.healthStatus ? { Health: { status: c.healthStatus } } : {}),
    ContainerARN: c.arn,
    LogDriver: 'awslogs',
    Networks: [
      {
        NetworkMode: 'awsvpc',
        IPv4Addresses: [task.network.ipv4],
        AttachmentIndex: 0,
        ...(task.network.macAddress ? { MACAddress: task.network.macAddress } : {}),
        ...(ctx.subnetCidr ? { IPv4SubnetCIDRBlock: ctx.subnetCidr, SubnetGatewayIpv4Address: gatewayOf(ctx.subnetCidr) } : {}),
        PrivateDNSName: hostnameFor(task.network.ipv4, ctx.region),
        ...(task.network.bandwidth ? { SkiffBandwidth: { SustainedMbps: task.network.bandwidth.sustainedMbps, BurstMbps: task.network.bandwidth.burstMbps } } : {}),
      },
    ],
  };
}

/**
 * Task metadata. `ephemeralStorageBytes` is the disk use of the task's writable
 * layers (ECS reports EphemeralStorageMetrics.Utilized and .Reserved in MiB);
 * `clock` the host clock's state as read now (clock-status.ts), unknown when not given.
 */
export function taskMetadata(task: TaskRecord, ctx: { region: string; subnetCidr?: string; serviceName?: string; ephemeralStorageBytes?: number; clock?: ClockDrift }) {
  return {
    Cluster: task.clusterArn,
    TaskARN: task.arn,
    Family: task.family,
    Revision: String(task.revision),
    DesiredStatus: task.desiredStatus,
    KnownStatus: task.lastStatus,
    Limits: { CPU: task.cpu / 1024, Memory: task.memory },
    PullStartedAt: iso(task.pullStartedAt),
    PullStoppedAt: iso(task.pullStoppedAt),
    ...(task.executionStoppedAt !== undefined ? { ExecutionStoppedAt: iso(task.executionStoppedAt) } : {}),
    AvailabilityZone: task.availabilityZone,
    LaunchType: 'FARGATE',
    Containers: task.containers.map((c) => containerMetadata(task, c, ctx)),
    ClockDrift: ctx.clock ?? UNKNOWN_CLOCK,
    EphemeralStorageMetrics: { Utilized: Math.round((ctx.ephemeralStorageBytes ?? 0) / (1024 * 1024)), Reserved: task.ephemeralStorageGiB * 1024 },
    VPCID: task.network.vpcId,
    ...(ctx.serviceName ? { ServiceName: ctx.serviceName } : {}),
  };
}

/** One cgroup reading with the host's CPU time, as the stats view needs it. */
export interface StatsSample {
  read: number;
  usage: ResourceUsage;
  /** Host CPU time (all CPUs), ns, from /proc/stat. */
  systemCpuNs: number;
  onlineCpus: number;
  pids?: number;
  /** Interface counters inside the task's network namespace (/proc/<pid>/net/dev). */
  networks?: Record<string, NetworkCounters>;
}

export interface NetworkCounters {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

/** `/proc/<pid>/net/dev` → counters per interface (loopback left out, as Docker does). */
export function parseNetDev(text: string): Record<string, NetworkCounters> {
  const out: Record<string, NetworkCounters> = {};
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const v = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (name === 'lo' || v.length < 16) continue;
    out[name] = { rx_bytes: v[0], rx_packets: v[1], rx_errors: v[2], rx_dropped: v[3], tx_bytes: v[8], tx_packets: v[9], tx_errors: v[10], tx_dropped: v[11] };
  }
  return out;
}

/** The inactive file cache: what the working set leaves out of the charge. */
const inactiveFile = (u: ResourceUsage) => Math.max(0, (u.memoryUsageBytes ?? u.workingSetBytes) - u.workingSetBytes);

/**
 * Docker's stats JSON (what `docker stats` and ECS's `/stats` return) from this
 * and the previous sample. Every figure is the sample's measurement; where the
 * runtime does not measure one, Docker's empty value (0, [] or {}) stands in.
 * `limitBytes`: the configured limit, used when the cgroup's limit in force is unknown.
 * num_procs is 0 as Docker reports it on Linux (pids_stats has the count).
 */
export function dockerStats(c: Pick<ContainerRecord, 'runtimeId' | 'name'>, limitBytes: number, now: StatsSample, prev?: StatsSample) {
  const cpu = (s: StatsSample | undefined) =>
    s
      ? {
          cpu_usage: {
            total_usage: s.usage.cpuUsageUs * 1000,
            usage_in_kernelmode: (s.usage.cpuSystemUs ?? 0) * 1000,
            usage_in_usermode: (s.usage.cpuUserUs ?? s.usage.cpuUsageUs) * 1000,
          },
          system_cpu_usage: s.systemCpuNs,
          online_cpus: s.onlineCpus,
          throttling_data: s.usage.throttling
            ? { periods: s.usage.throttling.periods, throttled_periods: s.usage.throttling.throttledPeriods, throttled_time: s.usage.throttling.throttledUs * 1000 }
            : { periods: 0, throttled_periods: 0, throttled_time: 0 },
        }
      : { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
  return {
    read: new Date(now.read).toISOString(),
    preread: prev ? new Date(prev.read).toISOString() : '0001-01-01T00:00:00Z',
    name: c.name,
    id: c.runtimeId,
    num_procs: 0,
    pids_stats: (now.pids ?? now.usage.pids) !== undefined ? { current: now.pids ?? now.usage.pids } : {},
    cpu_stats: cpu(now),
    precpu_stats: cpu(prev),
    // Docker's usage is the cgroup's charge (page cache included); clients subtract
    // the inactive file cache (total_inactive_file on v1, inactive_file on v2).
    memory_stats: {
      usage: now.usage.memoryUsageBytes ?? now.usage.workingSetBytes,
      stats: {
        rss: now.usage.rssBytes,
        cache: now.usage.cacheBytes,
        total_inactive_file: inactiveFile(now.usage),
        inactive_file: inactiveFile(now.usage),
      },
      limit: now.usage.memoryLimitBytes ?? limitBytes,
    },
    blkio_stats: {
      io_service_bytes_recursive: now.usage.blkio?.serviceBytes ?? [],
      io_serviced_recursive: now.usage.blkio?.serviced ?? [],
      io_queue_recursive: [],
      io_service_time_recursive: [],
      io_wait_time_recursive: [],
      io_merged_recursive: [],
      io_time_recursive: [],
      sectors_recursive: [],
    },
    storage_stats: {},
    ...(now.networks ? { networks: now.networks } : {}),
  };
}
