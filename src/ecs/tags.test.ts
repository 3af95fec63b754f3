import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../api/errors.ts';
import { validateTags } from './tags.ts';

function expectInvalid(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof ApiError && e.code === 'InvalidParameterException' && re.test(e.message));
}

test('validateTags accepts ECS tag rules and fills empty values', () => {
  assert.deepEqual(validateTags(undefined), []);
  assert.deepEqual(validateTags([{ key: 'team', value: 'core' }, { key: 'env' }]), [
    { key: 'team', value: 'core' },
    { key: 'env', value: '' },
  ]);
  assert.equal(validateTags(Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: 'v' }))).length, 50);
  assert.deepEqual(validateTags([{ key: 'a b+-=._:/@', value: 'ünïcode 1' }]), [{ key: 'a b+-=._:/@', value: 'ünïcode 1' }]);
  assert.equal(validateTags([{ key: 'k'.repeat(128), value: 'v'.repeat(256) }]).length, 1);
});

test('validateTags rejects what ECS rejects', () => {
  expectInvalid(() => validateTags(Array.from({ length: 51 }, (_, i) => ({ key: `k${i}` }))), /at most 50/);
  expectInvalid(() => validateTags([{ key: '' }]), /1 to 128/);
  expectInvalid(() => validateTags([{ key: 'k'.repeat(129) }]), /1 to 128/);
  expectInvalid(() => validateTags([{ key: 'k', value: 'v'.repeat(257) }]), /at most 256/);
  expectInvalid(() => validateTags([{ key: 'aws:owner', value: 'x' }]), /'aws:' prefix/);
  expectInvalid(() => validateTags([{ key: 'AWS:owner', value: 'x' }]), /reserved/);
  expectInvalid(() => validateTags([{ key: 'a', value: '1' }, { key: 'a', value: '2' }]), /more than once/);
  expectInvalid(() => validateTags([{ key: 'a*b' }]), /not allowed/);
  expectInvalid(() => validateTags({ key: 'a' }), /must be a list/);
});
