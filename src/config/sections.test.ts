import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_AUTOSCALING_SETTINGS,
  parseAutoscalingSettings,
  parseEphemeralStorageSettings,
  parseLoadBalancerSettings,
  parseLogSettings,
  parseMetadataSettings,
  parseMetricsSettings,
  parseServiceSettings,
} from './sections.ts';

/** Runs a parser; returns what it read and the problems it reported. */
function parse<T>(fn: (problems: string[]) => T): { value: T; problems: string[] } {
  const problems: string[] = [];
  return { value: fn(problems), problems };
}

test('service settings: defaults, values, every problem', () => {
  assert.deepEqual(parse((p) => parseServiceSettings({}, p)), {
    value: { intervalMs: 1000, maxStartsPerPass: 50, spotWarningMs: 120_000, spotInterruptionRatePerHour: 0 },
    problems: [],
  });
  assert.equal(parse((p) => parseServiceSettings({ SKIFF_SPOT_WARNING_MS: '3000' }, p)).value.spotWarningMs, 3000);
  const bad = parse((p) => parseServiceSettings({ SKIFF_SERVICE_INTERVAL_MS: 'x', SKIFF_SPOT_INTERRUPTION_RATE: '-1' }, p));
  assert.match(bad.problems.join('\n'), /SKIFF_SERVICE_INTERVAL_MS[\s\S]*SKIFF_SPOT_INTERRUPTION_RATE/);
});

test('load balancer settings: the deregistration delay defaults to AWS 300 s; bad values are reported', () => {
  assert.equal(parse((p) => parseLoadBalancerSettings({}, '127.0.0.1', p)).value.deregistrationDelaySeconds, 300);
  assert.equal(parse((p) => parseLoadBalancerSettings({ SKIFF_LB_DEREGISTRATION_DELAY_SECONDS: '1.5' }, '127.0.0.1', p)).value.deregistrationDelaySeconds, 1.5);
  const bad = parse((p) => parseLoadBalancerSettings({ SKIFF_LB_DEREGISTRATION_DELAY_SECONDS: 'x', SKIFF_LB_SYNC_INTERVAL_MS: '0' }, 'h', p));
  assert.match(bad.problems.join('\n'), /DEREGISTRATION_DELAY[^]*SYNC_INTERVAL/);
  assert.equal(bad.value.host, 'h');
});

test('the metrics token comes from SKIFF_METRICS_TOKEN or a file, and must be long enough', () => {
  const metrics = (env: NodeJS.ProcessEnv) => parse((p) => parseMetricsSettings(env, p));
  assert.deepEqual(metrics({}), { value: {}, problems: [] });
  assert.deepEqual(metrics({ SKIFF_METRICS_TOKEN: 'x'.repeat(16) }).value, { bearerToken: 'x'.repeat(16) });
  assert.match(metrics({ SKIFF_METRICS_TOKEN: 'short' }).problems.join(), /at least 16 printable characters/);
  assert.match(metrics({ SKIFF_METRICS_TOKEN: 'with a space in it!!' }).problems.join(), /without spaces/);
  const dir = mkdtempSync(join(tmpdir(), 'skiff-token-'));
  try {
    writeFileSync(join(dir, 't'), 'y'.repeat(24) + '\n');
    assert.deepEqual(metrics({ SKIFF_METRICS_TOKEN_FILE: join(dir, 't') }), { value: { bearerToken: 'y'.repeat(24) }, problems: [] });
    assert.match(metrics({ SKIFF_METRICS_TOKEN_FILE: join(dir, 'missing') }).problems.join(), /cannot read/);
    assert.match(metrics({ SKIFF_METRICS_TOKEN_FILE: join(dir, 't'), SKIFF_METRICS_TOKEN: 'z'.repeat(20) }).problems.join(), /not both/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('log, metadata and autoscaling settings: defaults and ranges', () => {
  assert.equal(parse((p) => parseLogSettings({}, p)).value.shipIntervalMs, 500);
  assert.match(parse((p) => parseLogSettings({ SKIFF_LOGS_SHIP_INTERVAL_MS: '5' }, p)).problems.join(), /SKIFF_LOGS_SHIP_INTERVAL_MS must be a whole number from 20 to 60000 \(got 5\)/);
  assert.deepEqual(parse((p) => parseMetadataSettings({ SKIFF_METADATA_PORT: '51679' }, p)).value, { port: 51679, credentialsTtlMs: 6 * 3_600_000 });
  assert.match(parse((p) => parseMetadataSettings({ SKIFF_TASK_CREDENTIALS_TTL_MS: '10' }, p)).problems.join(), /SKIFF_TASK_CREDENTIALS_TTL_MS/);
  assert.deepEqual(parse((p) => parseAutoscalingSettings({}, p)), { value: { ...DEFAULT_AUTOSCALING_SETTINGS }, problems: [] });
  assert.equal(parse((p) => parseAutoscalingSettings({ SKIFF_AUTOSCALING_PERIOD_MS: '1000' }, p)).value.periodMs, 1000);
});

test('ephemeral storage settings: scale and interval, defaults, every problem named', () => {
  assert.deepEqual(parse((p) => parseEphemeralStorageSettings({}, p)), { value: { scale: 1, intervalMs: 2000 }, problems: [] });
  assert.deepEqual(parse((p) => parseEphemeralStorageSettings({ SKIFF_EPHEMERAL_STORAGE_SCALE: '0.001', SKIFF_EPHEMERAL_STORAGE_INTERVAL_MS: '500' }, p)).value, { scale: 0.001, intervalMs: 500 });
  const bad = parse((p) => parseEphemeralStorageSettings({ SKIFF_EPHEMERAL_STORAGE_SCALE: '2', SKIFF_EPHEMERAL_STORAGE_INTERVAL_MS: 'x' }, p));
  assert.match(bad.problems.join('\n'), /SKIFF_EPHEMERAL_STORAGE_SCALE must be a number from 0.000001 to 1 \(got 2\)[^]*SKIFF_EPHEMERAL_STORAGE_INTERVAL_MS/);
  assert.match(parse((p) => parseEphemeralStorageSettings({ SKIFF_EPHEMERAL_STORAGE_SCALE: '0' }, p)).problems[0], /SKIFF_EPHEMERAL_STORAGE_SCALE/);
});
