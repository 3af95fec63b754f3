import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskGuard, diskSettingsFromEnv, RESERVE_FILE, START_RESERVE_FILE, type DiskSettings } from './disk-guard.ts';
import { DiskFullError, isDiskFullError, WriteFailureNotice } from './disk-errors.ts';

const MiB = 1024 * 1024;
const settings: DiskSettings = { reserveBytes: 2 * MiB, minFreeBytes: 50 * MiB, criticalBytes: MiB, intervalMs: 60_000 };

/** A guard over a temp dir whose "free space" the test sets. */
function guardWith(free: { bytes: number }, logs: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-disk-guard-'));
  const guard = new DiskGuard({ dir, settings, log: (m) => logs.push(m), freeBytes: () => free.bytes });
  return { dir, guard, logs, cleanup: async () => (await guard.stop(), rmSync(dir, { recursive: true, force: true })) };
}

test('settings: defaults (64 MiB reserve, 256 MiB for new tasks, 1 s) and a bad value named', () => {
  const d = diskSettingsFromEnv({});
  assert.deepEqual(d, { reserveBytes: 64 * MiB, minFreeBytes: 256 * MiB, criticalBytes: 8 * MiB, intervalMs: 1000 });
  assert.equal(diskSettingsFromEnv({ SKIFF_STORE_RESERVE_MIB: '4' }).criticalBytes, 2 * MiB);
  assert.equal(diskSettingsFromEnv({ SKIFF_STORE_RESERVE_MIB: '0' }).criticalBytes, MiB);
  assert.throws(() => diskSettingsFromEnv({ SKIFF_MIN_FREE_MIB: 'lots' }), /SKIFF_MIN_FREE_MIB must be a whole number/);
});

test('the reserve is made at start, released when the disk fills, made again when space returns: no restart', async () => {
  const free = { bytes: 500 * MiB };
  const { dir, guard, logs, cleanup } = guardWith(free);
  try {
    await guard.start();
    assert.equal(statSync(join(dir, RESERVE_FILE)).size, 2 * MiB);
    assert.equal(statSync(join(dir, START_RESERVE_FILE)).size, MiB / 2);
    assert.equal(guard.full, false);
    guard.assertWritable('ecs:RegisterTaskDefinition');
    assert.equal(guard.newTasksRefusal(), undefined);

    free.bytes = MiB / 2;
    await guard.check();
    assert.equal(guard.full, true);
    assert.ok(!existsSync(join(dir, RESERVE_FILE)), 'the reserve is released for the store');
    assert.ok(existsSync(join(dir, START_RESERVE_FILE)), 'the start reserve is kept for the next start');
    assert.throws(() => guard.assertWritable('ecs:RunTask'), (e: unknown) => {
      assert.ok(e instanceof DiskFullError && isDiskFullError(e));
      assert.match((e as Error).message, new RegExp(`the disk holding ${dir} is full \\(0 MiB free\\)`));
      assert.match((e as Error).message, /stop tasks writing to it/);
      return true;
    });
    guard.assertWritable('ecs:StopTask'); // frees space: allowed on the reserve
    assert.match(guard.newTasksRefusal()!, /not starting new tasks: the disk holding .* has 0 MiB free, under the 50 MiB/);
    await guard.check();
    assert.equal(logs.filter((l) => l.includes('is full')).length, 1, 'said once');

    free.bytes = 3 * MiB; // the released reserve's room and a little: not enough to make it again with headroom
    await guard.check();
    assert.equal(guard.full, true);
    free.bytes = 60 * MiB;
    await guard.check();
    assert.equal(guard.full, false);
    assert.equal(statSync(join(dir, RESERVE_FILE)).size, 2 * MiB);
    guard.assertWritable('ecs:RunTask');
    assert.equal(guard.newTasksRefusal(), undefined);
    assert.match(logs.at(-1)!, /writes are accepted again/);
  } finally {
    await cleanup();
  }
});

test('a writer reporting a disk failure makes the guard full at once; other errors do not', async () => {
  const free = { bytes: 500 * MiB };
  const { dir, guard, cleanup } = guardWith(free);
  try {
    await guard.start();
    assert.equal(guard.noteFailure(new Error('constraint failed')), false);
    assert.equal(guard.full, false);
    assert.equal(guard.noteFailure(Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' })), true);
    assert.equal(guard.full, true);
    assert.ok(!existsSync(join(dir, RESERVE_FILE)));
    await guard.check(); // the disk has room after all (a transient failure): back at once
    assert.equal(guard.full, false);
  } finally {
    await cleanup();
  }
});

test('a start on a full disk releases the start reserve and comes up full; a disk too small for the reserve is full', async () => {
  const free = { bytes: 500 * MiB };
  const first = guardWith(free);
  try {
    await first.guard.start();
    await first.guard.stop();
    free.bytes = 0;
    const logs: string[] = [];
    const again = new DiskGuard({ dir: first.dir, settings, log: (m) => logs.push(m), freeBytes: () => free.bytes });
    await again.start();
    await again.stop();
    assert.ok(!existsSync(join(first.dir, START_RESERVE_FILE)), 'released to open the store');
    assert.equal(again.full, true);
    assert.match(logs.join('\n'), /released the start reserve/);
  } finally {
    await first.cleanup();
  }
  const small = guardWith({ bytes: 3 * MiB });
  try {
    await small.guard.start();
    assert.equal(small.guard.full, true, 'no room for the reserve: full');
    assert.ok(!existsSync(join(small.dir, RESERVE_FILE)));
  } finally {
    await small.cleanup();
  }
});

test('disk errors: SQLite and errno codes; the notice says it once per outage and once when writing again', () => {
  for (const code of ['SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_IOERR_WRITE', 'ENOSPC', 'EDQUOT', 'EIO']) assert.ok(isDiskFullError(Object.assign(new Error(code), { code })), code);
  for (const e of [new Error('x'), Object.assign(new Error('c'), { code: 'SQLITE_CONSTRAINT' }), undefined, null, 'ENOSPC']) assert.equal(isDiskFullError(e), false);
  const logs: string[] = [];
  const n = new WriteFailureNotice('sampler', (m) => logs.push(m));
  const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
  assert.equal(n.failed(new Error('bug')), false);
  assert.equal(n.failed(full), true);
  assert.equal(n.failed(full), true);
  assert.equal(n.down, true);
  n.succeeded();
  n.succeeded();
  assert.deepEqual(logs, ['sampler: cannot write (database or disk is full); retrying quietly until the disk takes writes again', 'sampler: writing again']);
});
