/**
 * Skiff as an operator installs it: `npm pack` → `npm install -g` of the tarball
 * into a temporary prefix → the installed `skiff` command, run with a plain PATH
 * from a directory outside the repository, so nothing of the checkout (its
 * node_modules, tsx, src/) can help it. Needs root (the server) and the npm
 * registry (the install resolves the package's dependencies; better-sqlite3 is
 * built from source when no prebuilt binary can be fetched: 4-6 minutes on this
 * 2-core machine, most of it compiling SQLite).
 * Run: node --import tsx --test test/package.root.test.ts
 *
 * The package is packed from a copy of the working tree (so the build writes no
 * dist/ into the checkout); one pack and one install for the whole file. The
 * server gets its own data dir, port, VPC and resource prefix (TestServer), and
 * everything is removed at the end, even on failure.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ListClustersCommand } from '@aws-sdk/client-ecs';
import { TestServer } from './support/skiff-server.ts';

const execFileP = promisify(execFile);
const REPO = resolve(import.meta.dirname, '..');
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
/** What a root shell on Debian has, plus this node's folder (the bin's `#!/usr/bin/env node` needs it). No NODE_OPTIONS. */
const PATH = [dirname(process.execPath), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(':');
const CLEAN_ENV: NodeJS.ProcessEnv = { PATH, HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8' };
/** Working-tree entries that never go into the package copy. */
const NOT_COPIED = new Set(['node_modules', '.git', 'dist', '.data', 'tmp']);

const skip =
  process.platform !== 'linux' || process.getuid?.() !== 0
    ? 'needs root on Linux (the installed server sets up tasks networking)'
    : !existsSync('/usr/sbin/runc') || !existsSync('/usr/bin/conmon')
      ? 'needs runc and conmon'
      : false;

let tmp = '';
let prefix = '';
let tarball = '';
let tarFiles: string[] = [];
let server: TestServer | undefined;

/** Runs a command with the clean environment; rejects with its output when it fails. */
async function sh(file: string, args: string[], cwd: string, timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileP(file, args, { cwd, env: CLEAN_ENV, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    const x = e as Error & { stdout?: string; stderr?: string };
    throw new Error(`${file} ${args.join(' ')} failed: ${x.message}\n${x.stdout ?? ''}\n${x.stderr ?? ''}`);
  }
}

/** Every file below `dir`, relative to it, skipping folders named in `skipDirs`. */
function filesBelow(dir: string, skipDirs: Set<string> = new Set()): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return skipDirs.has(e.name) ? [] : filesBelow(p, skipDirs).map((f) => join(e.name, f));
    return [e.name];
  });
}

describe('the npm package: npm pack → npm install -g → skiff', { skip, concurrency: false }, () => {
  before(
    async () => {
      tmp = mkdtempSync(join(tmpdir(), 'skiff-package-'));
      // Pack from a copy of the working tree (with the checkout's node_modules for the build's TypeScript).
      const copy = join(tmp, 'checkout');
      cpSync(REPO, copy, { recursive: true, filter: (src) => !(dirname(src) === REPO && NOT_COPIED.has(relative(REPO, src))) });
      symlinkSync(realpathSync(join(REPO, 'node_modules')), join(copy, 'node_modules'));
      await sh('npm', ['pack', '--pack-destination', tmp, '--loglevel=error'], copy, 10 * 60_000);
      const tgz = readdirSync(tmp).filter((f) => f.endsWith('.tgz'));
      assert.deepEqual(tgz, [`skiff-${VERSION}.tgz`], 'npm pack made one tarball named after the version');
      tarball = join(tmp, tgz[0]!);
      tarFiles = (await sh('tar', ['-tzf', tarball], tmp, 60_000)).stdout.split('\n').filter(Boolean);

      // As the README tells an operator, from a directory outside the repository.
      prefix = join(tmp, 'prefix');
      await sh('npm', ['install', '-g', '--prefix', prefix, '--allow-scripts=better-sqlite3', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], tmp, 20 * 60_000);
    },
    { timeout: 30 * 60_000 },
  );

  after(async () => {
    await server?.destroy();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('the tarball ships the compiled JavaScript, its assets, the unit and the README; no TypeScript, tests or benchmarks', () => {
    for (const f of ['package/package.json', 'package/README.md', 'package/bin/skiff.js', 'package/dist/cli/main.js', 'package/dist/server/server.js', 'package/dist/dashboard/static/app.html', 'package/packaging/skiff.service', 'package/packaging/skiff.env']) {
      assert.ok(tarFiles.includes(f), `${f} is in the package`);
    }
    assert.deepEqual(tarFiles.filter((f) => /\.(m|c)?ts$/.test(f)), [], 'no TypeScript file');
    assert.deepEqual(tarFiles.filter((f) => /^package\/(src|test|bench|scripts|node_modules)\//.test(f) || /\.test\.js$/.test(f)), [], 'no sources, tests, benchmarks or modules');
    // Every dashboard asset of the sources is there, where the compiled module looks for it.
    for (const a of readdirSync(join(REPO, 'src/dashboard/static'))) assert.ok(tarFiles.includes(`package/dist/dashboard/static/${a}`), `asset ${a}`);
  });

  test('the installed package holds no TypeScript and no TypeScript loader', () => {
    const installed = join(prefix, 'lib', 'node_modules', 'skiff');
    assert.ok(existsSync(join(installed, 'dist', 'cli', 'main.js')), `installed at ${installed}`);
    assert.equal(existsSync(join(installed, 'src')), false, 'no src/');
    assert.deepEqual(filesBelow(installed, new Set(['node_modules'])).filter((f) => /\.(m|c)?ts$/.test(f)), [], 'no .ts file of Skiff');
    for (const loader of ['tsx', 'esbuild', 'typescript']) assert.equal(existsSync(join(installed, 'node_modules', loader)), false, `${loader} is not installed with the package`);
  });

  test('`skiff --version` and `skiff --help` run from the installed bin with a plain PATH, outside the repo', async () => {
    const bin = join(prefix, 'bin', 'skiff');
    assert.equal((await sh(bin, ['--version'], tmp, 60_000)).stdout.trim(), VERSION);
    const help = (await sh(bin, ['--help'], tmp, 60_000)).stdout;
    assert.match(help, /^Usage: skiff /m);
    assert.match(help, /^\s+server\b/m, 'the server command is listed');
  });

  test('`skiff server` from the package serves /healthz, a signed ECS call and the dashboard assets', async () => {
    server = new TestServer({ command: [join(prefix, 'bin', 'skiff')], cwd: tmp, env: { PATH, NODE_OPTIONS: '' } });
    await server.start(); // returns once GET /healthz answered 200
    assert.equal((await fetch(`${server.endpoint}/healthz`)).status, 200);
    const out = await server.ecs().send(new ListClustersCommand({}));
    assert.ok(Array.isArray(out.clusterArns), 'ListClusters answered with clusterArns');
    for (const arn of out.clusterArns!) assert.match(arn, /^arn:aws:ecs:us-east-1:\d{12}:cluster\//);
    // An unsigned ECS call is refused: the installed server checks signatures as the checkout's does.
    const unsigned = await fetch(server.endpoint + '/', { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.ListClusters' }, body: '{}' });
    assert.ok(unsigned.status >= 400 && unsigned.status < 500, `unsigned call refused (got ${unsigned.status})`);
    // Static assets are read relative to the compiled module: they must be where dist/ expects them.
    const css = await fetch(`${server.endpoint}/dashboard/static/style.css`);
    assert.equal(css.status, 200);
    assert.equal(await css.text(), readFileSync(join(REPO, 'src/dashboard/static/style.css'), 'utf8'));
    // The process really is the installed package's command.
    const cmdline = readFileSync(`/proc/${server.pid}/cmdline`, 'utf8').split('\0');
    assert.ok(cmdline.includes(join(prefix, 'bin', 'skiff')), `server runs ${cmdline.join(' ')}`);
  });

  test('the shipped systemd unit passes systemd-analyze verify', { skip: existsSync('/usr/bin/systemd-analyze') ? false : 'no systemd-analyze here' }, async () => {
    const unit = readFileSync(join(prefix, 'lib', 'node_modules', 'skiff', 'packaging', 'skiff.service'), 'utf8');
    assert.match(unit, /^ExecStart=\/usr\/bin\/skiff server$/m);
    assert.match(unit, /^KillMode=mixed$/m);
    assert.match(unit, /^EnvironmentFile=-\/etc\/default\/skiff$/m);
    // Verified as installed here: ExecStart pointing at this prefix's command (systemd-analyze checks it exists).
    const dir = join(tmp, 'unit');
    cpSync(join(prefix, 'lib', 'node_modules', 'skiff', 'packaging'), dir, { recursive: true });
    writeFileSync(join(dir, 'skiff.service'), unit.replace('ExecStart=/usr/bin/skiff', `ExecStart=${join(prefix, 'bin', 'skiff')}`));
    const r = await execFileP('systemd-analyze', ['verify', join(dir, 'skiff.service')], { env: CLEAN_ENV }).then(
      (x) => ({ code: 0, out: x.stdout + x.stderr }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
    );
    assert.equal(r.code, 0, r.out);
    assert.equal(r.out.trim(), '', `no warnings: ${r.out}`);
  });
});
