import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureKeyQuota, KEY_QUOTA } from './host-tuning.ts';

test('raises a low key quota and never lowers a higher one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-keys-'));
  try {
    writeFileSync(join(dir, 'maxkeys'), '200\n');
    writeFileSync(join(dir, 'maxbytes'), '99999999\n');
    assert.deepEqual(ensureKeyQuota(dir), [`kernel.keys.maxkeys 200 → ${KEY_QUOTA.maxkeys}`]);
    assert.equal(readFileSync(join(dir, 'maxkeys'), 'utf8').trim(), String(KEY_QUOTA.maxkeys));
    assert.equal(readFileSync(join(dir, 'maxbytes'), 'utf8').trim(), '99999999');
    assert.deepEqual(ensureKeyQuota(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
