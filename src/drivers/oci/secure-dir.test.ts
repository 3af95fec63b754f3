import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, lstatSync, readlinkSync, rmSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { prepareSecureDir, secureDirOf } from './secure-dir.ts';

test('the memory dir is derived from the state dir alone', () => {
  const a = secureDirOf('/dev/shm/skiff', '/var/lib/skiff/runtime');
  assert.equal(a, secureDirOf('/dev/shm/skiff', '/var/lib/skiff/runtime/'));
  assert.match(a, /^\/dev\/shm\/skiff\/[0-9a-f]{16}$/);
  assert.notEqual(a, secureDirOf('/dev/shm/skiff', '/var/lib/other/runtime'));
});

test('prepare links the runc root into the memory dir, keeps an older real runc dir', async () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'skiff-secure-'));
  try {
    const mem = path.join(tmp, 'mem', 'x');
    const link = path.join(tmp, 'state', 'runc');
    mkdirSync(path.dirname(link));
    await prepareSecureDir(mem, link);
    assert.equal(readlinkSync(link), path.join(mem, 'runc'));
    assert.equal(statSync(path.join(mem, 'specs')).mode & 0o777, 0o700);
    await prepareSecureDir(mem, link); // again: idempotent
    const old = path.join(tmp, 'old', 'runc');
    mkdirSync(old, { recursive: true });
    await prepareSecureDir(mem, old);
    assert.ok(lstatSync(old).isDirectory(), 'an existing runc dir (older Skiff) is kept for adoption');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
