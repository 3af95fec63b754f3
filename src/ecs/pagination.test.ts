import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../api/errors.ts';
import { pageOf, paginate, resolveMaxResults } from './pagination.ts';

const items = Array.from({ length: 250 }, (_, i) => `item-${String(i).padStart(3, '0')}`);
const opts = { defaultMax: 100, query: { op: 'ListTasks', cluster: 'default' } };

function expectInvalid(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof ApiError && e.code === 'InvalidParameterException' && re.test(e.message));
}

test('walks every page once, in order, with the default size', () => {
  const seen: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const r = paginate(items, undefined, token, opts);
    seen.push(...r.page);
    token = r.nextToken;
    pages++;
    assert.ok(r.page.length <= 100);
  } while (token);
  assert.equal(pages, 3);
  assert.deepEqual(seen, items);
});

test('maxResults sets the page size; last page has no token', () => {
  const a = paginate(items, 10, undefined, opts);
  assert.deepEqual(a.page, items.slice(0, 10));
  assert.ok(a.nextToken && /^[A-Za-z0-9_-]+$/.test(a.nextToken));
  const b = paginate(items, 10, a.nextToken, opts);
  assert.deepEqual(b.page, items.slice(10, 20));
  const last = paginate(items.slice(0, 5), 5, undefined, opts);
  assert.equal(last.nextToken, undefined);
  assert.deepEqual(paginate([], 5, undefined, opts), { page: [] });
  assert.equal(paginate(items, undefined, undefined, { defaultMax: 10 }).page.length, 10);
});

test('maxResults outside 1..100 is InvalidParameterException', () => {
  for (const bad of [0, -1, 101, 1.5]) expectInvalid(() => paginate(items, bad, undefined, opts), /maxResults must be an integer from 1 to 100/);
  assert.equal(resolveMaxResults(100, 10), 100);
  assert.equal(resolveMaxResults(1, 10), 1);
  assert.equal(resolveMaxResults(undefined, 10), 10);
});

test('tokens from another query, or altered, are rejected', () => {
  const { nextToken } = paginate(items, 10, undefined, opts);
  expectInvalid(() => paginate(items, 10, nextToken, { defaultMax: 100, query: { op: 'ListTasks', cluster: 'other' } }), /Invalid nextToken/);
  expectInvalid(() => paginate(items, 10, 'garbage!', opts), /Invalid nextToken/);
  expectInvalid(() => paginate(items, 10, Buffer.from('{"v":1,"o":-3,"q":"x"}').toString('base64url'), opts), /Invalid nextToken/);
  expectInvalid(() => paginate(items, 10, nextToken!.slice(0, -3), opts), /Invalid nextToken/);
  // Same query with keys in another order is the same query.
  assert.deepEqual(paginate(items, 10, nextToken, { defaultMax: 100, query: { cluster: 'default', op: 'ListTasks' } }).page, items.slice(10, 20));
});

test('a shrunken list ends cleanly in offset mode', () => {
  const { nextToken } = paginate(items, 100, undefined, opts);
  assert.deepEqual(paginate(items.slice(0, 50), 100, nextToken, opts), { page: [] });
});

test('key mode neither repeats nor skips when earlier items disappear', () => {
  const k = { ...opts, keyOf: (s: string) => s };
  const first = paginate(items, 10, undefined, k);
  assert.deepEqual(first.page, items.slice(0, 10));
  const shrunk = items.filter((_, i) => i % 2 === 1 || i >= 10); // half of page 1 stopped meanwhile
  const second = paginate(shrunk, 10, first.nextToken, k);
  assert.deepEqual(second.page, items.slice(10, 20));
  // An offset token is not a key token.
  expectInvalid(() => paginate(items, 10, paginate(items, 10, undefined, opts).nextToken, k), /Invalid nextToken/);
});

test('pageOf pages another protocol: its own page size, its own error for a bad token', () => {
  class TokenRefused extends Error {}
  const o = { query: ['targets', 'ecs'], invalidToken: () => new TokenRefused('bad token') };
  const first = pageOf(items, 50, undefined, o);
  assert.deepEqual(first.page, items.slice(0, 50));
  assert.deepEqual(pageOf(items, 50, first.nextToken, o).page, items.slice(50, 100));
  assert.throws(() => pageOf(items, 50, 'bogus', o), TokenRefused);
  assert.throws(() => pageOf(items, 50, first.nextToken, { ...o, query: ['targets', 'other'] }), TokenRefused, 'bound to its query');
  assert.equal(pageOf(items, 250, undefined, o).nextToken, undefined, 'one page holds all: no token');
});
