#!/usr/bin/env node
// The `skiff` command: runs the compiled JavaScript in dist/.
// - In the installed npm package, dist/ is all there is (no src/, no tsx).
// - In a git checkout (src/ is here), dist/ runs only while it is the build of
//   the sources as they are now (packaging/dist-manifest.mjs: every input's size
//   and mtime as the build recorded them); otherwise the sources run through tsx,
//   slower but never older than src/. `npm run build` (also run by
//   scripts/setup.sh, so by demo.sh and test.sh) makes dist/ current again.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
let main;
if (existsSync(new URL('src/cli/main.ts', root)) && !(await import('../packaging/dist-manifest.mjs')).distIsFresh(fileURLToPath(root))) {
  if (process.stderr.isTTY) process.stderr.write('skiff: dist/ is not the build of src/ as it is now; running the sources through tsx (slower) — `npm run build` makes it fast again\n');
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(new URL('src/cli/main.ts', root).href));
} else {
  ({ main } = await import(new URL('dist/cli/main.js', root).href));
}
await main(process.argv);
