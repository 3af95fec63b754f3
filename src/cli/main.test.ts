import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Command } from 'commander';
import { COMMANDS, commandWord, modulesFor } from './main.ts';
import { cliContext } from './context.ts';

const ROOT = join(import.meta.dirname, '..', '..');

test('the command table names exactly the top-level commands each module adds', async () => {
  const seen = new Set<string>();
  for (const entry of COMMANDS) {
    const program = new Command('skiff');
    (await entry.load())(cliContext(program));
    assert.deepEqual(program.commands.map((c) => c.name()).sort(), [...entry.names].sort(), `module of ${entry.names.join(', ')}`);
    for (const n of entry.names) {
      assert.ok(!seen.has(n), `${n} is listed once`);
      seen.add(n);
    }
  }
});

test('only the invoked command module is loaded; help, no command, an unknown one and completion load them all', () => {
  assert.equal(commandWord(['ps']), 'ps');
  assert.equal(commandWord(['--endpoint', 'http://h:1', '-o', 'json', 'ps', '--all']), 'ps');
  assert.equal(commandWord(['--endpoint=http://h:1', '--output=json', 'stop', 'x']), 'stop');
  assert.equal(commandWord(['--help']), undefined);
  assert.equal(commandWord(['--', 'ps']), undefined);
  assert.deepEqual(modulesFor(['-o', 'json', 'ps']).map((e) => e.names[0]), ['ps']);
  assert.deepEqual(modulesFor(['scale', 'web', '3']).map((e) => e.names[0]), ['services']);
  assert.equal(modulesFor(['--help']).length, COMMANDS.length);
  assert.equal(modulesFor([]).length, COMMANDS.length);
  assert.equal(modulesFor(['help', 'ps']).length, COMMANDS.length);
  assert.equal(modulesFor(['pss']).length, COMMANDS.length, 'an unknown command gets the suggestions of all');
  assert.equal(modulesFor(['completion', 'bash']).length, COMMANDS.length);
  assert.deepEqual(modulesFor(['--version']), []);
  assert.equal(modulesFor(['--version', '--help']).length, COMMANDS.length);
});

/** The modules a `skiff` run loads (a resolve hook in the child records each one). */
function loadedModules(args: string[]): string[] {
  const hook = `data:text/javascript,${encodeURIComponent(`export async function resolve(s, c, next) { const r = await next(s, c); process.stderr.write('LOADED ' + r.url + '\\n'); return r; }`)}`;
  const setup = `data:text/javascript,${encodeURIComponent(`import { register } from 'node:module'; register(${JSON.stringify(hook)});`)}`;
  const main = `import(${JSON.stringify(join(ROOT, 'src/cli/main.ts'))}).then((m) => m.main(['node', 'skiff', ...${JSON.stringify(args)}]))`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', setup, '--input-type=module', '-e', main], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, SKIFF_ENDPOINT: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b', AWS_PROFILE: '' },
  });
  return r.stderr.split('\n').filter((l) => l.startsWith('LOADED ')).map((l) => l.slice(7));
}

test('`skiff --help` and `skiff ps` load no AWS SDK client, no server and no YAML parser', () => {
  for (const args of [['--help'], ['ps']]) {
    const mods = loadedModules(args);
    assert.ok(mods.some((m) => m.includes('/src/cli/main.ts')), `the hook saw the CLI load (${args.join(' ')})`);
    const heavy = mods.filter((m) => /@aws-sdk\/client-|@smithy\/|credential-provider|\/src\/server\/|\/src\/compose\/|\/yaml\/|fastify|better-sqlite3/.test(m));
    assert.deepEqual(heavy, [], `skiff ${args.join(' ')}`);
  }
});
