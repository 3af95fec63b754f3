import { test } from 'node:test';
import assert from 'node:assert/strict';
import { envNumbers } from './env-numbers.ts';

test('unset or empty variables give the default; good values are read', () => {
  const read = envNumbers({ A: '', B: '7', C: '0.25' });
  assert.equal(read.int('A', 5, 0, 10), 5);
  assert.equal(read.int('MISSING', 5, 0, 10), 5);
  assert.equal(read.int('B', 5, 0, 10), 7);
  assert.equal(read.number('C', 1, 0, 1), 0.25);
  read.check('test');
});

test('every bad value is reported together, naming the variable, the range and the value', () => {
  const read = envNumbers({ A: '1.5', B: '99', C: 'abc', D: 'Infinity' });
  assert.equal(read.int('A', 5, 0, 10), 5);
  assert.equal(read.int('B', 5, 0, 10), 5);
  assert.equal(read.number('C', 1, 0, 2), 1);
  assert.equal(read.number('D', 1, 0, Number.MAX_VALUE), 1);
  assert.throws(
    () => read.check('test'),
    (e: Error) => {
      assert.equal(
        e.message,
        'invalid test settings:\n' +
          '  A must be a whole number from 0 to 10 (got 1.5)\n' +
          '  B must be a whole number from 0 to 10 (got 99)\n' +
          '  C must be a number from 0 to 2 (got abc)\n' +
          `  D must be a number from 0 to ${Number.MAX_VALUE} (got Infinity)`,
      );
      return true;
    },
  );
});
