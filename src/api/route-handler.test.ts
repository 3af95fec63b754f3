import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { ErrorCode, invalidParameter } from './errors.ts';
import { routeHandler } from './route-handler.ts';

class ModuleError extends Error {}

test("a route's value is the reply; its own errors are mapped to catalog errors, others sent as they are", async () => {
  const app = Fastify();
  const handle = routeHandler((err) => (err instanceof ModuleError ? invalidParameter(err.message) : err));
  app.get('/ok', handle(() => ({ fine: true })));
  app.get('/mapped', handle(() => Promise.reject(new ModuleError('name is too long'))));
  app.get('/other', handle(() => { throw new Error('boom'); }));
  try {
    assert.deepEqual((await app.inject({ url: '/ok' })).json(), { fine: true });
    const mapped = await app.inject({ url: '/mapped' });
    assert.equal(mapped.statusCode, 400);
    assert.equal(mapped.headers['x-amzn-errortype'], ErrorCode.InvalidParameterException);
    assert.match(mapped.body, /name is too long/);
    const other = await app.inject({ url: '/other' });
    assert.equal(other.statusCode, 500);
    assert.equal(other.headers['x-amzn-errortype'], ErrorCode.ServerException);
  } finally {
    await app.close();
  }
});
