import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerLaunchSpec } from '../driver.ts';
import { buildOciSpec, cpuSharesFor, effectiveNofile, NOFILE_LIMIT } from './spec.ts';
import { parseMountinfo } from './cgroups.ts';
import { sanitizeName } from './runc-driver.ts';

const base: ContainerLaunchSpec = {
  id: 'abc-web',
  taskId: 'abc',
  containerName: 'web',
  layerDirs: ['/l/1', '/l/2'],
  args: ['nginx', '-g', 'daemon off;'],
  env: ['A=1'],
  cwd: '/srv',
  uid: 101,
  gid: 102,
  additionalGids: [5],
  netnsPath: '/var/run/netns/skiff-abc',
  hostname: 'ip-10-0-0-5',
  taskLimits: { cpuUnits: 1024, memoryMiB: 512 },
  memoryMiB: 256,
  memoryReservationMiB: 128,
  cpuUnits: 512,
  readonlyRootFilesystem: true,
  extraMounts: [{ source: '/data/hosts', destination: '/etc/hosts', readonly: true }],
};

test('buildOciSpec maps the launch spec onto an OCI 1.0.2 config', () => {
  const s = buildOciSpec(base, { cgroupsPath: '/skiff/abc/web' }) as any;
  assert.equal(s.ociVersion, '1.0.2');
  assert.deepEqual(s.process.user, { uid: 101, gid: 102, additionalGids: [5] });
  assert.deepEqual(s.process.args, base.args);
  assert.ok(s.process.env.includes('A=1'));
  assert.ok(s.process.env.some((e: string) => e.startsWith('PATH=')), 'default PATH added');
  assert.equal(s.process.cwd, '/srv');
  assert.equal(s.process.terminal, false);
  assert.equal(s.process.noNewPrivileges, true);
  assert.ok(!s.process.capabilities.bounding.includes('CAP_NET_RAW'));
  assert.equal(s.process.capabilities.bounding.length, 13);
  assert.deepEqual(s.process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: NOFILE_LIMIT, soft: NOFILE_LIMIT }]);
  assert.deepEqual(s.root, { path: 'rootfs', readonly: true });
  assert.equal(s.hostname, 'ip-10-0-0-5');
  assert.equal(s.linux.cgroupsPath, '/skiff/abc/web');
  assert.deepEqual(s.linux.resources.memory, { limit: 256 * 1048576, reservation: 128 * 1048576 });
  assert.deepEqual(s.linux.resources.cpu, { shares: 512, quota: 100_000, period: 100_000 });
  assert.deepEqual(s.linux.namespaces.find((n: any) => n.type === 'network'), { type: 'network', path: '/var/run/netns/skiff-abc' });
  assert.deepEqual(s.linux.namespaces.map((n: any) => n.type).sort(), ['ipc', 'mount', 'network', 'pid', 'uts']);
  const hosts = s.mounts.find((m: any) => m.destination === '/etc/hosts');
  assert.equal(hosts.type, 'bind');
  assert.ok(hosts.options.includes('ro'));
  assert.ok(s.mounts.find((m: any) => m.destination === '/sys').options.includes('ro'));
});

test('buildOciSpec keeps an explicit PATH and, without container limits, uses the task memory limit only', () => {
  const s = buildOciSpec({ ...base, env: ['PATH=/x'], memoryMiB: undefined, memoryReservationMiB: undefined, readonlyRootFilesystem: undefined }, { cgroupsPath: '/s/a/b', nofile: 1000 }) as any;
  assert.deepEqual(s.process.env, ['PATH=/x']);
  assert.deepEqual(s.linux.resources.memory, { limit: 512 * 1024 * 1024 });
  assert.equal(s.root.readonly, false);
  assert.equal(s.process.rlimits[0].hard, 1000);
});

test('cpuSharesFor: ECS cpu units, minimum 2, unset/0 → 2', () => {
  assert.equal(cpuSharesFor(undefined), 2);
  assert.equal(cpuSharesFor(0), 2);
  assert.equal(cpuSharesFor(1), 2);
  assert.equal(cpuSharesFor(1024), 1024);
});

test('effectiveNofile clamps to the hard limit only without CAP_SYS_RESOURCE', () => {
  const limits = 'Limit Soft Limit Hard Limit Units\nMax open files            20000                20000                files\n';
  assert.equal(effectiveNofile('CapEff:\t000001ffffffffff\n', limits), NOFILE_LIMIT);
  assert.equal(effectiveNofile('CapEff:\t000001fffeffffff\n', limits), 20000);
  assert.equal(effectiveNofile('CapEff:\t0000000000000000\n', limits.replace(/20000/g, '1048576')), NOFILE_LIMIT);
});

test('parseMountinfo reads mount points (octal escapes) and fs types', () => {
  const text =
    '36 25 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n' +
    '99 25 0:50 / /tmp/a\\040b/rootfs rw,relatime - overlay overlay rw,lowerdir=/x\n';
  const m = parseMountinfo(text);
  assert.deepEqual(m[0], { mountPoint: '/sys/fs/cgroup/cpu,cpuacct', fstype: 'cgroup', superOpts: ['rw', 'cpu', 'cpuacct'] });
  assert.equal(m[1]!.mountPoint, '/tmp/a b/rootfs');
});

test('sanitizeName makes a safe path component', () => {
  assert.equal(sanitizeName('web'), 'web');
  assert.equal(sanitizeName('my app/1'), 'my_app_1');
  assert.equal(sanitizeName('.hidden'), 'c.hidden');
});

test('the container cgroup repeats the task limits: CFS quota of the task, memory capped by the task', () => {
  const s = buildOciSpec({ ...base, memoryMiB: undefined }, { cgroupsPath: '/skiff/abc/web' }) as any;
  assert.deepEqual(
    { quota: s.linux.resources.cpu.quota, period: s.linux.resources.cpu.period },
    { quota: 100_000, period: 100_000 },
  );
  assert.equal(s.linux.resources.memory.limit, 512 * 1024 * 1024);
  const smaller = buildOciSpec(base, { cgroupsPath: '/skiff/abc/web' }) as any;
  assert.equal(smaller.linux.resources.memory.limit, 256 * 1024 * 1024, 'a container limit below the task limit wins');
});
