/** Assertions for the typed errors of the API error catalog, thrown in-process or seen by an SDK client. */
import assert from 'node:assert/strict';
import { ApiError } from '../../src/api/errors.ts';

/** Asserts `fn` throws an ApiError with `code` (and a message matching `re`); returns it. */
export function expectApiError(fn: () => unknown, code: string, re?: RegExp): ApiError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApiError, `expected ApiError, got ${String(e)}`);
    assert.equal(e.code, code, `code; message was: ${e.message}`);
    if (re) assert.match(e.message, re);
    return e;
  }
  assert.fail(`expected ${code}${re ? ` matching ${re}` : ''}, but nothing was thrown`);
}

/** Asserts the SDK call fails with the error type `name` (ECS `__type`, EC2 `Code`, ...) and a message matching `re`. */
export async function rejectsWith(p: Promise<unknown>, name: string, re?: RegExp): Promise<void> {
  await assert.rejects(p, (e: { name?: string; message?: string }) => {
    assert.equal(e.name, name, `expected ${name}, got ${e.name}: ${e.message}`);
    if (re) assert.match(e.message ?? '', re);
    return true;
  });
}
