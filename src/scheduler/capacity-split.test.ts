import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitByStrategy, effectiveStrategy } from './capacity-split.ts';

const tally = (xs: string[]) => xs.reduce<Record<string, number>>((m, x) => ((m[x] = (m[x] ?? 0) + 1), m), {});

test('base first, then the rest by weight (ECS example: base 2 on FARGATE, weights 1:3)', () => {
  const s = [
    { capacityProvider: 'FARGATE' as const, base: 2, weight: 1 },
    { capacityProvider: 'FARGATE_SPOT' as const, base: 0, weight: 3 },
  ];
  const out = splitByStrategy(s, 10);
  assert.deepEqual(out.slice(0, 2), ['FARGATE', 'FARGATE'], 'base tasks come first');
  assert.deepEqual(tally(out), { FARGATE: 4, FARGATE_SPOT: 6 });
  for (const n of [102, 402, 1002]) {
    const t = tally(splitByStrategy(s, n));
    assert.equal(t.FARGATE, 2 + (n - 2) / 4, `${n} tasks`);
    assert.equal(t.FARGATE_SPOT, ((n - 2) * 3) / 4);
  }
});

test('weight 0 is never used beyond its base; a base on a weight-0 provider is honoured', () => {
  const s = [
    { capacityProvider: 'FARGATE' as const, base: 3, weight: 0 },
    { capacityProvider: 'FARGATE_SPOT' as const, base: 0, weight: 1 },
  ];
  assert.deepEqual(tally(splitByStrategy(s, 50)), { FARGATE: 3, FARGATE_SPOT: 47 });
  assert.deepEqual(tally(splitByStrategy(s, 2)), { FARGATE: 2 });
});

test('every prefix stays as close to the weights as whole tasks allow', () => {
  const s = [
    { capacityProvider: 'FARGATE' as const, base: 0, weight: 2 },
    { capacityProvider: 'FARGATE_SPOT' as const, base: 0, weight: 5 },
  ];
  const out = splitByStrategy(s, 700);
  let f = 0;
  out.forEach((p, i) => {
    if (p === 'FARGATE') f++;
    assert.ok(Math.abs(f - ((i + 1) * 2) / 7) <= 1, `after ${i + 1} tasks: ${f} on FARGATE`);
  });
  assert.deepEqual(tally(out), { FARGATE: 200, FARGATE_SPOT: 500 });
});

test('existing tasks count: a service replacing tasks keeps its ratio', () => {
  const s = [
    { capacityProvider: 'FARGATE' as const, base: 1, weight: 1 },
    { capacityProvider: 'FARGATE_SPOT' as const, base: 0, weight: 1 },
  ];
  // 5 running: 3 FARGATE (1 base + 2), 2 SPOT; one SPOT task was lost.
  assert.deepEqual(splitByStrategy(s, 1, { FARGATE: 3, FARGATE_SPOT: 1 }), ['FARGATE_SPOT']);
  // base lost: refilled first
  assert.deepEqual(splitByStrategy(s, 1, { FARGATE: 0, FARGATE_SPOT: 4 }), ['FARGATE']);
});

test('effective strategy: given, else the cluster default unless a launch type is given', () => {
  const d = [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }];
  assert.equal(effectiveStrategy(undefined, 'FARGATE', d), undefined);
  assert.deepEqual(effectiveStrategy(undefined, undefined, d), [{ capacityProvider: 'FARGATE_SPOT', weight: 1, base: 0 }]);
  assert.equal(effectiveStrategy(undefined, undefined, []), undefined);
});
