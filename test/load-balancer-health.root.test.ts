/**
 * The load balancer's HTTP target health check end to end: a real `skiff
 * server`, real runc tasks serving HTTP (busybox httpd), @aws-sdk/client-ecs.
 *
 * A service whose tags turn on a health check of /health: its tasks pass and
 * get traffic; one task's /health starts failing (the test asks that task
 * directly to delete it), it is marked unhealthy (ELB reason code), taken out
 * of rotation, and after the health check grace period ECS-style replaced:
 * stopped with "Task failed ELB health checks in (target-group ...)", its
 * service event naming the failing code, and a replacement that passes the
 * check takes its place. No request through the listener fails. Requests go to
 * loopback (the listener) and to the addresses of the tasks the test started.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateServiceCommand,
  DeleteServiceCommand,
  DescribeServicesCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  waitUntilServicesStable,
  type ECSClient,
} from '@aws-sdk/client-ecs';
import { type TestServer, waitFor } from './support/skiff-server.ts';
import { startBusyboxStack, type BusyboxStack } from './support/stack.ts';
import { describeTask, ipOf, waitTaskStatus } from './support/tasks.ts';
import { httpGet } from './support/http.ts';

const TG = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/hc/0123456789abcdef';

let stack: BusyboxStack | undefined;
let server: TestServer;
let ecs: ECSClient;
let image: string;

before(async () => {
  stack = await startBusyboxStack('test/busybox:lbhealth', { env: { SKIFF_SERVICE_INTERVAL_MS: '200', SKIFF_LB_SYNC_INTERVAL_MS: '100' } });
  ({ server, ecs, image } = stack);
});
after(async () => {
  await stack?.stop();
});

function get(host: string, port: number, path = '/'): Promise<{ status: number; body: string }> {
  return httpGet(host, port, path);
}

interface TargetJson { id: string; state: string; health: string; healthReason?: string; healthDescription?: string }
async function targets(): Promise<TargetJson[]> {
  const res = await server.fetch('/skiff/v1/load-balancers');
  assert.equal(res.status, 200);
  const lbs = ((await res.json()) as { loadBalancers: { serviceName: string; targets: TargetJson[] }[] }).loadBalancers;
  return lbs.find((l) => l.serviceName === 'hc')?.targets ?? [];
}

const HC_TAGS = [
  { key: 'skiff:healthCheckPath', value: '/health' },
  { key: 'skiff:healthCheckIntervalSeconds', value: '1' },
  { key: 'skiff:healthyThresholdCount', value: '2' },
  { key: 'skiff:unhealthyThresholdCount', value: '2' },
  { key: 'skiff:deregistrationDelaySeconds', value: '1' },
];

test('an HTTP health check takes a failing task out of rotation, then the service replaces it', async (t) => {
  // /health is a file; GET /cgi-bin/sicken deletes it (then /health is 404); / names the task.
  const script = ['#!/bin/sh', 'rm -f /www/health', 'printf "Content-Type: text/plain\\r\\n\\r\\n"', 'echo sick'];
  const sicken = `printf '%s\\n' ${script.map((l) => `'${l}'`).join(' ')} > /www/cgi-bin/sicken && chmod +x /www/cgi-bin/sicken`;
  const serve = `mkdir -p /www/cgi-bin && hostname > /www/index.html && echo ok > /www/health && ${sicken} && exec httpd -f -p 8080 -h /www`;
  const td = (
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'lbhealth',
        requiresCompatibilities: ['FARGATE'],
        networkMode: 'awsvpc',
        cpu: '256',
        memory: '512',
        containerDefinitions: [{ name: 'web', image, stopTimeout: 2, command: ['sh', '-c', serve], portMappings: [{ containerPort: 8080 }], linuxParameters: { initProcessEnabled: true } }],
      }),
    )
  ).taskDefinition!.taskDefinitionArn!;
  const lb = [{ targetGroupArn: TG, containerName: 'web', containerPort: 8080 }];

  await assert.rejects(
    ecs.send(new CreateServiceCommand({ serviceName: 'hc', taskDefinition: td, desiredCount: 1, loadBalancers: lb, tags: [{ key: 'skiff:healthCheckPath', value: '/h' }, { key: 'skiff:unhealthyThresholdCount', value: '11' }] })),
    (e: Error) => e.name === 'InvalidParameterException' && /skiff:unhealthyThresholdCount must be a whole number from 2 to 10/.test(e.message),
  );

  await ecs.send(new CreateServiceCommand({ serviceName: 'hc', taskDefinition: td, desiredCount: 2, loadBalancers: lb, healthCheckGracePeriodSeconds: 2, tags: HC_TAGS }));
  const stable = await waitUntilServicesStable({ client: ecs, maxWaitTime: 90, minDelay: 1, maxDelay: 1 }, { services: ['hc'] }).catch((e: Error) => ({ state: 'FAILURE', reason: e.message }));
  if (stable.state !== 'SUCCESS') {
    const s = (await ecs.send(new DescribeServicesCommand({ services: ['hc'] }))).services![0];
    const stopped = (await ecs.send(new ListTasksCommand({ serviceName: 'hc', desiredStatus: 'STOPPED' }))).taskArns ?? [];
    if (stopped[0]) {
      const x = await describeTask(ecs, stopped[0]);
      t.diagnostic(JSON.stringify({ stopCode: x.stopCode, stoppedReason: x.stoppedReason, containers: x.containers?.map((c) => [c.reason, c.exitCode]) }));
    }
    t.diagnostic(JSON.stringify({ events: s.events!.slice(0, 10).map((e) => e.message), deployments: s.deployments, targets: await targets() }, null, 1));
  }
  assert.equal(stable.state, 'SUCCESS', JSON.stringify(stable.reason));
  await waitFor('both targets healthy', async () => (await targets()).filter((x) => x.state === 'in-service' && x.health === 'healthy').length === 2, 30_000);
  const port = Number((await listenerPortTag()).value);
  const [sick, well] = (await ecs.send(new ListTasksCommand({ serviceName: 'hc' }))).taskArns!;
  const sickId = sick.split('/').pop()!;
  const sickIp = ipOf(await describeTask(ecs, sick))!;
  const sickHost = `ip-${sickIp.replaceAll('.', '-')}.ec2.internal`;

  // Light continuous load through the listener.
  let stop = false;
  const failures: string[] = [];
  const answered: { startedAt: number; body: string }[] = [];
  const client = async () => {
    while (!stop) {
      const startedAt = Date.now();
      try {
        const r = await get('127.0.0.1', port);
        if (r.status === 200) answered.push({ startedAt, body: r.body });
        else failures.push(`${r.status} ${r.body}`);
      } catch (err) {
        failures.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const clients = [client(), client()];
  let outAt = 0;
  try {
    assert.equal((await get(sickIp, 8080, '/cgi-bin/sicken')).body, 'sick');
    assert.equal((await get(sickIp, 8080, '/health')).status, 404);
    const expected = `(service hc) (task ${sickId}) (port 8080) is unhealthy in (target-group ${TG}) due to (reason Health checks failed with these codes: [404]).`;
    const serviceEvents = async () => (await ecs.send(new DescribeServicesCommand({ services: ['hc'] }))).services![0].events!.map((e) => e.message!);
    // On a loaded machine the scheduler may replace the task (grace 2 s) between two
    // polls of the target view; the service event records the same verdict.
    const view = await waitFor(
      'the task unhealthy',
      async () => (await targets()).find((x) => x.id === sickId && x.health === 'unhealthy') ?? ((await serviceEvents()).includes(expected) ? 'event' : undefined),
      20_000,
    );
    outAt = Date.now();
    if (view !== 'event') {
      assert.equal(view.healthReason, 'Target.ResponseCodeMismatch');
      assert.equal(view.healthDescription, 'Health checks failed with these codes: [404]');
    }

    const gone = await waitTaskStatus(ecs, sick, 'STOPPED', 30_000);
    assert.equal(gone.stopCode, 'ServiceSchedulerInitiated');
    assert.equal(gone.stoppedReason, `Task failed ELB health checks in (target-group ${TG})`);
    const events = await serviceEvents();
    assert.ok(events.includes(expected), events.slice(0, 8).join('\n'));

    const replacement = await waitFor('a healthy replacement', async () => {
      const ts = await targets();
      return ts.find((x) => x.id !== sickId && !well.endsWith(x.id) && x.state === 'in-service' && x.health === 'healthy');
    }, 60_000);
    const replacementHost = `ip-${ipOf(await describeTask(ecs, replacement.id))!.replaceAll('.', '-')}.ec2.internal`;
    await waitFor('the replacement answers', async () => answered.some((a) => a.body === replacementHost), 20_000);
  } finally {
    stop = true;
    await Promise.all(clients);
  }
  t.diagnostic(`${answered.length} requests answered, ${failures.length} failed`);
  assert.deepEqual(failures, [], 'no request through the listener failed');
  assert.ok(answered.some((a) => a.body === sickHost && a.startedAt < outAt), 'the task served while healthy');
  assert.deepEqual(answered.filter((a) => a.body === sickHost && a.startedAt >= outAt), [], 'nothing reached it once it was seen unhealthy');

  await ecs.send(new DeleteServiceCommand({ service: 'hc', force: true }));
  await waitFor('INACTIVE', async () => (await ecs.send(new DescribeServicesCommand({ services: ['hc'] }))).services?.[0].status === 'INACTIVE', 60_000);
});

async function listenerPortTag(): Promise<{ key?: string; value?: string }> {
  const s = (await ecs.send(new DescribeServicesCommand({ services: ['hc'], include: ['TAGS'] }))).services![0];
  return s.tags!.find((x) => x.key === 'skiff:loadBalancerPort')!;
}
