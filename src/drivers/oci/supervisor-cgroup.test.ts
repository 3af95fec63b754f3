import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CgroupLayout } from './cgroups.ts';
import { parseProcCgroup, planSupervisorMoves, supervisorCgroupPath } from './supervisor-cgroup.ts';

/** Debian 12 booted hybrid (systemd.unified_cgroup_hierarchy=0), as `mount` shows it. */
const HYBRID: CgroupLayout = {
  hierarchies: [],
  v1: new Map([
    ['name=systemd', '/sys/fs/cgroup/systemd'],
    ['cpu', '/sys/fs/cgroup/cpu,cpuacct'],
    ['cpuacct', '/sys/fs/cgroup/cpu,cpuacct'],
    ['cpuset', '/sys/fs/cgroup/cpuset'],
    ['memory', '/sys/fs/cgroup/memory'],
    ['pids', '/sys/fs/cgroup/pids'],
  ]),
  unified: '/sys/fs/cgroup/unified',
};

/** A process of `systemctl start skiff` on that host (tasks and memory accounting on). */
const SERVICE = `12:pids:/system.slice/skiff.service
11:cpuset:/
10:memory:/system.slice/skiff.service
4:cpu,cpuacct:/
1:name=systemd:/system.slice/skiff.service
0::/system.slice/skiff.service
`;

test('parseProcCgroup reads v1, named and unified lines', () => {
  assert.deepEqual(parseProcCgroup('4:cpu,cpuacct:/a\n1:name=systemd:/b/c\n0::/d\n'), [
    { controllers: ['cpu', 'cpuacct'], version: 1, path: '/a' },
    { controllers: ['name=systemd'], version: 1, path: '/b/c' },
    { controllers: [], version: 2, path: '/d' },
  ]);
});

test('a service process moves out of the service in every hierarchy it is in, and nowhere else', () => {
  const moves = planSupervisorMoves(SERVICE, HYBRID, 'skiff', 'c1');
  assert.deepEqual(
    moves.map((m) => [m.hierarchy, m.dir, m.from]),
    [
      ['pids', '/sys/fs/cgroup/pids/skiff/.conmon/c1', '/system.slice/skiff.service'],
      ['memory', '/sys/fs/cgroup/memory/skiff/.conmon/c1', '/system.slice/skiff.service'],
      ['name=systemd', '/sys/fs/cgroup/systemd/skiff/.conmon/c1', '/system.slice/skiff.service'],
      ['unified', '/sys/fs/cgroup/unified/skiff/.conmon/c1', '/system.slice/skiff.service'],
    ],
  );
  assert.ok(moves.every((m) => !m.cpuset), 'cpuset stays in its root cgroup here');
});

test('a non-root cpuset cgroup is flagged (its new cgroups need cpus and mems)', () => {
  const [m] = planSupervisorMoves('11:cpuset:/machine.slice\n', HYBRID, 'skiff', 'c1');
  assert.equal(m?.dir, '/sys/fs/cgroup/cpuset/skiff/.conmon/c1');
  assert.equal(m?.cpuset, true);
});

test('nothing to move for a process in root cgroups, or already in its own', () => {
  assert.deepEqual(planSupervisorMoves('4:cpu,cpuacct:/\n1:name=systemd:/\n0::/\n', HYBRID, 'skiff', 'c1'), []);
  const own = '10:memory:/skiff/.conmon/c1\n1:name=systemd:/skiff/.conmon/c1\n0::/skiff/.conmon/c1\n';
  assert.deepEqual(planSupervisorMoves(own, HYBRID, 'skiff', 'c1'), []);
});

test('hierarchies that are not mounted are skipped; pure cgroup v2 moves in the unified one', () => {
  const v2only: CgroupLayout = { hierarchies: [], v1: new Map(), unified: '/sys/fs/cgroup' };
  assert.deepEqual(
    planSupervisorMoves('0::/system.slice/skiff.service\n', v2only, 'tx1', 'abc').map((m) => m.dir),
    ['/sys/fs/cgroup/tx1/.conmon/abc'],
  );
  assert.deepEqual(planSupervisorMoves('3:net_cls:/x\n', HYBRID, 'skiff', 'c1'), []);
});

test('ids and roots that are not safe path components are refused', () => {
  for (const bad of ['', '..', '../etc', 'a/b', '.conmon', 'x'.repeat(129)]) {
    assert.throws(() => supervisorCgroupPath('skiff', bad), /invalid container id/);
    assert.throws(() => supervisorCgroupPath(bad, 'c1'), /invalid cgroup root/);
  }
  assert.equal(supervisorCgroupPath('skiff', 'a1.b_c-d+e'), '/skiff/.conmon/a1.b_c-d+e');
});
