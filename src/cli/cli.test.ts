import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import type { TaskDefinition } from '@aws-sdk/client-ecs';
import { render } from './render.ts';
import { bytes, colorEnabled, colors, stateColor } from './style.ts';
import { familyForImage, readTaskDefinitionFile, sameDefinition, taskDefinitionForImage, withImage } from './taskdef.ts';
import { topRows } from './top-math.ts';
import { rate } from './progress.ts';
import { bashCompletion } from './commands/completion.ts';
import { explainError } from './client.ts';

function capture(): { write(s: string): boolean; text: string } {
  return { text: '', write(s: string) { this.text += s; return true; } };
}

test('colour: only on a terminal, never with NO_COLOR, forced by FORCE_COLOR; coloured cells keep columns aligned', () => {
  assert.equal(colorEnabled({ isTTY: true }, {}), true);
  assert.equal(colorEnabled({ isTTY: false }, {}), false);
  assert.equal(colorEnabled({ isTTY: true }, { NO_COLOR: '1' }), false);
  assert.equal(colorEnabled({ isTTY: true }, { TERM: 'dumb' }), false);
  assert.equal(colorEnabled({}, { FORCE_COLOR: '1' }), true);
  assert.equal(colorEnabled({ isTTY: true }, { FORCE_COLOR: '1', NO_COLOR: '1' }), false);
  const c = colors({ isTTY: true }, {});
  const out = capture();
  render('table', null, () => ({ columns: ['A', 'STATUS', 'B'], rows: [['x', 'RUNNING', 'y'], ['longer', 'STOPPED', 'z']], colorize: (t, col) => (col === 'STATUS' ? stateColor(c, t) : t) }), out as unknown as typeof process.stdout);
  const plain = out.text.replace(/\x1b\[\d+m/g, '');
  assert.equal(plain, 'A       STATUS   B\nx       RUNNING  y\nlonger  STOPPED  z\n');
  assert.match(out.text, /\x1b\[32mRUNNING\x1b\[39m/);
  assert.equal(bytes(1536), '1.5 KiB');
  assert.equal(bytes(512 * 1024 * 1024), '512 MiB');
});

test('task definitions from an image, from a file, and with a new image', () => {
  assert.equal(familyForImage('localhost:5000/team/web:1.2'), 'web');
  assert.equal(familyForImage('busybox@sha256:' + 'a'.repeat(64)), 'busybox');
  const td = taskDefinitionForImage({ image: 'busybox:latest', command: ['sh', '-c', 'echo hi'], cpu: '256', memory: '512', env: ['A=1', 'B=x=y'] });
  assert.deepEqual(td.containerDefinitions, [{ name: 'busybox', image: 'busybox:latest', essential: true, command: ['sh', '-c', 'echo hi'], environment: [{ name: 'A', value: '1' }, { name: 'B', value: 'x=y' }] }]);
  assert.throws(() => taskDefinitionForImage({ image: 'b', command: [], cpu: '256', memory: '512', env: ['NOEQUALS'] }), /KEY=VALUE/);

  const registered = { ...td, taskDefinitionArn: 'arn:...:task-definition/busybox:3', revision: 3, status: 'ACTIVE', compatibilities: ['FARGATE'], containerDefinitions: td.containerDefinitions!.map((c) => ({ ...c, portMappings: [] })) } as TaskDefinition;
  assert.equal(sameDefinition(registered, td), true);
  assert.equal(sameDefinition(registered, { ...td, memory: '1024' }), false);
  assert.equal(sameDefinition(undefined, td), false);

  const next = withImage(registered, 'busybox:2');
  assert.equal(next.containerDefinitions![0].image, 'busybox:2');
  assert.equal((next as unknown as Record<string, unknown>).revision, undefined, 'read-only fields dropped');
  const two = { ...registered, containerDefinitions: [{ name: 'a', image: 'x' }, { name: 'b', image: 'y' }] } as TaskDefinition;
  assert.throws(() => withImage(two, 'z'), /--container \(a, b\)/);
  assert.equal(withImage(two, 'z', 'b').containerDefinitions![1].image, 'z');
  assert.throws(() => withImage(two, 'z', 'c'), /no container named c/);

  const dir = mkdtempSync(join(tmpdir(), 'skiff-td-'));
  try {
    writeFileSync(join(dir, 'a.json'), JSON.stringify({ taskDefinition: registered }));
    assert.equal(readTaskDefinitionFile(join(dir, 'a.json')).family, 'busybox');
    writeFileSync(join(dir, 'b.json'), '{"cpu": "256"}');
    assert.throws(() => readTaskDefinitionFile(join(dir, 'b.json')), /has no "family"/);
    writeFileSync(join(dir, 'c.json'), '{nope');
    assert.throws(() => readTaskDefinitionFile(join(dir, 'c.json')), /cannot read the task definition/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('top: rates between two readings, as a share of the task size; tasks new in the second reading have no rate', () => {
  const base = { taskArn: 'a', cluster: 'default', family: 'web', revision: 1, service: '', cpuLimitVcpus: 0.5, memoryLimitBytes: 1000, containers: [] };
  const rows = topRows(
    { timestamp: 0, tasks: [{ ...base, taskId: 'a', cpuSeconds: 10, memoryWorkingSetBytes: 100, network: { rxBytes: 0, txBytes: 0 } }] },
    { timestamp: 2000, tasks: [{ ...base, taskId: 'a', cpuSeconds: 10.5, memoryWorkingSetBytes: 250, network: { rxBytes: 2000, txBytes: 400 } }, { ...base, taskId: 'b', cpuSeconds: 1 }] },
  );
  assert.equal(rows[0].taskId, 'a');
  assert.equal(rows[0].cpuVcpus, 0.25);
  assert.equal(rows[0].cpuPercent, 50);
  assert.equal(rows[0].memoryPercent, 25);
  assert.equal(rows[0].rxBytesPerSecond, 1000);
  assert.equal(rows[1].cpuVcpus, undefined);
  assert.equal(rate({ firstAt: 0, firstValue: 0 }, 2048, 2000), 1024);
});

test('the bash completion script completes from the command tree', () => {
  const p = new Command('skiff').option('-o, --output <f>').option('--endpoint <url>');
  p.command('ps').option('--cluster <name>').option('-a, --all');
  const svc = p.command('services');
  svc.command('list');
  svc.command('describe').option('--events <n>');
  const dir = mkdtempSync(join(tmpdir(), 'skiff-comp-'));
  try {
    writeFileSync(join(dir, 's.bash'), bashCompletion(p));
    const complete = (words: string[]) =>
      spawnSync('bash', ['-c', `source ${dir}/s.bash; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _skiff_completion; echo "\${COMPREPLY[*]}"`], { encoding: 'utf8' }).stdout.trim();
    assert.equal(complete(['skiff', '']), 'ps services');
    assert.equal(complete(['skiff', '--endpoint', 'services', 'p']), 'ps', 'an option value is not a command');
    assert.equal(complete(['skiff', 'services', 'describe', '--e']), '--events --endpoint');
    assert.equal(complete(['skiff', 'ps', '--a']), '--all');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('errors say what to do next', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  assert.match(explainError(refused, 'http://h:1').message, /^cannot reach Skiff at http:\/\/h:1 \(ECONNREFUSED\) — start it with `skiff server` or set SKIFF_ENDPOINT/);
  const svc = Object.assign(new Error('Service not found.'), { name: 'ServiceNotFoundException', $fault: 'client' });
  assert.equal(explainError(svc, 'x').message, 'ServiceNotFoundException: Service not found.\n  → see the services with `skiff services`');
  const other = new Error('plain');
  assert.equal(explainError(other, 'x'), other);
});
