import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openLogDb } from './log-db.ts';
import { LogStore, type StreamRow } from './log-store.ts';
import { filterLogEvents, getLogEvents } from './log-reads.ts';
import { parseFilterPattern } from './filter-pattern.ts';
import { TokenError, parseStreamToken, streamToken } from './tokens.ts';

function fixture(n: number, opts: { t0?: number } = {}) {
  const store = new LogStore(openLogDb(':memory:'));
  store.createGroup('g', 1);
  const g = store.group('g')!;
  store.createStream(g.id, 's', 1);
  const s = () => store.stream(g.id, 's')!;
  const t0 = opts.t0 ?? 1_000_000;
  store.append(s(), Array.from({ length: n }, (_, i) => ({ ts: t0 + i * 10, message: `line ${i}` })), 5);
  return { store, g, s };
}

const msgs = (r: { events: { message: string }[] }) => r.events.map((e) => e.message);

test('stream tokens round-trip and are bound to their stream', () => {
  const t = streamToken('f', 7, { ts: 123, id: 45 });
  assert.match(t, /^f\/\d{56}$/);
  assert.deepEqual(parseStreamToken(t, 7), { direction: 'f', key: { ts: 123, id: 45 } });
  assert.deepEqual(parseStreamToken(streamToken('b', 7, { ts: -1, id: 0 }), 7).key, { ts: -1, id: 0 });
  assert.throws(() => parseStreamToken(t, 8), TokenError);
  assert.throws(() => parseStreamToken('f/123', 7), TokenError);
});

test('GetLogEvents: startFromHead pages forward; at the end the same forward token comes back', () => {
  const { store, s } = fixture(25);
  const p1 = getLogEvents(store, s(), { startFromHead: true, limit: 10 });
  assert.deepEqual(msgs(p1), Array.from({ length: 10 }, (_, i) => `line ${i}`));
  const p2 = getLogEvents(store, s(), { token: p1.nextForwardToken, limit: 10 });
  assert.deepEqual(msgs(p2)[0], 'line 10');
  const p3 = getLogEvents(store, s(), { token: p2.nextForwardToken, limit: 10 });
  assert.deepEqual(msgs(p3), ['line 20', 'line 21', 'line 22', 'line 23', 'line 24']);
  const p4 = getLogEvents(store, s(), { token: p3.nextForwardToken, limit: 10 });
  assert.deepEqual(p4.events, []);
  assert.equal(p4.nextForwardToken, p3.nextForwardToken, 'nothing new: the same token');
  // New events appear behind the same token.
  store.append(s(), [{ ts: 2_000_000, message: 'late' }], 6);
  const p5 = getLogEvents(store, s(), { token: p4.nextForwardToken, limit: 10 });
  assert.deepEqual(msgs(p5), ['late']);
  assert.equal(p5.events[0].ingestionTime, 6);
});

test('GetLogEvents: without startFromHead the newest events, ascending; backward tokens page to the start', () => {
  const { store, s } = fixture(25);
  const p1 = getLogEvents(store, s(), { limit: 10 });
  assert.deepEqual(msgs(p1), Array.from({ length: 10 }, (_, i) => `line ${15 + i}`));
  const b1 = getLogEvents(store, s(), { token: p1.nextBackwardToken, limit: 10 });
  assert.deepEqual(msgs(b1), Array.from({ length: 10 }, (_, i) => `line ${5 + i}`));
  const b2 = getLogEvents(store, s(), { token: b1.nextBackwardToken, limit: 10 });
  assert.deepEqual(msgs(b2), ['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
  const b3 = getLogEvents(store, s(), { token: b2.nextBackwardToken, limit: 10 });
  assert.deepEqual(b3.events, []);
  assert.equal(b3.nextBackwardToken, b2.nextBackwardToken, 'at the start: the same backward token');
  // Forward from the empty backward page returns to where it was.
  assert.deepEqual(msgs(getLogEvents(store, s(), { token: b3.nextForwardToken, limit: 2 })), ['line 0', 'line 1']);
  // And forward from a page continues after it.
  assert.deepEqual(msgs(getLogEvents(store, s(), { token: b1.nextForwardToken, limit: 1 })), ['line 15']);
});

test('GetLogEvents: startTime inclusive, endTime exclusive; an empty stream gives tokens that pick up later events', () => {
  const { store, s } = fixture(10);
  const r = getLogEvents(store, s(), { startFromHead: true, startTime: 1_000_020, endTime: 1_000_050, limit: 100 });
  assert.deepEqual(msgs(r), ['line 2', 'line 3', 'line 4']);

  const store2 = new LogStore(openLogDb(':memory:'));
  store2.createGroup('g', 1);
  const g = store2.group('g')!;
  store2.createStream(g.id, 'empty', 1);
  const e = () => store2.stream(g.id, 'empty')! as StreamRow;
  const first = getLogEvents(store2, e(), { limit: 10 });
  assert.deepEqual(first.events, []);
  store2.append(e(), [{ ts: 5, message: 'hello' }], 9);
  assert.deepEqual(msgs(getLogEvents(store2, e(), { token: first.nextForwardToken, limit: 10 })), ['hello']);
});

test('GetLogEvents: events with the same timestamp keep their write order', () => {
  const { store, s } = fixture(0);
  store.append(s(), [{ ts: 100, message: 'a' }, { ts: 100, message: 'b' }, { ts: 100, message: 'c' }], 1);
  const p1 = getLogEvents(store, s(), { startFromHead: true, limit: 2 });
  assert.deepEqual(msgs(p1), ['a', 'b']);
  assert.deepEqual(msgs(getLogEvents(store, s(), { token: p1.nextForwardToken, limit: 2 })), ['c']);
});

test('FilterLogEvents: pattern, time range, streams and pagination across streams in time order', () => {
  const store = new LogStore(openLogDb(':memory:'));
  store.createGroup('g', 1);
  const g = store.group('g')!;
  store.createStream(g.id, 'a', 1);
  store.createStream(g.id, 'b', 1);
  const a = store.stream(g.id, 'a')!;
  const b = store.stream(g.id, 'b')!;
  for (let i = 0; i < 20; i++) store.append(i % 2 ? b : a, [{ ts: 100 + i, message: `${i % 3 === 0 ? 'ERROR' : 'INFO'} event ${i}` }], 1);
  const all = parseFilterPattern('');
  const errors = parseFilterPattern('ERROR');
  const r = filterLogEvents(store, g.id, { pattern: errors, limit: 100 });
  assert.deepEqual(msgs(r), [0, 3, 6, 9, 12, 15, 18].map((i) => `ERROR event ${i}`));
  assert.equal(r.nextToken, undefined);
  assert.equal(r.events[1].logStreamName, 'b');
  assert.deepEqual(msgs(filterLogEvents(store, g.id, { pattern: errors, streamIds: [a.id], limit: 100 })), [0, 6, 12, 18].map((i) => `ERROR event ${i}`));
  assert.deepEqual(msgs(filterLogEvents(store, g.id, { pattern: all, startTime: 105, endTime: 107, limit: 100 })), ['INFO event 5', 'ERROR event 6', 'INFO event 7']);
  // Pages of 3, every event exactly once.
  const seen: string[] = [];
  let token: string | undefined;
  for (let i = 0; i < 10; i++) {
    const page = filterLogEvents(store, g.id, { pattern: all, limit: 3, token });
    seen.push(...msgs(page));
    token = page.nextToken;
    if (!token) break;
  }
  assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => `${i % 3 === 0 ? 'ERROR' : 'INFO'} event ${i}`));
  // A small scan budget returns partial pages (maybe empty) with a token, never skipping a match.
  const partial: string[] = [];
  token = undefined;
  for (let i = 0; i < 50; i++) {
    const page = filterLogEvents(store, g.id, { pattern: parseFilterPattern('"event 19"'), limit: 10, token }, 4);
    partial.push(...msgs(page));
    token = page.nextToken;
    if (!token) break;
  }
  assert.deepEqual(partial, ['INFO event 19']);
});

test('retention deletes events older than the group retention; caps trim the oldest events', () => {
  const day = 86_400_000;
  const now = 100 * day;
  const store = new LogStore(openLogDb(':memory:'));
  store.createGroup('kept', 1);
  store.createGroup('short', 1);
  for (const name of ['kept', 'short']) {
    const g = store.group(name)!;
    store.createStream(g.id, 's', 1);
    store.append(store.stream(g.id, 's')!, [
      { ts: now - 3 * day, message: 'three days old' },
      { ts: now - 2 * day, message: 'two days old' },
      { ts: now - 1000, message: 'fresh' },
    ], now);
  }
  store.setRetention('short', 1);
  const before = store.group('short')!.storedBytes;
  assert.equal(store.enforceLimits(now, { streamMaxBytes: 1e9, totalMaxBytes: 1e9 }), 2);
  const short = store.group('short')!;
  assert.deepEqual(msgs(getLogEvents(store, store.stream(short.id, 's')!, { startFromHead: true, limit: 10 })), ['fresh']);
  assert.equal(short.storedBytes, before - (14 + 26) - (12 + 26));
  const kept = store.group('kept')!;
  assert.equal(getLogEvents(store, store.stream(kept.id, 's')!, { startFromHead: true, limit: 10 }).events.length, 3);

  // Per-stream cap: only the newest event fits in 'kept/s'.
  store.enforceLimits(now, { streamMaxBytes: 40, totalMaxBytes: 1e9 });
  assert.deepEqual(msgs(getLogEvents(store, store.stream(kept.id, 's')!, { startFromHead: true, limit: 10 })), ['fresh']);
  // Global cap: nothing fits.
  store.enforceLimits(now, { streamMaxBytes: 1e9, totalMaxBytes: 10 });
  assert.equal(store.totalBytes(), 0);
});

test('streams list by name or by last event time, both directions, with keyset paging', () => {
  const store = new LogStore(openLogDb(':memory:'));
  store.createGroup('g', 1);
  const g = store.group('g')!;
  for (const [name, ts] of [['b', 300], ['a', 100], ['d', null], ['c', 200]] as const) {
    store.createStream(g.id, name, 1);
    if (ts !== null) store.append(store.stream(g.id, name)!, [{ ts, message: 'x' }], 1);
  }
  const names = (rows: { name: string }[]) => rows.map((r) => r.name);
  const page = (orderBy: 'LogStreamName' | 'LastEventTime', descending: boolean) => {
    const out: string[] = [];
    let after: { name: string; lastEventTs: number | null } | undefined;
    for (;;) {
      const rows = store.listStreams(g.id, { orderBy, descending, after, limit: 3 });
      out.push(...names(rows.slice(0, 2)));
      if (rows.length <= 2) return out;
      const last = rows[1];
      after = { name: last.name, lastEventTs: last.lastEventTs };
    }
  };
  assert.deepEqual(page('LogStreamName', false), ['a', 'b', 'c', 'd']);
  assert.deepEqual(page('LogStreamName', true), ['d', 'c', 'b', 'a']);
  assert.deepEqual(page('LastEventTime', false), ['d', 'a', 'c', 'b'], 'a stream without events first');
  assert.deepEqual(page('LastEventTime', true), ['b', 'c', 'a', 'd']);
  assert.deepEqual(names(store.listStreams(g.id, { orderBy: 'LogStreamName', descending: false, prefix: 'c', limit: 10 })), ['c']);
});
