/**
 * The image store's tag cache: a `:tag` resolved less than `tagTtlMs` ago is
 * served from the cache without asking the registry; after the TTL (or with the
 * default TTL of 0) the registry is asked again, so a moved tag is seen.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalImageStore } from '../src/images/image-store.ts';
import { buildImage, pushImage, busyboxImageFiles } from '../src/images/oci-build.ts';
import { startRegistry } from './support/registry.ts';

test('a tag resolved within the TTL needs no registry; after it, the registry is asked (and a moved tag seen)', async (t) => {
  const reg = await startRegistry({ auth: 'none' });
  t.after(() => reg.stop());
  const root = mkdtempSync(join(tmpdir(), 'skiff-tagcache-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const ref = `${reg.host}/cache/app:latest`;
  const v1 = await pushImage(await buildImage({ files: busyboxImageFiles(), config: { cmd: ['sh'] } }), ref);

  let now = 0;
  const store = new LocalImageStore({ root, tagTtlMs: 1000, now: () => now });
  assert.equal((await store.pull(ref)).manifestDigest, v1.digest);

  // The tag moves in the registry: within the TTL the cached resolution is used.
  const v2 = await pushImage(await buildImage({ files: [...busyboxImageFiles(), { path: '/etc/v2', content: 'v2' }], config: { cmd: ['sh'] } }), ref);
  now = 999;
  const cached = await store.pull(ref);
  assert.equal(cached.manifestDigest, v1.digest, 'within the TTL: the cached resolution');
  assert.equal(cached.downloadedBytes, 0);

  now = 1000;
  assert.equal((await store.pull(ref)).manifestDigest, v2.digest, 'after the TTL: the registry is asked and the move seen');

  // Within the TTL the registry may even be gone; after it, its absence is an error.
  await reg.stop();
  now = 1500;
  assert.equal((await store.pull(ref)).manifestDigest, v2.digest);
  now = 2500;
  await assert.rejects(store.pull(ref), /failed to connect to registry/);

  // The default (TTL 0) always asks.
  const strict = new LocalImageStore({ root });
  await assert.rejects(strict.pull(ref), /failed to connect to registry/);
});
