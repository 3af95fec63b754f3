/**
 * Image pulls against a real Debian docker-registry on loopback, with images built and
 * pushed by the test (busybox-static). Needs root (layer ownership, whiteouts, overlay).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, statSync, lstatSync, readlinkSync, readdirSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, freePort, type TestRegistry } from './support/registry.ts';
import { ImagePullError } from '../src/images/images.ts';
import { LocalImageStore } from '../src/images/image-store.ts';
import { buildImage, buildIndex, pushImage, pushRawLayerImage, busyboxImageFiles, type BuiltImage } from '../src/images/oci-build.ts';
import { makeTar } from './support/tar.ts';

function tempRoot(t: { after(fn: () => void | Promise<void>): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-images-test-'));
  // The store records a pulled reference in the background after pull() returns: a file may
  // appear while the tree is being removed (rmSync's own retries only retry the last rmdir,
  // never the files that appeared), so retry the whole removal.
  t.after(async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        return rmSync(dir, { recursive: true, force: true });
      } catch (e) {
        if (attempt === 20) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });
  return dir;
}

async function refused(p: Promise<unknown>, re: RegExp): Promise<ImagePullError> {
  let err: unknown;
  await assert.rejects(p, (e: unknown) => {
    err = e;
    return true;
  });
  assert.ok(err instanceof ImagePullError, `expected ImagePullError, got ${err}`);
  assert.match(err.message, re);
  return err;
}


let busybox: BuiltImage;
before(async () => {
  busybox = await buildImage({ files: busyboxImageFiles(), config: { cmd: ['sh'], labels: { arch: 'amd64' } } });
});

describe('anonymous registry', () => {
  let reg: TestRegistry;
  let ref: string;
  before(async () => {
    reg = await startRegistry({ auth: 'none' });
    ref = `${reg.host}/test/busybox:1`;
    await pushImage(busybox, ref);
  });
  after(async () => {
    await reg?.stop();
  });

  test('pulls and unpacks a busybox image', async (t) => {
    const store = new LocalImageStore({ root: tempRoot(t) });
    const img = await store.pull(ref);
    assert.equal(img.reference, ref);
    assert.equal(img.manifestDigest, busybox.manifestDigest);
    assert.deepEqual(img.config.cmd, ['sh']);
    assert.equal(img.config.entrypoint, null);
    assert.equal(img.layerCount, 1);
    assert.equal(img.cachedLayers, 0);
    assert.equal(img.sizeBytes, busybox.layers[0].size);
    assert.equal(img.downloadedBytes, busybox.layers[0].size + busybox.config.length);
    const root = img.layerDirs[0];
    const bb = statSync(join(root, 'bin/busybox'));
    assert.ok(bb.isFile());
    assert.equal(bb.mode & 0o7777, 0o755);
    assert.equal(bb.size, statSync('/bin/busybox').size);
    assert.equal(readlinkSync(join(root, 'bin/sh')), '/bin/busybox');
    assert.equal(readlinkSync(join(root, 'bin/sleep')), '/bin/busybox');
    assert.match(readFileSync(join(root, 'etc/passwd'), 'utf8'), /^nobody:x:65534:65534:/m);
    assert.equal(statSync(join(root, 'tmp')).mode & 0o7777, 0o1777);
    assert.ok(img.timings.resolveMs >= 0 && img.timings.downloadMs >= 0 && img.timings.unpackMs > 0);
    // The unpacked busybox runs (chroot into the layer).
    assert.equal(execFileSync('chroot', [root, '/bin/echo', 'hello from the layer'], { encoding: 'utf8' }).trim(), 'hello from the layer');
  });

  test('a second pull is a cache hit: no download, no unpack', async (t) => {
    const store = new LocalImageStore({ root: tempRoot(t) });
    const first = await store.pull(ref);
    const meta = join(first.layerDirs[0], '..', 'layer.json');
    const before = readFileSync(meta, 'utf8');
    const inode = statSync(first.layerDirs[0]).ino;
    const second = await store.pull(ref);
    assert.equal(second.downloadedBytes, 0);
    assert.equal(second.cachedLayers, 1);
    assert.equal(second.timings.unpackMs, 0);
    assert.deepEqual(second.layerDirs, first.layerDirs);
    assert.equal(readFileSync(meta, 'utf8'), before);
    assert.equal(statSync(first.layerDirs[0]).ino, inode);
    // A fresh store object on the same root (a restarted agent) also hits the cache.
    const third = await new LocalImageStore({ root: join(first.layerDirs[0], '..', '..', '..') }).pull(ref);
    assert.equal(third.downloadedBytes, 0);
    assert.equal((await store.lookup(ref))?.manifestDigest, busybox.manifestDigest);
  });

  test('a cached layer blob torn by a crash (not the bytes of its digest) is dropped and downloaded again', async (t) => {
    const root = tempRoot(t);
    const first = await new LocalImageStore({ root }).pull(ref);
    // What a power loss between the rename and the end of the fsync can leave: the name, not the bytes.
    const blob = join(root, 'blobs', 'sha256', busybox.layers[0].digest.slice('sha256:'.length));
    writeFileSync(blob, Buffer.alloc(statSync(blob).size));
    rmSync(join(first.layerDirs[0], '..'), { recursive: true });
    const again = await new LocalImageStore({ root }).pull(ref);
    assert.equal(again.downloadedBytes, busybox.layers[0].size, 'the layer was downloaded again');
    assert.equal(readlinkSync(join(again.layerDirs[0], 'bin/sh')), '/bin/busybox');
    assert.deepEqual(readFileSync(blob), busybox.layers[0].blob, 'the good bytes replaced the torn ones');
  });

  test('concurrent pulls of one image share one download and one unpack', async (t) => {
    const store = new LocalImageStore({ root: tempRoot(t) });
    const pulls = await Promise.all([store.pull(ref), store.pull(ref), store.pull(ref)]);
    const total = pulls.reduce((s, p) => s + p.downloadedBytes, 0);
    assert.ok(total <= busybox.layers[0].size + 3 * busybox.config.length, `downloaded ${total}`);
    assert.equal(new Set(pulls.map((p) => p.layerDirs[0])).size, 1);
  });

  test('a digest pull is served from cache without the registry; a tag pull needs it', async (t) => {
    const own = await startRegistry({ auth: 'none' });
    t.after(() => own.stop());
    const r = `${own.host}/cache/busybox:1`;
    const pushed = await pushImage(busybox, r);
    const store = new LocalImageStore({ root: tempRoot(t) });
    await store.pull(r);
    await own.stop();
    const byDigest = await store.pull(`${own.host}/cache/busybox@${pushed.digest}`);
    assert.equal(byDigest.downloadedBytes, 0);
    assert.equal(byDigest.manifestDigest, pushed.digest);
    await refused(store.pull(r), new RegExp(`failed to connect to registry ${own.host}: connection refused`));
  });

  test('missing tag and missing repository say so', async (t) => {
    const store = new LocalImageStore({ root: tempRoot(t) });
    await refused(store.pull(`${reg.host}/test/busybox:v9`), new RegExp(`^manifest for ${reg.host}/test/busybox:v9 not found`));
    await refused(
      store.pull(`${reg.host}/nope`),
      new RegExp(`^pull access denied for ${reg.host}/nope, repository does not exist or may require authorization`),
    );
    await refused(store.pull(`${reg.host}/test/busybox@sha256:${'a'.repeat(64)}`), /not found/);
  });

  test('an unreachable registry and bad references are clear errors', async (t) => {
    const store = new LocalImageStore({ root: tempRoot(t) });
    const port = await freePort();
    await refused(store.pull(`127.0.0.1:${port}/app:1`), new RegExp(`^failed to connect to registry 127.0.0.1:${port}: connection refused$`));
    await refused(store.pull('Upper/Case'), /invalid reference format.*lowercase/);
    await refused(store.pull(`${reg.host}/app@sha256:1234`), /invalid reference format/);
  });

  test('an OCI index resolves to its linux/amd64 image', async (t) => {
    const arm = await buildImage({
      format: 'oci',
      files: [{ path: '/hello', content: 'arm' }],
      config: { cmd: ['/hello'], architecture: 'arm64', labels: { arch: 'arm64' } },
    });
    const amd = await buildImage({ format: 'oci', files: busyboxImageFiles(), config: { cmd: ['sh'], labels: { arch: 'amd64' } } });
    const index = buildIndex([arm, amd], 'oci');
    const r = `${reg.host}/multi/busybox:1`;
    await pushImage(index, r);
    const store = new LocalImageStore({ root: tempRoot(t) });
    const img = await store.pull(r);
    assert.equal(img.manifestDigest, amd.manifestDigest);
    assert.equal(img.config.labels.arch, 'amd64');
    assert.equal((await store.lookup(r))?.digest, index.manifestDigest);
    // A Docker manifest list without amd64 is refused with a clear message.
    const armOnly = `${reg.host}/multi/armonly:1`;
    await pushImage(buildIndex([await buildImage({ files: [{ path: '/x', content: 'x' }], config: { architecture: 'arm64' } })], 'docker'), armOnly);
    await refused(store.pull(armOnly), /no matching manifest for linux\/amd64/);
  });

  test('a blob tampered with in the registry is refused (digest mismatch)', async (t) => {
    const img = await buildImage({ files: [{ path: '/data', content: 'trustworthy content '.repeat(100) }] });
    const r = `${reg.host}/tamper/app:1`;
    await pushImage(img, r);
    const blob = reg.blobPath(img.layers[0].digest);
    const bytes = readFileSync(blob);
    bytes[bytes.length - 20] ^= 0xff; // same size, different content
    writeFileSync(blob, bytes);
    const root = tempRoot(t);
    const store = new LocalImageStore({ root });
    await refused(store.pull(r), new RegExp(`digest mismatch for blob ${img.layers[0].digest}`));
    assert.deepEqual(readdirSync(join(root, 'layers')), []);
    assert.deepEqual(readdirSync(join(root, 'blobs', 'sha256')).filter((n) => n.includes('tmp')), []);
  });

  test('a layer whose content does not match its diff_id is refused', async (t) => {
    const r = `${reg.host}/diffid/app:1`;
    await pushRawLayerImage(r, await makeTar([{ name: 'f', body: 'x' }]), { diffId: `sha256:${'1'.repeat(64)}` });
    const root = tempRoot(t);
    await refused(new LocalImageStore({ root }).pull(r), /diff_id mismatch/);
    assert.deepEqual(readdirSync(join(root, 'layers')), []);
    assert.deepEqual(readdirSync(join(root, 'tmp')), []);
  });

  test('a hostile layer pushed to the registry is refused and leaves nothing behind', async (t) => {
    const base = tempRoot(t);
    const sentinel = join(base, 'sentinel');
    writeFileSync(sentinel, 'original');
    const r = `${reg.host}/hostile/app:1`;
    await pushRawLayerImage(r, await makeTar([
      { name: 'esc', type: 'symlink', linkname: '/' },
      { name: `esc${sentinel}`, body: 'pwned' },
    ]));
    const root = join(base, 'store');
    await refused(new LocalImageStore({ root }).pull(r), /symlink/);
    assert.equal(readFileSync(sentinel, 'utf8'), 'original');
    assert.deepEqual(readdirSync(join(root, 'layers')), []);
    assert.deepEqual(readdirSync(join(root, 'tmp')), []);
  });

  test('an image larger than the ephemeral storage budget is refused', async (t) => {
    const store = new LocalImageStore({ root: tempRoot(t) });
    await refused(store.pull(ref, { maxUnpackedBytes: 100_000 }), /image is larger than the task's ephemeral storage/);
    const ok = await store.pull(ref, { maxUnpackedBytes: 20 * 1024 ** 3 });
    // Once cached, the budget is still checked against the unpacked size.
    await refused(store.pull(ref, { maxUnpackedBytes: 100_000 }), /ephemeral storage/);
    assert.equal(ok.layerCount, 1);
  });

  test('multi-layer images: whiteouts and opaque dirs work under a real overlay mount', async (t) => {
    const lower = [
      { path: '/etc/motd', content: 'hello' },
      { path: '/etc/keep', content: 'kept' },
      { path: '/var/cache/old', content: 'old' },
    ];
    const upperTar = await makeTar([
      { name: 'etc/', type: 'directory', mode: 0o755 },
      { name: 'etc/.wh.motd', body: '' },
      { name: 'var/', type: 'directory', mode: 0o755 },
      { name: 'var/cache/', type: 'directory', mode: 0o755 },
      { name: 'var/cache/.wh..wh..opq', body: '' },
      { name: 'var/cache/new', body: 'new' },
    ]);
    const { rawLayer, buildLayer } = await import('../src/images/oci-build.ts');
    const img = await buildImage({ layers: [await buildLayer(busyboxImageFiles()), lower, rawLayer(upperTar)], config: { cmd: ['sh'] } });
    const r = `${reg.host}/layers/app:1`;
    await pushImage(img, r);
    const root = tempRoot(t);
    const pulled = await new LocalImageStore({ root }).pull(r);
    assert.equal(pulled.layerCount, 3);
    assert.equal(pulled.layerDirs.length, 3);
    const merged = join(root, 'merged');
    mkdirSync(merged);
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${[...pulled.layerDirs].reverse().join(':')}`, merged]);
    try {
        assert.equal(existsSync(join(merged, 'etc/motd')), false, 'whiteout hides the lower file');
      assert.equal(readFileSync(join(merged, 'etc/keep'), 'utf8'), 'kept');
      assert.deepEqual(readdirSync(join(merged, 'var/cache')), ['new'], 'opaque dir hides lower content');
      assert.ok(lstatSync(join(merged, 'bin/sh')).isSymbolicLink());
      assert.equal(execFileSync('chroot', [merged, '/bin/sh', '-c', 'cat /etc/keep; ls /var/cache'], { encoding: 'utf8' }), 'keptnew\n');
    } finally {
      execFileSync('umount', [merged]);
    }
  });
});

describe('basic auth registry', () => {
  let reg: TestRegistry;
  let ref: string;
  before(async () => {
    reg = await startRegistry({ auth: 'basic' });
    ref = `${reg.host}/private/busybox:1`;
    await pushImage(busybox, ref, { credentials: reg.credentials });
  });
  after(async () => {
    await reg?.stop();
  });

  test('pulls with the right password', async (t) => {
    const img = await new LocalImageStore({ root: tempRoot(t) }).pull(ref, { credentials: reg.credentials });
    assert.equal(img.manifestDigest, busybox.manifestDigest);
  });

  test('a wrong or missing password is pull access denied', async (t) => {
    const store = new LocalImageStore({ root: tempRoot(t) });
    await refused(store.pull(ref, { credentials: { username: reg.username!, password: 'wrong' } }), /^pull access denied for .*private\/busybox/);
    await refused(store.pull(ref), /^pull access denied for .*may require authorization/);
  });
});

describe('token auth registry', () => {
  let reg: TestRegistry;
  let ref: string;
  before(async () => {
    reg = await startRegistry({ auth: 'token' });
    ref = `${reg.host}/private/busybox:1`;
    await pushImage(busybox, ref, { credentials: reg.credentials });
  });
  after(async () => {
    await reg?.stop();
  });

  test('pulls with a bearer token, cached for its lifetime', async (t) => {
    const store = new LocalImageStore({ root: tempRoot(t) });
    const before = reg.tokenRequests();
    const img = await store.pull(ref, { credentials: reg.credentials });
    assert.equal(img.manifestDigest, busybox.manifestDigest);
    assert.equal(reg.tokenRequests(), before + 1);
    const again = await store.pull(ref, { credentials: reg.credentials });
    assert.equal(again.downloadedBytes, 0);
    assert.equal(reg.tokenRequests(), before + 1, 'the token is reused');
  });

  test('wrong credentials and anonymous pulls are denied', async (t) => {
    const store = new LocalImageStore({ root: tempRoot(t) });
    await refused(store.pull(ref, { credentials: { username: reg.username!, password: 'wrong' } }), /^pull access denied/);
    await refused(store.pull(ref), /^pull access denied/);
  });
});
