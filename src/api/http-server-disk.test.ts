import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildHttpServer } from './http-server.ts';
import { ApiError, ErrorCode } from './errors.ts';
import { DiskFullError } from '../store/disk-errors.ts';

const sqliteFull = () => Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });

test('a write that fails for lack of disk answers a clear, retryable ServerException (500), never a crash; reads still answer', async () => {
  const noted: unknown[] = [];
  const logs: string[] = [];
  const app = buildHttpServer({
    protocols: [
      {
        targetPrefix: 'Test_v1',
        operations: {
          Write: () => {
            throw sqliteFull();
          },
          Refused: () => {
            throw new DiskFullError('Skiff cannot write its store: the disk holding /data is full (0 MiB free). Free space on it.');
          },
          Bug: () => {
            throw new Error('boom');
          },
          Read: () => ({ ok: true }),
        },
      },
    ],
    routes: (a) => a.post('/skiff/v1/thing', async () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }))),
    query: {
      service: 'ec2',
      decode: () => ({ action: 'CreateVpc', params: {} }),
      run: async () => {
        throw sqliteFull();
      },
      errorResponse: (err) => (err instanceof ApiError ? { status: err.status, body: `${err.code}: ${err.message}` } : { status: 599, body: 'not mapped' }),
      newRequestId: () => 'req-1',
    },
    isReady: () => true,
    log: (m) => logs.push(m),
    storeFull: (err) => (noted.push(err), 'Skiff cannot write its store: the disk holding /data is full (3 MiB free). Free space on it or stop tasks writing to it.'),
  });
  const call = (op: string) =>
    app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `Test_v1.${op}` }, payload: '{}' });
  try {
    const write = await call('Write');
    assert.equal(write.statusCode, 500);
    assert.equal(write.headers['x-amzn-errortype'], ErrorCode.ServerException);
    assert.deepEqual(write.json(), { __type: 'ServerException', message: 'Skiff cannot write its store: the disk holding /data is full (3 MiB free). Free space on it or stop tasks writing to it.' });
    assert.equal(noted.length, 1, 'the disk guard is told');

    const refused = await call('Refused');
    assert.equal(refused.statusCode, 500);
    assert.match(refused.json().message, /the disk holding \/data is full \(0 MiB free\)/);

    const route = await app.inject({ method: 'POST', url: '/skiff/v1/thing' });
    assert.equal(route.statusCode, 500);
    assert.match(route.json().message, /disk holding \/data is full/);
    assert.equal(noted.length, 2);

    const bug = await call('Bug');
    assert.equal(bug.statusCode, 500);
    assert.match(bug.json().message, /internal error/, 'a programmer error keeps the generic message');
    assert.equal(noted.length, 2);

    const ec2 = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'Action=CreateVpc' });
    assert.equal(ec2.statusCode, 500, 'the Query protocol (EC2) gets the same mapping, in its own error format');
    assert.match(ec2.body, /^ServerException: Skiff cannot write its store: the disk holding \/data is full/);

    assert.deepEqual((await call('Read')).json(), { ok: true });
    assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200);
  } finally {
    await app.close();
  }
});
