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

test('the signature is the AWS SDK signer\'s (@smithy/signature-v4) for the same request and time, session token included', async () => {
  const { SignatureV4 } = await import('@smithy/signature-v4');
  const { Sha256 } = await import('@aws-crypto/sha256-js');
  const when = Date.UTC(2026, 11, 8, 1, 2, 3);
  const cases: { url: string; method: string; body?: string; headers?: Record<string, string>; service: string; creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } }[] = [
    { url: 'http://127.0.0.1:8080/', method: 'POST', body: '{"cluster":"default"}', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.ListTasks' }, service: 'ecs', creds: KEY },
    { url: 'https://skiff.example:8443/skiff/v1/tasks/a%2Fb/logs?follow=true&container=web%20app&a=', method: 'GET', service: 'skiff', creds: { ...KEY, sessionToken: 'tok/en+=' } },
  ];
  for (const c of cases) {
    const url = new URL(c.url);
    const ours = await signRequest(url, { method: c.method, headers: c.headers, body: c.body, service: c.service, region: 'eu-west-1', credentials: c.creds }, when);
    const query: Record<string, string> = {};
    url.searchParams.forEach((v, k) => (query[k] = v));
    const sdk = await new SignatureV4({ service: c.service, region: 'eu-west-1', credentials: c.creds, sha256: Sha256 }).sign(
      { method: c.method, protocol: url.protocol, hostname: url.hostname, port: url.port ? Number(url.port) : undefined, path: url.pathname, query, headers: { host: url.host, ...c.headers }, body: c.body },
      { signingDate: new Date(when) },
    );
    const lower = Object.fromEntries(Object.entries(sdk.headers).map(([k, v]) => [k.toLowerCase(), v]));
    assert.deepEqual(ours, lower, c.url);
  }
});
