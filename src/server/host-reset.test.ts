import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownedNames, mountsUnder } from './host-reset.ts';
import { acquireServerLock, isLive, lockHolder, parseLock, parseStartTime, releaseServerLock } from './server-lock.ts';
import { resolveServerConfig } from '../config/server-config.ts';

test('ownedNames keeps only what belongs to prefix P', () => {
  const c = resolveServerConfig({ dataDir: '/tmp/x' }, { SKIFF_RESOURCE_PREFIX: 'tab12' });
  const got = ownedNames(c, {
    namespaces: ['tab12-0123456789ab', 'tab12-pool-1', 'tab123-aaaa', 'other-1', 'skiff-abc'],
    veths: ['tab12abcdefabcd', 'tab12xyz', 'sk0123456789ab', 'tab12012345678', 'tab120123456789', 'tab12012345678i', 'tab1201234567i'],
    bridges: ['tab12b0123abcd', 'tab12b0123abc', 'skiffb0123abcd', 'docker0'],
    nftTables: ['inet tab12', 'ip tab12_md', 'inet tab12_sg', 'bridge tab12_sg', 'inet tab123', 'ip tab12', 'inet skiff', 'ip nat'],
  });
  // tab123-aaaa is another prefix's namespace: only names starting with the netns prefix "tab12-".
  assert.deepEqual(got.namespaces, ['tab12-0123456789ab', 'tab12-pool-1']);
  assert.deepEqual(got.veths, ['tab120123456789', 'tab12012345678i', 'tab12abcdefabcd'], 'host veths and ifb devices');
  assert.deepEqual(got.bridges, ['tab12b0123abcd']);
  assert.deepEqual(got.nftTables, ['bridge tab12_sg', 'inet tab12', 'inet tab12_sg', 'ip tab12_md']);
});

test('ownedNames for the default prefix uses the short veth prefix', () => {
  const c = resolveServerConfig({ dataDir: '/tmp/x' }, {});
  const got = ownedNames(c, { namespaces: [], veths: ['sk0123456789ab', 'skiff0123456789', 'sk0123456789abi'], bridges: ['skiffb01234567'], nftTables: ['inet skiff'] });
  assert.deepEqual(got.veths, ['sk0123456789ab', 'sk0123456789abi']);
  assert.deepEqual(got.bridges, ['skiffb01234567']);
  assert.deepEqual(got.nftTables, ['inet skiff']);
});

test('mountsUnder lists mounts strictly under the dir, deepest first', () => {
  const info = [
    '1 0 8:1 / / rw - ext4 /dev/sda1 rw',
    '2 1 0:5 / /d/runtime/bundles/a/rootfs rw - overlay overlay rw',
    '3 2 0:6 / /d/runtime/bundles/a/rootfs/sys rw - sysfs sysfs rw',
    '4 1 0:7 / /d rw - tmpfs tmpfs rw',
    '5 1 0:8 / /dd/x rw - tmpfs tmpfs rw',
  ].join('\n');
  assert.deepEqual(mountsUnder(info, '/d'), ['/d/runtime/bundles/a/rootfs/sys', '/d/runtime/bundles/a/rootfs']);
  assert.deepEqual(mountsUnder(info, '/d/'), ['/d/runtime/bundles/a/rootfs/sys', '/d/runtime/bundles/a/rootfs']);
});

test('parseStartTime reads field 22 even when the command holds spaces and parentheses', () => {
  const rest = 'S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 424242 999 1000';
  assert.equal(parseStartTime(`77 (node) ${rest}`), '424242');
  assert.equal(parseStartTime(`77 (a b) (c)) ${rest}`), '424242');
  assert.equal(parseStartTime('garbage'), undefined);
});

test('the lock names a live process only when pid and start time both match', () => {
  assert.deepEqual(parseLock('123 456\n'), { pid: 123, startTime: '456' });
  assert.equal(parseLock('123'), undefined);
  assert.equal(parseLock('abc 1'), undefined);
  const stat = (pid: number) => (pid === 123 ? '123 (skiff) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 456 1 2' : undefined);
  assert.equal(isLive({ pid: 123, startTime: '456' }, stat), true);
  assert.equal(isLive({ pid: 123, startTime: '457' }, stat), false, 'a reused pid is another process');
  assert.equal(isLive({ pid: 124, startTime: '456' }, stat), false, 'a dead pid holds nothing');
});

test('acquire/release: this process holds the dir; a stale file holds nothing', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.equal(lockHolder(dir), undefined);
  acquireServerLock(dir);
  assert.equal(lockHolder(dir)?.pid, process.pid);
  acquireServerLock(dir); // its own process re-acquires
  releaseServerLock(dir);
  assert.equal(lockHolder(dir), undefined);
  writeFileSync(join(dir, 'server.pid'), `${process.pid} 1\n`); // our pid, another start time: a previous process
  assert.equal(lockHolder(dir), undefined);
  acquireServerLock(dir);
  assert.match(readFileSync(join(dir, 'server.pid'), 'utf8'), new RegExp(`^${process.pid} \\d+\\n$`));
  releaseServerLock(dir);
});

test('acquire refuses, naming the pid, while another live process holds the dir', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const init = parseStartTime(readFileSync('/proc/1/stat', 'utf8'))!;
  writeFileSync(join(dir, 'server.pid'), `1 ${init}\n`);
  assert.throws(() => acquireServerLock(dir), /another Skiff server \(pid 1\) is running/);
  releaseServerLock(dir); // not ours: stays
  assert.equal(lockHolder(dir)?.pid, 1);
});
