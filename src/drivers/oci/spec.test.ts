import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerLaunchSpec } from '../driver.ts';
import { buildOciSpec, cpuSharesFor, DEFAULT_CAPABILITIES, effectiveNofile, finalCapabilities, NOFILE_LIMIT } from './spec.ts';
import { seccompProfile } from './seccomp.ts';
import { parseMountinfo } from './cgroups.ts';
import { sanitizeName } from './oci-driver.ts';

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

test('capabilities: Docker default, drop (ALL too), add only SYS_PTRACE; non-root users keep only the bounding set', () => {
  assert.deepEqual(finalCapabilities(), DEFAULT_CAPABILITIES);
  assert.ok(!DEFAULT_CAPABILITIES.includes('CAP_NET_RAW'));
  assert.deepEqual(finalCapabilities(['SYS_PTRACE'], ['CHOWN', 'CAP_MKNOD']), [...DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_CHOWN' && c !== 'CAP_MKNOD'), 'CAP_SYS_PTRACE']);
  assert.deepEqual(finalCapabilities(['SYS_PTRACE'], ['ALL']), ['CAP_SYS_PTRACE']);
  assert.throws(() => finalCapabilities(['SYS_ADMIN']), /cannot be added/);
  assert.throws(() => finalCapabilities(['NET_RAW']), /cannot be added/);
  const s = buildOciSpec({ ...base, uid: 1000, capAdd: ['SYS_PTRACE'] }, { cgroupsPath: '/s/a/b' }) as any;
  assert.ok(s.process.capabilities.bounding.includes('CAP_SYS_PTRACE'));
  assert.deepEqual(s.process.capabilities.effective, []);
  assert.deepEqual(s.process.capabilities.permitted, []);
});

test('seccomp is built after the final capability set: SYS_PTRACE opens the ptrace family', () => {
  const allowed = (p: any) => new Set(p.syscalls.filter((r: any) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r: any) => r.names));
  const plain = seccompProfile(DEFAULT_CAPABILITIES);
  assert.equal(plain.defaultAction, 'SCMP_ACT_ERRNO');
  for (const c of ['ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp', 'mount', 'unshare', 'setns', 'bpf', 'reboot', 'init_module', 'keyctl', 'add_key']) {
    assert.ok(!allowed(plain).has(c), `${c} denied by default`);
  }
  for (const c of ['read', 'execve', 'chroot', 'socketpair', 'clock_gettime']) assert.ok(allowed(plain).has(c), `${c} allowed`);
  const traced = seccompProfile(finalCapabilities(['SYS_PTRACE']));
  for (const c of ['ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp']) assert.ok(allowed(traced).has(c), `${c} allowed with SYS_PTRACE`);
  assert.ok(!allowed(seccompProfile(finalCapabilities([], ['SYS_CHROOT']))).has('chroot'), 'dropping a capability closes its syscalls');
  // clone without namespace flags; clone3 answers ENOSYS so libc falls back.
  const rules = (plain.syscalls as any[]);
  assert.ok(rules.some((r) => r.names.includes('clone') && r.args?.[0].op === 'SCMP_CMP_MASKED_EQ'));
  assert.ok(rules.some((r) => r.names.includes('clone3') && r.errnoRet === 38));
  const spec = buildOciSpec(base, { cgroupsPath: '/s/a/b' }) as any;
  assert.deepEqual(spec.linux.seccomp, plain);
});

test('user namespace, init and ulimits in the spec', () => {
  const s = buildOciSpec(
    { ...base, initProcessEnabled: true, ulimits: [{ name: 'nofile', softLimit: 1024, hardLimit: 2048 }, { name: 'nproc', softLimit: 50, hardLimit: 60 }] },
    { cgroupsPath: '/s/a/b', userns: { hostId: 100000, size: 65536 }, initPath: '/usr/bin/tini-static', sysfsSource: '/b/sys' },
  ) as any;
  assert.equal(s.linux.namespaces[0].type, 'user');
  assert.deepEqual(s.linux.uidMappings, [{ containerID: 0, hostID: 100000, size: 65536 }]);
  assert.deepEqual(s.linux.gidMappings, [{ containerID: 0, hostID: 100000, size: 65536 }]);
  assert.deepEqual(s.process.args.slice(0, 2), ['/sbin/docker-init', '--']);
  assert.ok(s.mounts.some((m: any) => m.destination === '/sbin/docker-init' && m.source === '/usr/bin/tini-static' && m.options.includes('ro')));
  assert.ok(s.mounts.some((m: any) => m.destination === '/sys' && m.type === 'bind' && m.source === '/b/sys' && m.options.includes('ro')));
  assert.deepEqual(s.process.rlimits, [
    { type: 'RLIMIT_NOFILE', hard: 2048, soft: 1024 },
    { type: 'RLIMIT_NPROC', hard: 60, soft: 50 },
  ]);
  assert.throws(() => buildOciSpec({ ...base, initProcessEnabled: true }, { cgroupsPath: '/s' }), /tini/);
  assert.throws(() => buildOciSpec({ ...base, ulimits: [{ name: 'bogus', softLimit: 1, hardLimit: 1 }] }, { cgroupsPath: '/s' }), /unknown ulimit/);
  const plain = buildOciSpec(base, { cgroupsPath: '/s' }) as any;
  assert.ok(!plain.linux.namespaces.some((n: any) => n.type === 'user'));
  assert.equal(plain.linux.uidMappings, undefined);
});
