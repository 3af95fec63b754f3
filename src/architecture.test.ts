/**
 * The folders of src/ are the architecture: their imports must point one way.
 * This test reads every non-test .ts file's relative imports (static `import`/
 * `export ... from` and dynamic `import('...')`), folds them into a graph of
 * folders (the first path component under src/) and fails, naming the cycle,
 * when any folder reaches itself. `src/model/` is the bottom: it imports
 * nothing of Skiff's outside itself. And every import points down the
 * layering (LAYERS below): a folder imports its own layer, lower layers and
 * the shared libraries, never a layer above it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = dirname(fileURLToPath(import.meta.url));

/** Every non-test .ts file under `dir`, as paths relative to src/. */
function sourceFiles(dir = SRC): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(relative(SRC, p));
  }
  return out;
}

const IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

/** The src/-relative files `file` imports with a relative specifier (resolved, possibly outside src/). */
export function relativeImports(file: string, text: string): string[] {
  return [...text.matchAll(IMPORT)].map((m) => normalize(join(dirname(file), m[1])));
}

/** The folder of a src/-relative path: its first component ('' for a file directly in src/, undefined outside src/). */
function folderOf(path: string): string | undefined {
  if (path.startsWith('..')) return undefined;
  const parts = path.split(sep);
  return parts.length > 1 ? parts[0] : '';
}

/** Folder → the folders it imports, with one example import per edge for the failure message. */
function folderGraph(files: string[]): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of files) {
    const from = folderOf(file)!;
    for (const target of relativeImports(file, readFileSync(join(SRC, file), 'utf8'))) {
      const to = folderOf(target);
      if (to === undefined || to === from) continue;
      if (!graph.has(from)) graph.set(from, new Map());
      const edges = graph.get(from)!;
      if (!edges.has(to)) edges.set(to, `${file} → ${target}`);
    }
  }
  return graph;
}

/** Every elementary cycle found by a depth-first search from each folder, each reported once (as a path a → b → a). */
export function findCycles(graph: Map<string, Map<string, string>>): string[][] {
  const cycles = new Map<string, string[]>();
  const visit = (node: string, path: string[], onPath: Set<string>) => {
    for (const next of graph.get(node)?.keys() ?? []) {
      if (onPath.has(next)) {
        const cycle = [...path.slice(path.indexOf(next)), next];
        const key = [...cycle.slice(0, -1)].sort().join(',');
        if (!cycles.has(key)) cycles.set(key, cycle);
        continue;
      }
      if (next < path[0]) continue; // cycles through a smaller folder were found from that folder
      onPath.add(next);
      visit(next, [...path, next], onPath);
      onPath.delete(next);
    }
  };
  for (const start of [...graph.keys()].sort()) visit(start, [start], new Set([start]));
  return [...cycles.values()];
}

/**
 * The layers, top first: server → API handlers and add-ons → scheduler →
 * agent → drivers | network | images → store → model. Within a layer, folders
 * may import each other (without cycles).
 */
const LAYERS: string[][] = [
  ['cli', 'testing'],
  ['server'],
  ['control', 'ec2', 'iam', 'exec', 'lb', 'discovery', 'autoscaling', 'metrics', 'metadata', 'logs', 'dashboard', 'auth', 'secrets', 'advisor', 'compose', 'efs'],
  // The server's settings, read by the composition root and by the add-ons whose settings they are.
  ['config'],
  // With the scheduler: the AWS wire protocol and error catalog (api/), and ECS's rules as pure functions (ecs/).
  ['scheduler', 'api', 'ecs'],
  ['agent'],
  ['drivers', 'network', 'images', 'stats'],
  ['store'],
  ['model'],
];
/** Shared libraries any layer may use; they import only each other and model. */
const LIBRARIES = ['util', 'metering'];

/** Edges that point up the layering or out of a library, as "from → to (example import)". */
export function layeringViolations(graph: Map<string, Map<string, string>>, layers: string[][], libraries: string[]): string[] {
  const depth = new Map(layers.flatMap((folders, i) => folders.map((f) => [f, i] as const)));
  const known = (f: string) => depth.has(f) || libraries.includes(f);
  const out: string[] = [];
  for (const [from, edges] of graph) {
    for (const [to, example] of edges) {
      if (!known(from) || !known(to)) continue; // a folder in no layer fails the test that lists them
      const ok = libraries.includes(from)
        ? libraries.includes(to) || to === 'model'
        : libraries.includes(to) || depth.get(to)! >= depth.get(from)!;
      if (!ok) out.push(`${from} → ${to} (${example})`);
    }
  }
  return out.sort();
}

const files = sourceFiles();
const graph = folderGraph(files);

test('the architecture test sees the source tree', () => {
  assert.ok(files.length > 100, `only ${files.length} source files found under ${SRC}`);
  assert.ok(graph.get('server')?.has('agent'), 'server → agent should be seen (the parser misses imports)');
});

test('no import cycle between folders of src/', () => {
  const cycles = findCycles(graph);
  const describe = (c: string[]) =>
    `${c.join(' → ')}\n${c
      .slice(0, -1)
      .map((f, i) => `    ${graph.get(f)!.get(c[i + 1])}`)
      .join('\n')}`;
  assert.deepEqual(cycles.map((c) => c.join(' → ')), [], `folder import cycles:\n  ${cycles.map(describe).join('\n  ')}`);
});

test('src/model/ imports nothing of Skiff outside src/model/', () => {
  const outside = [...(graph.get('model')?.values() ?? [])];
  assert.deepEqual(outside, [], `src/model/ must stay at the bottom; it imports:\n  ${outside.join('\n  ')}`);
});

test('every folder imports down the layering (or a shared library)', () => {
  const violations = layeringViolations(graph, LAYERS, LIBRARIES);
  assert.deepEqual(violations, [], `imports against the layering:\n  ${violations.join('\n  ')}`);
  const listed = new Set([...LAYERS.flat(), ...LIBRARIES]);
  const folders = new Set(files.map((f) => folderOf(f)).filter((f): f is string => !!f));
  assert.deepEqual([...folders].filter((f) => !listed.has(f)), [], 'folders of src/ in no layer: add them to LAYERS or LIBRARIES in src/architecture.test.ts');
});

test('the cycle finder finds cycles and only cycles', () => {
  const g = (edges: [string, string][]) => {
    const m = new Map<string, Map<string, string>>();
    for (const [a, b] of edges) (m.get(a) ?? m.set(a, new Map()).get(a)!).set(b, `${a}→${b}`);
    return m;
  };
  assert.deepEqual(findCycles(g([['a', 'b'], ['b', 'c']])), []);
  assert.deepEqual(findCycles(g([['a', 'b'], ['b', 'a']])), [['a', 'b', 'a']]);
  assert.deepEqual(findCycles(g([['x', 'b'], ['b', 'c'], ['c', 'x'], ['c', 'd']])), [['b', 'c', 'x', 'b']]);
  assert.deepEqual(layeringViolations(g([['top', 'low'], ['low', 'lib'], ['lib', 'low'], ['low', 'top']]), [['top'], ['low']], ['lib']), ['lib → low (lib→low)', 'low → top (low→top)']);
  assert.deepEqual(relativeImports(join('a', 'f.ts'), `import x from '../b/y.ts';\nexport { z } from './w.ts';\nconst m = await import('../c/d.ts');\nimport 'node:fs';`), [
    join('b', 'y.ts'),
    join('a', 'w.ts'),
    join('c', 'd.ts'),
  ]);
});
