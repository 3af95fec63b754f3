import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBridgeNetfilter, ensureKeyQuota, KEY_QUOTA } from './host-tuning.ts';

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

test('bridge netfilter: loads the module when missing, turns the switch on, refuses when it cannot', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-brnf-'));
  try {
    let loads = 0;
    assert.throws(() => ensureBridgeNetfilter(dir, () => void loads++), /modprobe br_netfilter/);
    assert.equal(loads, 1);
    const load = () => writeFileSync(join(dir, 'bridge-nf-call-iptables'), '0\n');
    assert.deepEqual(ensureBridgeNetfilter(dir, load), ['loaded br_netfilter', 'net.bridge.bridge-nf-call-iptables 0 → 1']);
    assert.equal(readFileSync(join(dir, 'bridge-nf-call-iptables'), 'utf8').trim(), '1');
    assert.deepEqual(ensureBridgeNetfilter(dir, () => assert.fail('already loaded')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
