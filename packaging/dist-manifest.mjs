// Is dist/ the build of the sources as they are now? In a git checkout,
// bin/skiff.js runs dist/ only when this says yes, so a stale dist/ never runs
// older code than src/ (it runs the sources through tsx instead).
//
// The build (build.mjs) records, before it compiles, every input it may read:
// each file under src/ but the tests (`*.test.*`, never compiled), the tsconfig
// files and the build script itself, with size and mtime. dist/ is
// fresh when that record still matches the disk exactly: the same files, each
// with the same size and mtime. An edit, a `git checkout` or a new file makes it
// stale; so does a build that failed half-way (it writes the record last).
// Plain JavaScript with no dependencies: it runs before anything is compiled.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const MANIFEST = '.build-manifest.json';
const EXTRA_INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'packaging/build.mjs'];

/** Every input of the build under `root`, relative path → `size:mtimeMs`. */
export function inputs(root) {
  const out = {};
  const walk = (rel) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (!/\.test\.[^/]+$/.test(e.name)) out[p] = stamp(join(root, p));
    }
  };
  walk('src');
  for (const f of EXTRA_INPUTS) out[f] = stamp(join(root, f));
  return out;
}

function stamp(file) {
  const s = statSync(file);
  return `${s.size}:${s.mtimeMs}`;
}

/** True when `<root>/dist` was built from exactly the inputs on disk now. */
export function distIsFresh(root) {
  let recorded;
  try {
    recorded = JSON.parse(readFileSync(join(root, 'dist', MANIFEST), 'utf8')).inputs;
  } catch {
    return false;
  }
  try {
    const now = inputs(root);
    const names = Object.keys(now);
    if (names.length !== Object.keys(recorded).length) return false;
    return names.every((n) => recorded[n] === now[n]);
  } catch {
    return false;
  }
}
