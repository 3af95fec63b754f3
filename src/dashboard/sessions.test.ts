import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionStore } from './sessions.ts';
import { clearedSessionCookie, parseCookies, sessionCookie } from './cookies.ts';
import { LoginThrottle } from './login-throttle.ts';

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

test('a session is found by its token only, and keeps no secret', () => {
  const c = clock();
  const store = new SessionStore({}, c.now);
  const { token, session } = store.create('AKIDEXAMPLE');
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(Object.keys(session).sort(), ['accessKeyId', 'createdAt', 'expiresAt', 'lastUsedAt']);
  assert.equal(store.use(token)?.accessKeyId, 'AKIDEXAMPLE');
  assert.equal(store.use(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A')), undefined);
  assert.equal(store.use(undefined), undefined);
  assert.equal(store.use('short'), undefined);
  assert.notEqual(store.create('AKIDEXAMPLE').token, token, 'every login gets a fresh token');
});

test('a session ends after idleMs unused, but use keeps it alive until maxAgeMs', () => {
  const c = clock();
  const store = new SessionStore({ idleMs: 1000, maxAgeMs: 5000 }, c.now);
  const idle = store.create('A').token;
  const busy = store.create('B').token;
  for (let i = 0; i < 4; i++) {
    c.t += 900;
    assert.ok(store.use(busy), `used every 900 ms: alive at ${i}`);
  }
  assert.equal(store.use(idle), undefined, 'idle for 3600 ms: ended');
  c.t += 900; // 4500 ms after login
  assert.ok(store.use(busy));
  c.t += 600; // 5100 ms after login
  assert.equal(store.use(busy), undefined, 'past maxAgeMs even though used');
  assert.equal(store.size, 0);
});

test('logout ends one session; endAllOf ends every session of a key; the oldest unused goes when full', () => {
  const c = clock();
  const store = new SessionStore({ maxSessions: 2 }, c.now);
  const a = store.create('K1').token;
  const b = store.create('K1').token;
  assert.equal(store.end(a), true);
  assert.equal(store.end(a), false);
  assert.equal(store.use(a), undefined);
  store.endAllOf('K1');
  assert.equal(store.use(b), undefined);
  const x = store.create('X').token;
  c.t += 1;
  const y = store.create('Y').token;
  c.t += 1;
  store.use(x); // x used more recently than y
  const z = store.create('Z').token;
  assert.ok(store.use(x) && store.use(z));
  assert.equal(store.use(y), undefined, 'least recently used evicted');
});

test('the cookie is HttpOnly, SameSite=Strict, scoped to /dashboard, Secure over HTTPS', () => {
  const v = sessionCookie('tok', { secure: false, maxAgeSec: 3600.7 });
  assert.equal(v, 'skiff_session=tok; Path=/dashboard; Max-Age=3600; HttpOnly; SameSite=Strict');
  assert.match(sessionCookie('tok', { secure: true, maxAgeSec: 1 }), /; Secure$/);
  assert.match(clearedSessionCookie({ secure: false }), /^skiff_session=; Path=\/dashboard; Max-Age=0; HttpOnly; SameSite=Strict$/);
  assert.deepEqual(parseCookies('a=1; skiff_session=abc; b="q"; skiff_session=later; junk'), { a: '1', skiff_session: 'abc', b: 'q' });
  assert.deepEqual(parseCookies(undefined), {});
});

test('login throttle: 3 failures in the window lock the address out until the window passes; success resets', () => {
  const c = clock();
  const t = new LoginThrottle({ maxFailures: 3, windowMs: 10_000 }, c.now);
  t.failed('1.2.3.4');
  t.failed('1.2.3.4');
  assert.equal(t.retryAfterMs('1.2.3.4'), 0);
  t.failed('1.2.3.4');
  c.t += 4000;
  assert.equal(t.retryAfterMs('1.2.3.4'), 6000);
  assert.equal(t.retryAfterMs('5.6.7.8'), 0, 'other addresses unaffected');
  c.t += 6000;
  assert.equal(t.retryAfterMs('1.2.3.4'), 0);
  t.failed('9.9.9.9');
  t.succeeded('9.9.9.9');
  t.failed('9.9.9.9');
  t.failed('9.9.9.9');
  assert.equal(t.retryAfterMs('9.9.9.9'), 0);
});
