/**
 * Task metadata `/stats` and `/task/stats` report measurements (issue #16): a
 * task of 256 CPU units (a quarter CPU) whose container burns CPU in a shell
 * loop doing syscalls, is throttled, writes 4 MiB with fsync and forks sleepers
 * is read from inside (busybox wget through a CGI of its httpd, at
 * $ECS_CONTAINER_METADATA_URI_V4). Its CPU must be split user/kernel, its
 * throttling counted, its block writes seen, its processes counted, its memory
 * non-zero, and `/task`'s ClockDrift must say what this host's clock source says.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { Task } from '@aws-sdk/client-ecs';
import { startBusyboxStack, type BusyboxStack } from './support/stack.ts';
import { waitFor } from './support/skiff-server.ts';
import { ipOf, registerFamily, runOne, waitTaskStatus } from './support/tasks.ts';

const SLEEPERS = 5;
const WRITTEN = 64 * 65536; // 4 MiB

/** The container: a metadata CGI, a synced write, sleepers, a syscall-heavy busy loop, then httpd. */
const SCRIPT = String.raw`
mkdir -p /www/cgi-bin
printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\nwget -qO- "$ECS_CONTAINER_METADATA_URI_V4$QUERY_STRING" 2>&1 || echo wget-failed\n' > /www/cgi-bin/md
chmod 755 /www/cgi-bin/md
dd if=/dev/zero of=/written.bin bs=65536 count=64 conv=fsync
i=0; while [ $i -lt ${SLEEPERS} ]; do sleep 100000 & i=$((i+1)); done
while :; do cat /proc/self/stat >/dev/null; done &
exec httpd -f -p 8080 -h /www
`;

interface BlkioEntry { major: number; minor: number; op: string; value: number }
interface Stats {
  cpu_stats: { cpu_usage: { total_usage: number; usage_in_kernelmode: number; usage_in_usermode: number }; system_cpu_usage: number; online_cpus: number; throttling_data: { periods: number; throttled_periods: number; throttled_time: number } };
  precpu_stats: { cpu_usage: { total_usage: number } };
  memory_stats: { usage: number; limit: number };
  pids_stats: { current?: number };
  blkio_stats: { io_service_bytes_recursive: BlkioEntry[]; io_serviced_recursive: BlkioEntry[] };
}

let stack: BusyboxStack;
let task: Task;

before(async () => {
  stack = await startBusyboxStack('test/mdstats:1');
});

after(async () => {
  await stack?.stop();
});

async function metadata(path: string): Promise<string> {
  const res = await fetch(`http://${ipOf(task)}:8080/cgi-bin/md?${path}`, { signal: AbortSignal.timeout(20_000) });
  const text = await res.text();
  assert.doesNotMatch(text, /wget-failed/, `metadata ${path}`);
  return text;
}

const writeBytes = (s: Stats) => s.blkio_stats.io_service_bytes_recursive.filter((e) => e.op === 'Write').reduce((n, e) => n + e.value, 0);

/** What this host's clock source says, found the way an operator would (the same order Skiff uses). */
function hostClockStatus(): 'SYNCHRONIZED' | 'NOT_SYNCHRONIZED' {
  const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000 });
  const chrony = run('chronyc', ['-c', 'tracking']);
  if (chrony.status === 0 && chrony.stdout.split(',').length >= 14) return /Not synchronised/.test(chrony.stdout) ? 'NOT_SYNCHRONIZED' : 'SYNCHRONIZED';
  const adj = /^\s*status:\s*(\d+)/m.exec(run('adjtimex', ['--print']).stdout ?? '');
  if (adj) return Number(adj[1]) & 0x40 ? 'NOT_SYNCHRONIZED' : 'SYNCHRONIZED';
  const tdc = run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value']);
  if (tdc.status === 0 && /^(yes|no)$/.test(tdc.stdout.trim())) return tdc.stdout.trim() === 'yes' ? 'SYNCHRONIZED' : 'NOT_SYNCHRONIZED';
  return 'NOT_SYNCHRONIZED';
}

test('a task that burns CPU, is throttled, writes and forks: /stats and /task/stats show each, measured', async () => {
  const td = await registerFamily(stack.ecs, 'mdstats', [{ name: 'app', image: stack.image, command: ['sh', '-c', SCRIPT], stopTimeout: 2 }], { cpu: '256', memory: '512' });
  task = await runOne(stack.ecs, td);
  task = await waitTaskStatus(stack.ecs, task.taskArn!, 'RUNNING', 60_000);
  const dockerId = task.containers![0].runtimeId!;

  // Counters grow while the loop runs: wait until every one has something to show.
  const stats = await waitFor(
    'throttling, the 4 MiB write and the sleepers in /stats',
    async () => {
      const s = JSON.parse(await metadata('/stats')) as Stats;
      // throttled_time grows when a throttled period ends, after nr_throttled counted it
      const ready = s.cpu_stats.throttling_data.throttled_periods > 0 && s.cpu_stats.throttling_data.throttled_time > 0 && writeBytes(s) >= WRITTEN && (s.pids_stats.current ?? 0) >= SLEEPERS + 2 && s.cpu_stats.cpu_usage.usage_in_kernelmode > 0;
      return ready ? s : undefined;
    },
    60_000,
  ).catch(async (e) => {
    throw new Error(`${(e as Error).message}; last /stats: ${await metadata('/stats').catch((x) => String(x))}`);
  });

  const cpu = stats.cpu_stats;
  assert.ok(cpu.cpu_usage.usage_in_usermode > 0, `user time ${JSON.stringify(cpu.cpu_usage)}`);
  assert.ok(cpu.cpu_usage.usage_in_kernelmode > 0, `kernel time ${JSON.stringify(cpu.cpu_usage)}`);
  assert.ok(cpu.cpu_usage.total_usage >= cpu.cpu_usage.usage_in_kernelmode, 'total covers kernel time');
  assert.ok(cpu.throttling_data.throttled_periods > 0 && cpu.throttling_data.throttled_time > 0, `throttling ${JSON.stringify(cpu.throttling_data)}`);
  assert.ok(cpu.throttling_data.periods >= cpu.throttling_data.throttled_periods);
  assert.ok(cpu.system_cpu_usage > 0 && cpu.online_cpus > 0);
  assert.ok(writeBytes(stats) >= WRITTEN, `blkio ${JSON.stringify(stats.blkio_stats.io_service_bytes_recursive)}`);
  assert.ok(stats.blkio_stats.io_serviced_recursive.some((e) => e.op === 'Write' && e.value > 0), 'write operations counted');
  assert.ok(stats.blkio_stats.io_service_bytes_recursive.every((e) => Number.isInteger(e.major) && Number.isInteger(e.minor) && e.major > 0));
  assert.ok((stats.pids_stats.current ?? 0) >= SLEEPERS + 2, `pids ${JSON.stringify(stats.pids_stats)}`);
  assert.ok(stats.memory_stats.usage > 0, 'memory in use');
  assert.equal(stats.memory_stats.limit, 512 * 1024 * 1024, 'the task\'s memory limit in force');

  // The next read has the previous one as precpu, and CPU has moved on under the loop.
  const again = JSON.parse(await metadata('/stats')) as Stats;
  assert.ok(again.precpu_stats.cpu_usage.total_usage > 0, 'precpu is the previous reading');
  assert.ok(again.cpu_stats.cpu_usage.total_usage > again.precpu_stats.cpu_usage.total_usage, 'CPU grows between reads');

  // /task/stats: the same container's figures, keyed by its DockerId.
  const all = JSON.parse(await metadata('/task/stats')) as Record<string, Stats>;
  assert.deepEqual(Object.keys(all), [dockerId]);
  const t = all[dockerId];
  assert.ok(t.cpu_stats.throttling_data.throttled_periods >= stats.cpu_stats.throttling_data.throttled_periods);
  assert.ok(t.cpu_stats.cpu_usage.usage_in_kernelmode > 0 && t.cpu_stats.cpu_usage.usage_in_usermode > 0);
  assert.ok(writeBytes(t) >= WRITTEN);
  assert.ok((t.pids_stats.current ?? 0) >= SLEEPERS + 2);

  // /task: the clock as this host's source says, with a bound only when synchronized.
  const md = JSON.parse(await metadata('/task')) as { ClockDrift: { ClockErrorBound?: number; ReferenceTimestamp?: string; ClockSynchronizationStatus: string } };
  const expected = hostClockStatus();
  assert.equal(md.ClockDrift.ClockSynchronizationStatus, expected, JSON.stringify(md.ClockDrift));
  if (expected === 'SYNCHRONIZED') assert.ok(typeof md.ClockDrift.ClockErrorBound === 'number' && md.ClockDrift.ClockErrorBound >= 0);
  else assert.equal(md.ClockDrift.ClockErrorBound, undefined, 'no bound for a clock not known to be synchronized');
});
