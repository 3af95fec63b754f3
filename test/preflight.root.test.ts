/**
 * A server that cannot run tasks refuses to start with one message naming what
 * is missing and how to get it, and creates nothing (not even its data dir).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const SKIFF = resolve(import.meta.dirname, '../bin/skiff.js');

function startServer(env: Record<string, string>, asUser?: string) {
  const parent = mkdtempSync(join(tmpdir(), 'skiff-preflight-'));
  const dataDir = join(parent, 'data');
  const args = [SKIFF, 'server', '--data-dir', dataDir, '--port', '1'];
  const cmd = asUser ? 'runuser' : process.execPath;
  const argv = asUser ? ['-u', asUser, '--', process.execPath, ...args] : args;
  const r = spawnSync(cmd, argv, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
  const created = existsSync(dataDir);
  rmSync(parent, { recursive: true, force: true });
  return { status: r.status, stderr: r.stderr, created };
}

test('without runc the server names it and how to install it, and creates nothing', () => {
  const r = startServer({ SKIFF_RUNC: '/nonexistent/runc' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /runc/);
  assert.match(r.stderr, /apt-get install runc/);
  assert.equal(r.created, false, 'no data dir was created');
});

test('without conmon the server says so too', () => {
  const r = startServer({ SKIFF_CONMON: '/nonexistent/conmon' });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /apt-get install conmon/);
});

test('without root the server refuses and says to run it as root', () => {
  const r = startServer({}, 'nobody');
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /root/);
  assert.equal(r.created, false);
});
