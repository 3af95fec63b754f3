/** The load balancers kept in step with a (fake) store, against real loopback HTTP targets. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TaskRecord } from '../model/task-record.ts';
import { LoadBalancers, listenerTargets, type LoadBalancedService } from './load-balancers.ts';

const closers: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of closers) await c();
});

async function backend(name: string): Promise<number> {
  const server = http.createServer((_req, res) => res.end(name));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => (server.closeAllConnections(), server.close(r))));
  return (server.address() as AddressInfo).port;
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    }).on('error', reject);
  });
}

/** A task record as far as the target rule reads it; targets are told apart by port here (one host, 127.0.0.1). */
const task = (id: string, over: Partial<TaskRecord> = {}) =>
  ({ id, desiredStatus: 'RUNNING', lastStatus: 'RUNNING', containers: [{ essential: true }], network: { ipv4: '127.0.0.1' }, ...over }) as TaskRecord;

const until = async (fn: () => Promise<boolean>) => {
  for (let i = 0; i < 100 && !(await fn()); i++) await new Promise((r) => setTimeout(r, 20));
};

test('a listener is rebuilt from the store on its stored port; drain waits the service delay; events in ECS words', async () => {
  const port = await backend('a'); // the task's container port (one backend: every task "is" 127.0.0.1:port)
  const listenerPort = await freePort();
  const events: string[] = [];
  const tasks = [task('t1')];
  const svc = (): LoadBalancedService => ({
    id: 's1',
    name: 'web',
    arn: 'arn:svc',
    loadBalancers: [{ loadBalancerName: 'web-lb', containerName: 'web', containerPort: port, listenerPort }],
    deregistrationDelaySeconds: 0.3,
    tasks,
  });
  const source = { services: () => [svc()], addEvents: (_id: string, m: string[]) => events.push(...m) };
  const lbs = new LoadBalancers(source, { host: '127.0.0.1', deregistrationDelaySeconds: 300, syncIntervalMs: 50 }, () => {});
  closers.push(() => lbs.close());
  lbs.start();
  await until(async () => (await get(listenerPort).catch(() => '')) === '200 a');
  assert.equal(await get(listenerPort), '200 a');
  assert.equal(lbs.describe()[0].listener, `127.0.0.1:${listenerPort}`);
  assert.equal(lbs.describe()[0].targets[0].state, 'in-service');
  assert.deepEqual(events, ['(service web) registered 1 targets in (load-balancer web-lb)']);

  // The scheduler stored t1 as desired STOPPED and drains it: out of service at once, resolved after 0.3 s.
  tasks[0] = task('t1', { desiredStatus: 'STOPPED' });
  const t0 = Date.now();
  const drained = lbs.drain('s1', 't1');
  assert.equal(lbs.describe()[0].targets[0].state, 'draining');
  assert.equal(await get(listenerPort), '503 Service Unavailable: no healthy targets.\n');
  await drained;
  assert.ok(Date.now() - t0 >= 290, `${Date.now() - t0} ms`);
  assert.deepEqual(lbs.describe()[0].targets, []);
  await until(async () => events.length === 3);
  assert.deepEqual(events.slice(1), ['(service web) has begun draining connections on 1 tasks.', '(service web) deregistered 1 targets in (load-balancer web-lb)']);
  assert.equal(await lbs.drain('s1', 'unknown').then(() => 'at once'), 'at once');

  // A task with a health check joins only once HEALTHY.
  const hc = { command: ['CMD', 'true'], interval: 5, timeout: 2, retries: 1 };
  tasks[0] = task('t2', { containers: [{ essential: true, healthCheck: hc } as TaskRecord['containers'][0]] });
  lbs.wake();
  assert.deepEqual(lbs.describe()[0].targets.map((t) => [t.id, t.state, t.health]), [['t2', 'out-of-service', 'initial']], 'listed, but no target yet');
  assert.equal(await get(listenerPort), '503 Service Unavailable: no healthy targets.\n');
  tasks[0] = task('t2', { containers: [{ essential: true, healthCheck: hc, healthStatus: 'HEALTHY' } as TaskRecord['containers'][0]] });
  lbs.wake();
  assert.deepEqual(lbs.describe()[0].targets.map((t) => [t.id, t.state, t.health]), [['t2', 'in-service', 'healthy']]);

  // A service gone: its listener closes.
  source.services = () => [];
  tasks.length = 0;
  lbs.wake();
  await until(async () => lbs.describe().length === 0);
  await until(async () => (await get(listenerPort).then(() => 'open', () => 'closed')) === 'closed');
  assert.equal(await get(listenerPort).then(() => 'open', () => 'closed'), 'closed');
});

test('reservePort: a free port, or the requested one when it can be bound', async () => {
  const lbs = new LoadBalancers({ services: () => [] }, { host: '127.0.0.1', deregistrationDelaySeconds: 1, syncIntervalMs: 1000 }, () => {});
  closers.push(() => lbs.close());
  assert.ok((await lbs.reservePort()) > 0);
  const busy = await backend('busy');
  await assert.rejects(lbs.reservePort(busy), /cannot be bound \(EADDRINUSE\)/);
});

test('listenerTargets: targets with their health, then RUNNING tasks not in service (initial or unhealthy)', () => {
  const checked = (status?: 'HEALTHY' | 'UNHEALTHY') => [{ essential: true, healthCheck: { command: ['CMD', 'true'], interval: 5, timeout: 2, retries: 1 }, healthStatus: status }];
  const tasks = [
    task('a'),
    task('b'),
    task('c', { containers: checked() as never }),
    task('d', { containers: checked('UNHEALTHY') as never }),
    task('e', { desiredStatus: 'STOPPED' }),
    task('f', { lastStatus: 'PENDING' }),
  ];
  const views = listenerTargets(
    [
      { id: 'a', address: '127.0.0.1:80', state: 'in-service', health: 'healthy', inFlight: 1, requests: 5 },
      { id: 'b', address: '127.0.0.1:80', state: 'draining', health: 'healthy', inFlight: 0, requests: 2, drainEndsAt: 99 },
    ],
    tasks,
    80,
  );
  assert.deepEqual(
    views.map((v) => [v.id, v.state, v.health]),
    [
      ['a', 'in-service', 'healthy'],
      ['b', 'draining', 'draining'],
      ['c', 'out-of-service', 'initial'],
      ['d', 'out-of-service', 'unhealthy'],
    ],
  );
  assert.equal(views[2].address, '127.0.0.1:80');
});
