/**
 * The microVM driver's host-side logic without a VM (no root): the guest's
 * stats report, the sh it is handed (quoting that survives hostile strings),
 * finding an executable inside a rootfs without leaving it, the initramfs and
 * the kernel's LZ4 payload. The VM itself: test/microvm-driver.root.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, promises as fsp, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseStats } from './stats.ts';
import { execSh, runSh, specSh } from './guest-spec.ts';
import { findExecutable, resolveInRoot } from './host-fs.ts';
import { ensureInitramfs } from './boot-files.ts';
import { GUEST_INIT } from './guest-init.ts';
import { lz4Legacy } from './vmlinux.ts';
import { checkId, shq } from './layout.ts';
import type { ContainerLaunchSpec } from '../driver.ts';

test('the guest stats report parses into task and container usage', () => {
  const text = [
    'task 52428800 900000 600000 300000 4',
    'task.anon 40000000',
    'task.file 10000000',
    'task.inactive_file 4000000',
    'c.app-1a2b.c3d4 30000000 500000 400000 100000 2',
    'c.app-1a2b.c3d4.anon 25000000',
    'c.app-1a2b.c3d4.inactive_file 40000000',
    'garbage line here',
  ].join('\n');
  const s = parseStats(text);
  assert.deepEqual(s.task, {
    cpuUsageUs: 900000, cpuUserUs: 600000, cpuSystemUs: 300000, memoryUsageBytes: 52428800,
    workingSetBytes: 52428800 - 4000000, rssBytes: 40000000, cacheBytes: 10000000, pids: 4,
  });
  const c = s.containers.get('app-1a2b.c3d4');
  assert.equal(c?.cpuUsageUs, 500000);
  assert.equal(c?.workingSetBytes, 0, 'never negative');
  assert.equal(parseStats('').task, undefined);
});

test('the sh handed to the guest quotes every value, so hostile strings stay data', () => {
  const evil = `a'b"c$(touch /pwned)\`x\`\n;rm -rf /`;
  const spec = {
    id: 't-app', taskId: 't', containerName: 'app', layerDirs: ['/l'], args: ['echo', evil], env: ['PATH=/bin', `X=${evil}`, 'not-an-env'],
    cwd: '/w d', uid: 1000, gid: 1001, netnsPath: '/n', hostname: evil, taskLimits: { cpuUnits: 256, memoryMiB: 512 }, memoryMiB: 64,
    extraMounts: [{ source: '/h', destination: `/etc/${evil}`, readonly: true }],
  } satisfies ContainerLaunchSpec;
  const run = runSh('app-1', spec);
  assert.match(run, /^\[ -n "\$1" \] && read mapped < "\$1"\n/, 'waits for its user namespace to be mapped');
  assert.equal(execSh('app-1', spec, spec.args), run.slice(run.indexOf('\n') + 1));
  assert.ok(!run.includes('not-an-env'), 'entries without = are dropped');
  assert.match(run, / -S 1000 -G 1001 -- 'echo' /);
  assert.match(run, /'-w\/task\/c\/app-1\/rootfs\/w d'/);
  const spec2 = specSh('app-1', spec, [{ source: 'm/0', destination: `/etc/${evil}`, readonly: true, kind: 'file' }], { hostId: 100000, size: 65536 });
  assert.match(spec2, /^C_MEM=64$/m);
  assert.match(spec2, /^C_USERNS='100000 65536'$/m);
  assert.match(specSh('app-1', spec, []), /^C_USERNS=$/m);
  // sh itself reads the values back unchanged, running nothing.
  const dir = mkdtempSync(path.join(tmpdir(), 'skiff-mvm-unit-'));
  try {
    const out = execFileSync('/bin/sh', ['-c', `${spec2}\nprintf '%s' "$C_HOST"; echo; env() { shift; for a; do printf '[%s]' "$a"; done; }; ${run.slice(run.indexOf('\n') + 1).replace(/^exec <\/dev\/null \/bin\/busybox /, '')}`], {
      cwd: dir,
      encoding: 'utf8',
    });
    assert.ok(out.startsWith(`${evil}\n`), out);
    assert.ok(out.includes(`[X=${evil}]`), out);
    assert.ok(!existsSync('/pwned') && !existsSync(path.join(dir, 'pwned')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(shq(`it's`), `'it'\\''s'`);
});

test('ids are checked before they become paths', () => {
  for (const bad of ['../x', 'a/b', '', '.hidden', 'a..b', 'x'.repeat(200)]) assert.throws(() => checkId('container id', bad), /invalid container id/);
  checkId('container id', 'abc123-app_1.x');
});

test('an executable is found inside the rootfs, following its symlinks but never out of it', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'skiff-mvm-root-'));
  const outside = mkdtempSync(path.join(tmpdir(), 'skiff-mvm-out-'));
  try {
    await fsp.mkdir(path.join(root, 'bin'));
    await fsp.mkdir(path.join(root, 'usr/local/bin'), { recursive: true });
    await fsp.writeFile(path.join(root, 'bin/busybox'), '#!x', { mode: 0o755 });
    await fsp.symlink('busybox', path.join(root, 'bin/sh'));
    await fsp.symlink('/bin/busybox', path.join(root, 'usr/local/bin/abs'));
    await fsp.writeFile(path.join(root, 'bin/data'), 'x', { mode: 0o644 });
    await fsp.writeFile(path.join(outside, 'tool'), '#!x', { mode: 0o755 });
    await fsp.symlink(path.join(outside, 'tool'), path.join(root, 'bin/escape'));
    await fsp.symlink(`../../../../../../..${outside}/tool`, path.join(root, 'bin/dotdot'));
    await fsp.symlink('loop', path.join(root, 'bin/loop'));
    assert.equal(await findExecutable(root, 'sh', ['PATH=/bin']), true);
    assert.equal(await findExecutable(root, 'sh', []), true, 'the default PATH');
    assert.equal(await findExecutable(root, '/usr/local/bin/abs', []), true, 'an absolute link resolves inside the root');
    assert.equal(await findExecutable(root, 'data', ['PATH=/bin']), false, 'not executable');
    assert.equal(await findExecutable(root, 'escape', ['PATH=/bin']), false, 'a link to a host path is resolved inside the root');
    assert.equal(await findExecutable(root, '/bin/dotdot', []), false, '.. stops at the root');
    assert.equal(await findExecutable(root, 'loop', ['PATH=/bin']), false);
    assert.equal(await findExecutable(root, 'nope', ['PATH=/bin']), false);
    assert.equal((await resolveInRoot(root, '/usr/local/bin/abs'))?.hostPath, path.join(root, 'bin/busybox'));
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});

test('the initramfs holds the guest init, busybox and the modules, and is built once', async (t) => {
  if (!existsSync('/bin/busybox') || !existsSync('/usr/bin/cpio')) return t.skip('needs busybox and cpio');
  const dir = mkdtempSync(path.join(tmpdir(), 'skiff-mvm-ird-'));
  try {
    await fsp.writeFile(path.join(dir, 'virtio.ko'), 'module-bytes');
    const kernel = { vmlinuz: '/nonexistent', version: '0.0-test', modules: [path.join(dir, 'virtio.ko')] };
    const file = await ensureInitramfs(path.join(dir, 'boot'), kernel, '/bin/busybox');
    const mtime = (await fsp.stat(file)).mtimeMs;
    assert.equal(await ensureInitramfs(path.join(dir, 'boot'), kernel, '/bin/busybox'), file);
    assert.equal((await fsp.stat(file)).mtimeMs, mtime, 'not rebuilt');
    const list = execFileSync('cpio', ['-t', '-v', '--quiet', '-F', file], { encoding: 'utf8' });
    for (const name of ['init', 'bin/busybox', 'bin/sh -> busybox', 'dev/console', 'lib/modules/virtio.ko']) assert.ok(list.includes(name), `${name} in\n${list}`);
    const x = path.join(dir, 'x');
    await fsp.mkdir(x);
    execFileSync('cpio', ['-i', '--quiet', '-F', file, 'init'], { cwd: x });
    assert.equal(readFileSync(path.join(x, 'init'), 'utf8'), GUEST_INIT);
    assert.match(GUEST_INIT, /MEM=\$\{a#\*=\}/, "sh's own ${...} survives the template");
    execFileSync('/bin/busybox', ['sh', '-n', path.join(x, 'init')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the LZ4 legacy decoder undoes a literal-and-match stream and refuses garbage', () => {
  // One block: literals "abcd", then a match of offset 4, length 8 → "abcdabcdabcd", then the last literals "xy".
  const block = Buffer.from([0x44, 0x61, 0x62, 0x63, 0x64, 0x04, 0x00, 0x20, 0x78, 0x79]);
  const head = Buffer.alloc(8);
  head.writeUInt32LE(0x184c2102, 0);
  head.writeUInt32LE(block.length, 4);
  const size = Buffer.alloc(4);
  size.writeUInt32LE(14, 0);
  assert.equal(lz4Legacy(Buffer.concat([head, block, size]))?.toString(), 'abcdabcdabcdxy');
  assert.equal(lz4Legacy(Buffer.from('not lz4 at all')), undefined);
});
