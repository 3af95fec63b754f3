/**
 * "A new runtime = one folder + one line": every folder under src/drivers/ whose
 * index.ts exports a `driver` is registered under its folder's name (and nothing
 * else is), and a driver's files are private to its folder: production code
 * reaches a driver only through the registry; test code (`*.test.ts`, src/testing/)
 * may use a driver's index.ts (the fake driver is a test tool), never its other
 * files; and a driver depends on nothing of Skiff's but the contract (and its
 * contract suite, from tests), the shared building blocks of src/drivers/oci/,
 * util/ and model/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDriver, driverDefinition, driverNames, fingerprintAll, preflightCheck } from './registry.ts';

const DRIVERS_DIR = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.dirname(DRIVERS_DIR);
const REPO = path.dirname(SRC);

/** Driver folders: directories under src/drivers/ with an index.ts. */
function driverFolders(): string[] {
  return readdirSync(DRIVERS_DIR)
    .filter((n) => statSync(path.join(DRIVERS_DIR, n)).isDirectory() && existsSync(path.join(DRIVERS_DIR, n, 'index.ts')))
    .sort();
}

function tsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.split(path.sep).includes('node_modules'))
    .map((f) => path.join(dir, f));
}

/** Relative module specifiers a file imports (static, dynamic, re-exports), resolved to absolute paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm)].map((m) => m[1]!);
  return specs.map((s) => path.resolve(path.dirname(file), s));
}

const rel = (p: string) => path.relative(REPO, p);

test('every driver folder is registered under its own name, and every registered name is a folder', async () => {
  const folders = driverFolders();
  const exporting: string[] = [];
  for (const f of folders) {
    const mod = (await import(path.join(DRIVERS_DIR, f, 'index.ts'))) as { driver?: { name?: string; create?: unknown } };
    if (mod.driver && typeof mod.driver.create === 'function') exporting.push(f);
  }
  assert.ok(exporting.includes('runc'), 'the runc driver folder exports `driver`');
  assert.deepEqual(driverNames(), exporting, 'src/drivers/registry.ts lists exactly the folders whose index.ts exports `driver`: add the missing line there');
  for (const name of driverNames()) {
    const def = await driverDefinition(name);
    assert.equal(def.name, name);
    assert.ok(def.description.length > 10, `${name} describes itself`);
  }
});

test('only the registry (and test code, through index.ts) reaches into a driver folder; drivers import only the contract, util/ and model/', () => {
  const folders = driverFolders().map((f) => path.join(DRIVERS_DIR, f));
  const inFolder = (p: string) => folders.find((d) => p === d || p.startsWith(d + path.sep));
  const offenders: string[] = [];
  const isTestCode = (f: string) => f.endsWith('.test.ts') || f.startsWith(path.join(SRC, 'testing') + path.sep);
  for (const file of [...tsFiles(SRC), ...tsFiles(path.join(REPO, 'bench')), ...tsFiles(path.join(REPO, 'scripts'))]) {
    const own = inFolder(file);
    for (const target of importsOf(file)) {
      const folder = inFolder(target);
      if (folder && folder !== own) {
        const entry = target === path.join(folder, 'index.ts');
        const allowed = entry && (file === path.join(DRIVERS_DIR, 'registry.ts') || isTestCode(file));
        if (!allowed) offenders.push(`${rel(file)} imports ${rel(target)}`);
      }
      if (own && !folder) {
        const allowed =
          target === path.join(DRIVERS_DIR, 'driver.ts') ||
          target.startsWith(path.join(DRIVERS_DIR, 'oci') + path.sep) ||
          (isTestCode(file) && target === path.join(DRIVERS_DIR, 'driver-contract.ts')) ||
          target.startsWith(path.join(SRC, 'util') + path.sep) ||
          target.startsWith(path.join(SRC, 'model') + path.sep);
        if (!allowed) offenders.push(`${rel(file)} (a driver) imports ${rel(target)}`);
      }
    }
  }
  assert.deepEqual(offenders, [], 'go through src/drivers/driver.ts and the registry instead');
});

test('the registry checks the name it is asked for, and a driver fingerprint says what it can do and why not', async (t) => {
  await assert.rejects(createDriver('nope', { runtimeDir: '/nonexistent', cgroupRoot: 'x' }), /unknown driver "nope": choose one of .*runc/);
  await assert.rejects(createDriver('__proto__', { runtimeDir: '/nonexistent', cgroupRoot: 'x' }), /unknown driver/);
  // Only reads the host (tools, /proc): safe without root; the reasons then say what is missing.
  const prints = await fingerprintAll({ runtimeDir: '/nonexistent/runtime', cgroupRoot: 'skiff-registry-test', tools: { runc: '/nonexistent/runc' } });
  assert.deepEqual(prints.map((p) => p.name), driverNames());
  const runc = prints.find((p) => p.name === 'runc')!;
  assert.equal(runc.available, false, 'no runc at the path given');
  assert.ok(runc.reasons.some((r) => /runc not found at \/nonexistent\/runc: install it/.test(r)), runc.reasons.join('; '));
  assert.equal(runc.isolation, 'namespaces');
  assert.deepEqual(runc.features, { exec: true, stats: true, writableLayerUsage: true });
  for (const p of prints) assert.equal(p.available, p.reasons.length === 0, `${p.name}: available exactly when there are no reasons`);
  const check = preflightCheck({ fingerprint: async () => runc });
  assert.deepEqual(await check.fingerprint(), runc.reasons);
  t.diagnostic(`fingerprints: ${JSON.stringify(prints)}`);
});
