/**
 * The hostile image corpus, end to end: layers built by the test, pushed to a real
 * registry, run as tasks through the ECS API. Every one must stop the task with a
 * clear CannotPullContainerError and leave the host unchanged (sentinel files
 * outside the data dir, nothing left in the layer store); the contained cases
 * (absolute paths, device nodes) run with their effects kept inside the image.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Task } from '@aws-sdk/client-ecs';
import { buildImage, busyboxImageFiles, buildLayer, pushImage, rawLayer, type BuiltLayer } from '../src/images/oci-build.ts';
import { TestServer } from './support/skiff-server.ts';
import { runUntilStopped } from './support/tasks.ts';
import { startRegistry, type TestRegistry } from './support/registry.ts';
import { makeTar } from './support/tar.ts';

let server: TestServer;
let registry: TestRegistry;
let outside: string;
let sentinel: string;
let busyboxLayer: BuiltLayer;
let n = 0;

before(async () => {
  registry = await startRegistry({ auth: 'none' });
  outside = mkdtempSync(join(tmpdir(), 'skiff-hostile-host-'));
  sentinel = join(outside, 'sentinel');
  writeFileSync(sentinel, 'original');
  busyboxLayer = await buildLayer(busyboxImageFiles());
  server = new TestServer();
  await server.start();
});
after(async () => {
  await server?.destroy();
  await registry?.stop();
  if (outside) rmSync(outside, { recursive: true, force: true });
});

/** The host state the corpus must not change. */
function assertHostUnchanged(): void {
  assert.equal(readFileSync(sentinel, 'utf8'), 'original', 'the sentinel is unchanged');
  assert.deepEqual(readdirSync(outside), ['sentinel'], 'nothing appeared next to it');
  assert.equal(existsSync('/tmp/skiff-pwned'), false);
  const layersRoot = join(server.dataDir, 'images');
  for (const d of readdirSync(layersRoot).filter((x) => x.startsWith('layers'))) {
    for (const l of readdirSync(join(layersRoot, d))) {
      assert.ok(existsSync(join(layersRoot, d, l, 'layer.json')), `only complete layers in the store (found ${d}/${l})`);
    }
  }
  assert.deepEqual(readdirSync(join(layersRoot, 'tmp')), [], 'no half-unpacked layer left');
}

function runImage(image: string, ephemeralGiB?: number): Promise<Task> {
  return runUntilStopped(
    server.ecs(),
    `hostile-${n++}`,
    [{ name: 'app', image, essential: true, command: ['sh', '-c', 'ls /; echo ran'] }],
    ephemeralGiB ? { ephemeralStorage: { sizeInGiB: ephemeralGiB } } : {},
  );
}

async function push(layers: BuiltLayer[]): Promise<string> {
  const ref = `${registry.host}/hostile/img${n}:latest`;
  await pushImage(await buildImage({ layers, config: { cmd: ['sh'] } }), ref);
  return ref;
}

/** A tar whose one file claims `size` bytes through a PAX header (a decompression bomb's header; no content needed). */
function paxSizeBomb(name: string, size: number): Buffer {
  const header = (fields: { name: string; size: number; type: string }) => {
    const b = Buffer.alloc(512);
    b.write(fields.name, 0, 100);
    b.write('0000644\0', 100);
    b.write('0000000\0', 108);
    b.write('0000000\0', 116);
    b.write(fields.size.toString(8).padStart(11, '0') + '\0', 124);
    b.write('00000000000\0', 136);
    b.write('        ', 148);
    b.write(fields.type, 156);
    b.write('ustar\0' + '00', 257);
    let sum = 0;
    for (const x of b) sum += x;
    b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    return b;
  };
  let rec = ` size=${size}\n`;
  rec = `${rec.length + String(rec.length).length}${rec}`;
  const pax = Buffer.alloc(512);
  pax.write(rec);
  return Buffer.concat([header({ name: `PaxHeader/${name}`, size: Buffer.byteLength(rec), type: 'x' }), pax, header({ name, size: 0, type: '0' }), Buffer.alloc(4096)]);
}

test('the hostile corpus: every layer is refused with CannotPullContainerError and the host is unchanged', async () => {
  const corpus: { what: string; layers: () => Promise<BuiltLayer[]>; reason: RegExp }[] = [
    {
      what: 'path traversal with ../',
      layers: async () => [busyboxLayer, rawLayer(await makeTar([{ name: `../../../../../../..${sentinel}`, body: 'pwned' }]))],
      reason: /\.\./,
    },
    {
      what: 'a symlink to / written through in the same layer',
      layers: async () => [busyboxLayer, rawLayer(await makeTar([{ name: 'esc', type: 'symlink', linkname: '/' }, { name: `esc${sentinel}`, body: 'pwned' }]))],
      reason: /symlink/,
    },
    {
      what: 'a hardlink to a file outside the rootfs',
      layers: async () => [busyboxLayer, rawLayer(await makeTar([{ name: 'hl', type: 'link', linkname: `../../../../../../..${sentinel}` }]))],
      reason: /\.\.|outside|link/,
    },
    {
      what: 'a whiteout reaching outside',
      layers: async () => [busyboxLayer, rawLayer(await makeTar([{ name: '../../../../.wh.sentinel', body: '' }]))],
      reason: /\.\./,
    },
    {
      what: 'a layer whose content does not match its diff_id',
      layers: async () => [busyboxLayer, rawLayer(await makeTar([{ name: 'f', body: 'x' }]), { diffId: `sha256:${'1'.repeat(64)}` })],
      reason: /diff_id mismatch/,
    },
    {
      what: 'a decompression bomb larger than the task\'s ephemeral storage (21 GiB)',
      layers: async () => [busyboxLayer, rawLayer(paxSizeBomb('bomb', 22 * 1024 ** 3))],
      reason: /larger than the task's ephemeral storage/,
    },
  ];
  for (const c of corpus) {
    const image = await push(await c.layers());
    const task = await runImage(image, c.what.includes('bomb') ? 21 : undefined);
    assert.equal(task.stopCode, 'TaskFailedToStart', `${c.what}: ${task.stoppedReason}`);
    assert.match(task.stoppedReason ?? '', /^CannotPullContainerError: /, c.what);
    assert.match(task.stoppedReason ?? '', c.reason, c.what);
    assertHostUnchanged();
  }
});

test('a blob tampered with in the registry is refused (digest mismatch), host unchanged', async () => {
  const img = await buildImage({ layers: [busyboxLayer, await buildLayer([{ path: '/data', content: 'trustworthy '.repeat(200) }])], config: { cmd: ['sh'] } });
  const ref = `${registry.host}/hostile/tampered:1`;
  await pushImage(img, ref);
  const blob = registry.blobPath(img.layers[1].digest);
  const bytes = readFileSync(blob);
  bytes[bytes.length - 20] ^= 0xff;
  writeFileSync(blob, bytes);
  const task = await runImage(ref);
  assert.match(task.stoppedReason ?? '', /^CannotPullContainerError: .*digest mismatch/);
  assertHostUnchanged();
});

test('contained, not refused: absolute paths land inside the image, device nodes are not created, a lower layer\'s symlink is not written through', async () => {
  const image = await push([
    busyboxLayer,
    // Each layer unpacks into its own directory: the upper layer's planted/ is its own directory, never the lower symlink's target.
    rawLayer(await makeTar([{ name: 'planted', type: 'symlink', linkname: outside }])),
    rawLayer(await makeTar([{ name: 'planted/sentinel', body: 'pwned' }])),
    rawLayer(
      await makeTar([
        { name: `${sentinel}`, body: 'inside the image' },
        { name: 'dev-mem', type: 'character-device', devmajor: 1, devminor: 1 },
      ]),
    ),
  ]);
  const task = await runImage(image);
  assert.equal(task.containers![0].exitCode, 0, task.stoppedReason);
  assert.equal(task.stoppedReason, 'Essential container in task exited');
  const logs = await (await server.fetch(`/skiff/v1/tasks/${task.taskArn!.split('/').pop()}/logs`)).text();
  assert.match(logs, /"ran"/);
  assert.doesNotMatch(logs, /dev-mem/, 'the device node was not created');
  assertHostUnchanged();
});
