import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signRequest } from './sign-request.ts';
import { preVerify, verifySignature, type WireRequest } from './sigv4.ts';

const KEY = { accessKeyId: 'AKIDSIGNTEST', secretAccessKey: 'sign-test-secret' };

test('a signed request passes the server-side verifier (path, query, headers and body signed)', async () => {
  const url = new URL('http://127.0.0.1:8080/skiff/v1/tasks/abc/logs?follow=1&since=5');
  const body = '{"a":1}';
  const headers = await signRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, service: 'skiff', region: 'us-east-1', credentials: KEY });
  assert.equal(headers.host, '127.0.0.1:8080');
  const wire = (over: Partial<WireRequest> = {}): WireRequest => ({
    method: 'POST',
    url: url.pathname + url.search,
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), [v]])),
    body: Buffer.from(body),
    ...over,
  });
  const { auth, amzDate } = preVerify(wire(), Date.now());
  assert.equal(auth.service, 'skiff');
  assert.equal(auth.accessKeyId, KEY.accessKeyId);
  verifySignature(wire(), auth, amzDate, KEY.secretAccessKey);
  assert.throws(() => verifySignature(wire({ body: Buffer.from('{"a":2}') }), auth, amzDate, KEY.secretAccessKey), 'the body is signed');
  assert.throws(() => verifySignature(wire({ url: url.pathname + '?follow=0&since=5' }), auth, amzDate, KEY.secretAccessKey), 'the query is signed');
});
