/**
 * The everyday CLI loop through the real `bin/skiff.js` against a real server:
 * run (image and task definition file), ps, logs (-f), stop, services
 * (list/describe), scale, deploy (follows the rollout), top — each in table and
 * JSON form; no escape codes unless on a terminal (and not with NO_COLOR);
 * progress on a TTY-less run only as plain lines on stderr; a helpful error
 * when the server is unreachable; completion scripts; --help everywhere.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateServiceCommand, DeleteServiceCommand, DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { waitFor, type TestServer } from './support/skiff-server.ts';
import { freePort, type TestRegistry } from './support/registry.ts';
import { pushBusyboxImage } from './support/images.ts';
import { startBusyboxStack, type BusyboxStack } from './support/stack.ts';
import { waitServiceRunning } from './support/tasks.ts';

const SKIFF = resolve(import.meta.dirname, '../bin/skiff.js');
const ESC = /\x1b\[|\r/;
let stack: BusyboxStack;
let server: TestServer;
let registry: TestRegistry;
let image: string;
let image2: string;
let dir: string;

before(async () => {
  stack = await startBusyboxStack('test/busybox:friendly', { env: { SKIFF_SERVICE_INTERVAL_MS: '200' } });
  ({ server, registry, image } = stack);
  image2 = await pushBusyboxImage(registry, 'test/busybox:friendly2');
  dir = mkdtempSync(join(tmpdir(), 'skiff-cli-friendly-'));
});
after(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI (stdout and stderr are pipes: not a terminal). */
function skiff(args: string[], env: Record<string, string> = {}, timeoutMs = 90_000): Promise<Result> {
  return new Promise((res, rej) => {
    const base = server.clientEnv();
    delete base.FORCE_COLOR;
    delete base.NO_COLOR;
    const p = spawn(process.execPath, [SKIFF, ...args], { env: { ...base, HOME: dir, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', rej);
    p.on('close', (status) => {
      clearTimeout(timer);
      res({ status, stdout, stderr });
    });
  });
}

async function ok(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const r = await skiff(args, env);
  assert.equal(r.status, 0, `skiff ${args.join(' ')} failed:\n${r.stderr}\n${r.stdout}`);
  assert.doesNotMatch(r.stdout, ESC, `skiff ${args.join(' ')}: escape codes on a pipe`);
  assert.doesNotMatch(r.stderr, ESC, `skiff ${args.join(' ')}: escape codes or carriage returns in stderr on a pipe`);
  return r;
}

const json = <T>(r: Result) => JSON.parse(r.stdout) as T;
const LOOP = 'trap "exit 0" TERM; while true; do sleep 1; done';
interface TaskJson { taskArn: string; lastStatus: string; taskDefinitionArn: string; startedAt?: string }
const idOf = (arn: string) => arn.split('/').pop()!;

test('run from an image: registers a family once, waits until RUNNING, plain progress lines on stderr; ps, logs, stop in table and JSON', async () => {
  const first = await ok(['run', image, '--cpu', '256', '--memory', '512', '--family', 'friendly', '--output', 'json', '--', 'sh', '-c', `echo hello-from-run; ${LOOP}`]);
  const out = json<{ taskDefinitionArn: string; tasks: TaskJson[] }>(first);
  assert.match(out.taskDefinitionArn, /task-definition\/friendly:1$/);
  assert.equal(out.tasks.length, 1);
  assert.equal(out.tasks[0].lastStatus, 'RUNNING');
  const id = idOf(out.tasks[0].taskArn);
  // Progress without a terminal: whole lines, the start's milestones.
  assert.match(first.stderr, /^registered friendly:1$/m);
  assert.match(first.stderr, new RegExp(`^task ${id} RUNNING \\d+\\.\\d+\\.\\d+\\.\\d+$`, 'm'));

  // Same image and flags: the same revision; table output.
  const second = await ok(['run', image, '--cpu', '256', '--memory', '512', '--family', 'friendly', '-q', '--', 'sh', '-c', `echo hello-from-run; ${LOOP}`]);
  assert.equal(second.stderr, '', '--quiet prints no progress');
  assert.match(second.stdout, /^TASK\s+FAMILY\s+STATUS\s+IP\s+CPU\s+MEMORY\s+STARTED\n/);
  assert.match(second.stdout, /\n[0-9a-f]{32}\s+friendly:1\s+RUNNING\s+10\.\d+\.\d+\.\d+\s+256\s+512\s+\d{4}-/);
  const id2 = /\n([0-9a-f]{32})\s/.exec(second.stdout)![1];

  const ps = await ok(['ps', '--family', 'friendly']);
  assert.match(ps.stdout, new RegExp(`^${id}\\s+friendly:1\\s+RUNNING`, 'm'));
  assert.match(ps.stdout, new RegExp(`^${id2}\\s+friendly:1\\s+RUNNING`, 'm'));
  const psJson = json<{ tasks: TaskJson[] }>(await ok(['ps', '--output', 'json']));
  assert.deepEqual(psJson.tasks.map((t) => idOf(t.taskArn)).sort(), [id, id2].sort());

  await waitFor('the greeting in the log', async () => (await ok(['logs', id])).stdout.includes('hello-from-run'));
  const logsJson = (await ok(['logs', id, '--output', 'json'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { container: string; message: string; stream: string });
  assert.deepEqual(logsJson[0], { ...logsJson[0], container: 'friendly', message: 'hello-from-run', stream: 'stdout' });

  const stopped = await ok(['stop', id, '--reason', 'done with it']);
  assert.match(stopped.stdout, new RegExp(`^TASK\\s+DESIRED\\s+STATUS\\n${id}\\s+STOPPED\\s+`));
  const stoppedJson = json<{ desiredStatus: string; stoppedReason: string }>(await ok(['stop', id2, '--output', 'json']));
  assert.equal(stoppedJson.desiredStatus, 'STOPPED');
});

test('logs -f follows a task until it stops; run --task-definition registers a file; a start that fails says what to do', async () => {
  const file = join(dir, 'ticker.json');
  writeFileSync(file, JSON.stringify({
    family: 'ticker', requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc', cpu: '256', memory: '512',
    containerDefinitions: [{ name: 'tick', image, essential: true, command: ['sh', '-c', 'echo one; sleep 2; echo two; echo err >&2'] }],
  }));
  const run = await ok(['run', '--task-definition', file, '--no-wait', '--output', 'json']);
  const task = json<{ taskDefinitionArn: string; tasks: TaskJson[] }>(run);
  assert.match(task.taskDefinitionArn, /ticker:1$/);
  const id = idOf(task.tasks[0].taskArn);
  const followed = await ok(['logs', '-f', id]);
  assert.equal(followed.stdout, 'one\ntwo\n');
  assert.equal(followed.stderr, 'err\n');

  const bad = await skiff(['run', `${registry.host}/test/not-there:1`, '--family', 'missing']);
  assert.equal(bad.status, 1, bad.stderr);
  assert.match(bad.stdout, /\bSTOPPED\b/);
  assert.match(bad.stderr, /stopped: TaskFailedToStart CannotPullContainerError/);
  assert.match(bad.stderr, /see its output with `skiff logs [0-9a-f]{32}`/);

  const none = await skiff(['run']);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /say what to run: an image .* or --task-definition/);
});

test('services, scale and deploy: tables and JSON, following the change until steady or the rollout completes', async () => {
  const ecs = server.ecs();
  await ok(['run', image, '--family', 'websvc', '--no-wait', '-q', '--', 'sh', '-c', LOOP]).then((r) => ok(['stop', idOf(/([0-9a-f]{32})/.exec(r.stdout)![1])]));
  await ecs.send(new CreateServiceCommand({ serviceName: 'web', taskDefinition: 'websvc', desiredCount: 1, launchType: 'FARGATE' }));
  try {
    await waitServiceRunning(ecs, 'web', 1, 30_000);
    const list = await ok(['services']);
    assert.match(list.stdout, /^SERVICE\s+STATUS\s+DESIRED\s+RUNNING\s+PENDING\s+TASK DEFINITION\s+ROLLOUT\n/);
    assert.match(list.stdout, /\nweb\s+ACTIVE\s+1\s+1\s+0\s+websvc:1\s+COMPLETED/);
    const listJson = json<{ services: { serviceName: string; desiredCount: number }[] }>(await ok(['services', 'list', '--output', 'json']));
    assert.deepEqual(listJson.services.map((s) => [s.serviceName, s.desiredCount]), [['web', 1]]);
    const described = await ok(['services', 'describe', 'web']);
    assert.match(described.stdout, /^service\s+web$/m);
    assert.match(described.stdout, /^desired \/ running \/ pending\s+1 \/ 1 \/ 0$/m);
    assert.match(described.stdout, /^DEPLOYMENT\s+STATUS\s+TASK DEFINITION/m);
    assert.match(described.stdout, /has reached a steady state/);
    assert.equal(json<{ service: { serviceName: string } }>(await ok(['services', 'describe', 'web', '-o', 'json'])).service.serviceName, 'web');

    const scaled = await ok(['scale', 'web', '2', '--output', 'json']);
    const s2 = json<{ outcome: string; service: { runningCount: number; desiredCount: number } }>(scaled);
    assert.equal(s2.outcome, 'STEADY');
    assert.equal(s2.service.runningCount, 2);
    assert.match(scaled.stderr, /has started 1 tasks/, 'service events as plain progress lines');
    const down = await ok(['scale', 'web', '1']);
    assert.match(down.stdout, /^SERVICE\s+DESIRED\s+RUNNING\s+PENDING\s+OUTCOME\nweb\s+1\s+1\s+0\s+STEADY$/m);

    const deployed = await ok(['deploy', 'web', '--image', image2, '--output', 'json']);
    const d = json<{ rolloutState: string; deployment: { taskDefinition: string; runningCount: number } }>(deployed);
    assert.equal(d.rolloutState, 'COMPLETED');
    assert.match(d.deployment.taskDefinition, /websvc:2$/);
    assert.match(deployed.stderr, /^deploying websvc:2 to web/m);
    const td = await ecs.send(new DescribeServicesCommand({ services: ['web'] }));
    assert.match(td.services![0].taskDefinition!, /websvc:2$/);
    const again = await ok(['deploy', 'web', '--task-definition', 'websvc:1']);
    assert.match(again.stdout, /^SERVICE\s+TASK DEFINITION\s+DEPLOYMENT\s+RUNNING\s+ROLLOUT\nweb\s+websvc:1\s+ecs-svc\/\d+\s+1\/1\s+COMPLETED$/m);

    // A rollout the circuit breaker stops: exit 1, FAILED, and where to look.
    await ecs.send(new CreateServiceCommand({
      serviceName: 'cb', taskDefinition: 'websvc:1', desiredCount: 1, launchType: 'FARGATE',
      deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true }, maximumPercent: 200, minimumHealthyPercent: 100 },
    }));
    await ok(['scale', 'cb', '1', '-q']);
    const broken = await skiff(['deploy', 'cb', '--image', `${registry.host}/test/not-there:2`]);
    assert.equal(broken.status, 1, broken.stderr);
    assert.match(broken.stdout, /^cb\s+websvc:\d+\s+ecs-svc\/\d+\s+\d+\/\d+\s+FAILED$/m);
    assert.match(broken.stderr, /deployment failed: tasks failed to start/);
    assert.match(broken.stderr, /failed — see why with `skiff services describe`/);
    await ecs.send(new DeleteServiceCommand({ service: 'cb', force: true }));

    const missing = await skiff(['scale', 'nope', '1']);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /service nope not found .*skiff services/);
    const both = await skiff(['deploy', 'web']);
    assert.match(both.stderr, /give --image IMAGE or --task-definition/);
  } finally {
    await ecs.send(new DeleteServiceCommand({ service: 'web', force: true }));
  }
});

test('top --once: CPU, memory, network and disk per running task, as a table and JSON', async () => {
  const r = await ok(['run', image, '--family', 'busy', '-q', '--output', 'json', '--', 'sh', '-c', 'trap "exit 0" TERM; while true; do i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; sleep 0.05; done']);
  const id = idOf(json<{ tasks: TaskJson[] }>(r).tasks[0].taskArn);
  try {
    const top = json<{ tasks: { taskId: string; family: string; cpuVcpus: number; cpuPercent: number; memoryBytes: number; memoryLimitBytes: number }[] }>(await ok(['top', '--once', '--interval', '1', '--output', 'json']));
    const row = top.tasks.find((t) => t.taskId === id)!;
    assert.ok(row, 'the running task is listed');
    assert.equal(row.family, 'busy');
    assert.ok(row.cpuVcpus > 0.005 && row.cpuVcpus <= 1, `cpu ${row.cpuVcpus}`);
    assert.ok(Math.abs(row.cpuPercent - (100 * row.cpuVcpus) / 0.25) < 1e-6);
    assert.ok(row.memoryBytes > 0 && row.memoryBytes < row.memoryLimitBytes);
    assert.equal(row.memoryLimitBytes, 512 * 1024 * 1024);
    const table = await ok(['top', '--once', '--interval', '0.5']);
    assert.match(table.stdout, /^TASK\s+FAMILY\s+SERVICE\s+CPU\s+CPU%\s+MEMORY\s+MEM%\s+NET IN\/s\s+NET OUT\/s\s+DISK\n/);
    assert.match(table.stdout, new RegExp(`^${id}\\s+busy:1\\s+-\\s+\\d+\\.\\d{3} vCPU\\s+\\d+\\.\\d%\\s+[\\d.]+ [KM]iB / 512 MiB`, 'm'));
  } finally {
    await ok(['stop', id]);
  }
});

test('colour only on a terminal and never with NO_COLOR; an unreachable server gets a message that says what to do', async () => {
  // A terminal through script(1): the table's states are coloured.
  const onTty = (env: string) => new Promise<string>((res) => {
    const cmd = `${env} ${process.execPath} ${SKIFF} ps --all`;
    const p = spawn('script', ['-qfec', cmd, '/dev/null'], { env: { ...server.clientEnv(), TERM: 'xterm' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('close', () => res(out));
  });
  assert.match(await onTty(''), /\x1b\[3[12]mSTOPPED|\x1b\[3[12]mRUNNING/, 'states are coloured on a terminal');
  const noColor = await onTty('NO_COLOR=1');
  assert.match(noColor, /TASK\s+FAMILY/);
  assert.doesNotMatch(noColor, /\x1b\[/, 'NO_COLOR wins even on a terminal');
  await ok(['ps', '--all']); // piped: ok() asserts no escape codes

  const port = await freePort();
  const down = await skiff(['ps'], { SKIFF_ENDPOINT: `http://127.0.0.1:${port}` });
  assert.equal(down.status, 1);
  assert.equal(down.stderr.trim(), `skiff: cannot reach Skiff at http://127.0.0.1:${port} (ECONNREFUSED) — start it with \`skiff server\` or set SKIFF_ENDPOINT (or --endpoint) to where it runs`);
  const downTop = await skiff(['top', '--once', '--endpoint', `http://127.0.0.1:${port}`]);
  assert.match(downTop.stderr, /cannot reach Skiff at .* start it with `skiff server`/);
  const noCluster = await skiff(['ps', '--cluster', 'nowhere']);
  assert.match(noCluster.stderr, /ClusterNotFoundException: .*\n  → pass --cluster with an existing cluster/);
});

test('completion scripts for bash and zsh complete commands, subcommands, options and option values; every command has --help', async () => {
  const bash = (await ok(['completion', 'bash'])).stdout;
  assert.match(bash, /complete -o default -F _skiff_completion skiff/);
  const zsh = (await ok(['completion', 'zsh'])).stdout;
  assert.match(zsh, /^#compdef skiff\n/);
  const file = join(dir, 'skiff.bash');
  writeFileSync(file, bash);
  const complete = (words: string[]) => new Promise<string>((res) => {
    const script = `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _skiff_completion; echo "\${COMPREPLY[*]}"`;
    const p = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('close', () => res(out.trim()));
  });
  assert.equal(await complete(['skiff', 'sc']), 'scale');
  assert.equal(await complete(['skiff', 'services', '']), 'list describe');
  assert.equal(await complete(['skiff', '--output', 'json', 'deploy', '--im']), '--image');
  assert.equal(await complete(['skiff', 'ps', '-o', '']), 'table json');
  assert.equal(await complete(['skiff', 'top', '--o']), '--once --output');
  const bad = await skiff(['completion', 'fish']);
  assert.match(bad.stderr, /bash and zsh/);

  const commands = [['run'], ['ps'], ['stop'], ['logs'], ['services'], ['services', 'list'], ['services', 'describe'], ['scale'], ['deploy'], ['top'], ['completion'], ['cost']];
  const helps = await Promise.all(commands.map((c) => ok([...c, '--help'])));
  helps.forEach((h, i) => assert.match(h.stdout, new RegExp(`^Usage: skiff ${commands[i].join(' ')} `), commands[i].join(' ')));
});
