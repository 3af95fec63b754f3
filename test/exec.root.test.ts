/**
 * Exec into a task: ECS ExecuteCommand (with @aws-sdk/client-ecs) and `skiff exec`
 * against a real server and a real busybox task. Checks the ECS refusals (no
 * enableExecuteCommand, no ecs:ExecuteCommand in the key's policy), the audit row
 * with the command, exit codes and streams through the CLI, stdin, a terminal
 * from the container's own devpts with the forwarded window size, that the
 * process runs in the container (user, cgroup, environment, working directory),
 * the one-time token rules, and that a session leaves nothing running behind.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CreateServiceCommand, DeleteServiceCommand, DescribeTasksCommand, ECSClient, ExecuteCommandCommand, ListTasksCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import WebSocket from 'ws';
import type { TestServer } from './support/skiff-server.ts';
import { waitFor } from './support/skiff-server.ts';
import { startBusyboxStack, type BusyboxStack } from './support/stack.ts';
import { describeService, registerFamily, runOne, waitServiceRunning, waitTaskStatus } from './support/tasks.ts';
import { rejectsWith } from './support/api-errors.ts';
import { Channel, TOKEN_HEADER, decodeFrame, encodeFrame, readExit, resizeFrame } from '../src/exec/framing.ts';
import { SANDBOXED } from './support/runtimes.ts';

const SKIFF = resolve(import.meta.dirname, '../bin/skiff.js');
const SECRET_VALUE = 'never-in-audit-7f3a9c';
let stack: BusyboxStack;
let server: TestServer;
let ecs: ECSClient;
let enabled: string; // task ARN run with enableExecuteCommand
let disabled: string;

before(async () => {
  stack = await startBusyboxStack('test/busybox:exec');
  ({ server, ecs } = stack);
  const def = await registerFamily(ecs, 'exec-demo', [
    {
      name: 'app',
      image: stack.image,
      essential: true,
      user: '1000:1000',
      workingDirectory: '/tmp',
      // LD_PRELOAD would make every host tool a session passes through complain on stderr (or worse) if it reached them.
      environment: [{ name: 'GREETING', value: 'hello-from-env' }, { name: 'API_TOKEN', value: SECRET_VALUE }, { name: 'LD_PRELOAD', value: '/no/such/lib.so' }, { name: 'PATH', value: '/bin:/usr/bin' }],
      command: ['sleep', '3600'],
    },
  ]);
  enabled = (await runOne(ecs, def, { enableExecuteCommand: true })).taskArn!;
  disabled = (await runOne(ecs, def)).taskArn!;
  await waitTaskStatus(ecs, enabled, 'RUNNING');
  await waitTaskStatus(ecs, disabled, 'RUNNING');
});
after(async () => {
  await stack?.stop();
});

const taskId = (arn: string) => arn.split('/').pop()!;

/** Pids in the app container's cgroup (its own process plus any exec session's). */
function containerPids(arn: string): number[] {
  const file = `/sys/fs/cgroup/pids/${server.prefix}/${taskId(arn)}/app/cgroup.procs`;
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
}

function skiff(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [SKIFF, ...args], { env: server.clientEnv(), input: input ?? '', encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Opens an exec stream with `token`; resolves with the exit code and output, or the HTTP status it was refused with. */
function openStream(url: string, token: string | undefined, opts: { closeAfterOpen?: boolean; resizeTo?: [number, number] } = {}): Promise<{ refused?: number; exitCode?: number; stdout: string }> {
  return new Promise((done) => {
    const ws = new WebSocket(url, { headers: token ? { [TOKEN_HEADER]: token } : {} });
    let stdout = '';
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      done({ refused: res.statusCode, stdout });
    });
    ws.on('open', () => {
      if (opts.resizeTo) ws.send(resizeFrame(...opts.resizeTo));
      else ws.send(encodeFrame(Channel.Eof));
      if (opts.closeAfterOpen) setTimeout(() => ws.terminate(), 500);
    });
    ws.on('message', (data: Buffer) => {
      const f = decodeFrame(data);
      if (f.channel === Channel.Stdout) stdout += f.payload.toString();
      if (f.channel === Channel.Exit) done({ exitCode: readExit(f.payload), stdout });
    });
    ws.on('close', () => done({ stdout }));
    ws.on('error', () => done({ stdout }));
  });
}

test('RunTask records enableExecuteCommand and DescribeTasks shows it', async () => {
  const out = await ecs.send(new DescribeTasksCommand({ tasks: [enabled, disabled] }));
  const byArn = new Map(out.tasks!.map((t) => [t.taskArn, t.enableExecuteCommand]));
  assert.equal(byArn.get(enabled), true);
  assert.equal(byArn.get(disabled), false);
});

test('ExecuteCommand is refused for a task run without enableExecuteCommand, with the ECS error', async () => {
  await rejectsWith(ecs.send(new ExecuteCommandCommand({ task: disabled, command: 'echo hi', interactive: true })), 'InvalidParameterException', /execute command was not enabled when the task was run/);
  await rejectsWith(ecs.send(new ExecuteCommandCommand({ task: enabled, command: 'echo hi', interactive: false })), 'InvalidParameterException', /Interactive is the only mode supported/);
  await rejectsWith(ecs.send(new ExecuteCommandCommand({ task: enabled, container: 'nope', command: 'echo hi', interactive: true })), 'InvalidParameterException', /'nope' is not in task/);
  const r = skiff(['exec', taskId(disabled), '--', 'echo', 'hi']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /execute command was not enabled/);
});

test('a key without ecs:ExecuteCommand gets AccessDeniedException; the audit row carries the command, never the environment', async () => {
  const res = await server.fetch('/skiff/v1/keys', {
    method: 'POST',
    body: JSON.stringify({ name: 'exec-reader', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['ecs:Describe*', 'ecs:List*'], Resource: '*' }] } }),
  });
  assert.equal(res.status, 200);
  const key = ((await res.json()) as { accessKey: { accessKeyId: string; secretAccessKey: string } }).accessKey;
  const reader = new ECSClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: key, maxAttempts: 1 });
  await rejectsWith(reader.send(new ExecuteCommandCommand({ task: enabled, command: 'cat /etc/denied-marker', interactive: true })), 'AccessDeniedException', /ecs:ExecuteCommand/);
  const ok = await ecs.send(new ExecuteCommandCommand({ task: enabled, command: 'echo audited-marker', interactive: true }));
  assert.equal(ok.containerName, 'app');
  assert.equal(ok.interactive, true);
  assert.match(ok.session!.streamUrl!, /^ws:\/\/127\.0\.0\.1:\d+\/skiff\/v1\/exec\/ecs-execute-command-[0-9a-f]+$/);

  const audit = (await (await server.fetch('/skiff/v1/audit?action=ecs:ExecuteCommand&limit=50')).json()) as { events: { action: string; outcome: string; resource?: string; detail?: string; accessKeyId?: string }[] };
  const denied = audit.events.find((e) => e.detail?.includes('/etc/denied-marker'));
  assert.ok(denied, JSON.stringify(audit.events));
  assert.equal(denied.outcome, 'AccessDeniedException');
  assert.equal(denied.accessKeyId, key.accessKeyId);
  const allowed = audit.events.find((e) => e.detail?.includes('audited-marker'));
  assert.ok(allowed);
  assert.equal(allowed.outcome, 'Success');
  assert.ok(allowed.resource?.includes(enabled), 'the task is the audited resource');
  assert.ok(!JSON.stringify(audit.events).includes(SECRET_VALUE), 'the task environment never reaches the audit log');
});

test('skiff exec: stdout and stderr apart, the exit code passed through', () => {
  const r = skiff(['exec', taskId(enabled), '--', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
  assert.equal(r.stdout, 'out\n');
  assert.equal(r.stderr, 'err\n');
  assert.equal(r.status, 7);
});

test('skiff exec: stdin is piped through until EOF', () => {
  const r = skiff(['exec', taskId(enabled), '--', 'cat'], 'hello\nworld\n');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'hello\nworld\n');
});

test('the command runs in the container: its user, cgroup, environment and working directory', () => {
  const r = skiff(['exec', taskId(enabled), '--', 'sh', '-c', 'id -u; id -g; pwd; echo "$GREETING"; echo "path=$PATH preload=$LD_PRELOAD"; cat /proc/self/cgroup; hostname']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], '1000');
  assert.equal(lines[1], '1000');
  assert.equal(lines[2], '/tmp');
  assert.equal(lines[3], 'hello-from-env');
  assert.equal(lines[4], 'path=/bin:/usr/bin preload=', "the container's PATH; loader variables never pass the host side");
  assert.equal(r.stderr, '');
  if (!SANDBOXED) {
    // A sandbox (gVisor) shows its own cgroup view inside; its limits are checked host-side (tasks.root.test.ts).
    assert.match(r.stdout, new RegExp(`^\\d+:pids:/${server.prefix}/${taskId(enabled)}/app$`, 'm'));
    assert.match(r.stdout, new RegExp(`^\\d+:memory:/${server.prefix}/${taskId(enabled)}/app$`, 'm'));
  }
  const missing = skiff(['exec', taskId(enabled), '--', '/no/such/program']);
  assert.equal(missing.status, 127, missing.stderr);
});

test('with a terminal: a pty of the container (tty prints /dev/pts/N) with the forwarded window size', async () => {
  // `script` gives skiff exec a terminal of 101x33; its stdin stays open (at EOF script would type into that terminal).
  const inner = `stty cols 101 rows 33; ${process.execPath} ${SKIFF} exec ${taskId(enabled)} -- sh -c 'tty; stty size; exit 3'`;
  const p = spawn('/usr/bin/script', ['-q', '-e', '-c', inner, '/dev/null'], { env: server.clientEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (out += d));
  const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
  const status = await new Promise<number | null>((r) => p.on('close', (code) => r(code)));
  clearTimeout(timer);
  assert.match(out, /^\/dev\/pts\/\d+\r?$/m, out);
  assert.match(out, /^33 101\r?$/m, out);
  assert.equal(status, 3);
});

test('a resize frame reaches the terminal: the process sees the new size', async () => {
  const s = await ecs.send(new ExecuteCommandCommand({ task: enabled, command: `sh -c 'stty size; sleep 1; stty size'`, interactive: true }));
  const r = await openStream(`${s.session!.streamUrl!}?tty=1&cols=50&rows=20`, s.session!.tokenValue!, { resizeTo: [120, 40] });
  assert.equal(r.exitCode, 0);
  assert.match(r.stdout, /^(20 50|40 120)\r\n40 120\r\n$/, JSON.stringify(r.stdout));
});

test('services: enableExecuteCommand on CreateService/UpdateService reaches DescribeServices and the tasks it starts', async () => {
  const def = await registerFamily(ecs, 'exec-svc', [{ name: 'app', image: stack.image, essential: true, command: ['sleep', '3600'] }]);
  await ecs.send(new CreateServiceCommand({ serviceName: 'exec-svc', taskDefinition: def, desiredCount: 1, enableExecuteCommand: true }));
  try {
    assert.equal((await waitServiceRunning(ecs, 'exec-svc', 1)).enableExecuteCommand, true);
    const arns = (await ecs.send(new ListTasksCommand({ serviceName: 'exec-svc' }))).taskArns!;
    const t = (await ecs.send(new DescribeTasksCommand({ tasks: arns }))).tasks![0];
    assert.equal(t.enableExecuteCommand, true);
    const r = skiff(['exec', taskId(t.taskArn!), '--', 'echo', 'in-service']);
    assert.equal(r.stdout, 'in-service\n', r.stderr);
    await ecs.send(new UpdateServiceCommand({ service: 'exec-svc', enableExecuteCommand: false }));
    assert.equal((await describeService(ecs, 'exec-svc')).enableExecuteCommand, false);
  } finally {
    await ecs.send(new DeleteServiceCommand({ service: 'exec-svc', force: true }));
  }
});

test('a token works once, for its own session only, and only with the header', async () => {
  const a = await ecs.send(new ExecuteCommandCommand({ task: enabled, command: 'echo session-a', interactive: true }));
  const b = await ecs.send(new ExecuteCommandCommand({ task: enabled, command: 'echo session-b', interactive: true }));
  assert.equal((await openStream(b.session!.streamUrl!, a.session!.tokenValue!)).refused, 403, "a's token does not open b");
  assert.equal((await openStream(b.session!.streamUrl!, undefined)).refused, 403, 'no token, no stream');
  const first = await openStream(a.session!.streamUrl!, a.session!.tokenValue!);
  assert.deepEqual(first, { exitCode: 0, stdout: 'session-a\n' });
  assert.equal((await openStream(a.session!.streamUrl!, a.session!.tokenValue!)).refused, 403, 'a used token is refused');
  assert.deepEqual(await openStream(b.session!.streamUrl!, b.session!.tokenValue!), { exitCode: 0, stdout: 'session-b\n' }, 'b still opens with its own');
});

test('nothing is left running: background jobs end with the session, a dropped client ends its process', async () => {
  const base = containerPids(enabled);
  assert.equal(base.length, 1, 'only the container process to begin with');
  const r = skiff(['exec', taskId(enabled), '--', 'sh', '-c', 'sleep 300 & echo started']);
  assert.equal(r.stdout, 'started\n');
  await waitFor('the background job to end', async () => containerPids(enabled).length === 1, 10_000);

  const s = await ecs.send(new ExecuteCommandCommand({ task: enabled, command: 'sleep 300', interactive: true }));
  const dropped = openStream(s.session!.streamUrl!, s.session!.tokenValue!, { closeAfterOpen: true });
  await waitFor('the session process to run', async () => containerPids(enabled).length > 1, 10_000);
  await dropped;
  await waitFor('the dropped session to end', async () => containerPids(enabled).length === 1, 10_000);

  const tty = spawn('/usr/bin/script', ['-q', '-c', `${process.execPath} ${SKIFF} exec ${taskId(enabled)} -- sh -c 'sleep 300'`, '/dev/null'], { env: server.clientEnv(), stdio: ['pipe', 'ignore', 'ignore'] });
  await waitFor('the tty session to run', async () => containerPids(enabled).length > 1, 15_000);
  tty.kill('SIGKILL'); // the client vanishes without a word
  await waitFor('the tty session to end', async () => containerPids(enabled).length === 1, 15_000);
  const ps = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout;
  assert.ok(!ps.split('\n').some((l) => l.includes(`/proc/`) && l.includes('/root/dev/pts')), 'no exec wrapper left');
  assert.ok(!ps.split('\n').some((l) => l.startsWith('/usr/bin/nsenter') && l.includes('sleep 300')), 'no nsenter left');
});
