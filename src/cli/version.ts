/**
 * Skiff's version: the `version` of the package.json two folders up, which is the
 * repository's in a checkout (src/cli/) and the installed package's in the npm
 * package (dist/cli/). Read once, on first use.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

let cached: string | undefined;

export function skiffVersion(): string {
  if (cached === undefined) {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version?: unknown };
    cached = typeof pkg.version === 'string' ? pkg.version : 'unknown';
  }
  return cached;
}
