import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCompose, ComposeError } from './compose-file.ts';
import { withFileSystems } from './compose-volumes-up.ts';
import { executionRoleNameFor, healthCheckFor, loadBalancerNameFor, loadBalancersFor, planCompose, startOrder, taskSizeFor } from './to-ecs.ts';

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
  assert.deepEqual(web.service, {
    cluster: 'shop',
    serviceName: 'web',
    taskDefinition: 'shop-web',
    desiredCount: 3,
    loadBalancers: [{ loadBalancerName: 'shop-web-8080', containerName: 'web', containerPort: 8080 }],
    tags: [...tags, { key: 'skiff:loadBalancerPort', value: '9000' }],
  });
  assert.equal(web.oneShot, false);
  assert.equal(web.usesSecrets, true);
  assert.equal(p.executionRoleName, 'compose-shop-execution');
  assert.ok(p.notes.some((n) => /UDP port 53 is reachable by other tasks only/.test(n)), p.notes.join('\n'));
  assert.ok(p.notes.some((n) => /secrets API_TOKEN are given to the container as environment variables/.test(n)));
});

test('ports put the service behind its load balancer: one entry per TCP container port, published ports as the listener tag', () => {
  const ports = (...ps: { target: number; published?: string; protocol?: 'tcp' | 'udp' }[]) => ps.map((p) => ({ protocol: 'tcp' as const, ...p }));
  const run = (svcPorts: ReturnType<typeof ports>) => {
    const problems: string[] = [];
    const out = loadBalancersFor({ name: 'web', ports: svcPorts }, 'shop', problems);
    return { ...out, problems };
  };
  assert.deepEqual(run(ports({ target: 80, published: '8080' }, { target: 80 }, { target: 53, protocol: 'udp' })), {
    loadBalancers: [{ loadBalancerName: 'shop-web-80', containerName: 'web', containerPort: 80 }],
    listenerPorts: [8080],
    problems: [],
  });
  assert.deepEqual(run(ports({ target: 80 }, { target: 443 })).listenerPorts, undefined, 'none published: Skiff picks');
  assert.match(run(ports({ target: 80, published: '8080' }, { target: 443 })).problems[0]!, /publish a host port for every TCP port \("8080:80"\) or for none/);
  assert.match(run(ports({ target: 80, published: '8080-8090' })).problems[0]!, /published port "8080-8090" must be one host port/);
  assert.match(run(ports({ target: 80, published: '8080' }, { target: 80, published: '8081' })).problems[0]!, /container port 80 is published twice \(8080, 8081\)/);
  assert.match(run(ports({ target: 80, published: '8080' }, { target: 81, published: '8080' })).problems[0]!, /host port 8080 is published twice/);

  const p = plan('services: { web: { image: x, ports: ["8080:80"] }, worker: { image: x, expose: [8080] } }');
  assert.deepEqual(p.services[0]!.service, {
    cluster: 'p',
    serviceName: 'web',
    taskDefinition: 'p-web',
    desiredCount: 1,
    loadBalancers: [{ loadBalancerName: 'p-web-80', containerName: 'web', containerPort: 80 }],
    tags: [{ key: 'skiff:compose-project', value: 'p' }, { key: 'skiff:loadBalancerPort', value: '8080' }],
  });
  assert.deepEqual(p.services[0]!.taskDefinition.containerDefinitions![0]!.portMappings, [{ containerPort: 80, protocol: 'tcp' }]);
  assert.equal(p.services[1]!.service.loadBalancers, undefined, 'expose is not behind the load balancer');
  assert.equal(p.executionRoleName, undefined, 'no secrets, no role');
  assert.throws(() => plan('services: { a: { image: x, ports: ["8080:80"] }, b: { image: x, ports: [{ target: 81, published: 8080 }] } }'), /services\.b\.ports: host port 8080 is already published by a/);
});

test('long names are shortened to what IAM and load balancers allow, with a hash', () => {
  const long = 'p'.repeat(70);
  assert.equal(executionRoleNameFor('shop'), 'compose-shop-execution');
  assert.equal(executionRoleNameFor(long).length, 64);
  assert.notEqual(executionRoleNameFor(long), executionRoleNameFor(long + 'q'));
  assert.equal(loadBalancerNameFor('my_shop', 'web', 80), 'my-shop-web-80');
  const lb = loadBalancerNameFor(long, 'web', 80);
  assert.ok(lb.length <= 32 && /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/.test(lb), lb);
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

test('volumes: one EFS file system per named volume and per bind-mounted folder, shared by the services that mount it', () => {
  const p = plan(`name: shop
volumes: { data: {} }
services:
  db: { image: x, volumes: ["data:/var/lib/db"] }
  web: { image: y, volumes: ["data:/data:ro", "./site:/site"] }
`);
  assert.deepEqual(
    p.fileSystems.map((f) => ({ ...f })),
    [
      { key: 'vol-data', creationToken: 'compose:shop:volume:data', name: 'shop_data' },
      { key: 'bind-' + p.fileSystems[1]!.key.slice(5), creationToken: `compose:shop:bind:${p.fileSystems[1]!.key.slice(5)}`, name: 'shop_bind_site', seedFrom: '/p/site' },
    ],
  );
  const web = p.services.find((s) => s.name === 'web')!.taskDefinition;
  assert.deepEqual(web.volumes, [
    { name: 'vol-data', efsVolumeConfiguration: { fileSystemId: '${efs:vol-data}' } },
    { name: p.fileSystems[1]!.key, efsVolumeConfiguration: { fileSystemId: `\${efs:${p.fileSystems[1]!.key}}` } },
  ]);
  assert.deepEqual(web.containerDefinitions![0]!.mountPoints, [
    { sourceVolume: 'vol-data', containerPath: '/data', readOnly: true },
    { sourceVolume: p.fileSystems[1]!.key, containerPath: '/site', readOnly: false },
  ]);
  const ids = new Map([['vol-data', 'fs-0123456789abcdef0'], [p.fileSystems[1]!.key, 'fs-0123456789abcdef1']]);
  const td = withFileSystems(structuredClone(web), ids);
  assert.deepEqual(td.volumes!.map((v) => v.efsVolumeConfiguration!.fileSystemId), ['fs-0123456789abcdef0', 'fs-0123456789abcdef1']);
});
