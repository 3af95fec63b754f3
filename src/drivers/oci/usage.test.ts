import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { usageFromV1, usageFromV2 } from './cgroup-usage.ts';
import { diskUsage } from './layer-usage.ts';

test('v1 cgroup files become CPU µs (user/system from USER_HZ ticks), a working set without inactive file cache, the limit in force, pids and throttling', () => {
  const base = {
    'cpuacct.usage': '2500000123\n',
    'memory.usage_in_bytes': '10485760\n',
    'memory.stat': 'cache 4096\nrss 0\nhierarchical_memory_limit 134217728\ntotal_cache 3145728\ntotal_rss 6291456\ntotal_inactive_file 2097152\n',
  };
  assert.deepEqual(usageFromV1(base), {
    cpuUsageUs: 2500000, memoryUsageBytes: 10485760, workingSetBytes: 8388608, rssBytes: 6291456, cacheBytes: 3145728, memoryLimitBytes: 134217728,
  });
  const full = usageFromV1({
    ...base,
    'memory.stat': base['memory.stat'].replace('134217728', '9223372036854771712'),
    'cpuacct.stat': 'user 150\nsystem 25\n',
    'cpu.stat': 'nr_periods 40\nnr_throttled 3\nthrottled_time 7000000\n',
    'pids.current': '5\n',
  });
  assert.equal(full.memoryLimitBytes, undefined, 'an unlimited v1 cgroup has no limit');
  assert.equal(full.cpuUserUs, 1_500_000);
  assert.equal(full.cpuSystemUs, 250_000);
  assert.deepEqual(full.throttling, { periods: 40, throttledPeriods: 3, throttledUs: 7000 });
  assert.equal(full.pids, 5);
});

test('v2 cgroup files become the same figures; memory.max "max" is no limit', () => {
  const v2 = usageFromV2({ 'cpu.stat': 'usage_usec 777\nuser_usec 700\nsystem_usec 77\nnr_periods 2\nnr_throttled 1\nthrottled_usec 9\n', 'memory.current': '5000\n', 'memory.stat': 'anon 3000\nfile 2000\ninactive_file 1500\n', 'memory.max': 'max\n', 'pids.current': '2\n' });
  assert.deepEqual(v2, {
    cpuUsageUs: 777, cpuUserUs: 700, cpuSystemUs: 77, throttling: { periods: 2, throttledPeriods: 1, throttledUs: 9 },
    memoryUsageBytes: 5000, workingSetBytes: 3500, rssBytes: 3000, cacheBytes: 2000, pids: 2,
  });
  assert.equal(usageFromV2({ 'cpu.stat': 'usage_usec 1\n', 'memory.current': '1\n', 'memory.stat': '', 'memory.max': '1048576\n' }).memoryLimitBytes, 1048576);
});

test('writable-layer use counts allocated blocks and inodes, hard links once, and is undefined for a missing directory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-du-'));
  try {
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'big'), Buffer.alloc(1024 * 1024, 1));
    linkSync(join(dir, 'sub', 'big'), join(dir, 'again'));
    const u = (await diskUsage(dir))!;
    assert.ok(u.bytes >= 1024 * 1024 && u.bytes < 1.5 * 1024 * 1024, `${u.bytes}`);
    assert.equal(u.inodes, 2, 'sub/ and one file (the hard link counted once)');
    assert.equal(await diskUsage(join(dir, 'nope')), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('v1 blkio throttle files become Docker entries per device and op (the grand Total line left out); v2 io.stat becomes Read/Write/Discard/Total', async () => {
  const { parseBlkioV1, parseIoStatV2 } = await import('./cgroup-usage.ts');
  const bytes = '254:0 Read 4096\n254:0 Write 1056768\n254:0 Sync 1056768\n254:0 Async 4096\n254:0 Discard 0\n254:0 Total 1060864\nTotal 1060864\n';
  assert.deepEqual(parseBlkioV1(bytes), [
    { major: 254, minor: 0, op: 'Read', value: 4096 },
    { major: 254, minor: 0, op: 'Write', value: 1056768 },
    { major: 254, minor: 0, op: 'Sync', value: 1056768 },
    { major: 254, minor: 0, op: 'Async', value: 4096 },
    { major: 254, minor: 0, op: 'Discard', value: 0 },
    { major: 254, minor: 0, op: 'Total', value: 1060864 },
  ]);
  assert.deepEqual(parseBlkioV1('Total 0\n'), [], 'no device: no entries');
  const v1 = usageFromV1({ 'cpuacct.usage': '1\n', 'memory.usage_in_bytes': '1\n', 'memory.stat': '', 'blkio.throttle.io_service_bytes_recursive': bytes, 'blkio.throttle.io_serviced_recursive': '254:0 Write 3\n' });
  assert.equal(v1.blkio?.serviceBytes.find((e) => e.op === 'Write')?.value, 1056768);
  assert.deepEqual(v1.blkio?.serviced, [{ major: 254, minor: 0, op: 'Write', value: 3 }]);
  assert.equal(usageFromV1({ 'cpuacct.usage': '1\n', 'memory.usage_in_bytes': '1\n', 'memory.stat': '' }).blkio, undefined, 'no blkio hierarchy: not reported');

  const io = parseIoStatV2('8:0 rbytes=100 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n8:16 rbytes=5 wbytes=0 rios=1 wios=0\n');
  assert.deepEqual(io.serviceBytes.filter((e) => e.minor === 0).map((e) => [e.op, e.value]), [['Read', 100], ['Write', 8192], ['Discard', 0], ['Total', 8292]]);
  assert.deepEqual(io.serviced.filter((e) => e.minor === 16).map((e) => [e.op, e.value]), [['Read', 1], ['Write', 0], ['Total', 1]]);
  const v2 = usageFromV2({ 'cpu.stat': 'usage_usec 1\n', 'memory.current': '1\n', 'memory.stat': '', 'io.stat': '254:0 rbytes=0 wbytes=4096 rios=0 wios=1\n' });
  assert.equal(v2.blkio?.serviceBytes.find((e) => e.op === 'Write')?.value, 4096);
});
