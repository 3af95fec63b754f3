import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Semaphore } from './semaphore.ts';

test('never more than the limit at once; waiters go in arrival order; a failure frees its slot', async () => {
  const sem = new Semaphore(2);
  let now = 0;
  let peak = 0;
  const order: number[] = [];
  const job = (i: number, fail = false) =>
    sem.run(async () => {
      peak = Math.max(peak, ++now);
      await new Promise((r) => setTimeout(r, 5));
      now--;
      order.push(i);
      if (fail) throw new Error(`job ${i}`);
      return i;
    });
  const results = await Promise.allSettled([job(0), job(1, true), job(2), job(3), job(4)]);
  assert.equal(peak, 2);
  assert.deepEqual(order, [0, 1, 2, 3, 4]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
  assert.deepEqual(sem.counts, { active: 0, waiting: 0 });
  assert.throws(() => new Semaphore(0), /positive integer/);
});
