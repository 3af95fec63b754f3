import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCompose, ComposeError } from './compose-file.ts';
import { healthCheckFor, loadBalancersFor, planCompose, startOrder, taskSizeFor, withLoadBalancers } from './to-ecs.ts';

const MiB = 1024 ** 2;
const plan = (yaml: string, env: Record<string, string> = {}) =>
  planCompose(parseCompose(yaml, { file: '/p/docker-compose.yml', env, readFile: () => 'secret-from-file' }));

test('a service maps to a Fargate task definition and a service in the project cluster', () => {
  const p = plan(
    `name: shop
services:
  web:
    image: reg/web:1
    entrypoint: /bin/sh -c
    command: ["httpd", "-f"]
    environment: [A=1]
    ports: ["9000:8080", "8080", "53/udp"]
    expose: [9090]
    working_dir: /srv
    user: "1000"
    init: true
    read_only: true
    stop_grace_period: 1m
    deploy: { replicas: 3 }
    secrets: [{ source: tok, target: api-token }]
secrets:
  tok: { file: tok.txt }
`,
  );
  assert.equal(p.cluster, 'shop');
  assert.deepEqual(p.secrets, [{ composeName: 'tok', secretName: 'compose/shop/tok', value: 'secret-from-file' }]);
  const web = p.services[0]!;
  const tags = [{ key: 'skiff:compose-project', value: 'shop' }];
  assert.deepEqual(web.taskDefinition, {
    family: 'shop-web',
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE'],
    cpu: '256',
    memory: '512',
    tags,
    containerDefinitions: [
      {
        name: 'web',
        image: 'reg/web:1',
        essential: true,
        entryPoint: ['/bin/sh', '-c'],
        command: ['httpd', '-f'],
        environment: [{ name: 'A', value: '1' }],
        portMappings: [
          { containerPort: 8080, protocol: 'tcp' },
          { containerPort: 53, protocol: 'udp' },
          { containerPort: 9090, protocol: 'tcp' },
        ],
        secrets: [{ name: 'API_TOKEN', valueFrom: 'compose/shop/tok' }],
        workingDirectory: '/srv',
        user: '1000',
        stopTimeout: 60,
        linuxParameters: { initProcessEnabled: true },
        readonlyRootFilesystem: true,
      },
    ],
  });
  assert.deepEqual(web.service, { cluster: 'shop', serviceName: 'web', taskDefinition: 'shop-web', desiredCount: 3, tags });
  assert.equal(web.oneShot, false);
  assert.ok(p.notes.some((n) => /published ports \(9000:8080\) have no host side/.test(n)), p.notes.join('\n'));
  assert.ok(p.notes.some((n) => /secrets API_TOKEN are given to the container as environment variables/.test(n)));
});

test('ports become one loadBalancers entry per container port, only in the CreateService request that asks for them', () => {
  const svc = { name: 'web', ports: [{ target: 8080, protocol: 'tcp' as const }, { target: 8080, protocol: 'tcp' as const, published: '80' }, { target: 53, protocol: 'udp' as const }] };
  assert.deepEqual(loadBalancersFor(svc), [{ containerName: 'web', containerPort: 8080 }, { containerName: 'web', containerPort: 53 }]);
  const p = plan('services: { web: { image: x, ports: ["8080"] }, worker: { image: x, expose: [8080] } }');
  assert.deepEqual(withLoadBalancers(p.services[0]!), {
    cluster: 'p',
    serviceName: 'web',
    taskDefinition: 'p-web',
    desiredCount: 1,
    tags: [{ key: 'skiff:compose-project', value: 'p' }],
    loadBalancers: [{ containerName: 'web', containerPort: 8080 }],
  });
  assert.equal(withLoadBalancers(p.services[1]!).loadBalancers, undefined, 'expose is not behind the load balancer');
  assert.equal(p.services[0]!.service.loadBalancers, undefined, 'the plain request never carries them');
});

test('resources round up to the cheapest valid Fargate size, with a note', () => {
  const size = (limits: object, reservations: object = {}) => {
    const notes: string[] = [];
    const problems: string[] = [];
    return { size: taskSizeFor({ name: 's', limits, reservations }, problems, notes), notes, problems };
  };
  assert.deepEqual(size({}), { size: { cpu: 256, memory: 512 }, notes: [], problems: [] });
  assert.deepEqual(size({ cpus: 0.25, memory: 512 * MiB }).notes, [], 'an exact size is not a round-up');
  assert.deepEqual(size({ cpus: 1, memory: 2048 * MiB }).size, { cpu: 1024, memory: 2048 });
  const r = size({ cpus: 0.3, memory: 600 * MiB });
  assert.deepEqual(r.size, { cpu: 512, memory: 1024 });
  assert.deepEqual(r.notes, ['s: 0.3 CPU and 600 MiB is not a Fargate size; rounded up to 512 CPU units (0.5 vCPU) and 1024 MiB']);
  assert.deepEqual(size({ memory: 3 * 1024 * MiB }).size, { cpu: 512, memory: 3072 }, 'memory only: the cheapest CPU that allows it');
  assert.deepEqual(size({ cpus: 2 }).size, { cpu: 2048, memory: 4096 });
  assert.deepEqual(size({}, { cpus: 0.5, memory: 1024 * MiB }).size, { cpu: 512, memory: 1024 }, 'reservations size the task without limits');
  assert.deepEqual(size({ cpus: 1 }, { cpus: 4 }).size.cpu, 1024, 'limits win over reservations');
  assert.match(size({ cpus: 32 }).problems[0]!, /more than the largest Fargate size/);
  // Container limits follow the Compose limits inside the rounded task size.
  const c = plan('services: { a: { image: x, deploy: { resources: { limits: { cpus: "0.3", memory: 600m }, reservations: { memory: 200m } } } } }').services[0]!.taskDefinition.containerDefinitions![0]!;
  assert.deepEqual([c.cpu, c.memory, c.memoryReservation], [308, 600, 200]);
});

test('healthcheck maps to ECS healthCheck within ECS ranges, with notes for moved values', () => {
  const notes: string[] = [];
  assert.deepEqual(healthCheckFor('a', { test: ['CMD', 'true'], interval: 10, timeout: 3, retries: 2, startPeriod: 15 }, notes), {
    command: ['CMD', 'true'], interval: 10, timeout: 3, retries: 2, startPeriod: 15,
  });
  assert.deepEqual(notes, []);
  assert.deepEqual(healthCheckFor('a', { test: ['CMD-SHELL', 'x'], interval: 1, timeout: 0.5, retries: 20, startPeriod: 600 }, notes), {
    command: ['CMD-SHELL', 'x'], interval: 5, timeout: 2, retries: 10, startPeriod: 300,
  });
  assert.deepEqual(notes, [
    'a: healthcheck interval 1s → 5s (ECS allows 5..300)',
    'a: healthcheck timeout 0.5s → 2s (ECS allows 2..60)',
    'a: healthcheck start_period 600s → 300s (ECS allows 0..300)',
    'a: healthcheck retries 20 → 10 (ECS allows 1..10)',
  ]);
  assert.deepEqual(healthCheckFor('a', { test: ['CMD', 'true'] }), { command: ['CMD', 'true'] }, 'ECS defaults apply when absent');
});

test('depends_on: start order, cycles, service_healthy needs a healthcheck, completed_successfully makes a one-shot job', () => {
  assert.deepEqual(
    startOrder([
      { name: 'client', dependsOn: [{ service: 'web', condition: 'service_healthy' }, { service: 'api', condition: 'service_started' }] },
      { name: 'web', dependsOn: [{ service: 'db', condition: 'service_started' }] },
      { name: 'api', dependsOn: [] },
      { name: 'db', dependsOn: [] },
    ]),
    ['db', 'web', 'api', 'client'],
  );
  const problems: string[] = [];
  startOrder([{ name: 'a', dependsOn: [{ service: 'b', condition: 'service_started' }] }, { name: 'b', dependsOn: [{ service: 'a', condition: 'service_started' }] }], problems);
  assert.deepEqual(problems, ['depends_on has a cycle: a → b → a']);
  assert.throws(
    () => plan('services: { a: { image: x, depends_on: { b: { condition: service_healthy } } }, b: { image: x } }'),
    (e: unknown) => e instanceof ComposeError && /condition service_healthy needs a healthcheck on b/.test(e.message),
  );
  const p = plan(`name: app
services:
  app: { image: x, depends_on: { migrate: { condition: service_completed_successfully } } }
  migrate: { image: x, command: ./migrate }
`);
  assert.deepEqual(p.services.map((s) => [s.name, s.oneShot]), [['migrate', true], ['app', false]]);
  assert.deepEqual(p.services[0]!.runTask, { cluster: 'app', taskDefinition: 'app-migrate', count: 1, startedBy: 'compose/app', tags: [{ key: 'skiff:compose-project', value: 'app' }] });
});

test('--cluster overrides the project cluster', () => {
  const p = planCompose(parseCompose('services: { a: { image: x } }', { file: '/p/c.yml', env: {} }), { cluster: 'default' });
  assert.equal(p.cluster, 'default');
  assert.equal(p.services[0]!.service.cluster, 'default');
});
