/**
 * The layer unpacker against hostile and ordinary layers built here with tar-stream.
 * Every hostile case must be refused (ImagePullError) or contained, and a sentinel file
 * next to the target directory must stay untouched.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, lstatSync, readlinkSync, readdirSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createHash, randomBytes } from 'node:crypto';
import { ImagePullError } from './images.ts';
import { unpackLayer, UnpackBudget, type UnpackOptions } from './unpack.ts';
import { makeTar } from '../../test/support/tar.ts';



interface Sandbox {
  base: string;
  dest: string;
  sentinel: string;
  cleanup(): void;
}

function sandbox(t: { after(fn: () => void): void }): Sandbox {
  const base = mkdtempSync(join(tmpdir(), 'skiff-unpack-test-'));
  const dest = join(base, 'layer');
  execFileSync('mkdir', [dest]);
  const sentinel = join(base, 'sentinel');
  writeFileSync(sentinel, 'original');
  const cleanup = () => rmSync(base, { recursive: true, force: true });
  t.after(cleanup);
  return { base, dest, sentinel, cleanup };
}

function opts(extra: Partial<UnpackOptions> = {}): UnpackOptions {
  return { budget: new UnpackBudget(64 * 1024 * 1024), ...extra };
}

function assertSentinel(s: Sandbox): void {
  assert.equal(readFileSync(s.sentinel, 'utf8'), 'original', 'sentinel outside the layer must be untouched');
  assert.deepEqual(readdirSync(s.base).sort(), ['layer', 'sentinel'], 'nothing may appear next to the layer dir');
}

async function refused(p: Promise<unknown>, re?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ImagePullError, `expected ImagePullError, got ${e}`);
    if (re) assert.match(e.message, re);
    return true;
  });
}

function getXattr(path: string, name: string): string | null {
  try {
    return execFileSync('python3', ['-c', 'import os,sys; sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).decode())', path, name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return null;
  }
}

describe('hostile layers', () => {
  test('../ traversal is refused', async (t) => {
    const s = sandbox(t);
    const layer = await makeTar([{ name: '../sentinel', body: 'pwned' }]);
    await refused(unpackLayer(layer, s.dest, opts()), /escapes the layer root/);
    assertSentinel(s);
  });

  test('traversal hidden in the middle of a path is refused', async (t) => {
    const s = sandbox(t);
    const layer = await makeTar([{ name: 'a/b/../../../sentinel', body: 'pwned' }]);
    await refused(unpackLayer(gzipSync(layer), s.dest, opts()), /escapes/);
    assertSentinel(s);
  });

  test('absolute paths stay inside the layer', async (t) => {
    const s = sandbox(t);
    const name = `skiff-unpack-${randomBytes(6).toString('hex')}`;
    const layer = await makeTar([{ name: `/etc/${name}`, body: 'inside' }, { name: `${s.sentinel}`, body: 'inside too' }]);
    await unpackLayer(layer, s.dest, opts());
    assert.equal(readFileSync(join(s.dest, 'etc', name), 'utf8'), 'inside');
    assert.equal(existsSync(`/etc/${name}`), false);
    assert.equal(readFileSync(join(s.dest, s.sentinel), 'utf8'), 'inside too');
    assertSentinel(s);
  });

  test('a file written through a symlink to / is refused', async (t) => {
    const s = sandbox(t);
    const layer = await makeTar([
      { name: 'esc', type: 'symlink', linkname: '/' },
      { name: `esc${s.sentinel}`, body: 'pwned' },
    ]);
    await refused(unpackLayer(layer, s.dest, opts()), /through the symlink "esc"/);
    assertSentinel(s);
  });

  test('a file written through a relative ../../ symlink (or a chain) is refused', async (t) => {
    const s = sandbox(t);
    const layer = await makeTar([
      { name: 'up', type: 'symlink', linkname: '../../' },
      { name: 'chain', type: 'symlink', linkname: 'up' },
      { name: 'chain/sentinel', body: 'pwned' },
    ]);
    await refused(unpackLayer(layer, s.dest, opts()), /symlink/);
    const layer2 = await makeTar([
      { name: 'up', type: 'symlink', linkname: '..' },
      { name: 'up/sentinel', body: 'pwned' },
    ]);
    const s2 = sandbox(t);
    await refused(unpackLayer(layer2, s2.dest, opts()), /symlink/);
    assertSentinel(s);
    assertSentinel(s2);
  });

  test('a file entry replaces a symlink of the same name instead of writing through it', async (t) => {
    const s = sandbox(t);
    const layer = await makeTar([
      { name: 'link', type: 'symlink', linkname: s.sentinel },
      { name: 'link', body: 'replaced' },
    ]);
    await unpackLayer(layer, s.dest, opts());
    assert.ok(lstatSync(join(s.dest, 'link')).isFile());
    assert.equal(readFileSync(join(s.dest, 'link'), 'utf8'), 'replaced');
    assertSentinel(s);
  });

  test('a directory entry replaces a symlink of the same name', async (t) => {
    const s = sandbox(t);
    const layer = await makeTar([
      { name: 'd', type: 'symlink', linkname: s.base },
      { name: 'd/', type: 'directory' },
      { name: 'd/sentinel', body: 'contained' },
    ]);
    await unpackLayer(layer, s.dest, opts());
    assert.ok(lstatSync(join(s.dest, 'd')).isDirectory());
    assert.equal(readFileSync(join(s.dest, 'd', 'sentinel'), 'utf8'), 'contained');
    assertSentinel(s);
  });

  test('hardlinks to files outside the layer are refused', async (t) => {
    for (const linkname of ['/etc/passwd', '../sentinel', 'etc/../../sentinel']) {
      const s = sandbox(t);
      const layer = await makeTar([{ name: 'stolen', type: 'link', linkname }]);
      await refused(unpackLayer(layer, s.dest, opts()));
      assert.equal(existsSync(join(s.dest, 'stolen')), false, linkname);
      assertSentinel(s);
    }
  });

  test('a hardlink through a symlink is refused', async (t) => {
    const s = sandbox(t);
    const layer = await makeTar([
      { name: 'd', type: 'symlink', linkname: s.base },
      { name: 'stolen', type: 'link', linkname: 'd/sentinel' },
    ]);
    await refused(unpackLayer(layer, s.dest, opts()), /symlink or non-directory/);
    assert.equal(statSync(s.sentinel).nlink, 1);
    assertSentinel(s);
  });

  test('device nodes and FIFOs are not created', async (t) => {
    const s = sandbox(t);
    const layer = await makeTar([
      { name: 'dev/', type: 'directory' },
      { name: 'dev/mem', type: 'character-device', devmajor: 1, devminor: 1 },
      { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 },
      { name: 'fake-whiteout', type: 'character-device', devmajor: 0, devminor: 0 },
      { name: 'pipe', type: 'fifo' },
    ]);
    const r = await unpackLayer(layer, s.dest, opts());
    assert.equal(r.skippedSpecial, 4);
    assert.deepEqual(readdirSync(join(s.dest, 'dev')), []);
    assert.deepEqual(readdirSync(s.dest).sort(), ['dev']);
    assertSentinel(s);
  });

  test('a whiteout reaching outside the layer is refused', async (t) => {
    const s = sandbox(t);
    const layer = await makeTar([{ name: '../.wh.sentinel', body: '' }]);
    await refused(unpackLayer(layer, s.dest, opts()), /escapes/);
    const layer2 = await makeTar([
      { name: 'd', type: 'symlink', linkname: s.base },
      { name: 'd/.wh.sentinel', body: '' },
    ]);
    await refused(unpackLayer(layer2, s.dest, opts()), /symlink/);
    assertSentinel(s);
  });

  test('a layer larger than the byte budget is refused', async (t) => {
    const s = sandbox(t);
    // 8 MiB of zeros compresses to a few KiB: a small blob, a big unpack.
    const layer = gzipSync(await makeTar([{ name: 'bomb', body: Buffer.alloc(8 * 1024 * 1024) }]));
    assert.ok(layer.length < 64 * 1024);
    await refused(unpackLayer(layer, s.dest, { budget: new UnpackBudget(1024 * 1024) }), /larger than the task's ephemeral storage/);
    assertSentinel(s);
  });

  test('the byte budget is shared across layers', async (t) => {
    const s = sandbox(t);
    const budget = new UnpackBudget(1500);
    await unpackLayer(await makeTar([{ name: 'a', body: Buffer.alloc(1000) }]), s.dest, { budget });
    const s2 = sandbox(t);
    await refused(unpackLayer(await makeTar([{ name: 'b', body: Buffer.alloc(1000) }]), s2.dest, { budget }), /ephemeral storage/);
  });

  test('too many entries are refused', async (t) => {
    const s = sandbox(t);
    const entries = Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, body: '' }));
    await refused(unpackLayer(await makeTar(entries), s.dest, { budget: new UnpackBudget(1e9, 20) }), /too many files/);
    assertSentinel(s);
  });

  test('a deep path is refused', async (t) => {
    const s = sandbox(t);
    const deep = Array.from({ length: 300 }, () => 'd').join('/') + '/f';
    await refused(unpackLayer(await makeTar([{ name: deep, body: 'x' }]), s.dest, opts()), /deeper than 256/);
    const s2 = sandbox(t);
    await refused(unpackLayer(await makeTar([{ name: 'a/b/c/d/e', body: 'x' }]), s2.dest, opts({ maxDepth: 3 })), /deeper than 3/);
    assertSentinel(s);
  });

  test('zstd layers are refused with a clear message; garbage is refused', async (t) => {
    const s = sandbox(t);
    await refused(unpackLayer(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]), s.dest, opts()), /zstd/);
    await refused(unpackLayer(Buffer.concat([Buffer.from([0x1f, 0x8b]), randomBytes(200)]), s.dest, opts()), /invalid layer/);
    await refused(unpackLayer(randomBytes(2048), s.dest, opts()), /invalid layer/);
    assertSentinel(s);
  });

  test('a diff_id mismatch is refused', async (t) => {
    const s = sandbox(t);
    const layer = await makeTar([{ name: 'f', body: 'x' }]);
    await refused(unpackLayer(layer, s.dest, opts({ expectedDiffId: `sha256:${'0'.repeat(64)}` })), /diff_id mismatch/);
  });
});

describe('ordinary layers', () => {
  test('files, dirs, modes, owners, mtimes, links and the diff_id', async (t) => {
    const s = sandbox(t);
    const mtime = new Date('2020-02-02T02:02:02Z');
    const tarBytes = await makeTar([
      { name: './', type: 'directory', mode: 0o755 },
      { name: 'usr/', type: 'directory', mode: 0o755, mtime },
      { name: 'usr/bin/', type: 'directory', mode: 0o555, uid: 0, gid: 0, mtime },
      { name: 'usr/bin/su', mode: 0o4755, uid: 0, gid: 0, body: 'setuid', mtime },
      { name: 'home/app/', type: 'directory', mode: 0o700, uid: 1000, gid: 1001 },
      { name: 'home/app/data', mode: 0o640, uid: 1000, gid: 1001, body: 'data', mtime },
      { name: 'bin', type: 'symlink', linkname: 'usr/bin' },
      { name: 'abs', type: 'symlink', linkname: '/etc/../../../etc/shadow' },
      { name: 'usr/bin/su2', type: 'link', linkname: '/usr/bin/su' },
    ]);
    const r = await unpackLayer(gzipSync(tarBytes), s.dest, opts());
    assert.equal(r.diffId, `sha256:${createHash('sha256').update(tarBytes).digest('hex')}`);
    assert.equal(r.bytes, 'setuid'.length + 'data'.length);
    const su = statSync(join(s.dest, 'usr/bin/su'));
    assert.equal(su.mode & 0o7777, 0o4755);
    assert.equal(su.mtime.getTime(), mtime.getTime());
    assert.equal(su.nlink, 2);
    assert.equal(statSync(join(s.dest, 'usr/bin')).mode & 0o7777, 0o555);
    assert.equal(statSync(join(s.dest, 'usr/bin')).mtime.getTime(), mtime.getTime());
    const data = statSync(join(s.dest, 'home/app/data'));
    assert.deepEqual([data.uid, data.gid, data.mode & 0o7777], [1000, 1001, 0o640]);
    const home = statSync(join(s.dest, 'home/app'));
    assert.deepEqual([home.uid, home.gid, home.mode & 0o7777], [1000, 1001, 0o700]);
    assert.equal(readlinkSync(join(s.dest, 'bin')), 'usr/bin');
    assert.equal(readlinkSync(join(s.dest, 'abs')), '/etc/../../../etc/shadow', 'symlink targets are kept verbatim');
    assertSentinel(s);
  });

  test('whiteouts become overlayfs whiteouts and opaque dirs get the xattr', async (t) => {
    const s = sandbox(t);
    const layer = await makeTar([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/.wh.motd', body: '' },
      { name: 'var/cache/', type: 'directory' },
      { name: 'var/cache/.wh..wh..opq', body: '' },
      { name: 'var/cache/new', body: 'kept' },
      { name: 'same/', type: 'directory' },
      { name: 'same/x', body: 'same layer content wins' },
      { name: 'same/.wh.x', body: '' },
      { name: '.wh..wh.plnk/', type: 'directory' },
      { name: '.wh..wh.plnk/123', body: 'aufs' },
    ]);
    const r = await unpackLayer(layer, s.dest, opts());
    assert.equal(r.whiteouts, 1);
    assert.equal(r.opaqueDirs, 1);
    const wh = lstatSync(join(s.dest, 'etc/motd'));
    assert.ok(wh.isCharacterDevice());
    assert.equal(wh.rdev, 0);
    assert.equal(existsSync(join(s.dest, 'etc/.wh.motd')), false);
    assert.equal(getXattr(join(s.dest, 'var/cache'), 'trusted.overlay.opaque'), 'y');
    assert.equal(existsSync(join(s.dest, 'var/cache/.wh..wh..opq')), false);
    assert.equal(readFileSync(join(s.dest, 'var/cache/new'), 'utf8'), 'kept');
    assert.equal(readFileSync(join(s.dest, 'same/x'), 'utf8'), 'same layer content wins');
    assert.equal(existsSync(join(s.dest, '.wh..wh.plnk')), false);
    assertSentinel(s);
  });

  test('a PAX long name and uncompressed tar work', async (t) => {
    const s = sandbox(t);
    const long = `${'x'.repeat(150)}/${'y'.repeat(120)}`;
    await unpackLayer(await makeTar([{ name: long, body: 'long' }]), s.dest, opts());
    assert.equal(readFileSync(join(s.dest, long), 'utf8'), 'long');
  });

  test('with idShift, owners are stored shifted into the user namespace range, implicit parents included', async (t) => {
    const s = sandbox(t);
    const layer = await makeTar([
      { name: 'etc/', type: 'directory', uid: 0, gid: 0 },
      { name: 'etc/passwd', body: 'root:x:0:0::/root:/bin/sh', uid: 0, gid: 0 },
      { name: 'home/app/data', body: 'x', uid: 1000, gid: 1001, mode: 0o4755 },
      { name: 'lnk', type: 'symlink', linkname: 'etc/passwd', uid: 33, gid: 33 },
    ]);
    await unpackLayer(layer, s.dest, opts({ idShift: { base: 100000, size: 65536 } }));
    const own = (p: string) => {
      const st = lstatSync(join(s.dest, p));
      return [st.uid, st.gid];
    };
    assert.deepEqual(own('.'), [100000, 100000]);
    assert.deepEqual(own('etc'), [100000, 100000]);
    assert.deepEqual(own('etc/passwd'), [100000, 100000]);
    assert.deepEqual(own('home'), [100000, 100000], 'an implicit parent belongs to the container root');
    assert.deepEqual(own('home/app/data'), [101000, 101001]);
    assert.equal(statSync(join(s.dest, 'home/app/data')).mode & 0o7777, 0o4755, 'modes (setuid too) survive the chown');
    assert.deepEqual(own('lnk'), [100033, 100033]);
    // An id the namespace cannot map fails the layer.
    const s2 = sandbox(t);
    await refused(unpackLayer(await makeTar([{ name: 'f', body: 'x', uid: 70000, gid: 0 }]), s2.dest, opts({ idShift: { base: 100000, size: 65536 } })), /uid 70000, outside the 65536 ids/);
    assertSentinel(s2);
  });
});
