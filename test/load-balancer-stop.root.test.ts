/**
 * StopTask on a load-balanced task, and `skiff lb`, end to end: a real
 * `skiff server`, real runc tasks serving HTTP (busybox httpd), the real
 * `bin/skiff.js` and @aws-sdk/client-ecs.
 *
 * Under continuous load through the listener a user stops one of two tasks:
 * it is desired STOPPED at once, leaves rotation at once (no request started
 * after StopTask returned reaches it), keeps RUNNING through the service's
 * deregistration delay, then stops with the user's code and reason; its
 * service starts a replacement meanwhile; no request fails. A server killed
 * mid-drain finishes the stop after its restart (the user's reason kept).
 * Every request goes to loopback (the listener), which connects to task addresses.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import {
  CreateServiceCommand,
  DeleteServiceCommand,
  DescribeServicesCommand,
  ListTasksCommand,
  StopTaskCommand,
  waitUntilServicesStable,
  type ECSClient,
} from '@aws-sdk/client-ecs';
import { type TestServer, waitFor } from './support/skiff-server.ts';
import { startBusyboxStack, type BusyboxStack } from './support/stack.ts';
import { describeTask, ipOf, registerFamily, waitTaskStatus } from './support/tasks.ts';
import { httpGet, slowHttpdContainer } from './support/http.ts';

const SKIFF = resolve(import.meta.dirname, '../bin/skiff.js');
const TG = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef';
const DELAY_S = 12; // long enough for the CLI runs (a node start each) on a loaded 2-core host

let stack: BusyboxStack | undefined;
let server: TestServer;
let ecs: ECSClient;
let image: string;

before(async () => {
  stack = await startBusyboxStack('test/busybox:lbstop', { env: { SKIFF_SERVICE_INTERVAL_MS: '200', SKIFF_LB_SYNC_INTERVAL_MS: '100' } });
  ({ server, ecs, image } = stack);
});
after(async () => {
  await stack?.stop();
});

/** Runs the real CLI against the test server. */
function skiff(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const env = { ...server.clientEnv() };
    delete env.FORCE_COLOR;
    const p = spawn(process.execPath, [SKIFF, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('error', rej);
    p.on('close', (status) => {
      clearTimeout(timer);
      res({ status, stdout, stderr });
    });
  });
}

interface CliTarget { id: string; address: string; state: string; health: string; requests: number; drainEndsAt?: number }
interface CliListener { serviceName: string; url: string; listening: boolean; targets: CliTarget[] }
async function lbJson(service?: string): Promise<CliListener[]> {
  const r = await skiff(['lb', '--output', 'json', ...(service ? ['--service', service] : [])]);
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { loadBalancers: CliListener[] }).loadBalancers;
}

/** Serves "<hostname>" at / and, after 1 s, at /cgi-bin/slow. */
function register(): Promise<string> {
  return registerFamily(ecs, 'lbstop', [slowHttpdContainer(image)]);
}

async function hostOf(arn: string): Promise<string> {
  return `ip-${ipOf(await describeTask(ecs, arn))!.replaceAll('.', '-')}.ec2.internal`;
}

async function runningTasks(): Promise<string[]> {
  return (await ecs.send(new ListTasksCommand({ serviceName: 'web', desiredStatus: 'RUNNING' }))).taskArns ?? [];
}

function get(port: number, agent: http.Agent | false, path: string): Promise<{ status: number; body: string }> {
  return httpGet('127.0.0.1', port, path, agent);
}

test('StopTask drains a load-balanced task under load; skiff lb shows it; a restart mid-drain finishes the stop', async (t) => {
  const td = await register();
  await ecs.send(
    new CreateServiceCommand({
      serviceName: 'web',
      taskDefinition: td,
      desiredCount: 2,
      loadBalancers: [{ targetGroupArn: TG, containerName: 'web', containerPort: 8080 }],
      tags: [{ key: 'skiff:deregistrationDelaySeconds', value: String(DELAY_S) }],
    }),
  );
  const stable = await waitUntilServicesStable({ client: ecs, maxWaitTime: 90, minDelay: 1, maxDelay: 1 }, { services: ['web'] });
  assert.equal(stable.state, 'SUCCESS', JSON.stringify(stable.reason));
  const [victim, kept] = await runningTasks();
  const victimId = victim.split('/').pop()!;
  const victimHost = await hostOf(victim);

  // skiff lb: the listener with both tasks in service, as a table and as JSON.
  const [listener] = await waitFor('both targets in service', async () => {
    const l = await lbJson('web');
    return l.length === 1 && l[0].targets.filter((x) => x.state === 'in-service' && x.health === 'healthy').length === 2 ? l : undefined;
  });
  const port = Number(new URL(listener.url).port);
  assert.equal(listener.url, `http://127.0.0.1:${port}`);
  assert.equal(listener.listening, true);
  const table = await skiff(['lb']);
  assert.equal(table.status, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  assert.match(lines[0], /^SERVICE\s+URL\s+TARGET\s+ADDRESS\s+STATE\s+HEALTH\s+IN FLIGHT\s+REQUESTS\s+DRAIN LEFT$/);
  assert.equal(lines.length, 3, table.stdout);
  for (const line of lines.slice(1)) assert.match(line, new RegExp(`^web\\s+http://127\\.0\\.0\\.1:${port}\\s+[0-9a-f]{32}\\s+10\\.\\S+:8080\\s+in-service\\s+healthy\\s+\\d+\\s+\\d+\\s+-$`), table.stdout);
  assert.deepEqual(await lbJson('nope'), [], '--service filters');

  // Continuous load: keep-alive clients, a new connection per request, and 1 s requests.
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 8 });
  let stop = false;
  const failures: string[] = [];
  const answered: { startedAt: number; body: string }[] = [];
  const client = async (agent: http.Agent | false, path = '/') => {
    while (!stop) {
      const startedAt = Date.now();
      try {
        const r = await get(port, agent, path);
        if (r.status === 200) answered.push({ startedAt, body: r.body });
        else failures.push(`${r.status} ${r.body}`);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  const clients = [client(keepAlive), client(keepAlive), client(false), client(false), client(false, '/cgi-bin/slow'), client(keepAlive, '/cgi-bin/slow')];
  let stoppedAt = 0;
  try {
    await new Promise((r) => setTimeout(r, 700));
    const reason = 'maintenance: moving the task off this host';
    const out = await ecs.send(new StopTaskCommand({ task: victim, reason }));
    stoppedAt = Date.now();
    assert.equal(out.task?.desiredStatus, 'STOPPED', 'StopTask answers desired STOPPED at once');
    assert.equal(out.task?.lastStatus, 'RUNNING', 'and the task still RUNNING');

    const during = await describeTask(ecs, victim);
    assert.equal(during.desiredStatus, 'STOPPED');
    assert.equal(during.lastStatus, 'RUNNING', 'RUNNING through the deregistration delay');
    // Still RUNNING well into the delay; its service starts a replacement meanwhile.
    await new Promise((r) => setTimeout(r, Math.max(0, stoppedAt + 2000 - Date.now())));
    const mid = await describeTask(ecs, victim);
    assert.ok(Date.now() - stoppedAt < DELAY_S * 1000 - 1000, `still inside the delay (${Date.now() - stoppedAt} ms)`);
    assert.equal(mid.lastStatus, 'RUNNING', 'still RUNNING 2 s into the drain');
    // Both CLI runs at once: each is a node start, slow on a loaded host, and both must fall inside the delay.
    const [[drainingView], drainingTable] = await Promise.all([lbJson('web'), skiff(['lb', '--service', 'web'])]);
    const d = drainingView.targets.find((x) => x.id === victimId);
    assert.equal(d?.state, 'draining', JSON.stringify(drainingView.targets));
    assert.equal(d?.health, 'draining');
    assert.ok(d!.drainEndsAt! - stoppedAt > (DELAY_S - 1.5) * 1000, `drain ends ${d!.drainEndsAt! - stoppedAt} ms after StopTask`);
    assert.match(drainingTable.stdout, new RegExp(`${victimId}\\s+\\S+\\s+draining\\s+draining\\s+\\d+\\s+\\d+\\s+\\d+s`), drainingTable.stdout);

    const replacement = await waitFor('a replacement task', async () => (await runningTasks()).find((a) => a !== kept && a !== victim));

    const gone = await waitTaskStatus(ecs, victim, 'STOPPED', 30_000);
    assert.equal(gone.stopCode, 'UserInitiated');
    assert.equal(gone.stoppedReason, reason);
    const waited = gone.stoppingAt!.getTime() - stoppedAt;
    assert.ok(waited >= (DELAY_S - 0.5) * 1000, `stopped only after the deregistration delay (${waited} ms)`);

    await waitFor('the replacement in service', async () => {
      const [l] = await lbJson('web');
      return l.targets.some((x) => replacement.endsWith(x.id) && x.state === 'in-service');
    }, 60_000);
    const replacementHost = await hostOf(replacement);
    await waitFor('the replacement answers', async () => answered.some((a) => a.body === replacementHost), 30_000);
  } finally {
    stop = true;
    await Promise.all(clients);
    keepAlive.destroy();
  }
  const toVictim = answered.filter((a) => a.body === victimHost);
  t.diagnostic(`${answered.length} requests answered (${toVictim.length} by the stopped task), ${failures.length} failed`);
  assert.deepEqual(failures, [], `no request failed (${answered.length} answered)`);
  assert.ok(toVictim.length > 0, 'the task served before it was stopped');
  const late = toVictim.filter((a) => a.startedAt >= stoppedAt);
  assert.deepEqual(late, [], 'no request started after StopTask returned reached the stopped task');

  // A server killed mid-drain: the stop is stored, so the restarted server finishes it with the user's reason.
  const [second] = (await runningTasks()).filter((a) => a !== victim);
  await ecs.send(new StopTaskCommand({ task: second, reason: 'user stop across a restart' }));
  assert.equal((await describeTask(ecs, second)).lastStatus, 'RUNNING', 'draining');
  await server.stop('SIGKILL');
  await server.start();
  const finished = await waitTaskStatus(ecs, second, 'STOPPED', 30_000);
  assert.equal(finished.stopCode, 'UserInitiated');
  assert.equal(finished.stoppedReason, 'user stop across a restart');
  const [afterRestart] = await lbJson('web');
  assert.ok(!afterRestart.targets.some((x) => second.endsWith(x.id)), 'the stopped task is no target after the restart');

  await ecs.send(new DeleteServiceCommand({ service: 'web', force: true }));
  await waitFor('INACTIVE', async () => (await ecs.send(new DescribeServicesCommand({ services: ['web'] }))).services?.[0].status === 'INACTIVE', 60_000);
});
