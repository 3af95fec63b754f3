/**
 * Load balancing end to end, through @aws-sdk/client-ecs against a real
 * `skiff server` with real runc tasks serving HTTP (busybox httpd): a service
 * with a `loadBalancers` entry gets a listener on a host port (the
 * `skiff:loadBalancerPort` tag, GET /skiff/v1/load-balancers); requests spread
 * over the healthy tasks; a stopped task and a RUNNING task that is not
 * healthy get none; a rolling deployment under continuous load (keep-alive
 * and new connections) drops no request; scale-in drains (the task keeps
 * running through the deregistration delay and gets no new request); a
 * restarted server brings the listener back; bad input is refused as ECS does.
 * Every request goes to loopback (the listener), which connects to task addresses.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  CreateServiceCommand,
  DeleteServiceCommand,
  DescribeServicesCommand,
  ListTasksCommand,
  StopTaskCommand,
  TagResourceCommand,
  UpdateServiceCommand,
  waitUntilServicesStable,
  type ContainerDefinition,
  type ECSClient,
  type Service,
} from '@aws-sdk/client-ecs';
import { TestServer, waitFor } from './support/skiff-server.ts';
import { startRegistry, type TestRegistry } from './support/registry.ts';
import { pushBusyboxImage } from './support/images.ts';
import { describeTask, ipOf, registerFamily, waitTaskStatus } from './support/tasks.ts';
import { httpGet, slowHttpdContainer } from './support/http.ts';

let server: TestServer;
let registry: TestRegistry;
let ecs: ECSClient;
let image: string;

const TG = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef';
const ENV = { SKIFF_SERVICE_INTERVAL_MS: '200', SKIFF_LB_DEREGISTRATION_DELAY_SECONDS: '1.5', SKIFF_LB_SYNC_INTERVAL_MS: '100' };

before(async () => {
  registry = await startRegistry({ auth: 'none' });
  image = await pushBusyboxImage(registry, 'test/busybox:lb');
  server = new TestServer({ env: ENV });
  await server.start();
  ecs = server.ecs();
});
after(async () => {
  await server?.destroy();
  await registry?.stop();
});

async function rejectsWith(p: Promise<unknown>, name: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    assert.equal(e.name, name, e.message);
    assert.match(e.message, re);
    return true;
  });
}

/** A revision whose container serves "<label> <hostname>" on 8080, slowly at /cgi-bin/slow (slowHttpdContainer). */
function register(label: string, extra: Partial<ContainerDefinition> = {}): Promise<string> {
  return registerFamily(ecs, 'lbweb', [{ ...slowHttpdContainer(image, label), ...extra }]);
}

async function describeService(name: string, include?: 'TAGS'): Promise<Service> {
  const out = await ecs.send(new DescribeServicesCommand({ services: [name], ...(include ? { include: [include] } : {}) }));
  return out.services![0];
}

async function waitStable(name: string): Promise<void> {
  const r = await waitUntilServicesStable({ client: ecs, maxWaitTime: 90, minDelay: 1, maxDelay: 1 }, { services: [name] });
  assert.equal(r.state, 'SUCCESS', JSON.stringify(r.reason));
}

async function serviceTasks(name: string, desiredStatus: 'RUNNING' | 'STOPPED' = 'RUNNING'): Promise<string[]> {
  return (await ecs.send(new ListTasksCommand({ serviceName: name, desiredStatus }))).taskArns ?? [];
}

/** The hostname a task's httpd reports: ip-<address with dashes>.ec2.internal (us-east-1). */
async function hostOf(arn: string): Promise<string> {
  return `ip-${ipOf(await describeTask(ecs, arn))!.replaceAll('.', '-')}.ec2.internal`;
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 8 });

function get(port: number, agent: http.Agent | false = false, path = '/'): Promise<{ status: number; body: string }> {
  return httpGet('127.0.0.1', port, path, agent);
}

/** `n` requests through the listener (new connections); their bodies. */
async function bodies(port: number, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await get(port);
    assert.equal(r.status, 200, r.body);
    out.push(r.body);
  }
  return out;
}

interface LbView {
  serviceName: string;
  listener: string;
  listening: boolean;
  targets: { id: string; state: string; requests: number }[];
}
async function loadBalancers(): Promise<LbView[]> {
  const res = await server.fetch('/skiff/v1/load-balancers');
  assert.equal(res.status, 200);
  return ((await res.json()) as { loadBalancers: LbView[] }).loadBalancers;
}

test('bad loadBalancers are refused with InvalidParameterException saying what to fix', async () => {
  const td = await register('bad');
  const create = (lb: object, tags?: { key: string; value: string }[]) =>
    ecs.send(new CreateServiceCommand({ serviceName: 'bad', taskDefinition: td, desiredCount: 1, loadBalancers: [lb], tags }));
  await rejectsWith(create({ targetGroupArn: TG, containerName: 'nope', containerPort: 8080 }), 'InvalidParameterException', /container nope does not exist in the task definition lbweb:\d+ \(its containers: web\)/);
  await rejectsWith(create({ targetGroupArn: TG, containerName: 'web', containerPort: 9090 }), 'InvalidParameterException', /does not have a container port 9090 defined \(it maps 8080\)/);
  await rejectsWith(create({ containerName: 'web', containerPort: 8080 }), 'InvalidParameterException', /must name a target group/);
  await rejectsWith(create({ targetGroupArn: 'arn:aws:ecs:us-east-1:1:cluster/x', containerName: 'web', containerPort: 8080 }), 'InvalidParameterException', /not a target group ARN/);
  await rejectsWith(create({ targetGroupArn: TG, containerName: 'web', containerPort: 8080 }, [{ key: 'skiff:loadBalancerPort', value: 'x' }]), 'InvalidParameterException', /skiff:loadBalancerPort must be host port numbers/);
  await rejectsWith(create({ targetGroupArn: TG, containerName: 'web', containerPort: 8080 }, [{ key: 'skiff:loadBalancerPort', value: String(server.port) }]), 'InvalidParameterException', /cannot be bound \(EADDRINUSE\)/);
  assert.deepEqual(await serviceTasks('bad'), [], 'nothing was created');
  assert.equal((await ecs.send(new DescribeServicesCommand({ services: ['bad'] }))).failures?.[0].reason, 'MISSING');
});

test('a load-balanced service: spread, health, zero-drop rolling deployment, draining scale-in, restart', async (t) => {
  const rev1 = await register('rev1');
  const created = await ecs.send(
    new CreateServiceCommand({
      serviceName: 'web',
      taskDefinition: rev1,
      desiredCount: 2,
      loadBalancers: [{ targetGroupArn: TG, containerName: 'web', containerPort: 8080 }],
      healthCheckGracePeriodSeconds: 600,
    }),
  );
  assert.deepEqual(created.service?.loadBalancers, [{ targetGroupArn: TG, containerName: 'web', containerPort: 8080 }]);
  const tag = (await describeService('web', 'TAGS')).tags?.find((t) => t.key === 'skiff:loadBalancerPort');
  const port = Number(tag?.value);
  assert.ok(port > 0, `the listener port is in the service's tags: ${JSON.stringify(tag)}`);
  const raw = await server.fetch('/', {
    method: 'POST',
    body: JSON.stringify({ services: ['web'] }),
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.DescribeServices' },
  });
  const rawLb = ((await raw.json()) as { services: { loadBalancers: { skiffListener?: string }[] }[] }).services[0].loadBalancers[0];
  assert.equal(rawLb.skiffListener, `127.0.0.1:${port}`, 'the raw JSON names the listener too');
  const [lb] = await loadBalancers();
  assert.equal(lb.serviceName, 'web');
  assert.equal(lb.listener, `127.0.0.1:${port}`);

  // Spread over both tasks.
  await waitStable('web');
  const rev1Tasks = await serviceTasks('web');
  const rev1Hosts = await Promise.all(rev1Tasks.map(hostOf));
  await waitFor('both tasks in service', async () => (await loadBalancers())[0].targets.filter((t) => t.state === 'in-service').length === 2);
  const spread = await bodies(port, 20);
  for (const h of rev1Hosts) assert.equal(spread.filter((b) => b === `rev1 ${h}`).length, 10, `round robin: ${spread.join(', ')}`);
  const registeredEvents = (await describeService('web')).events!.map((e) => e.message!).filter((m) => m.startsWith('(service web) registered'));
  assert.equal(registeredEvents.reduce((n, m) => n + Number(/registered (\d+) targets/.exec(m)![1]), 0), 2, registeredEvents.join('\n'));
  assert.ok(registeredEvents.every((m) => m.endsWith(`targets in (target-group ${TG})`)), registeredEvents.join('\n'));

  // A new revision must still have the container and port; the loadBalancers cannot be changed in place.
  const noPort = await register('noport', { portMappings: [] });
  await rejectsWith(ecs.send(new UpdateServiceCommand({ service: 'web', taskDefinition: noPort })), 'InvalidParameterException', /does not have a container port 8080 defined/);
  await rejectsWith(
    ecs.send(new UpdateServiceCommand({ service: 'web', loadBalancers: [{ targetGroupArn: TG, containerName: 'web', containerPort: 9090 }] })),
    'InvalidParameterException',
    /cannot change the loadBalancers/,
  );
  assert.equal((await describeService('web')).taskDefinition, rev1, 'nothing changed');

  // A stopped task gets no traffic; its replacement does once it runs.
  await ecs.send(new StopTaskCommand({ task: rev1Tasks[0], reason: 'chaos' }));
  await waitFor('out of service', async () => !(await loadBalancers())[0].targets.some((t) => rev1Tasks[0].endsWith(t.id) && t.state === 'in-service'));
  const afterStop = await bodies(port, 10);
  assert.ok(!afterStop.some((b) => b.endsWith(rev1Hosts[0])), `the stopped task gets no request: ${afterStop.join(', ')}`);
  await waitTaskStatus(ecs, rev1Tasks[0], 'STOPPED');
  await waitStable('web');
  await waitFor('two targets again', async () => (await loadBalancers())[0].targets.filter((t) => t.state === 'in-service').length === 2);

  // rev2's tasks run but never pass their health check (the grace period keeps them): they get no traffic.
  const rev2 = await register('rev2', { healthCheck: { command: ['CMD-SHELL', 'exit 1'], interval: 5, retries: 1 } });
  await ecs.send(new UpdateServiceCommand({ service: 'web', taskDefinition: rev2 }));
  await waitFor(
    'rev2 tasks RUNNING and UNHEALTHY',
    async () => {
      const arns = (await serviceTasks('web')).filter((a) => !rev1Tasks.includes(a));
      const ts = await Promise.all(arns.map((a) => describeTask(ecs, a)));
      return ts.filter((t) => t.taskDefinitionArn === rev2 && t.lastStatus === 'RUNNING' && t.healthStatus === 'UNHEALTHY').length === 2;
    },
    60_000,
  );
  assert.ok((await bodies(port, 20)).every((b) => b.startsWith('rev1 ')), 'RUNNING but unhealthy tasks get no request');

  // rev3 rolls out under continuous load: keep-alive clients and a new connection per request.
  const rev3 = await register('rev3');
  let stop = false;
  const failures: string[] = [];
  const seen: string[] = [];
  let slowAnswered = 0;
  const client = async (agent: http.Agent | false, path = '/') => {
    while (!stop) {
      try {
        const r = await get(port, agent, path);
        if (path !== '/' && r.status === 200) slowAnswered++;
        if (r.status === 200) seen.push(r.body);
        else failures.push(`${r.status} ${r.body}`);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  const clients = [client(keepAlive), client(keepAlive), client(false), client(false), client(false, '/cgi-bin/slow'), client(false, '/cgi-bin/slow'), client(keepAlive, '/cgi-bin/slow'), client(keepAlive, '/cgi-bin/slow')];
  try {
    await new Promise((r) => setTimeout(r, 500));
    await ecs.send(new UpdateServiceCommand({ service: 'web', taskDefinition: rev3 }));
    await waitFor(
      'rev3 deployment completed',
      async () => {
        const s = await describeService('web');
        return s.deployments?.length === 1 && s.deployments[0].taskDefinition === rev3 && s.deployments[0].rolloutState === 'COMPLETED';
      },
      90_000,
    );
    await waitFor('only rev3 answers', async () => seen.length > 0 && seen.slice(-20).every((b) => b.startsWith('rev3 ')), 30_000);
  } finally {
    stop = true;
    await Promise.all(clients);
  }
  t.diagnostic(`rolling deployment: ${seen.length} requests answered (${slowAnswered} of them 1 s long), ${failures.length} failed`);
  assert.deepEqual(failures, [], `no request failed (${seen.length} answered)`);
  assert.ok(seen.some((b) => b.startsWith('rev1 ')) && seen.some((b) => b.startsWith('rev3 ')), 'responses switched from rev1 to rev3');
  assert.ok(!seen.some((b) => b.startsWith('rev2 ')), 'the unhealthy revision never answered');
  const switchAt = seen.findIndex((b) => b.startsWith('rev3 '));
  assert.ok(seen.length - switchAt > 20, `requests after the switch: ${seen.length - switchAt}`);
  keepAlive.destroy();

  // Scale in with a 4 s deregistration delay (the service's tag, read live): the task drains, running, without new requests.
  const svcArn = (await describeService('web')).serviceArn!;
  await ecs.send(new TagResourceCommand({ resourceArn: svcArn, tags: [{ key: 'skiff:deregistrationDelaySeconds', value: '4' }] }));
  const rev3Tasks = await serviceTasks('web');
  assert.equal(rev3Tasks.length, 2);
  const rev3Hosts = await Promise.all(rev3Tasks.map(hostOf));
  await ecs.send(new UpdateServiceCommand({ service: 'web', desiredCount: 1 }));
  const [draining] = await waitFor('a task desired STOPPED', async () => {
    const ts = await Promise.all(rev3Tasks.map((a) => describeTask(ecs, a)));
    const d = ts.filter((t) => t.desiredStatus === 'STOPPED');
    return d.length === 1 ? d : undefined;
  });
  const drainedAt = Date.now();
  const still = await describeTask(ecs, draining.taskArn!);
  assert.ok(Date.now() - drainedAt < 3000, 'still well inside the 4 s delay');
  assert.equal(still.lastStatus, 'RUNNING', 'the task keeps running through the deregistration delay');
  const drainingHost = rev3Hosts[rev3Tasks.indexOf(draining.taskArn!)];
  const keptHost = rev3Hosts.find((h) => h !== drainingHost)!;
  const view = (await loadBalancers())[0].targets.find((t) => draining.taskArn!.endsWith(t.id));
  assert.equal(view?.state, 'draining');
  const during = await bodies(port, 20);
  assert.ok(during.every((b) => b === `rev3 ${keptHost}`), `no new request to the draining task: ${during.join(', ')}`);
  const after = (await loadBalancers())[0].targets.find((t) => draining.taskArn!.endsWith(t.id));
  // Listed until its delay ends (4 s); only a very slow round of requests outlasts it.
  assert.ok(after || Date.now() - drainedAt >= 4000, 'the draining target stays listed during its delay');
  if (after) assert.equal(after.requests, view!.requests, 'its request count did not move');
  const gone = await waitTaskStatus(ecs, draining.taskArn!, 'STOPPED', 30_000);
  assert.ok(gone.stoppingAt!.getTime() - drainedAt >= 3000, `stopped only after the delay (${gone.stoppingAt!.getTime() - drainedAt} ms)`);
  assert.equal(gone.stopCode, 'ServiceSchedulerInitiated');
  const events = (await describeService('web')).events!.map((e) => e.message!);
  assert.ok(events.includes('(service web) has begun draining connections on 1 tasks.'), events.slice(0, 10).join('\n'));
  assert.ok(events.includes(`(service web) deregistered 1 targets in (target-group ${TG})`), events.slice(0, 10).join('\n'));

  // A restarted server listens on the same port again, with the running task as its target.
  await server.stop('SIGKILL');
  await assert.rejects(get(port), 'the listener went down with the server');
  await server.start();
  const afterRestart = await waitFor('listener back', async () => {
    const r = await get(port).catch(() => undefined);
    return r?.status === 200 ? r : undefined;
  });
  assert.equal(afterRestart.body, `rev3 ${keptHost}`);

  // Deleting the service stops its tasks and closes the listener.
  await ecs.send(new DeleteServiceCommand({ service: 'web', force: true }));
  await waitFor('INACTIVE', async () => (await describeService('web')).status === 'INACTIVE', 60_000);
  await waitFor('listener closed', async () => (await loadBalancers()).length === 0 && (await get(port).then(() => false, () => true)));
});
