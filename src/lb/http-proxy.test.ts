/** The listener against real loopback HTTP servers as targets (no root needed). */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpListener } from './http-proxy.ts';

interface Backend {
  name: string;
  port: number;
  server: http.Server;
  hits: number;
}
const opened: { close(): unknown }[] = [];
after(async () => {
  for (const o of opened) await o.close();
});

/** A target answering its name; `/slow` after 300 ms; echoes POST bodies. A short keep-alive provokes the reuse race. */
async function backend(name: string, keepAliveMs = 5000): Promise<Backend> {
  const b: Backend = { name, port: 0, hits: 0, server: undefined as unknown as http.Server };
  b.server = http.createServer((req, res) => {
    b.hits++;
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const send = () => res.end(`${name} ${req.method} ${body} xff=${req.headers['x-forwarded-for']} port=${req.headers['x-forwarded-port']}`);
      if (req.url === '/slow') setTimeout(send, 300);
      else if (req.url !== '/hang') send();
    });
  });
  b.server.keepAliveTimeout = keepAliveMs;
  await new Promise<void>((r) => b.server.listen(0, '127.0.0.1', r));
  b.port = (b.server.address() as AddressInfo).port;
  opened.push({ close: () => new Promise<void>((r) => (b.server.closeAllConnections(), b.server.close(() => r()))) });
  return b;
}

async function listener(idleTimeoutMs?: number): Promise<HttpListener> {
  const l = new HttpListener({ host: '127.0.0.1', port: 0, connectTimeoutMs: 1000, idleTimeoutMs });
  await l.listen();
  opened.push(l);
  return l;
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 2 });
opened.push({ close: () => keepAlive.destroy() });

function get(port: number, path = '/', agent: http.Agent | false = keepAlive, method = 'GET', body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent, method, headers: body ? { 'content-length': Buffer.byteLength(body) } : {} }, (res) => {
      let data = '';
      res.on('data', (d) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('requests spread round robin over the targets, with X-Forwarded headers; a body is forwarded', async () => {
  const [a, b] = [await backend('a'), await backend('b')];
  const l = await listener();
  l.setTargets([{ id: 'a', host: '127.0.0.1', port: a.port }, { id: 'b', host: '127.0.0.1', port: b.port }], 1000);
  const bodies = await Promise.all(Array.from({ length: 10 }, () => get(l.port)));
  assert.ok(bodies.every((r) => r.status === 200));
  assert.equal(bodies.filter((r) => r.body.startsWith('a ')).length, 5);
  assert.equal(bodies.filter((r) => r.body.startsWith('b ')).length, 5);
  assert.match(bodies[0].body, new RegExp(`xff=127.0.0.1 port=${l.port}$`));
  const post = await get(l.port, '/', false, 'POST', 'hello');
  assert.match(post.body, /^[ab] POST hello /);
});

test('no target in service: 503', async () => {
  const l = await listener();
  const r = await get(l.port, '/', false);
  assert.equal(r.status, 503);
  assert.match(r.body, /no healthy targets/);
});

test('a target that refuses connections is skipped: the request goes to another, none fails', async () => {
  const a = await backend('a');
  const dead = await backend('dead');
  const deadPort = dead.port;
  await new Promise<void>((r) => dead.server.close(() => r()));
  const l = await listener();
  l.setTargets([{ id: 'a', host: '127.0.0.1', port: a.port }, { id: 'dead', host: '127.0.0.1', port: deadPort }], 1000);
  const results = [];
  for (let i = 0; i < 10; i++) results.push(await get(l.port, '/', false));
  assert.deepEqual(new Set(results.map((r) => r.status)), new Set([200]));
  assert.ok(results.every((r) => r.body.startsWith('a ')));
  l.setTargets([{ id: 'dead', host: '127.0.0.1', port: deadPort }], 0);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal((await get(l.port, '/', false)).status, 502, 'the only target is down: Bad Gateway');
});

test('deregistering drains: no new requests, in-flight ones finish, resolved after the delay', async () => {
  const [a, b] = [await backend('a'), await backend('b')];
  const l = await listener();
  l.setTargets([{ id: 'a', host: '127.0.0.1', port: a.port }, { id: 'b', host: '127.0.0.1', port: b.port }], 1000);
  // One slow request on each target, then deregister a while its request is in flight.
  const slow = [get(l.port, '/slow', false), get(l.port, '/slow', false)];
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(l.targetsView().find((t) => t.id === 'a')?.inFlight, 1);
  const t0 = Date.now();
  let drained = false;
  const done = l.deregister('a', 600).then(() => (drained = true));
  assert.equal(l.targetsView().find((t) => t.id === 'a')?.state, 'draining');
  const hitsBefore = a.hits;
  const during = await Promise.all(Array.from({ length: 8 }, () => get(l.port)));
  assert.ok(during.every((r) => r.status === 200 && r.body.startsWith('b ')), 'new requests go to b only');
  assert.equal(a.hits, hitsBefore, 'a got no new request');
  const slowDone = await Promise.all(slow);
  assert.ok(slowDone.every((r) => r.status === 200), 'the in-flight request on a finished');
  assert.equal(drained, false, 'the delay has not passed yet');
  await done;
  assert.ok(Date.now() - t0 >= 590, `drain waited the delay (${Date.now() - t0} ms)`);
  assert.deepEqual(l.targetsView().map((t) => t.id), ['b']);
  assert.equal(await l.deregister('nope', 10_000).then(() => 'at once'), 'at once', 'an unknown target has nothing to drain');
});

test('targets replaced under continuous load (keep-alive and new connections, targets with short keep-alive): zero failed requests', async () => {
  const l = await listener();
  const olds = [await backend('old1', 30), await backend('old2', 30)];
  const news = [await backend('new1', 30), await backend('new2', 30)];
  const t = (b: Backend) => ({ id: b.name, host: '127.0.0.1', port: b.port });
  l.setTargets(olds.map(t), 300);
  let stop = false;
  const failures: string[] = [];
  const seen: string[] = [];
  const client = async (agent: http.Agent | false) => {
    while (!stop) {
      try {
        const r = await get(l.port, '/', agent);
        if (r.status !== 200) failures.push(`${r.status} ${r.body}`);
        else seen.push(r.body.split(' ')[0]);
      } catch (err) {
        failures.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, Math.random() * 40)); // lets pooled upstream connections idle out
    }
  };
  const clients = [client(keepAlive), client(keepAlive), client(false)];
  await new Promise((r) => setTimeout(r, 300));
  // Rolling: one new in, one old drained and only then closed, and again.
  for (let i = 0; i < 2; i++) {
    l.register(t(news[i]));
    await l.deregister(olds[i].name, 300);
    await new Promise<void>((r) => (olds[i].server.closeAllConnections(), olds[i].server.close(() => r())));
  }
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await Promise.all(clients);
  assert.deepEqual(failures, []);
  assert.ok(seen.length > 50, `requests sent: ${seen.length}`);
  assert.ok(seen.slice(-10).every((s) => s.startsWith('new')), 'the last responses come from the new targets');
});

test('an upgrade (WebSocket) request is tunnelled to one target, counted in flight while open', async () => {
  const echo = http.createServer();
  echo.on('upgrade', (req, socket) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\nX-Seen-Forwarded-For: ${req.headers['x-forwarded-for']}\r\n\r\n`);
    socket.pipe(socket);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  opened.push({ close: () => new Promise<void>((r) => (echo.closeAllConnections(), echo.close(() => r()))) });
  const l = await listener();
  l.setTargets([{ id: 'e', host: '127.0.0.1', port: (echo.address() as AddressInfo).port }], 1000);
  const { res, socket } = await new Promise<{ res: http.IncomingMessage; socket: import('node:net').Socket }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: l.port, agent: false, headers: { Connection: 'Upgrade', Upgrade: 'echo' } });
    req.on('upgrade', (res, socket) => resolve({ res, socket }));
    req.on('error', reject);
    req.end();
  });
  assert.equal(res.statusCode, 101);
  assert.equal(res.headers['x-seen-forwarded-for'], '127.0.0.1');
  assert.equal(l.targetsView()[0].inFlight, 1);
  const echoed = new Promise<string>((r) => socket.once('data', (d) => r(String(d))));
  socket.write('ping');
  assert.equal(await echoed, 'ping');
  socket.destroy();
  for (let i = 0; i < 50 && l.targetsView()[0].inFlight > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(l.targetsView()[0].inFlight, 0);
});

test('a target silent for the idle timeout: 504, and the request no longer counts in flight', async () => {
  const a = await backend('a');
  const l = await listener(300);
  l.setTargets([{ id: 'a', host: '127.0.0.1', port: a.port }], 1000);
  const r = await get(l.port, '/hang', false);
  assert.equal(r.status, 504);
  assert.equal(l.targetsView()[0].inFlight, 0);
});

test('health check: initial targets get nothing until they pass; unhealthy ones leave rotation; all unhealthy fails open', async () => {
  const healthy = new Map<string, boolean>([['a', true], ['b', false]]);
  const mk = async (name: string) => {
    const s = http.createServer((req, res) => {
      if (req.url === '/health') res.statusCode = healthy.get(name) ? 200 : 500;
      res.end(name);
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    opened.push({ close: () => new Promise<void>((r) => (s.closeAllConnections(), s.close(() => r()))) });
    return (s.address() as AddressInfo).port;
  };
  const [pa, pb] = [await mk('a'), await mk('b')];
  const changes: string[] = [];
  const l = new HttpListener({ host: '127.0.0.1', port: 0, onHealthChange: (id, h) => changes.push(`${id} ${h.state}`) });
  await l.listen();
  opened.push(l);
  l.setHealthCheck({ path: '/health', intervalSeconds: 0.1, timeoutSeconds: 1, healthyThreshold: 2, unhealthyThreshold: 2, matcher: '200' });
  l.setTargets([{ id: 'a', host: '127.0.0.1', port: pa }, { id: 'b', host: '127.0.0.1', port: pb }], 1000);
  assert.deepEqual(l.targetsView().map((t) => t.health), ['initial', 'initial']);
  assert.equal((await get(l.port, '/', false)).status, 503, 'no target has passed a check yet');
  const until = async (what: string, fn: () => boolean) => {
    for (let i = 0; i < 200 && !fn(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(fn(), what);
  };
  const health = (id: string) => l.targetsView().find((t) => t.id === id)?.health;
  await until('a healthy, b unhealthy', () => health('a') === 'healthy' && health('b') === 'unhealthy');
  const b = l.targetsView().find((t) => t.id === 'b')!;
  assert.equal(b.healthReason, 'Target.ResponseCodeMismatch');
  assert.equal(b.healthDescription, 'Health checks failed with these codes: [500]');
  const only = await Promise.all(Array.from({ length: 6 }, () => get(l.port, '/', false)));
  assert.deepEqual(only.map((r) => r.body), Array(6).fill('a'), 'only the healthy target');
  // a fails too: every target unhealthy, so both get requests (ALB fails open).
  healthy.set('a', false);
  await until('a unhealthy', () => health('a') === 'unhealthy');
  const open = await Promise.all(Array.from({ length: 6 }, () => get(l.port, '/', false)));
  assert.deepEqual(open.map((r) => r.body).sort(), ['a', 'a', 'a', 'b', 'b', 'b']);
  // b recovers after two consecutive passes.
  healthy.set('b', true);
  await until('b healthy again', () => health('b') === 'healthy');
  assert.deepEqual((await Promise.all(Array.from({ length: 4 }, () => get(l.port, '/', false)))).map((r) => r.body), Array(4).fill('b'));
  assert.deepEqual(changes, ['a healthy', 'b unhealthy', 'a unhealthy', 'b healthy']);
  // Health check off: every target in service gets requests again.
  l.setHealthCheck(undefined);
  assert.deepEqual(l.targetsView().map((t) => t.health), ['healthy', 'healthy']);
});
