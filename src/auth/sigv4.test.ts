import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  parseAuthorization,
  preVerify,
  SigV4Error,
  signature,
  sha256Hex,
  verifySignature,
  type WireRequest,
} from './sigv4.ts';

// AWS's published SigV4 test suite ("get-vanilla", "post-x-www-form-urlencoded"...):
// key AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, service "service", us-east-1.
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const AMZ_DATE = '20150830T123600Z';
const NOW = Date.UTC(2015, 7, 30, 12, 36, 0);

test('get-vanilla: canonical request and signature match the AWS vector', () => {
  const req: WireRequest = { method: 'GET', url: '/', headers: { Host: ['example.amazonaws.com'], 'X-Amz-Date': [AMZ_DATE] }, body: Buffer.alloc(0) };
  const canonical = canonicalRequest(req, ['host', 'x-amz-date'], sha256Hex(''));
  assert.equal(
    canonical,
    'GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  );
  assert.equal(sha256Hex(canonical), 'bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63');
  const sig = signature(SECRET, { date: '20150830', region: 'us-east-1', service: 'service' }, AMZ_DATE, canonical);
  assert.equal(sig, '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
  req.headers.Authorization = [
    `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=${sig}`,
  ];
  const { auth, amzDate } = preVerify(req, NOW);
  verifySignature(req, auth, amzDate, SECRET);
  assert.throws(() => verifySignature(req, auth, amzDate, SECRET + 'x'), (e: SigV4Error) => e.kind === 'signature');
});

test('canonical URI and query follow the non-S3 rules', () => {
  assert.equal(canonicalUri('/'), '/');
  assert.equal(canonicalUri(''), '/');
  assert.equal(canonicalUri('/example/..'), '/');
  assert.equal(canonicalUri('/./a/b/../c'), '/a/c');
  assert.equal(canonicalUri('/a//b/'), '/a/b/');
  assert.equal(canonicalUri('/a%20b'), '/a%2520b', 'segments are encoded a second time');
  assert.equal(canonicalQuery('Param2=value2&Param1=value1'), 'Param1=value1&Param2=value2');
  assert.equal(canonicalQuery('Param1=value2&Param1=Value1'), 'Param1=Value1&Param1=value2');
  assert.equal(canonicalQuery('a=b%20c&x'), 'a=b%20c&x=');
  assert.equal(canonicalQuery("k=it's(*)!"), 'k=it%27s%28%2A%29%21');
});

test('header values are trimmed and repeated headers joined with commas', () => {
  const req: WireRequest = {
    method: 'GET',
    url: '/',
    headers: { host: ['h'], 'my-header1': ['  value1  '], 'My-Header2': ['"a   b   c"'], 'x-multi': ['v1', 'v2'] },
    body: Buffer.alloc(0),
  };
  const c = canonicalRequest(req, ['host', 'my-header1', 'my-header2', 'x-multi'], sha256Hex(''));
  assert.match(c, /\nmy-header1:value1\nmy-header2:"a b c"\nx-multi:v1,v2\n/);
});

test('requests signed by the AWS SDK signer verify; any tampering does not', async () => {
  const credentials = { accessKeyId: 'AKIDSKIFF', secretAccessKey: 's3cr3t/with+chars' };
  const cases: { method: string; path: string; query: Record<string, string>; body: string; service: string }[] = [
    { method: 'POST', path: '/', query: {}, body: '{"cluster":"default"}', service: 'ecs' },
    { method: 'GET', path: '/skiff/v1/tasks/abc/logs', query: { follow: 'true', container: 'a b' }, body: '', service: 'skiff' },
    { method: 'GET', path: '/skiff/v1/costs', query: { groupBy: 'tag:team', from: '2025-06-01T00:00:00Z' }, body: '', service: 'skiff' },
    { method: 'DELETE', path: '/skiff/v1/keys/AKIA1', query: {}, body: '', service: 'skiff' },
  ];
  const now = Date.now();
  for (const c of cases) {
    const signer = new SignatureV4({ service: c.service, region: 'us-east-1', credentials, sha256: Sha256 });
    const signed = await signer.sign(
      {
        method: c.method,
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: 8080,
        path: c.path,
        query: c.query,
        headers: { host: '127.0.0.1:8080', 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'X.Y' },
        body: c.body,
      },
      { signingDate: new Date(now) },
    );
    const qs = new URLSearchParams(c.query).toString().replace(/\+/g, '%20');
    const wire: WireRequest = {
      method: c.method,
      url: c.path + (qs ? `?${qs}` : ''),
      headers: Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k, [String(v)]])),
      body: Buffer.from(c.body),
    };
    const { auth, amzDate } = preVerify(wire, now);
    assert.equal(auth.accessKeyId, 'AKIDSKIFF');
    assert.equal(auth.service, c.service);
    verifySignature(wire, auth, amzDate, credentials.secretAccessKey);
    // A changed body, path, query or signed header breaks it.
    const tampered: WireRequest[] = [
      { ...wire, body: Buffer.from(c.body + ' ') },
      { ...wire, url: wire.url.replace(/^\/[^?]*/, (p) => p + 'x') },
      { ...wire, url: wire.url + (qs ? '&' : '?') + 'extra=1' },
      { ...wire, headers: { ...wire.headers, 'x-amz-target': ['X.Z'] } },
    ];
    for (const t of tampered) assert.throws(() => verifySignature(t, auth, amzDate, credentials.secretAccessKey), SigV4Error);
  }
});

test('missing, malformed and skewed signatures are told apart', () => {
  const base = { method: 'GET', url: '/', body: Buffer.alloc(0) };
  assert.throws(() => preVerify({ ...base, headers: { host: ['h'] } }, NOW), (e: SigV4Error) => e.kind === 'missing');
  assert.throws(() => parseAuthorization('AWS4-HMAC-SHA256 Credential=x'), (e: SigV4Error) => e.kind === 'incomplete');
  assert.throws(() => parseAuthorization('Basic dXNlcjpwYXNz'), (e: SigV4Error) => e.kind === 'incomplete');
  const auth = (date: string) => ({
    ...base,
    headers: {
      host: ['h'],
      'x-amz-date': [date],
      authorization: [`AWS4-HMAC-SHA256 Credential=AK/${date.slice(0, 8)}/us-east-1/ecs/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`],
    },
  });
  assert.throws(
    () => preVerify(auth('20150830T123000Z'), NOW),
    (e: SigV4Error) => e.kind === 'expired' && e.message === 'Signature expired: 20150830T123000Z is now earlier than 20150830T123100Z (20150830T123600Z - 5 min.)',
  );
  assert.throws(() => preVerify(auth('20150830T124200Z'), NOW), (e: SigV4Error) => e.kind === 'expired' && /not yet current/.test(e.message));
  assert.doesNotThrow(() => preVerify(auth('20150830T124000Z'), NOW), 'within 5 minutes is fine');
  const unsignedDate = auth(AMZ_DATE);
  unsignedDate.headers.authorization = [unsignedDate.headers.authorization[0].replace('host;x-amz-date', 'host')];
  assert.throws(() => preVerify(unsignedDate, NOW), (e: SigV4Error) => e.kind === 'signature');
});
