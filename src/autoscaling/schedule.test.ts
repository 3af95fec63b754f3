import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dueInstant, isValidTimezone, parseSchedule, ScheduleError, zonedInstant } from './schedule.ts';

const T = (iso: string) => Date.parse(iso);

test('at(): due once its instant has passed, in UTC or the given time zone', () => {
  const s = parseSchedule('at(2026-11-27T14:30:00)');
  const base = T('2026-11-27T00:00:00Z');
  assert.equal(dueInstant(s, { since: base, now: T('2026-11-27T14:29:59Z'), base }), undefined);
  assert.equal(dueInstant(s, { since: base, now: T('2026-11-27T14:30:00Z'), base }), T('2026-11-27T14:30:00Z'));
  assert.equal(dueInstant(s, { since: T('2026-11-27T14:30:00Z'), now: T('2026-11-27T15:00:00Z'), base }), undefined, 'not again');
  // New York is UTC-5 in November.
  assert.equal(dueInstant(s, { since: base, now: T('2026-11-27T19:30:00Z'), base, timezone: 'America/New_York' }), T('2026-11-27T19:30:00Z'));
  assert.equal(zonedInstant({ year: 2026, month: 7, day: 1, hour: 12, minute: 0, second: 0 }, 'Europe/Berlin'), T('2026-07-01T10:00:00Z'), 'summer time');
  // Outside [StartTime, EndTime]: not due.
  assert.equal(dueInstant(s, { since: base, now: T('2026-11-28T00:00:00Z'), base, endTime: T('2026-11-27T12:00:00Z') }), undefined);
});

test('rate(): every N units from the base', () => {
  const s = parseSchedule('rate(5 minutes)');
  const base = T('2026-01-01T00:00:00Z');
  assert.equal(dueInstant(s, { since: base, now: T('2026-01-01T00:04:59Z'), base }), undefined);
  assert.equal(dueInstant(s, { since: base, now: T('2026-01-01T00:12:00Z'), base }), T('2026-01-01T00:10:00Z'), 'the latest missed run only');
  assert.equal(dueInstant(s, { since: T('2026-01-01T00:10:00Z'), now: T('2026-01-01T00:12:00Z'), base }), undefined);
  assert.deepEqual(parseSchedule('rate(1 hour)'), { kind: 'rate', everyMs: 3_600_000 });
  assert.deepEqual(parseSchedule('rate(2 days)'), { kind: 'rate', everyMs: 2 * 86_400_000 });
});

test('cron(): AWS six fields, names, ranges, steps, L and #, in a time zone', () => {
  const weekdays9 = parseSchedule('cron(0 9 ? * MON-FRI *)');
  // 2026-11-27 is a Friday, 2026-11-28 a Saturday.
  const since = T('2026-11-27T08:00:00Z');
  assert.equal(dueInstant(weekdays9, { since, now: T('2026-11-27T09:00:30Z'), base: since }), T('2026-11-27T09:00:00Z'));
  assert.equal(dueInstant(weekdays9, { since: T('2026-11-28T08:00:00Z'), now: T('2026-11-28T09:30:00Z'), base: since }), undefined, 'not on Saturday');
  assert.equal(
    dueInstant(weekdays9, { since, now: T('2026-11-27T14:00:30Z'), base: since, timezone: 'America/New_York' }),
    T('2026-11-27T14:00:00Z'),
    '9:00 in New York',
  );
  const every15 = parseSchedule('cron(*/15 * * * ? *)');
  assert.equal(dueInstant(every15, { since, now: T('2026-11-27T08:31:00Z'), base: since }), T('2026-11-27T08:30:00Z'));
  const lastDay = parseSchedule('cron(0 0 L * ? *)');
  assert.equal(dueInstant(lastDay, { since: T('2026-02-27T00:00:00Z'), now: T('2026-02-28T00:00:00Z'), base: 0 }), T('2026-02-28T00:00:00Z'));
  const secondMonday = parseSchedule('cron(30 6 ? * 2#2 *)'); // 2026-11-09 is the second Monday
  assert.equal(dueInstant(secondMonday, { since: T('2026-11-09T00:00:00Z'), now: T('2026-11-09T07:00:00Z'), base: 0 }), T('2026-11-09T06:30:00Z'));
  assert.equal(dueInstant(secondMonday, { since: T('2026-11-02T00:00:00Z'), now: T('2026-11-02T07:00:00Z'), base: 0 }), undefined);
  const lastFriday = parseSchedule('cron(0 12 ? * 6L 2026)');
  assert.equal(dueInstant(lastFriday, { since: T('2026-11-27T00:00:00Z'), now: T('2026-11-27T13:00:00Z'), base: 0 }), T('2026-11-27T12:00:00Z'));
  assert.equal(dueInstant(lastFriday, { since: T('2026-11-20T00:00:00Z'), now: T('2026-11-20T13:00:00Z'), base: 0 }), undefined);
});

test('bad expressions and time zones are rejected with a message that says what to fix', () => {
  for (const bad of ['at(2026-02-30T00:00:00)', 'at(tomorrow)', 'rate(0 minutes)', 'rate(5 weeks)', 'rate(1 minutes)', 'cron(0 9 * * MON *)', 'cron(0 9 * *)', 'cron(61 * * * ? *)', 'cron(0 9 1W * ? *)', 'every day']) {
    assert.throws(() => parseSchedule(bad), ScheduleError, bad);
  }
  assert.equal(isValidTimezone('Europe/Paris'), true);
  assert.equal(isValidTimezone('Mars/Olympus'), false);
});
