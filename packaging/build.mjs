#!/usr/bin/env node
// `npm run build` (and `prepack`): compiles src/ into dist/ as the npm package ships it.
// `--if-stale` (setup.sh, `prepare`): only when dist/ is not the build of the
// sources as they are (dist-manifest.mjs), e.g. after an edit or a `git pull`.
//
// Contract: dist/ is rebuilt from scratch; it holds the JavaScript of
// src/cli/main.ts and every module it imports (tsconfig.build.json), plus every
// non-TypeScript file under src/ (assets read relative to their module, such as
// the dashboard's static files) at the same relative path. The build fails if an
// emitted module still imports a `.ts` file, so the package never needs a
// TypeScript loader at run time. It is built beside dist/ and swapped in at the
// end, with the record of its inputs (dist-manifest.mjs) written last, so a
// failed or interrupted build leaves no dist/ that looks fresh, and a `skiff`
// running from dist/ meanwhile keeps finding its modules. Plain JavaScript on
// purpose: it runs before anything is compiled, with no loader.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { MANIFEST, distIsFresh, inputs } from './dist-manifest.mjs';

const root = join(import.meta.dirname, '..');
const src = join(root, 'src');
const final = join(root, 'dist');
const dist = join(root, `dist.building-${process.pid}`);

if (process.argv.includes('--if-stale') && distIsFresh(root)) {
  console.log('build: dist/ is up to date with src/');
  process.exit(0);
}

/** Every file below `dir` (absolute paths). */
function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

// What the compiler is about to read; recorded before it reads it, so an edit during the build counts as stale.
const built = inputs(root);
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
try {
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', dist], { cwd: root, stdio: 'inherit' });
} catch {
  rmSync(dist, { recursive: true, force: true });
  console.error('build: tsc failed; dist/ is unchanged');
  process.exit(1);
}
const modules = walk(dist).filter((f) => f.endsWith('.js'));

// Assets: anything under src/ that is not TypeScript and not a test.
let assets = 0;
for (const file of walk(src)) {
  if (/\.(m|c)?ts$/.test(file) || /\.test\.[^/]+$/.test(file)) continue;
  const to = join(dist, relative(src, file));
  mkdirSync(dirname(to), { recursive: true });
  cpSync(file, to);
  assets++;
}

// No emitted module may still import TypeScript (a `.ts` specifier tsc did not rewrite).
const tsImport = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+\.(?:m|c)?ts)['"]/g;
const bad = [];
for (const file of walk(dist).filter((f) => /\.(m|c)?js$/.test(f))) {
  for (const m of readFileSync(file, 'utf8').matchAll(tsImport)) bad.push(`${relative(root, file)}: imports ${m[1]}`);
}
if (bad.length) {
  rmSync(dist, { recursive: true, force: true });
  console.error(`build: compiled modules still import TypeScript files:\n  ${bad.join('\n  ')}`);
  process.exit(1);
}
writeFileSync(join(dist, MANIFEST), JSON.stringify({ builtAt: new Date().toISOString(), inputs: built }) + '\n');
const old = `${final}.old-${process.pid}`;
rmSync(old, { recursive: true, force: true });
try {
  renameSync(final, old);
} catch {
  /* no dist/ yet */
}
renameSync(dist, final);
rmSync(old, { recursive: true, force: true });
console.log(`build: dist/ has ${modules.length} modules and ${assets} assets`);
