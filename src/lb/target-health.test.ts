/** ALB target health: the state machine, and the probe against real loopback HTTP servers. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterCheck, initialHealth, probe, type HealthTrack } from './target-health.ts';

const servers: http.Server[] = [];
after(() => {
  for (const s of servers) (s.closeAllConnections(), s.close());
});

async function serve(handler: http.RequestListener): Promise<number> {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

const hc = { healthyThreshold: 3, unhealthyThreshold: 2 };
const ok = { ok: true };
const bad = { ok: false, reason: 'Target.ResponseCodeMismatch', description: 'Health checks failed with these codes: [500]' };
const walk = (h: HealthTrack, results: { ok: boolean }[]) => results.reduce((acc, r) => afterCheck(acc, r, hc), h).state;

test('initial → healthy after one pass; → unhealthy after the unhealthy threshold; back after the healthy threshold', () => {
  assert.equal(walk(initialHealth(), [ok]), 'healthy');
  assert.equal(walk(initialHealth(), [bad]), 'initial');
  assert.equal(walk(initialHealth(), [bad, bad]), 'unhealthy');
  assert.equal(walk(initialHealth(), [ok, bad]), 'healthy');
  assert.equal(walk(initialHealth(), [ok, bad, ok, bad]), 'healthy', 'failures must be consecutive');
  assert.equal(walk(initialHealth(), [ok, bad, bad]), 'unhealthy');
  assert.equal(walk(initialHealth(), [ok, bad, bad, ok, ok]), 'unhealthy');
  assert.equal(walk(initialHealth(), [ok, bad, bad, ok, bad, ok, ok]), 'unhealthy', 'successes must be consecutive');
  assert.equal(walk(initialHealth(), [ok, bad, bad, ok, ok, ok]), 'healthy');
  const h = afterCheck(afterCheck(initialHealth(), bad, hc), bad, hc);
  assert.equal(h.reason, 'Target.ResponseCodeMismatch');
  assert.equal(h.description, 'Health checks failed with these codes: [500]');
});

test('probe: the matcher decides; timeouts and refused connections fail with ELB reason codes', async () => {
  const port = await serve((req, res) => {
    if (req.url === '/hang') return;
    res.statusCode = req.url === '/ok' ? 200 : req.url === '/moved' ? 302 : 404;
    res.end();
  });
  const at = (path: string, matcher = '200', timeoutSeconds = 1) => probe('127.0.0.1', port, { path, matcher, timeoutSeconds });
  assert.deepEqual(await at('/ok'), { ok: true });
  assert.deepEqual(await at('/nope'), { ok: false, reason: 'Target.ResponseCodeMismatch', description: 'Health checks failed with these codes: [404]' });
  assert.deepEqual(await at('/moved', '200,302'), { ok: true });
  assert.deepEqual(await at('/nope', '200-499'), { ok: true });
  const t0 = Date.now();
  assert.deepEqual(await at('/hang'), { ok: false, reason: 'Target.Timeout', description: 'Request timed out' });
  assert.ok(Date.now() - t0 >= 900, 'waited the timeout');
  const closed = await serve(() => {});
  servers.at(-1)!.close();
  await new Promise((r) => setTimeout(r, 50));
  const refused = await probe('127.0.0.1', closed, { path: '/', matcher: '200', timeoutSeconds: 1 });
  assert.equal(refused.ok, false);
  assert.equal(refused.reason, 'Target.FailedHealthChecks');
  assert.match(refused.description!, /ECONNREFUSED/);
});
