/** Reference parsing (Docker's normalisation) and small registry-client parsers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReference, formatReference, isLoopbackHost } from './reference.ts';
import { parseChallenge, schemeFor } from './registry-client.ts';
import { ImagePullError } from './images.ts';

const D = `sha256:${'ab'.repeat(32)}`;

test('normalises references like Docker', () => {
  const cases: Array<[string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['user/app', 'docker.io/user/app:latest'],
    ['index.docker.io/library/nginx', 'docker.io/library/nginx:latest'],
    ['localhost:5000/app:1', 'localhost:5000/app:1'],
    ['localhost/app', 'localhost/app:latest'],
    [`127.0.0.1:5000/ns/app@${D}`, `127.0.0.1:5000/ns/app@${D}`],
    [`host.example/app:tag@${D}`, `host.example/app:tag@${D}`],
    ['[::1]:5000/a/b-c__d.e:v1.2_3', '[::1]:5000/a/b-c__d.e:v1.2_3'],
  ];
  for (const [input, want] of cases) assert.equal(formatReference(parseReference(input)), want, input);
  const r = parseReference(`127.0.0.1:5000/ns/app@${D}`);
  assert.deepEqual([r.domain, r.path, r.tag, r.digest], ['127.0.0.1:5000', 'ns/app', undefined, D]);
});

test('rejects bad references with a reason', () => {
  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['Busybox', /lowercase/],
    ['app:', /tag/],
    ['app:-x', /tag/],
    ['app@sha256:abc', /digest/],
    [`app@sha512:${'a'.repeat(128)}`, /digest/],
    [`app@sha256:${'A'.repeat(64)}`, /digest/],
    ['host:99999/app', /port/],
    ['a//b', /empty path component/],
    ['a/../b', /not valid/],
    ['app name', /whitespace/],
    [`x/${'a'.repeat(300)}`, /longer than 255/],
    ['-bad.example/app', /registry host/],
  ];
  for (const [input, re] of bad) {
    assert.throws(() => parseReference(input), (e: unknown) => e instanceof ImagePullError && re.test(e.message), input);
  }
});

test('loopback detection and scheme choice', () => {
  for (const h of ['localhost', 'localhost:5000', '127.0.0.1:80', '127.1.2.3', '[::1]:5000']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['example.com', '10.0.0.1:5000', '128.0.0.1', 'localhost.evil.com']) assert.ok(!isLoopbackHost(h), h);
  assert.equal(schemeFor('127.0.0.1:5000', []), 'http');
  assert.equal(schemeFor('registry.local:5000', []), 'https');
  assert.equal(schemeFor('registry.local:5000', ['registry.local:5000']), 'http');
});

test('parses WWW-Authenticate challenges', () => {
  assert.deepEqual(
    parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"'),
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:samalba/my-app:pull,push' } },
  );
  assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', params: { realm: 'Registry Realm' } });
  assert.deepEqual(parseChallenge('Bearer realm=http://x/token, error="insufficient_scope"')?.params, { realm: 'http://x/token', error: 'insufficient_scope' });
});
