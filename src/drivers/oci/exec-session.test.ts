import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cgroupProcsFiles, enterCommand, sessionEnv, shellQuote } from './exec-session.ts';

test('cgroup.procs files of every hierarchy a process is in (v1 co-mounted, named, unified)', () => {
  const layout = {
    hierarchies: [],
    v1: new Map([
      ['cpu', '/sys/fs/cgroup/cpu,cpuacct'],
      ['cpuacct', '/sys/fs/cgroup/cpu,cpuacct'],
      ['memory', '/sys/fs/cgroup/memory'],
      ['name=systemd', '/sys/fs/cgroup/systemd'],
    ]),
    unified: '/sys/fs/cgroup/unified',
  };
  const text = '12:memory:/skiff/t1/app\n3:cpu,cpuacct:/skiff/t1/app\n1:name=systemd:/skiff/t1/app\n0::/skiff/t1/app\n9:rdma:/\n';
  assert.deepEqual(cgroupProcsFiles(text, layout), [
    '/sys/fs/cgroup/memory/skiff/t1/app/cgroup.procs',
    '/sys/fs/cgroup/cpu,cpuacct/skiff/t1/app/cgroup.procs',
    '/sys/fs/cgroup/systemd/skiff/t1/app/cgroup.procs',
    '/sys/fs/cgroup/unified/skiff/t1/app/cgroup.procs',
  ]);
});

test('shellQuote survives /bin/sh for any text', () => {
  for (const s of [`it's`, '$HOME `id` "x"', 'a\nb', '']) {
    const r = spawnSync('/bin/sh', ['-c', `printf %s ${shellQuote(s)}`], { encoding: 'utf8' });
    assert.equal(r.stdout, s);
  }
});

test('the enter command: no_new_privs, every namespace (the user one only when the container has its own), its user and directory', () => {
  const cmd = enterCommand(42, { cwd: '/srv', uid: 1000, gid: 100 }, true, ['id', '-u']);
  assert.deepEqual(cmd.slice(0, 3), ['/usr/bin/setpriv', '--no-new-privs', '--']);
  assert.ok(cmd.includes('-U'));
  assert.deepEqual(cmd.slice(cmd.indexOf('-W'), cmd.indexOf('-W') + 2), ['-W', '/srv']);
  assert.deepEqual(cmd.slice(-7), ['-S', '1000', '-G', '100', '--', 'id', '-u']);
  assert.ok(!enterCommand(42, { cwd: '/', uid: 0, gid: 0 }, false, ['sh']).includes('-U'));
});

test("the host side never runs with the container's loader variables; the container's PATH comes back for the command", () => {
  const env = sessionEnv({ PATH: '/app/bin:/bin', LD_PRELOAD: '/x.so', LD_LIBRARY_PATH: '/proc/1/root/lib', GCONV_PATH: '/g', GLIBC_TUNABLES: 'x', HOME: '/root', API_KEY: 'k' });
  assert.deepEqual(env, { HOME: '/root', API_KEY: 'k', SKIFF_EXEC_PATH: '/app/bin:/bin', PATH: '/usr/sbin:/usr/bin:/sbin:/bin' });
  assert.equal(sessionEnv({}).SKIFF_EXEC_PATH, '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
});
