import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChangeSignal } from './signal.ts';

test('a ChangeSignal calls its subscribers on each notify, until they unsubscribe', () => {
  const signal = new ChangeSignal();
  const calls: string[] = [];
  const stopA = signal.subscribe(() => calls.push('a'));
  signal.subscribe(() => calls.push('b'));
  signal.notify();
  stopA();
  signal.notify();
  assert.deepEqual(calls, ['a', 'b', 'b']);
});
