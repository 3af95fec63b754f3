#!/usr/bin/env node
// The `skiff` command.
// - In a git checkout (src/ is here): runs the TypeScript sources through tsx, so
//   no build step is needed and a stale dist/ is never run by mistake.
// - In the installed npm package (only dist/ ships): runs the compiled JavaScript;
//   tsx is a development dependency and is not installed with the package.
import { existsSync } from 'node:fs';

const sources = new URL('../src/cli/main.ts', import.meta.url);
let main;
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(sources.href));
} else {
  ({ main } = await import(new URL('../dist/cli/main.js', import.meta.url).href));
}
await main(process.argv);
