import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../api/errors.ts';
import { openLogDb } from './log-db.ts';
import { LogStore } from './log-store.ts';
import { logResources, logsProtocol } from './logs-protocol.ts';

const ids = { region: 'us-east-1', account: '123456789012', now: () => 1_000_000 };

function ops() {
  const store = new LogStore(openLogDb(':memory:'));
  return logsProtocol(store, ids).operations;
}

async function rejects(fn: () => unknown, code: string, re?: RegExp) {
  await assert.rejects(async () => fn(), (e: unknown) => {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

test('policy resources: group ARNs, stream ARNs for stream operations, any group for listing', () => {
  assert.deepEqual(logResources('DescribeLogGroups', {}, ids), ['arn:aws:logs:us-east-1:123456789012:log-group:*']);
  assert.deepEqual(logResources('FilterLogEvents', { logGroupName: '/a' }, ids), ['arn:aws:logs:us-east-1:123456789012:log-group:/a:*']);
  assert.deepEqual(logResources('GetLogEvents', { logGroupName: '/a', logStreamName: 's' }, ids), ['arn:aws:logs:us-east-1:123456789012:log-group:/a:log-stream:s']);
  assert.deepEqual(logResources('DescribeLogStreams', { logGroupIdentifier: 'arn:aws:logs:us-east-1:123456789012:log-group:/a:*' }, ids), [
    'arn:aws:logs:us-east-1:123456789012:log-group:/a:*',
  ]);
});

test('inputs are checked at the boundary with InvalidParameterException', async () => {
  const o = ops();
  await o.CreateLogGroup({ logGroupName: '/a' });
  await o.CreateLogStream({ logGroupName: '/a', logStreamName: 's' });
  await rejects(() => o.DescribeLogGroups({ limit: 51 }), 'InvalidParameterException', /between 1 and 50/);
  await rejects(() => o.DescribeLogGroups({ nextToken: '%%%' }), 'InvalidParameterException', /nextToken/);
  await rejects(() => o.GetLogEvents({ logGroupName: '/a', logStreamName: 's', nextToken: 'f/1' }), 'InvalidParameterException', /nextToken is invalid/);
  await rejects(() => o.GetLogEvents({ logGroupName: '/a', logGroupIdentifier: '/a', logStreamName: 's' }), 'InvalidParameterException', /mutually exclusive/);
  await rejects(() => o.FilterLogEvents({ logGroupName: '/a', logStreamNames: ['s'], logStreamNamePrefix: 's' }), 'InvalidParameterException', /both/);
  await rejects(() => o.CreateLogStream({ logGroupName: '/a', logStreamName: 'a:b' }), 'InvalidParameterException', /':' or '\*'/);
  await rejects(() => o.PutLogEvents({ logGroupName: '/a', logStreamName: 's', logEvents: [] }), 'InvalidParameterException', /at least one/);
  await rejects(() => o.PutLogEvents({ logGroupName: '/a', logStreamName: 's', logEvents: [{ timestamp: 1, message: '' }] }), 'InvalidParameterException', /non-empty/);
  await rejects(() => o.GetLogEvents({ logGroupIdentifier: 'arn:aws:logs:eu-west-1:123456789012:log-group:/a', logStreamName: 's' }), 'ResourceNotFoundException');
  // By ARN in this region and account: found.
  const r = (await o.GetLogEvents({ logGroupIdentifier: 'arn:aws:logs:us-east-1:123456789012:log-group:/a:*', logStreamName: 's' })) as { events: unknown[] };
  assert.deepEqual(r.events, []);
});

test('PutLogEvents reports too new, too old and expired events by index, as CloudWatch does', async () => {
  const o = ops();
  const now = ids.now();
  await o.CreateLogGroup({ logGroupName: '/a' });
  await o.CreateLogStream({ logGroupName: '/a', logStreamName: 's' });
  const r = (await o.PutLogEvents({
    logGroupName: '/a',
    logStreamName: 's',
    logEvents: [{ timestamp: now, message: 'ok' }, { timestamp: now + 3 * 3_600_000, message: 'future' }],
  })) as { rejectedLogEventsInfo?: Record<string, number> };
  assert.deepEqual(r.rejectedLogEventsInfo, { tooNewLogEventStartIndex: 1 });
  const got = (await o.GetLogEvents({ logGroupName: '/a', logStreamName: 's', startFromHead: true })) as { events: { message: string }[] };
  assert.deepEqual(got.events.map((e) => e.message), ['ok']);
});
