/**
 * `node --import tsx bench/spec-write.ts [--n 300] [--dir <data dir>]`
 *
 * The start-path cost of keeping runtime specs in memory (src/drivers/oci/secure-dir.ts):
 * writing a container's config.json (0600) into its bundle on the data dir's
 * filesystem (before) against writing it to the memory dir plus a symlink in the
 * bundle (now). Each iteration makes a fresh bundle dir, as createContainer does.
 * Removes everything it made. The storage watcher adds nothing to the start path.
 */
import { promises as fsp, statfsSync } from 'node:fs';
import path from 'node:path';
import { tmpdir } from 'node:os';

/** As the runc driver chooses (src/drivers/oci/secure-dir.ts; a driver folder is not imported from outside). */
const memoryBase = () => (statfsSync('/run').type === 0x01021994 ? '/run/skiff' : '/dev/shm/skiff');

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const N = Number(opt('--n', '300'));
const spec = JSON.stringify({ ociVersion: '1.0.2', process: { env: Array.from({ length: 40 }, (_, i) => `VAR_${i}=${'x'.repeat(100)}`) }, pad: 'y'.repeat(6000) });

async function measure(label: string, one: (bundle: string, i: number) => Promise<void>, root: string): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < N; i++) {
    const bundle = path.join(root, `${label.length}-b${i}`);
    await fsp.mkdir(bundle);
    const t0 = process.hrtime.bigint();
    await one(bundle, i);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(3);
  console.log(`${label.padEnd(34)} p50 ${q(0.5)} ms  p90 ${q(0.9)} ms  p99 ${q(0.99)} ms`);
}

const disk = await fsp.mkdtemp(path.join(opt('--dir', tmpdir()), 'skiff-specbench-'));
const mem = path.join(memoryBase(), `specbench-${process.pid}`);
await fsp.mkdir(mem, { recursive: true, mode: 0o700 });
try {
  console.log(`${N} writes of a ${spec.length}-byte spec; disk: ${disk}, memory: ${mem}`);
  await measure('config.json on the data dir', (b) => fsp.writeFile(path.join(b, 'config.json'), spec, { mode: 0o600 }), disk);
  await measure('in memory + symlink in the bundle', async (b, i) => {
    const f = path.join(mem, `${i}.json`);
    await fsp.writeFile(f, spec, { mode: 0o600 });
    await fsp.symlink(f, path.join(b, 'config.json'));
  }, disk);
} finally {
  await fsp.rm(disk, { recursive: true, force: true });
  await fsp.rm(mem, { recursive: true, force: true });
}
