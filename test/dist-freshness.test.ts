/**
 * bin/skiff.js in a checkout runs the compiled dist/ only while it is the build
 * of src/ as it is now; otherwise the sources through tsx. Checked on a small
 * stand-in checkout (the real bin/skiff.js and packaging/dist-manifest.mjs, a
 * src/ and a dist/ whose `main` say which one ran), so no 30 s compile is needed.
 * No root needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..');

interface Manifest {
  MANIFEST: string;
  inputs(root: string): Record<string, string>;
  distIsFresh(root: string): boolean;
}

test('a stale dist/ never runs: an edit, a new file or a missing record sends `skiff` to the sources', async (t) => {
  const m = (await import(join(REPO, 'packaging/dist-manifest.mjs'))) as Manifest;
  const dir = mkdtempSync(join(tmpdir(), 'skiff-fresh-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of ['bin/skiff.js', 'packaging/dist-manifest.mjs', 'packaging/build.mjs', 'tsconfig.json', 'tsconfig.build.json']) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    cpSync(join(REPO, f), join(dir, f));
  }
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  mkdirSync(join(dir, 'src/cli'), { recursive: true });
  mkdirSync(join(dir, 'dist/cli'), { recursive: true });
  writeFileSync(join(dir, 'src/cli/main.ts'), "export async function main(): Promise<void> { console.log('sources'); }\n");
  writeFileSync(join(dir, 'dist/cli/main.js'), "export async function main() { console.log('dist'); }\n");
  const ran = () => {
    const r = spawnSync(process.execPath, [join(dir, 'bin/skiff.js')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  const record = () => writeFileSync(join(dir, 'dist', m.MANIFEST), JSON.stringify({ inputs: m.inputs(dir) }));

  assert.equal(ran(), 'sources', 'no record of a build: the sources');
  record();
  assert.equal(m.distIsFresh(dir), true);
  assert.equal(ran(), 'dist', 'a current build runs');

  const later = new Date(Date.now() + 5000);
  utimesSync(join(dir, 'src/cli/main.ts'), later, later);
  assert.equal(ran(), 'sources', 'an edited source (new mtime) is newer than dist/');
  record();
  assert.equal(ran(), 'dist');

  const earlier = new Date(Date.now() - 86_400_000);
  utimesSync(join(dir, 'src/cli/main.ts'), earlier, earlier);
  assert.equal(ran(), 'sources', 'an older version put back (an older mtime) is not the build either');
  record();

  writeFileSync(join(dir, 'src/cli/extra.ts'), 'export const x = 1;\n');
  assert.equal(ran(), 'sources', 'a new source file');
  rmSync(join(dir, 'src/cli/extra.ts'));
  assert.equal(ran(), 'dist', 'back to what was built');

  writeFileSync(join(dir, 'tsconfig.build.json'), '{}\n');
  assert.equal(ran(), 'sources', 'a changed build configuration');
});
