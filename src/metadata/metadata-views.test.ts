import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerMetadata, dockerStats, gatewayOf, parseNetDev, taskMetadata, type StatsSample } from './metadata-views.ts';
import type { TaskRecord } from '../model/task-record.ts';

test('subnet gateway is the first host address', () => {
  assert.equal(gatewayOf('10.212.16.0/20'), '10.212.16.1/20');
  assert.equal(gatewayOf('172.31.0.0/20'), '172.31.0.1/20');
});

test('/proc/<pid>/net/dev parses into Docker network counters, loopback left out', () => {
  const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0
  eth0:    5000      40    1    2    0     0          0         0     3000      30    3    4    0     0       0          0
`;
  assert.deepEqual(parseNetDev(text), { eth0: { rx_bytes: 5000, rx_packets: 40, rx_errors: 1, rx_dropped: 2, tx_bytes: 3000, tx_packets: 30, tx_errors: 3, tx_dropped: 4 } });
});

const sample = (read: number, cpuUs: number): StatsSample => ({
  read,
  systemCpuNs: read * 1e6,
  onlineCpus: 2,
  usage: {
    cpuUsageUs: cpuUs, cpuUserUs: cpuUs * 0.75, cpuSystemUs: cpuUs * 0.25,
    throttling: { periods: 10, throttledPeriods: 4, throttledUs: 300 },
    memoryUsageBytes: 9000, workingSetBytes: 7000, rssBytes: 5000, cacheBytes: 4000, memoryLimitBytes: 64 << 20, pids: 6,
    blkio: { serviceBytes: [{ major: 254, minor: 0, op: 'Write', value: 65536 }], serviced: [{ major: 254, minor: 0, op: 'Write', value: 16 }] },
  },
});

test('Docker stats carry the sample\'s measurements: CPU split, throttling, pids, memory limit in force, blkio; precpu is the previous sample', () => {
  const s = dockerStats({ runtimeId: 'abc', name: 'app' }, 512 << 20, sample(2000, 4000), sample(1000, 2000));
  assert.deepEqual(s.cpu_stats.cpu_usage, { total_usage: 4_000_000, usage_in_kernelmode: 1_000_000, usage_in_usermode: 3_000_000 });
  assert.deepEqual(s.cpu_stats.throttling_data, { periods: 10, throttled_periods: 4, throttled_time: 300_000 });
  assert.equal(s.precpu_stats.cpu_usage.total_usage, 2_000_000);
  assert.equal(s.cpu_stats.system_cpu_usage, 2e9);
  assert.deepEqual(s.pids_stats, { current: 6 });
  assert.equal(s.memory_stats.limit, 64 << 20, 'the cgroup\'s limit, not the configured one');
  assert.equal(s.memory_stats.usage, 9000, 'the cgroup\'s charge, as Docker reports it');
  assert.equal(s.memory_stats.stats.total_inactive_file, 2000, 'what a client subtracts to get the working set');
  assert.deepEqual(s.blkio_stats.io_service_bytes_recursive, [{ major: 254, minor: 0, op: 'Write', value: 65536 }]);
  assert.deepEqual(s.blkio_stats.io_serviced_recursive, [{ major: 254, minor: 0, op: 'Write', value: 16 }]);
  const first = dockerStats({ runtimeId: 'abc', name: 'app' }, 512 << 20, { ...sample(1000, 1), usage: { cpuUsageUs: 1, workingSetBytes: 1, rssBytes: 1, cacheBytes: 0 } });
  assert.equal(first.preread, '0001-01-01T00:00:00Z');
  assert.equal(first.memory_stats.limit, 512 << 20, 'configured limit when the cgroup\'s is unknown');
  assert.deepEqual(first.blkio_stats.io_service_bytes_recursive, []);
});

test('Networks carry the rates the task is shaped to as SkiffBandwidth (ECS has no field for it); absent before shaping', () => {
  const container = { name: 'app', runtimeId: 'abc-app', arn: 'arn:c', image: 'busybox', cpu: 0, lastStatus: 'RUNNING' };
  const task = {
    id: 'abc', arn: 'arn:t', clusterArn: 'arn:cl', family: 'f', revision: 1, cpu: 256, memory: 512, ephemeralStorageGiB: 20,
    availabilityZone: 'us-east-1a', desiredStatus: 'RUNNING', lastStatus: 'RUNNING', createdAt: 0, containers: [container],
    network: { attachmentId: 'a', subnetId: 's', vpcId: 'vpc-1', ipv4: '10.0.0.5', status: 'ATTACHED', bandwidth: { sustainedMbps: 1000, burstMbps: 10_000 } },
  } as unknown as TaskRecord;
  const ctx = { region: 'us-east-1', subnetCidr: '10.0.0.0/20' };
  assert.deepEqual(containerMetadata(task, task.containers[0]!, ctx).Networks[0]!.SkiffBandwidth, { SustainedMbps: 1000, BurstMbps: 10_000 });
  assert.deepEqual(taskMetadata(task, ctx).Containers[0]!.Networks[0]!.SkiffBandwidth, { SustainedMbps: 1000, BurstMbps: 10_000 });
  const unshaped = { ...task, network: { ...task.network, bandwidth: undefined } };
  assert.equal('SkiffBandwidth' in containerMetadata(unshaped, task.containers[0]!, ctx).Networks[0]!, false);
});
