import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PreSerialized, buildHttpServer, jsonDeeperThan, operationHandler, valueDeeperThan, type JsonProtocol } from './http-server.ts';

const protocol: JsonProtocol = { targetPrefix: 'Svc', operations: { Ping: () => ({ pong: true }) } };

test("operationHandler finds the protocol's own operations only, never Object's members", () => {
  assert.ok(operationHandler(protocol, 'Ping'));
  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf', 'Pong']) {
    assert.equal(operationHandler(protocol, name), undefined, name);
  }
});

test('jsonDeeperThan counts brackets outside strings, without recursion', () => {
  assert.equal(jsonDeeperThan('{"a":[1,{"b":2}]}', 3), false);
  assert.equal(jsonDeeperThan('{"a":[1,{"b":2}]}', 2), true);
  assert.equal(jsonDeeperThan(JSON.stringify({ s: '[[[[{{{{', t: 'a\\"[[[' }), 1), false, 'brackets in strings (escaped quotes too) do not count');
  assert.equal(jsonDeeperThan('['.repeat(200_000) + ']'.repeat(200_000), 100), true);
  assert.equal(jsonDeeperThan('[]'.repeat(1000), 1), false, 'siblings are not nesting');
});

test('valueDeeperThan measures a parsed value without recursion', () => {
  let deep: unknown = 1;
  for (let i = 0; i < 200_000; i++) deep = [deep];
  assert.equal(valueDeeperThan(deep, 100), true);
  assert.equal(valueDeeperThan({ a: [{ b: 1 }], c: { d: 2 } }, 3), false);
  assert.equal(valueDeeperThan({ a: [{ b: 1 }], c: { d: 2 } }, 2), true);
});

test('the front door answers unknown and prototype-named operations and deep bodies with 400s', async () => {
  const app = buildHttpServer({ protocols: [protocol], isReady: () => true });
  const call = (op: string, body = '{}') =>
    app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `Svc.${op}` }, payload: body });
  try {
    const ok = await call('Ping');
    assert.equal(ok.statusCode, 200);
    for (const op of ['constructor', 'toString', '__proto__']) {
      const r = await call(op);
      assert.equal(r.statusCode, 400, op);
      assert.equal(r.json().__type, 'UnknownOperationException', op);
    }
    const deep = await call('Ping', `{"x":${'['.repeat(20_000)}${']'.repeat(20_000)}}`);
    assert.equal(deep.statusCode, 400);
    assert.equal(deep.json().__type, 'SerializationException');
    assert.match(deep.json().message, /levels deep/);
  } finally {
    await app.close();
  }
});

test('a pre-serialized array answer is sent as it was built: the same bytes, valid JSON, UTF-8 intact', async () => {
  const pieces = [{ a: 'ü' }, { b: 2 }].map((v) => Buffer.from(JSON.stringify(v)));
  const app = buildHttpServer({
    protocols: [{ targetPrefix: 'T', operations: { Op: () => PreSerialized.array('items', pieces, ',"failures":[]') } }],
    isReady: () => true,
  });
  try {
    const res = await app.inject({ method: 'POST', url: '/', headers: { 'x-amz-target': 'T.Op', 'content-type': 'application/x-amz-json-1.1' }, payload: '{}' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(JSON.parse(res.body), { items: [{ a: 'ü' }, { b: 2 }], failures: [] });
    assert.equal(Number(res.headers['content-length']), Buffer.byteLength(res.body));
    assert.deepEqual(JSON.parse(PreSerialized.array('x', []).json.toString()), { x: [] });
  } finally {
    await app.close();
  }
});
