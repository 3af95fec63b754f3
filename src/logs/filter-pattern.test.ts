import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FilterPatternError, matchesFilter, parseFilterPattern } from './filter-pattern.ts';

const m = (pattern: string, message: string) => matchesFilter(parseFilterPattern(pattern), message);

test('plain terms: every term must occur, case-sensitive', () => {
  assert.equal(m('ERROR', 'an ERROR happened'), true);
  assert.equal(m('ERROR', 'an error happened'), false);
  assert.equal(m('ERROR disk', 'ERROR: disk full'), true);
  assert.equal(m('ERROR disk', 'ERROR: memory'), false);
});

test('empty and "" patterns match everything', () => {
  assert.equal(m('', 'anything'), true);
  assert.equal(m('""', 'anything'), true);
  assert.equal(m('   ', 'anything'), true);
});

test('quoted phrases match as written, with escapes', () => {
  assert.equal(m('"disk full"', 'ERROR: disk full now'), true);
  assert.equal(m('"disk full"', 'full disk'), false);
  assert.equal(m('"say \\"hi\\""', 'they say "hi" to you'), true);
  assert.equal(m('"a b" c', 'c then a b'), true);
});

test('?terms are OR-ed', () => {
  assert.equal(m('?ERROR ?WARN', 'WARN low disk'), true);
  assert.equal(m('?ERROR ?WARN', 'ERROR boom'), true);
  assert.equal(m('?ERROR ?WARN', 'INFO fine'), false);
  assert.equal(m('?"disk full" ?oom', 'the disk full'), true);
});

test('-terms exclude', () => {
  assert.equal(m('ERROR -Retry', 'ERROR: giving up'), true);
  assert.equal(m('ERROR -Retry', 'ERROR: Retry in 5s'), false);
  assert.equal(m('-"health check"', 'GET /health-check'), true);
  assert.equal(m('-"health check"', 'GET health check ok'), false);
});

test('plain, OR and exclusion combine', () => {
  const p = 'req ?500 ?503 -healthz';
  assert.equal(m(p, 'req /a 500'), true);
  assert.equal(m(p, 'req /a 200'), false);
  assert.equal(m(p, 'req /healthz 503'), false);
  assert.equal(m(p, '/a 500'), false);
});

test('a lone ? or - is a literal term', () => {
  assert.equal(m('a - b', 'a - b'), true);
  assert.equal(m('a - b', 'a b'), false);
});

test('unsupported and malformed patterns are refused with what to do', () => {
  assert.throws(() => parseFilterPattern('{ $.level = "error" }'), FilterPatternError);
  assert.throws(() => parseFilterPattern('[ip, user, ...]'), /space-delimited/);
  assert.throws(() => parseFilterPattern('%ERR.*%'), /regex/);
  assert.throws(() => parseFilterPattern('"unterminated'), /unterminated quoted phrase/);
  assert.throws(() => parseFilterPattern('x'.repeat(1025)), /at most 1024/);
});
