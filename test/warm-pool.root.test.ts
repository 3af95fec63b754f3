/**
 * The warm pool of ready task networks, end to end against a real server (pool
 * size 4): concurrent RunTasks never share an address, whether they got a pooled
 * namespace or a fresh one, and the store agrees with the host; draining, a
 * graceful stop and a kill -9 + restart leave no namespace, veth or address of the
 * pool behind.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { DescribeTasksCommand, RunTaskCommand, StopTaskCommand, type ECSClient, type Task } from '@aws-sdk/client-ecs';
import { waitFor, type TestServer } from './support/skiff-server.ts';
import { startBusyboxStack, type BusyboxStack } from './support/stack.ts';
import { ipOf, registerFamily } from './support/tasks.ts';

const POOL = 4;
let stack: BusyboxStack;
let server: TestServer;

before(async () => {
  stack = await startBusyboxStack('test/busybox:pool', { env: { SKIFF_WARM_POOL_SIZE: String(POOL) } });
  server = stack.server;
  await registerFamily(stack.ecs, 'pooled', [{ name: 'app', image: stack.image, stopTimeout: 2, command: ['sh', '-c', 'trap "exit 0" TERM; sleep 600 & wait'] }]);
});
after(() => stack?.stop());

interface PoolStatus {
  size: number;
  draining: boolean;
  subnets: { subnetId: string; ready: number; filling: number }[];
}

async function poolStatus(): Promise<PoolStatus> {
  return (await (await server.fetch('/skiff/v1/warm-pool')).json()) as PoolStatus;
}

/** Waits until the pool holds `n` ready namespaces and is making none. */
async function poolSettled(n: number): Promise<void> {
  await waitFor(`${n} pooled namespaces`, async () => {
    const s = await poolStatus();
    const ready = s.subnets.reduce((a, x) => a + x.ready, 0);
    const filling = s.subnets.reduce((a, x) => a + x.filling, 0);
    return ready === n && filling === 0;
  });
}

/** Task ids (= namespace ids) of this server's namespaces on the host. */
function hostNamespaces(): string[] {
  const dir = '/var/run/netns';
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith(`${server.prefix}-`)).map((n) => n.slice(server.prefix.length + 1)).sort() : [];
}

/** Host-side task veths of this server (bridges excluded). */
function hostVeths(): string[] {
  const prefix = server.prefix.slice(0, 7);
  return readdirSync('/sys/class/net').filter((n) => n.startsWith(prefix) && /^[0-9a-f]+$/.test(n.slice(prefix.length)) && !existsSync(`/sys/class/net/${n}/bridge`));
}

/** The store's address book and task ids, read from the server's SQLite file. */
function store(): { allocations: { ip: string; taskId: string; subnetId: string }[]; taskIds: Set<string> } {
  const db = new Database(join(server.dataDir, 'skiff.db'), { readonly: true, fileMustExist: true });
  try {
    const allocations = db.prepare(`SELECT ip, task_id AS taskId, subnet_id AS subnetId FROM ip_allocations`).all() as { ip: string; taskId: string; subnetId: string }[];
    const taskIds = new Set((db.prepare(`SELECT id FROM tasks`).all() as { id: string }[]).map((r) => r.id));
    return { allocations, taskIds };
  } finally {
    db.close();
  }
}

/** Addresses held by the pool: reservations whose id is not a task. */
function poolReservations(): { ip: string; taskId: string }[] {
  const s = store();
  return s.allocations.filter((a) => !s.taskIds.has(a.taskId));
}

async function describeAll(ecs: ECSClient, arns: string[]): Promise<Task[]> {
  const out: Task[] = [];
  for (let i = 0; i < arns.length; i += 100) out.push(...(await ecs.send(new DescribeTasksCommand({ tasks: arns.slice(i, i + 100) }))).tasks!);
  return out;
}

async function waitAll(ecs: ECSClient, arns: string[], status: string, timeoutMs = 60_000): Promise<Task[]> {
  return waitFor(
    `${arns.length} tasks ${status}`,
    async () => {
      const ts = await describeAll(ecs, arns);
      if (status === 'RUNNING') {
        const dead = ts.find((t) => t.lastStatus === 'STOPPED');
        if (dead) throw new Error(`task stopped: ${dead.stoppedReason}`);
      }
      return ts.every((t) => t.lastStatus === status) ? ts : undefined;
    },
    timeoutMs,
  );
}

const taskIdOf = (arn: string) => arn.split('/').pop()!;

function eth0Address(taskId: string): string | undefined {
  const out = execFileSync('ip', ['-n', `${server.prefix}-${taskId}`, '-j', '-4', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8' });
  return (JSON.parse(out) as { addr_info: { local: string }[] }[])[0]?.addr_info[0]?.local;
}

test('concurrent RunTasks never share an address, pooled or fresh, and the store and host agree', async () => {
  const ecs = server.ecs();
  await poolSettled(POOL);
  const pooledIds = new Set(poolReservations().map((r) => r.taskId));
  assert.equal(pooledIds.size, POOL);
  assert.deepEqual(hostNamespaces(), [...pooledIds].sort(), 'each reservation has its namespace, nothing else');

  const runs = await Promise.all(Array.from({ length: 8 }, () => ecs.send(new RunTaskCommand({ taskDefinition: 'pooled', count: 5 }))));
  const arns = runs.flatMap((r) => r.tasks!.map((t) => t.taskArn!));
  assert.equal(arns.length, 40);
  const running = await waitAll(ecs, arns, 'RUNNING');

  const ips = running.map((t) => ipOf(t)!);
  assert.equal(new Set(ips).size, ips.length, 'every task has its own address');
  const ids = arns.map(taskIdOf);
  assert.equal(ids.filter((id) => pooledIds.has(id)).length, POOL, 'the pooled namespaces went to tasks first');

  // The store agrees: each task holds exactly its address, and the pool's (refilled) reservations are other addresses.
  const s = store();
  const byTask = new Map(s.allocations.map((a) => [a.taskId, a.ip]));
  running.forEach((t, i) => assert.equal(byTask.get(ids[i]!), ipOf(t), `store address of task ${ids[i]}`));
  const allIps = s.allocations.map((a) => `${a.subnetId}/${a.ip}`);
  assert.equal(new Set(allIps).size, allIps.length, 'no address held twice');
  for (const r of poolReservations()) assert.ok(!ips.includes(r.ip), `pool reservation ${r.ip} is not a task's address`);

  // And the host: each task's namespace carries its address.
  for (const [i, id] of ids.entries()) assert.equal(eth0Address(id), ips[i], `eth0 of task ${id}`);

  // Pooled starts say so in their start-up phases.
  const pooledTask = ids.find((id) => pooledIds.has(id))!;
  const detail = (await (await server.fetch(`/skiff/v1/tasks/${pooledTask}`)).json()) as { timings: { phase: string; detail?: Record<string, unknown> }[] };
  assert.equal(detail.timings.find((t) => t.phase === 'network')?.detail?.warmPool, true);

  await Promise.all(arns.map((arn) => ecs.send(new StopTaskCommand({ task: arn }))));
  await waitAll(ecs, arns, 'STOPPED');
  await poolSettled(POOL);
  const left = poolReservations();
  assert.equal(left.length, POOL);
  assert.equal(store().allocations.length, POOL, 'stopped tasks released their addresses; only the pool holds some');
  assert.deepEqual(hostNamespaces(), left.map((r) => r.taskId).sort(), 'only the pool has namespaces');
  assert.equal(hostVeths().length, POOL);
});

test('drain, graceful stop, kill -9 and restart leave no pooled namespace, veth or address behind', async () => {
  await poolSettled(POOL);

  // Explicit drain.
  const drained = (await (await server.fetch('/skiff/v1/warm-pool/drain', { method: 'POST' })).json()) as { removed: number };
  assert.equal(drained.removed, POOL);
  assert.deepEqual(hostNamespaces(), [], 'no namespace after a drain');
  assert.deepEqual(hostVeths(), [], 'no veth after a drain');
  assert.deepEqual(store().allocations, [], 'no address after a drain');

  // Resume, then a graceful stop drains too.
  await server.fetch('/skiff/v1/warm-pool/resume', { method: 'POST' });
  await poolSettled(POOL);
  await server.stop('SIGTERM');
  assert.deepEqual(hostNamespaces(), [], 'no namespace after a graceful stop');
  assert.deepEqual(hostVeths(), []);
  assert.deepEqual(store().allocations, [], 'no address after a graceful stop');

  // kill -9 leaves the pool on the host; the next start removes it and makes a new one.
  await server.start();
  await poolSettled(POOL);
  const before = hostNamespaces();
  assert.equal(before.length, POOL);
  await server.stop('SIGKILL');
  assert.deepEqual(hostNamespaces(), before, 'kill -9 cannot clean up');
  await server.start();
  await poolSettled(POOL);
  const afterRestart = hostNamespaces();
  assert.equal(afterRestart.length, POOL, 'exactly one pool');
  assert.ok(afterRestart.every((id) => !before.includes(id)), 'the old pool was removed, not adopted twice');
  assert.deepEqual(poolReservations().map((r) => r.taskId).sort(), afterRestart, 'store and host agree');
  assert.equal(store().allocations.length, POOL);

  // A task after the restart gets a pooled namespace and works.
  const ecs = server.ecs();
  const run = await ecs.send(new RunTaskCommand({ taskDefinition: 'pooled' }));
  const arn = run.tasks![0]!.taskArn!;
  const [t] = await waitAll(ecs, [arn], 'RUNNING');
  assert.ok(afterRestart.includes(taskIdOf(arn)), 'the task took a pooled namespace');
  assert.equal(eth0Address(taskIdOf(arn)), ipOf(t!));
  await ecs.send(new StopTaskCommand({ task: arn }));
  await waitAll(ecs, [arn], 'STOPPED');

  await server.fetch('/skiff/v1/warm-pool/drain', { method: 'POST' });
  assert.deepEqual(hostNamespaces(), []);
  assert.deepEqual(hostVeths(), []);
  assert.deepEqual(store().allocations, []);
});
