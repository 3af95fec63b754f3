import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClockReader, parseAdjtimexPrint, parseChronyTracking, parseTimedatectl } from './clock-status.ts';

const NOW = Date.parse('2026-12-07T22:00:00Z');

test('chronyc tracking: synchronized with the ECS agent\'s bound (|offset| + delay/2 + dispersion, ms) and chrony\'s reference time', () => {
  const synced = parseChronyTracking('A9FEA97B,169.254.169.123,4,1765144800.5,0.000010,0.000002,0.000020,-1.5,0.0,0.1,0.000400,0.000300,16.2,Normal\n');
  assert.equal(synced?.ClockSynchronizationStatus, 'SYNCHRONIZED');
  assert.ok(Math.abs(synced!.ClockErrorBound! - 0.51) < 1e-9, `bound ${synced?.ClockErrorBound}`);
  assert.equal(synced?.ReferenceTimestamp, new Date(1765144800500).toISOString());
  const unsynced = parseChronyTracking('00000000,,0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,1.0,1.0,0.0,Not synchronised\n');
  assert.deepEqual(unsynced, { ClockSynchronizationStatus: 'NOT_SYNCHRONIZED' });
  assert.equal(parseChronyTracking('506 Cannot talk to daemon'), undefined);
});

test('adjtimex --print: STA_UNSYNC decides, maxerror (µs) is the bound in ms', () => {
  const out = (status: number) => `         mode: 0\n       offset: 0\n     maxerror: 48000\n     esterror: 0\n       status: ${status}\n`;
  assert.deepEqual(parseAdjtimexPrint(out(8193), NOW), { ClockErrorBound: 48, ReferenceTimestamp: new Date(NOW).toISOString(), ClockSynchronizationStatus: 'SYNCHRONIZED' });
  assert.equal(parseAdjtimexPrint(out(64 | 1), NOW)?.ClockSynchronizationStatus, 'NOT_SYNCHRONIZED');
  assert.equal(parseAdjtimexPrint(out(64), NOW)?.ClockErrorBound, undefined, 'no bound for an unsynchronized clock');
  assert.equal(parseAdjtimexPrint('garbage', NOW), undefined);
});

test('timedatectl NTPSynchronized yes/no; anything else says nothing', () => {
  assert.equal(parseTimedatectl('yes\n', NOW)?.ClockSynchronizationStatus, 'SYNCHRONIZED');
  assert.equal(parseTimedatectl('no\n', NOW)?.ClockSynchronizationStatus, 'NOT_SYNCHRONIZED');
  assert.equal(parseTimedatectl('', NOW), undefined);
});

test('the reader takes the first source that answers, caches it, never retries a missing tool, and says NOT_SYNCHRONIZED without any', async () => {
  const calls: string[] = [];
  const enoent = Object.assign(new Error('spawn ENOENT'), { code: 'ENOENT' });
  let timedatectl = 'yes\n';
  const reader = new ClockReader(5000, async (cmd) => {
    calls.push(cmd);
    if (cmd === 'timedatectl') return timedatectl;
    if (cmd === 'adjtimex') throw new Error('exit 1');
    throw enoent;
  });
  assert.equal((await reader.read(NOW)).ClockSynchronizationStatus, 'SYNCHRONIZED');
  assert.deepEqual(calls, ['chronyc', 'adjtimex', 'timedatectl']);
  await reader.read(NOW + 1000);
  assert.equal(calls.length, 3, 'cached within the ttl');
  timedatectl = 'no\n';
  assert.equal((await reader.read(NOW + 6000)).ClockSynchronizationStatus, 'NOT_SYNCHRONIZED', 're-read after the ttl');
  assert.deepEqual(calls.slice(3), ['adjtimex', 'timedatectl'], 'a missing tool is not tried again; a failing one is');
  const none = new ClockReader(5000, async () => { throw enoent; });
  assert.deepEqual(await none.read(NOW), { ClockSynchronizationStatus: 'NOT_SYNCHRONIZED' });
});
