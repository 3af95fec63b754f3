import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ComposeError, parseCompose } from './compose-file.ts';
import { interpolateString, parseBytes, parseDuration, parseEnvFile, parsePort, shellWords } from './values.ts';

const files: Record<string, string> = {
  '/p/app.env': 'FROM_FILE=1\nSHARED=file\n# comment\nQUOTED="a b"\n',
  '/p/token.txt': 'tok',
};
const read = (path: string) => {
  if (path in files) return files[path]!;
  throw new Error('ENOENT');
};
const parse = (yaml: string, env: Record<string, string> = {}) => parseCompose(yaml, { file: '/p/docker-compose.yml', env, readFile: read });

test('environment: list and map forms, env_file first, environment wins, bare keys from the environment', () => {
  const p = parse(
    `services:
  a:
    image: x
    env_file: app.env
    environment: [SHARED=env, "EMPTY=", FROM_SHELL, MISSING]
  b:
    image: x
    environment: { N: 3, T: true, S: "s" }
`,
    { FROM_SHELL: 'shell' },
  );
  assert.deepEqual(p.services[0]!.environment, [['FROM_FILE', '1'], ['SHARED', 'env'], ['QUOTED', 'a b'], ['EMPTY', ''], ['FROM_SHELL', 'shell']]);
  assert.deepEqual(p.services[1]!.environment, [['N', '3'], ['T', 'true'], ['S', 's']]);
  assert.ok(p.warnings.includes('services.a.environment.MISSING has no value and is not set in this environment; it was left unset'));
});

test('unsupported keys are reported one line per key path; x- extensions are skipped', () => {
  const p = parse(`version: "3.9"
x-common: &c { a: 1 }
volumes: { data: {} }
services:
  web:
    image: x
    volumes: [data:/data]
    x-note: mine
    deploy: { replicas: 2, placement: { constraints: [] } }
    healthcheck: { test: "true", start_interval: 1s }
    ports: [{ target: 80, mode: host }]
`);
  assert.deepEqual(p.warnings.sort(), [
    'services.web.deploy.placement is not supported by Skiff and was ignored',
    'services.web.healthcheck.start_interval is not supported by Skiff and was ignored',
    'services.web.ports[0].mode is not supported by Skiff and was ignored',
    'version is obsolete in the Compose Specification and was ignored',
  ]);
});

test('volumes: named volumes and bind-mounted folders become mounts; undeclared volumes, relative targets refused; anonymous ones reported', () => {
  const p = parse(`volumes: { data: {}, cache: { driver: local } }
services:
  web:
    image: x
    volumes:
      - data:/var/lib/data
      - ./site:/usr/share/site:ro
      - { type: volume, source: cache, target: /cache, read_only: true }
      - /tmp/anon
`);
  const web = p.services[0]!;
  assert.deepEqual(p.volumes, ['data', 'cache']);
  assert.deepEqual(web.mounts, [
    { kind: 'volume', source: 'data', target: '/var/lib/data', readOnly: false },
    { kind: 'bind', source: '/p/site', target: '/usr/share/site', readOnly: true },
    { kind: 'volume', source: 'cache', target: '/cache', readOnly: true },
  ]);
  assert.deepEqual(p.warnings.sort(), [
    'services.web.volumes[3]: anonymous volumes are not supported by Skiff and were ignored (name it under the top-level volumes:)',
    'volumes.cache.driver is not supported by Skiff and was ignored (a named volume is an EFS file system)',
  ]);
  assert.throws(() => parse(`services:\n  web: { image: x, volumes: ["nope:/a", "data:rel"] }\nvolumes: { data: {} }\n`), (e: unknown) => {
    assert.ok(e instanceof ComposeError);
    assert.match(e.message, /volume "nope" is not declared/);
    assert.match(e.message, /must be absolute/);
    return true;
  });
});

test('every problem is reported together', () => {
  assert.throws(
    () =>
      parse(`services:
  a: { build: . }
  b: { image: x, depends_on: [nope], deploy: { replicas: -1 }, healthcheck: { test: [FOO] } }
  bad.name: { image: x }
`),
    (e: unknown) => {
      assert.ok(e instanceof ComposeError);
      assert.equal(e.problems.length, 5, e.message);
      assert.match(e.message, /services\.a\.image is required/);
      assert.match(e.message, /services\.b\.depends_on: there is no service named nope/);
      assert.match(e.message, /services\.b\.deploy\.replicas must be a whole number/);
      assert.match(e.message, /services\.b\.healthcheck\.test must be/);
      assert.match(e.message, /services\.bad\.name: a service name must be/);
      return true;
    },
  );
});

test('depends_on: list form is service_started, map form keeps the condition', () => {
  const p = parse(`services:
  a: { image: x }
  b: { image: x }
  c:
    image: x
    depends_on:
      a: { condition: service_healthy }
      b: { condition: service_completed_successfully, required: true }
  d: { image: x, depends_on: [a] }
`);
  assert.deepEqual(p.services[2]!.dependsOn, [{ service: 'a', condition: 'service_healthy' }, { service: 'b', condition: 'service_completed_successfully' }]);
  assert.deepEqual(p.services[3]!.dependsOn, [{ service: 'a', condition: 'service_started' }]);
});

test('healthcheck: string test is CMD-SHELL, durations in seconds, disable and NONE drop it', () => {
  const p = parse(`services:
  a: { image: x, healthcheck: { test: "curl -f localhost", interval: 1m30s, timeout: 500ms, retries: 4, start_period: 10s } }
  b: { image: x, healthcheck: { test: [CMD, wget, -q, localhost] } }
  c: { image: x, healthcheck: { disable: true } }
  d: { image: x, healthcheck: { test: [NONE] } }
`);
  assert.deepEqual(p.services[0]!.healthcheck, { test: ['CMD-SHELL', 'curl -f localhost'], interval: 90, timeout: 0.5, retries: 4, startPeriod: 10 });
  assert.deepEqual(p.services[1]!.healthcheck, { test: ['CMD', 'wget', '-q', 'localhost'] });
  assert.equal(p.services[2]!.healthcheck, undefined);
  assert.equal(p.services[3]!.healthcheck, undefined);
});

test('resources: deploy limits/reservations, shorthands, sizes', () => {
  const p = parse(`services:
  a: { image: x, deploy: { resources: { limits: { cpus: "0.5", memory: 1g }, reservations: { memory: 256M } } } }
  b: { image: x, cpus: 2, mem_limit: 512m, mem_reservation: 128m }
`);
  assert.deepEqual(p.services[0]!.limits, { cpus: 0.5, memory: 1024 ** 3 });
  assert.deepEqual(p.services[0]!.reservations, { memory: 256 * 1024 ** 2 });
  assert.deepEqual(p.services[1]!.limits, { cpus: 2, memory: 512 * 1024 ** 2 });
  assert.deepEqual(p.services[1]!.reservations, { memory: 128 * 1024 ** 2 });
});

test('secrets: file and environment sources, short and long service forms', () => {
  const p = parse(
    `services:
  a: { image: x, secrets: [db, { source: api, target: API_KEY }] }
secrets:
  db: { file: ./token.txt }
  api: { environment: API_KEY_VALUE }
`,
    { API_KEY_VALUE: 'k' },
  );
  assert.deepEqual(p.secrets, [
    { name: 'db', value: 'tok', from: 'file ./token.txt' },
    { name: 'api', value: 'k', from: 'environment variable API_KEY_VALUE' },
  ]);
  assert.deepEqual(p.services[0]!.secrets, [{ source: 'db', target: 'db' }, { source: 'api', target: 'API_KEY' }]);
  assert.throws(() => parse(`services: { a: { image: x, secrets: [nope] } }\nsecrets: { e: { environment: UNSET } }`), /environment variable UNSET is not set[\s\S]*no top-level secret named nope/);
});

test('project name: -p, then name:, then the folder, normalised', () => {
  assert.equal(parse('services: { a: { image: x } }').name, 'p');
  assert.equal(parse('name: My_App\nservices: { a: { image: x } }').name, 'my_app');
  assert.equal(parseCompose('name: a\nservices: { a: { image: x } }', { file: '/p/c.yml', projectName: 'Other', readFile: read, env: {} }).name, 'other');
});

test('interpolation', () => {
  const env = { A: 'a', E: '' };
  assert.equal(interpolateString('$A ${A} ${E:-d} ${E-d} ${U:-dflt} $$A', env), 'a a d  dflt $A');
  const problems: string[] = [];
  interpolateString('${U:?must set}', env, problems, 'services.x.image');
  assert.deepEqual(problems, ['services.x.image: U is required (must set) but not set']);
  const p = parse('services: { a: { image: "reg/${IMG:-app}:${TAG}" } }', { TAG: '1' });
  assert.equal(p.services[0]!.image, 'reg/app:1');
});

test('ports, durations, sizes, env files and shell words', () => {
  assert.deepEqual(parsePort('8080'), { target: 8080, protocol: 'tcp' });
  assert.deepEqual(parsePort('9000:80'), { target: 80, protocol: 'tcp', published: '9000' });
  assert.deepEqual(parsePort('127.0.0.1:53:53/udp'), { target: 53, protocol: 'udp', published: '53' });
  assert.deepEqual(parsePort(80), { target: 80, protocol: 'tcp' });
  assert.deepEqual(parsePort({ target: 443, published: 8443 }), { target: 443, protocol: 'tcp', published: '8443' });
  assert.throws(() => parsePort('http'), /not a port/);
  assert.throws(() => parsePort('70000'), /not a port number/);
  assert.equal(parseDuration('1h2m3s'), 3723);
  assert.equal(parseDuration('250ms'), 0.25);
  assert.equal(parseDuration(7), 7);
  assert.throws(() => parseDuration('soon'), /not a duration/);
  assert.equal(parseBytes('1.5g'), 1.5 * 1024 ** 3);
  assert.equal(parseBytes('300M'), 300 * 1024 ** 2);
  assert.equal(parseBytes(4096), 4096);
  assert.throws(() => parseBytes('lots'), /not a size/);
  assert.deepEqual(parseEnvFile("export A=1\nB = 'x y'\nC=z # note\n\n#D=4\n"), [['A', '1'], ['B', 'x y'], ['C', 'z']]);
  assert.deepEqual(shellWords(`sh -c "echo \\"hi\\" 'there'" a\\ b ''`), ['sh', '-c', `echo "hi" 'there'`, 'a b', '']);
  assert.throws(() => shellWords('echo "open'), /unterminated/);
});

test('YAML anchors and merge keys (x- blocks shared between services)', () => {
  const p = parse(`x-base: &base
  image: reg/app:1
  environment: { A: "1" }
services:
  one:
    <<: *base
  two:
    <<: *base
    command: ["serve"]
`);
  assert.deepEqual(p.services.map((s) => [s.name, s.image, s.environment, s.command]), [
    ['one', 'reg/app:1', [['A', '1']], undefined],
    ['two', 'reg/app:1', [['A', '1']], ['serve']],
  ]);
  assert.deepEqual(p.warnings, []);
});
