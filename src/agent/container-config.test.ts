import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mergeProcess, resolveUser, ContainerConfigError } from './container-config.ts';
import type { ImageRuntimeConfig } from '../images/images.ts';

const image = (over: Partial<ImageRuntimeConfig> = {}): ImageRuntimeConfig => ({
  entrypoint: ['/entry'],
  cmd: ['default', 'args'],
  env: ['PATH=/usr/bin', 'FROM_IMAGE=1', 'SHARED=image'],
  workingDir: '/app',
  user: '',
  labels: {},
  exposedPorts: [],
  ...over,
});
const def = (over: object = {}) => ({ name: 'c', environment: [], ...over });

test('the image entrypoint and cmd run when the definition sets neither', () => {
  assert.deepEqual(mergeProcess(def(), image(), [], {}).args, ['/entry', 'default', 'args']);
});

test('a command replaces the image cmd and keeps its entrypoint', () => {
  assert.deepEqual(mergeProcess(def({ command: ['x'] }), image(), [], {}).args, ['/entry', 'x']);
});

test('an entryPoint replaces the image entrypoint and drops the image cmd, as Docker does', () => {
  assert.deepEqual(mergeProcess(def({ entryPoint: ['/other'] }), image(), [], {}).args, ['/other']);
  assert.deepEqual(mergeProcess(def({ entryPoint: ['/other'], command: ['y'] }), image(), [], {}).args, ['/other', 'y']);
});

test('nothing to run is an error that says to set a command', () => {
  assert.throws(() => mergeProcess(def(), image({ entrypoint: null, cmd: null }), [], {}), (e: Error) => e instanceof ContainerConfigError && /set "command"/.test(e.message));
});

test('env: image first, then the definition by name, then the platform', () => {
  const p = mergeProcess(def({ environment: [{ name: 'SHARED', value: 'def' }, { name: 'AWS_REGION', value: 'mine' }] }), image(), [], { AWS_REGION: 'us-east-1' });
  assert.ok(p.env.includes('FROM_IMAGE=1'));
  assert.ok(p.env.includes('SHARED=def'));
  assert.ok(p.env.includes('AWS_REGION=us-east-1'));
  assert.ok(p.env.includes('PATH=/usr/bin'));
});

test('working directory: definition, else image, else /; always absolute', () => {
  assert.equal(mergeProcess(def({ workingDirectory: '/srv' }), image(), [], {}).cwd, '/srv');
  assert.equal(mergeProcess(def(), image(), [], {}).cwd, '/app');
  assert.equal(mergeProcess(def(), image({ workingDir: '' }), [], {}).cwd, '/');
  assert.equal(mergeProcess(def(), image({ workingDir: 'rel' }), [], {}).cwd, '/rel');
});

test('users resolve against the image passwd/group files, never through a symlinked /etc', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-user-'));
  try {
    const lower = join(dir, 'lower');
    const upper = join(dir, 'upper');
    mkdirSync(join(lower, 'etc'), { recursive: true });
    writeFileSync(join(lower, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n');
    writeFileSync(join(lower, 'etc/group'), 'root:x:0:\napp:x:1001:\nextra:x:2000:app\n');
    mkdirSync(upper);
    assert.deepEqual(resolveUser('app', [lower, upper]), { uid: 1000, gid: 1001, additionalGids: [2000] });
    assert.deepEqual(resolveUser('1000:0', [lower]), { uid: 1000, gid: 0, additionalGids: [2000] });
    assert.deepEqual(resolveUser('4242', [lower]), { uid: 4242, gid: 0, additionalGids: [] });
    assert.deepEqual(resolveUser('app:extra', [lower]), { uid: 1000, gid: 2000, additionalGids: [2000] });
    assert.throws(() => resolveUser('nobody', [lower]), ContainerConfigError);

    // A later layer whose /etc is a symlink to the host's /etc must not be read.
    const evil = join(dir, 'evil');
    mkdirSync(evil);
    symlinkSync('/etc', join(evil, 'etc'));
    assert.throws(() => resolveUser('root', [evil]), ContainerConfigError, 'the host /etc/passwd was not consulted');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
