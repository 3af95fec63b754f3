/**
 * `skiff compose` end to end: a Compose file with three services (`web` and
 * `api` busybox httpd, `client` fetching both BY NAME in a loop) comes up
 * through the real `bin/skiff.js compose up` against a real server with real
 * runc tasks; the client's output proves the names resolve through Skiff's
 * DNS responder on the subnet gateway; depends_on (service_healthy) holds the
 * client back until web is healthy; the responder answers the host directly
 * (A records of RUNNING tasks, NXDOMAIN, REFUSED); the Compose secret becomes
 * a Secrets Manager secret, read at start through the project's execution role
 * and present in the api containers' environment, its value never in compose's
 * output; `web`'s published port is its load balancer's listener, reached from
 * the host over loopback (also after a server restart); `compose down` leaves
 * no ACTIVE service, no task RUNNING, no ACTIVE task definition, no secret, no
 * role, no listener.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as dnsPacket from 'dns-packet';
import {
  DescribeClustersCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ListTaskDefinitionsCommand,
  ListTasksCommand,
  StopTaskCommand,
  type ECSClient,
  type Task,
} from '@aws-sdk/client-ecs';
import { TestServer, TEST_ROOT_KEY, waitFor } from './support/skiff-server.ts';
import { freePort, startRegistry, type TestRegistry } from './support/registry.ts';
import { pushBusyboxImage } from './support/images.ts';
import { ipOf } from './support/tasks.ts';
import { signedFetch } from '../src/cli/client.ts';
import { gatewayAddress, parseCidr } from '../src/model/cidr.ts';
import { RCODE } from '../src/discovery/dns-answer.ts';

const rcodeOf = (p: dnsPacket.DecodedPacket) => Object.entries(RCODE).find(([, n]) => n === ((p.flags ?? 0) & 0xf))?.[0];
const addressesIn = (p: dnsPacket.DecodedPacket) => (p.answers ?? []).map((a) => (a as { data: string }).data);

const SKIFF = resolve(import.meta.dirname, '../bin/skiff.js');
const PROJECT = 'shop';
const SECRET = 's3cr3t-token';
const SECRET_MD5 = createHash('md5').update(SECRET).digest('hex');
const ROLE = 'compose-shop-execution';

let server: TestServer;
let registry: TestRegistry;
let ecs: ECSClient;
let dir: string;
let composeFile: string;
/** The DNS responder's address on the web task's subnet (set by the DNS test). */
let gateway = '';
/** web's published port: its load balancer's listener on the host. */
let webPort = 0;
let image = '';
/** Everything compose printed, to check that the secret's value never appears. */
const composeOutput: string[] = [];

function skiff(args: string[], timeoutMs = 180_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [SKIFF, ...args], { env: { ...server.clientEnv(), SHOP_TOKEN: SECRET }, timeout: timeoutMs }, (err, stdout, stderr) => {
      composeOutput.push(stdout, stderr);
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const httpd = (body: string, before = '') => ['sh', '-c', `${before}mkdir -p /www && echo ${body} > /www/index.html && exec httpd -f -p 8080 -h /www`];
/** Logs a digest of the injected secret (never the value itself), then serves; `$$` is Compose's escaped `$`. */
const apiCommand = httpd('api-ok', 'echo "token-md5=$$(printf %s "$$shop_token" | md5sum | cut -d" " -f1)" && hostname > /data/$$(hostname) && ');

before(async () => {
  registry = await startRegistry({ auth: 'none' });
  image = await pushBusyboxImage(registry, 'test/busybox:compose');
  server = new TestServer({ env: { SKIFF_SERVICE_INTERVAL_MS: '200' } });
  await server.start();
  ecs = server.ecs();
  dir = mkdtempSync(join(tmpdir(), 'skiff-compose-'));
  webPort = await freePort();
  composeFile = join(dir, 'docker-compose.yml');
  writeFileSync(join(dir, 'api.env'), 'API_MODE=fast\n# a comment\n');
  mkdirSync(join(dir, 'site'));
  writeFileSync(join(dir, 'site', 'page.html'), 'from-the-project-folder\n');
  // stop_grace_period: a shell or httpd as PID 1 ignores SIGTERM, so `down` would wait 30 s per task for SIGKILL.
  writeFileSync(
    composeFile,
    `name: ${PROJECT}
services:
  web:
    image: ${image}
    command: ${JSON.stringify(httpd('web-ok', 'mkdir -p /www && cp /site/page.html /www/ && '))}
    volumes: ["./site:/site:ro"]
    ports: ["${webPort}:8080"]
    stop_grace_period: 2s
    healthcheck:
      test: ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1"]
      interval: 5s
      timeout: 2s
      retries: 3
  api:
    image: ${image}
    command: ${JSON.stringify(apiCommand)}
    expose: ["8080"]
    stop_grace_period: 2s
    env_file: api.env
    environment:
      GREETING: hello
    secrets: [shop_token]
    depends_on:
      migrate: { condition: service_completed_successfully }
    deploy:
      replicas: 2
      resources:
        limits: { cpus: "0.3", memory: 600m }
    volumes: ["data:/data"]
  migrate:
    image: ${image}
    command: sh -c 'echo migrated'
  client:
    image: ${image}
    command: ["sh", "-c", "while true; do echo \\"web=$$(wget -q -O - http://web:8080/) api=$$(wget -q -O - http://api:8080/)\\"; sleep 1; done"]
    stop_grace_period: 2s
    depends_on:
      web: { condition: service_healthy }
      api: { condition: service_started }
secrets:
  shop_token:
    environment: SHOP_TOKEN
volumes:
  data: {}
`,
  );
});

after(async () => {
  // Whatever happened above: remove the project, then everything the server made.
  if (server && composeFile) await skiff(['compose', 'down', '-f', composeFile, '--wait-timeout', '60']).catch(() => {});
  await server?.destroy();
  await registry?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function serviceTasks(name: string): Promise<Task[]> {
  const arns = (await ecs.send(new ListTasksCommand({ cluster: PROJECT, serviceName: name }))).taskArns ?? [];
  return arns.length ? ((await ecs.send(new DescribeTasksCommand({ cluster: PROJECT, tasks: arns }))).tasks ?? []) : [];
}

async function logsOf(task: Task): Promise<string> {
  const res = await server.fetch(`/skiff/v1/tasks/${task.taskArn!.split('/').pop()}/logs`);
  const text = await res.text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { message: string }).message)
    .join('\n');
}

/** One DNS question to `server:53` over UDP, from the host. */
function dnsQuery(serverAddress: string, name: string, type: 'A' | 'AAAA' | 'MX' = 'A'): Promise<dnsPacket.DecodedPacket> {
  return new Promise((res, rej) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      rej(new Error(`no DNS answer from ${serverAddress} for ${name}`));
    }, 3000);
    sock.on('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      res(dnsPacket.decode(msg) as dnsPacket.DecodedPacket);
    });
    sock.send(dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] }), 53, serverAddress);
  });
}

test('compose up: three services come up in dependency order and reach each other by name', async (t) => {
  const up = await skiff(['compose', 'up', '-f', composeFile, '--wait-timeout', '120']);
  for (const line of ['compose up:', ...up.stderr.trim().split('\n')]) t.diagnostic(line);
  assert.equal(up.code, 0, `compose up failed:\n${up.stdout}\n${up.stderr}\n--- server:\n${server.output.slice(-3000)}`);
  // Unsupported keys are reported by path; round-ups and secret handling are noted.
  // Named volumes and bind-mounted folders are EFS file systems (a folder is copied in once).
  assert.match(up.stderr, /^volume shop_data: created EFS file system fs-[0-9a-f]{17}$/m);
  assert.match(up.stderr, /^volume shop_bind_site: copied .*\/site in$/m);
  assert.match(up.stderr, /note: api: 0\.3 CPU and 600 MiB is not a Fargate size; rounded up to 512 CPU units \(0\.5 vCPU\) and 1024 MiB/);
  assert.match(up.stderr, /note: api: secrets shop_token are given to the container as environment variables/);
  assert.match(up.stderr, new RegExp(`^execution role ${ROLE}: created \\(secretsmanager:GetSecretValue on 1 secret\\(s\\)\\)$`, 'm'));
  assert.match(up.stderr, new RegExp(`^web: service created \\(desired 1\\) behind its load balancer \\(container port\\(s\\) 8080, host port\\(s\\) ${webPort}\\)$`, 'm'));
  // Order: client waits for web to be healthy and api started, and is created last.
  const lines = up.stderr.split('\n');
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  assert.ok(at(/^client: waiting for web \(service_healthy\), api \(service_started\)/) > at(/^web: service created/), up.stderr);
  assert.ok(at(/^client: service created/) > at(/^client: waiting/), up.stderr);
  assert.ok(at(/^api: service created/) < at(/^client: waiting/), up.stderr);
  // The one-shot job runs first and must have exited 0 before api is created.
  assert.ok(at(/^migrate: started 1 one-shot task\(s\)/) < at(/^api: waiting for migrate \(service_completed_successfully\)/), up.stderr);
  assert.ok(at(/^api: waiting for migrate/) < at(/^api: service created/), up.stderr);
  const jobs = await ecs.send(new ListTasksCommand({ cluster: PROJECT, startedBy: `compose/${PROJECT}`, desiredStatus: 'STOPPED' }));
  const job = (await ecs.send(new DescribeTasksCommand({ cluster: PROJECT, tasks: jobs.taskArns! }))).tasks![0]!;
  assert.equal(job.containers![0]!.exitCode, 0);
  assert.match(await logsOf(job), /migrated/);

  const [web, api, client] = await Promise.all(['web', 'api', 'client'].map(serviceTasks));
  assert.equal(web.filter((t) => t.lastStatus === 'RUNNING').length, 1);
  assert.equal(api.filter((t) => t.lastStatus === 'RUNNING').length, 2, 'deploy.replicas 2 → desiredCount 2');
  assert.equal(client.length, 1);
  // The client was only created once web was healthy.
  const clientSvc = (await ecs.send(new DescribeServicesCommand({ cluster: PROJECT, services: ['client'] }))).services![0]!;
  assert.ok(clientSvc.createdAt!.getTime() >= web[0]!.startedAt!.getTime(), 'client service created after web ran');
  assert.equal(web[0]!.healthStatus, 'HEALTHY');

  // The client fetched both services by their Compose names.
  const out = await waitFor('the client to reach web and api by name', async () => {
    const text = await logsOf(client[0]!);
    return /web=web-ok api=api-ok/.test(text) ? text : undefined;
  }, 30_000);
  assert.match(out, /web=web-ok api=api-ok/);

  // Mapping as registered: size rounded up, env_file + environment, secret → Secrets Manager ARN, health check.
  const apiDef = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: `${PROJECT}-api` }))).taskDefinition!;
  assert.equal(apiDef.cpu, '512');
  assert.equal(apiDef.memory, '1024');
  const c = apiDef.containerDefinitions![0]!;
  assert.deepEqual(Object.fromEntries((c.environment ?? []).map((e) => [e.name, e.value])), { API_MODE: 'fast', GREETING: 'hello' });
  assert.equal(c.secrets?.[0]?.name, 'shop_token');
  assert.match(c.secrets![0]!.valueFrom!, /^arn:aws:secretsmanager:us-east-1:\d+:secret:compose\/shop\/shop_token-/);
  const webDef = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: `${PROJECT}-web` }))).taskDefinition!;
  assert.deepEqual(webDef.containerDefinitions![0]!.healthCheck, {
    command: ['CMD-SHELL', 'wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1'],
    interval: 5,
    timeout: 2,
    retries: 3,
  });
  const secret = await secretValue('compose/shop/shop_token');
  assert.equal(secret.status, 200);
  assert.equal(secret.body.SecretString, SECRET);

  // The execution role reads exactly the project's secret, and only the definition that uses it names the role.
  const role = await roleOf(ROLE);
  assert.equal(role.status, 200);
  assert.equal(apiDef.executionRoleArn, role.body.role.arn);
  assert.deepEqual(role.body.role.policy.Statement, [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: [c.secrets![0]!.valueFrom] }]);
  assert.equal(webDef.executionRoleArn, undefined);
  // Both api replicas got the secret's value in their environment (they log its digest, not the value).
  for (const task of api) {
    await waitFor(`api task ${task.taskArn} to log its token digest`, async () => ((await logsOf(task)).includes(`token-md5=${SECRET_MD5}`) ? true : undefined), 30_000);
  }
  // Both api replicas wrote into the one `data` volume: its file system holds a file from each.
  const fsId = apiDef.volumes![0]!.efsVolumeConfiguration!.fileSystemId!;
  assert.match(fsId, /^fs-[0-9a-f]{17}$/);
  assert.equal(readdirSync(join(server.dataDir, 'efs', fsId)).length, 2);
  assert.deepEqual(apiDef.containerDefinitions![0]!.mountPoints, [{ sourceVolume: 'vol-data', containerPath: '/data', readOnly: false }]);
});

test("web's published port is its load balancer, reached from the host over loopback", async () => {
  const body = await waitFor(`web to answer on 127.0.0.1:${webPort}`, async () => {
    const res = await fetch(`http://127.0.0.1:${webPort}/`).catch(() => undefined);
    return res?.status === 200 ? (await res.text()).trim() : undefined;
  }, 30_000);
  assert.equal(body, 'web-ok');
  assert.equal((await (await fetch(`http://127.0.0.1:${webPort}/page.html`)).text()).trim(), 'from-the-project-folder', 'the bind-mounted folder, copied into its file system');
  const lbs = ((await (await server.fetch('/skiff/v1/load-balancers')).json()) as { loadBalancers: { serviceName: string; listener: string; containerPort: number; listening: boolean }[] }).loadBalancers;
  assert.deepEqual(lbs.map((l) => [l.serviceName, l.listener, l.containerPort, l.listening]), [['web', `127.0.0.1:${webPort}`, 8080, true]], 'only web has ports');
});

async function roleOf(name: string): Promise<{ status: number; body: { role: { arn: string; policy: { Statement: unknown[] } } } }> {
  const res = await server.fetch(`/skiff/v1/roles/${name}`);
  return { status: res.status, body: (await res.json()) as { role: { arn: string; policy: { Statement: unknown[] } } } };
}

async function secretValue(id: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await signedFetch(new URL(server.endpoint + '/'), {
    method: 'POST',
    body: JSON.stringify({ SecretId: id }),
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.GetSecretValue' },
    service: 'secretsmanager',
    region: 'us-east-1',
    credentials: TEST_ROOT_KEY,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test('the DNS responder on the gateway answers service names with RUNNING task addresses, nothing else', async () => {
  const web = (await serviceTasks('web')).filter((t) => t.lastStatus === 'RUNNING');
  const api = (await serviceTasks('api')).filter((t) => t.lastStatus === 'RUNNING');
  const subnets = ((await (await server.fetch('/skiff/v1/subnets')).json()) as { subnets: { subnetId: string; cidrBlock: string }[] }).subnets;
  const subnetOf = (t: Task) => t.attachments![0]!.details!.find((d) => d.name === 'subnetId')!.value!;
  gateway = gatewayAddress(parseCidr(subnets.find((s) => s.subnetId === subnetOf(web[0]!))!.cidrBlock));

  const a = await dnsQuery(gateway, 'web.shop.skiff.local');
  assert.equal(rcodeOf(a), 'NOERROR');
  assert.equal(a.flag_aa, true);
  assert.equal(a.flag_ra, false, 'no recursion offered');
  assert.deepEqual(addressesIn(a), [ipOf(web[0]!)]);
  const apiA = await dnsQuery(gateway, 'API.shop.skiff.local.');
  assert.deepEqual(addressesIn(apiA).sort(), api.map((t) => ipOf(t)!).sort(), 'both api replicas, case-insensitively');
  assert.equal((await dnsQuery(gateway, 'web.shop.skiff.local', 'AAAA')).answers?.length, 0, 'no IPv6: empty NOERROR');
  assert.equal(rcodeOf(await dnsQuery(gateway, 'nope.shop.skiff.local')), 'NXDOMAIN');
  assert.equal(rcodeOf(await dnsQuery(gateway, 'web.other.skiff.local')), 'NXDOMAIN', 'another cluster has no web');
  assert.equal(rcodeOf(await dnsQuery(gateway, 'example.com')), 'REFUSED', 'never forwarded');
  // A bare name from an address that is no task: not answered.
  assert.equal(rcodeOf(await dnsQuery(gateway, 'web')), 'REFUSED');
});

test('a stopped task leaves the answers; after a server restart the responder serves the adopted tasks again', async () => {
  const api = (await serviceTasks('api')).filter((t) => t.lastStatus === 'RUNNING');
  const stopped = api[0]!;
  await ecs.send(new StopTaskCommand({ cluster: PROJECT, task: stopped.taskArn!, reason: 'test' }));
  // The answers are exactly the RUNNING tasks (desired RUNNING) of the service: the stopped one left them
  // (its address may come back only as a replacement's, since the lowest free address is handed out).
  await waitFor('the DNS answers to be the running api tasks', async () => {
    const tasks = await serviceTasks('api'); // desired RUNNING only: the stopped task is not among them
    if (tasks.some((t) => t.taskArn === stopped.taskArn)) return undefined;
    const running = tasks.filter((t) => t.lastStatus === 'RUNNING' && t.desiredStatus === 'RUNNING').map((t) => ipOf(t)!).sort();
    const answered = addressesIn(await dnsQuery(gateway, 'api.shop.skiff.local')).sort();
    return JSON.stringify(answered) === JSON.stringify(running) ? true : undefined;
  }, 30_000);

  const client = (await serviceTasks('client')).find((t) => t.lastStatus === 'RUNNING')!;
  const okLines = async () => (await logsOf(client)).split('\n').filter((l) => /web=web-ok api=api-ok/.test(l)).length;
  await server.stop();
  await server.start();
  const webIp = ipOf((await serviceTasks('web')).find((t) => t.lastStatus === 'RUNNING')!);
  assert.deepEqual(addressesIn(await dnsQuery(gateway, 'web.shop.skiff.local')), [webIp]);
  // The client, adopted with its resolv.conf, keeps resolving by name through the new responder.
  const before = await okLines();
  await waitFor('the client to resolve names after the restart', async () => ((await okLines()) > before + 1 ? true : undefined), 30_000);
  // The load balancer listens again on the published port, with the adopted web task behind it.
  const body = await waitFor('web to answer on its published port after the restart', async () => {
    const res = await fetch(`http://127.0.0.1:${webPort}/`).catch(() => undefined);
    return res?.status === 200 ? (await res.text()).trim() : undefined;
  }, 30_000);
  assert.equal(body, 'web-ok');
});

test('a Compose file with problems is refused with all of them, before anything is made', async () => {
  const bad = join(dir, 'bad.yml');
  writeFileSync(bad, 'name: broken\nservices:\n  a: { build: . }\n  b: { image: x, depends_on: { a: { condition: service_healthy } }, deploy: { resources: { limits: { cpus: 64 } } } }\n');
  const up = await skiff(['compose', 'up', '-f', bad]);
  assert.equal(up.code, 1);
  assert.match(up.stderr, /services\.a\.image is required/);
  const clusters = (await ecs.send(new DescribeClustersCommand({ clusters: ['broken'] }))).clusters ?? [];
  assert.deepEqual(clusters, [], 'no cluster made');
  writeFileSync(bad, 'name: broken\nservices:\n  b: { image: x, deploy: { resources: { limits: { cpus: 64 } } } }\n');
  const up2 = await skiff(['compose', 'up', '-f', bad]);
  assert.equal(up2.code, 1);
  assert.match(up2.stderr, /services\.b\.deploy\.resources: 64 CPU is more than the largest Fargate size/);
});

test('compose ps lists the services with their URLs, tasks and DNS names', async (t) => {
  const table = await skiff(['compose', 'ps', '-f', composeFile]);
  for (const line of ['compose ps:', ...table.stdout.trim().split('\n')]) t.diagnostic(line);
  assert.match(table.stdout, new RegExp(`^web .*http://127\\.0\\.0\\.1:${webPort}->8080 .*web\\.shop\\.skiff\\.local`, 'm'));
  const ps = await skiff(['--output', 'json', 'compose', 'ps', '-f', composeFile]);
  assert.equal(ps.code, 0, ps.stderr);
  const rows = (JSON.parse(ps.stdout) as { services: { service: string; status: string; running: number; desired: number; dnsName?: string; ports?: { url: string }[] }[] }).services;
  assert.deepEqual(rows.map((r) => [r.service, r.status, r.running, r.desired, r.dnsName, r.ports?.map((p) => p.url)]), [
    ['web', 'ACTIVE', 1, 1, 'web.shop.skiff.local', [`http://127.0.0.1:${webPort}`]],
    ['migrate', 'COMPLETED', 0, 1, undefined, undefined],
    ['api', 'ACTIVE', 2, 2, 'api.shop.skiff.local', undefined],
    ['client', 'ACTIVE', 1, 1, 'client.shop.skiff.local', undefined],
  ]);
});

test('a project publishing a port another service listens on is refused with a message naming the port', async () => {
  const other = join(dir, 'other.yml');
  writeFileSync(other, `name: other\nservices:\n  site:\n    image: ${image}\n    command: ${JSON.stringify(httpd('site-ok'))}\n    ports: ["${webPort}:8080"]\n`);
  try {
    const up = await skiff(['compose', 'up', '-f', other, '--wait-timeout', '60']);
    assert.equal(up.code, 1, up.stderr);
    assert.match(up.stderr, new RegExp(`site: cannot get published port\\(s\\) ${webPort}: (InvalidParameterException: )?Port ${webPort} \\(tag skiff:loadBalancerPort\\) is already the listener port of another service`));
    const services = (await ecs.send(new DescribeServicesCommand({ cluster: 'other', services: ['site'] }))).services ?? [];
    assert.deepEqual(services, [], 'no service made');
  } finally {
    const down = await skiff(['compose', 'down', '-f', other, '--wait-timeout', '60']);
    assert.equal(down.code, 0, down.stderr);
  }
  assert.equal((await fetch(`http://127.0.0.1:${webPort}/`).then((r) => r.text())).trim(), 'web-ok', 'web keeps its port');
});

test('compose up again with an unchanged file restarts nothing', async () => {
  const before = (await Promise.all(['web', 'api', 'client'].map(serviceTasks))).flat().map((t) => t.taskArn!).sort();
  const up = await skiff(['compose', 'up', '-f', composeFile, '--wait-timeout', '120']);
  assert.equal(up.code, 0, up.stderr);
  for (const name of ['web', 'api', 'client']) assert.match(up.stderr, new RegExp(`^${name}: unchanged$`, 'm'));
  assert.doesNotMatch(up.stderr, /execution role .*: (created|updated)/, 'the role is left as it is');
  assert.match(up.stderr, /^volume shop_data: kept EFS file system fs-/m);
  assert.match(up.stderr, /^volume shop_bind_site: has files already; .*\/site was not copied again$/m);
  assert.doesNotMatch(up.stderr, /warning: web/, 'no load balancer change reported');
  const after = (await Promise.all(['web', 'api', 'client'].map(serviceTasks))).flat().map((t) => t.taskArn!).sort();
  assert.deepEqual(after, before);
  const revisions = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: `${PROJECT}-web` }));
  assert.equal(revisions.taskDefinitionArns?.length, 1, 'no new revision');
});

test('compose down removes everything: no service ACTIVE, no task RUNNING, no definition, no secret, no cluster', async () => {
  const arnsBefore = (await Promise.all(['web', 'api', 'client'].map(serviceTasks))).flat().map((t) => t.taskArn!);
  assert.ok(arnsBefore.length >= 4, `${arnsBefore.length} tasks`);
  const down = await skiff(['compose', 'down', '-f', composeFile, '--wait-timeout', '60']);
  assert.equal(down.code, 0, `compose down failed:\n${down.stderr}`);
  assert.match(down.stderr, /project shop: down/);
  // The cluster compose made is gone, which ECS allows only without active services and running tasks.
  const cluster = (await ecs.send(new DescribeClustersCommand({ clusters: [PROJECT] }))).clusters?.[0];
  assert.equal(cluster?.status, 'INACTIVE');
  assert.equal(cluster?.activeServicesCount ?? 0, 0);
  assert.equal(cluster?.runningTasksCount ?? 0, 0);
  // Every task the project had is STOPPED (Skiff's own task endpoint is not cluster-scoped).
  for (const arn of arnsBefore) {
    const detail = (await (await server.fetch(`/skiff/v1/tasks/${arn.split('/').pop()}`)).json()) as { task: { lastStatus: string } };
    assert.equal(detail.task.lastStatus, 'STOPPED', arn);
  }
  const active = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: `${PROJECT}-`, status: 'ACTIVE' }));
  assert.deepEqual(active.taskDefinitionArns, []);
  assert.equal((await secretValue('compose/shop/shop_token')).status, 400);
  assert.match(down.stderr, new RegExp(`^execution role ${ROLE}: deleted$`, 'm'));
  assert.equal((await roleOf(ROLE)).status, 400, 'the role is gone');
  await waitFor('the listener to close', async () => ((await fetch(`http://127.0.0.1:${webPort}/`).then(() => false, () => true)) ? true : undefined), 10_000);
  if (gateway) assert.equal(rcodeOf(await dnsQuery(gateway, 'web.shop.skiff.local')), 'NXDOMAIN', 'the name went with the service');
});

test("the secret's value never appears in anything compose printed", () => {
  assert.ok(composeOutput.join('').length > 0);
  assert.equal(composeOutput.join('\n').includes(SECRET), false);
});
