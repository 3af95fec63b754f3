/**
 * `node --import tsx bench/pull.ts [N]`: the image pull alone, without a server —
 * LocalImageStore.pull (user-namespace id shift on, as the server runs it) of N
 * new ~1 MiB busybox images (one unique layer each, like `npm run bench`'s
 * uncached starts) from a docker-registry on loopback. Prints the p50 of the
 * pull's wall time, its phases and the process's CPU time (user + system,
 * thread pool included) per pull: CPU moves far less than wall time when the
 * machine is shared. Needs root (the id shift chowns). Removes what it made.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startRegistry } from '../test/support/registry.ts';
import { buildImage, pushImage, busyboxImageFiles } from '../src/images/oci-build.ts';
import { LocalImageStore } from '../src/images/image-store.ts';

const N = Number(process.argv[2] ?? 10);
const reg = await startRegistry({ auth: 'none' });
const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-pull-'));
try {
  const files = busyboxImageFiles();
  const refs: string[] = [];
  for (let i = 0; i < N + 1; i++) {
    const ref = `${reg.host}/bench/pull${i}:v1`;
    await pushImage(await buildImage({ files: [...files, { path: '/etc/bench-id', content: randomBytes(16).toString('hex') }], config: { cmd: ['sh'] } }), ref);
    refs.push(ref);
  }
  const store = new LocalImageStore({ root: dir, idShift: { base: 100000, size: 65536 } });
  const rows: number[][] = [];
  for (const ref of refs) {
    const t = performance.now();
    const c = process.cpuUsage();
    const img = await store.pull(ref);
    const total = performance.now() - t;
    const u = process.cpuUsage(c);
    rows.push([total, img.timings.resolveMs, img.timings.downloadMs, img.timings.unpackMs, (u.user + u.system) / 1000]);
  }
  rows.shift(); // the first pull also loads modules and opens connections
  const p50 = (k: number) => rows.map((r) => r[k]!).sort((a, b) => a - b)[Math.floor(rows.length / 2)]!.toFixed(1);
  console.log(`pull p50 total ${p50(0)} resolve ${p50(1)} download ${p50(2)} unpack ${p50(3)} cpu ${p50(4)} ms (n=${rows.length})`);
} finally {
  await reg.stop();
  rmSync(dir, { recursive: true, force: true });
}
