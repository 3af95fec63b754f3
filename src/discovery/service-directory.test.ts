import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TaskRecord } from '../model/task-record.ts';
import { ServiceDirectory, type DirectorySource } from './service-directory.ts';
import { parseQueryName, resolvConf, serviceDnsName } from '../model/dns-names.ts';

let n = 0;
function task(over: Partial<TaskRecord> & { ip: string; vpc?: string; health?: 'HEALTHY' | 'UNHEALTHY' }): TaskRecord {
  const { ip, vpc, health, ...rest } = over;
  return {
    id: `t${++n}`,
    clusterName: 'default',
    lastStatus: 'RUNNING',
    desiredStatus: 'RUNNING',
    network: { attachmentId: 'a', subnetId: 's', vpcId: vpc ?? 'vpc-1', ipv4: ip, status: 'ATTACHED' },
    containers: [
      {
        name: 'c',
        essential: true,
        ...(health !== undefined ? { healthCheck: { command: ['CMD', 'true'], interval: 5, timeout: 2, retries: 1 }, healthStatus: health } : {}),
      },
    ],
    ...rest,
  } as unknown as TaskRecord;
}

function directory(tasks: TaskRecord[], services: { id: string; name: string; clusterName: string; tasks: string[] }[], now = () => 0) {
  let reads = 0;
  const source: DirectorySource = {
    unfinishedTasks: () => (reads++, tasks.filter((t) => t.lastStatus !== 'STOPPED')),
    liveServices: () => services,
    serviceTaskIds: (id) => services.find((s) => s.id === id)!.tasks,
    vpcOfSubnet: (id) => ({ 'subnet-a': 'vpc-1', 'subnet-b': 'vpc-1', 'subnet-other': 'vpc-2' })[id],
  };
  return { dir: new ServiceDirectory(source, now), reads: () => reads };
}

test('a service name resolves to its RUNNING (and, if checked, HEALTHY) tasks in the asking VPC', () => {
  const web1 = task({ ip: '10.0.0.5' });
  const web2 = task({ ip: '10.0.0.6', health: 'HEALTHY' });
  const starting = task({ ip: '10.0.0.7', lastStatus: 'PENDING' });
  const stopping = task({ ip: '10.0.0.8', desiredStatus: 'STOPPED' });
  const unhealthy = task({ ip: '10.0.0.9', health: 'UNHEALTHY' });
  const otherVpc = task({ ip: '10.1.0.5', vpc: 'vpc-2' });
  const client = task({ ip: '10.0.0.20' });
  const { dir } = directory(
    [web1, web2, starting, stopping, unhealthy, otherVpc, client],
    [{ id: 'svc-web', name: 'Web', clusterName: 'default', tasks: [web1, web2, starting, stopping, unhealthy, otherVpc].map((t) => t.id) }],
  );
  const from = { subnetId: 'subnet-a', address: '10.0.0.20' };
  assert.deepEqual(dir.resolve('web', from), { rcode: 'NOERROR', addresses: ['10.0.0.5', '10.0.0.6'] });
  assert.deepEqual(dir.resolve('WEB.default.skiff.local.', from), { rcode: 'NOERROR', addresses: ['10.0.0.5', '10.0.0.6'] });
  assert.deepEqual(dir.resolve('web.default.skiff.local', { subnetId: 'subnet-other', address: '10.1.0.9' }), { rcode: 'NOERROR', addresses: ['10.1.0.5'] }, 'only the VPC asked from');
  assert.deepEqual(dir.resolve('api', from), { rcode: 'NXDOMAIN' });
  assert.deepEqual(dir.resolve('web.prod.skiff.local', from), { rcode: 'NXDOMAIN' });
  assert.deepEqual(dir.resolve('a.b.c.skiff.local', from), { rcode: 'NXDOMAIN' });
  assert.deepEqual(dir.resolve('example.com', from), { rcode: 'REFUSED' });
  assert.deepEqual(dir.resolve('web', { subnetId: 'subnet-a', address: '10.0.0.1' }), { rcode: 'REFUSED' }, 'a bare name from a non-task');
  assert.deepEqual(dir.resolve('web', { subnetId: 'subnet-unknown', address: '10.0.0.20' }), { rcode: 'REFUSED' });
});

test('a bare name resolves in the asking task\'s own cluster', () => {
  const prodWeb = task({ ip: '10.0.0.5', clusterName: 'prod' });
  const devWeb = task({ ip: '10.0.0.6', clusterName: 'dev' });
  const prodClient = task({ ip: '10.0.0.10', clusterName: 'prod' });
  const devClient = task({ ip: '10.0.0.11', clusterName: 'dev' });
  const { dir } = directory([prodWeb, devWeb, prodClient, devClient], [
    { id: '1', name: 'web', clusterName: 'prod', tasks: [prodWeb.id] },
    { id: '2', name: 'web', clusterName: 'dev', tasks: [devWeb.id] },
  ]);
  assert.deepEqual(dir.resolve('web', { subnetId: 'subnet-a', address: '10.0.0.10' }), { rcode: 'NOERROR', addresses: ['10.0.0.5'] });
  assert.deepEqual(dir.resolve('web', { subnetId: 'subnet-b', address: '10.0.0.11' }), { rcode: 'NOERROR', addresses: ['10.0.0.6'] });
  assert.deepEqual(dir.resolve('web.dev.skiff.local', { subnetId: 'subnet-a', address: '10.0.0.10' }), { rcode: 'NOERROR', addresses: ['10.0.0.6'] });
});

test('snapshots are reused briefly, and refreshed at once for an asker they do not know yet', () => {
  let now = 1000;
  const tasks = [task({ ip: '10.0.0.5' })];
  const { dir, reads } = directory(tasks, [{ id: '1', name: 'web', clusterName: 'default', tasks: [tasks[0]!.id] }], () => now);
  const from = { subnetId: 'subnet-a', address: '10.0.0.5' };
  dir.resolve('web', from);
  dir.resolve('web', from);
  assert.equal(reads(), 1);
  now += 20;
  tasks.push(task({ ip: '10.0.0.30' })); // a task that just started asks
  assert.equal(dir.resolve('web', { subnetId: 'subnet-a', address: '10.0.0.30' }).rcode, 'NOERROR');
  assert.equal(reads(), 2);
  dir.resolve('web', { subnetId: 'subnet-a', address: '10.0.0.99' });
  assert.equal(reads(), 2, 'unknown askers do not refresh more than every 20 ms');
  now += 1000;
  dir.resolve('web', from);
  assert.equal(reads(), 3);
});

test('names, namespaces and resolv.conf', () => {
  assert.deepEqual(parseQueryName('Web.'), { kind: 'bare', service: 'web' });
  assert.deepEqual(parseQueryName('web.shop.skiff.local'), { kind: 'qualified', service: 'web', cluster: 'shop' });
  assert.deepEqual(parseQueryName('skiff.local'), { kind: 'unknown' });
  assert.deepEqual(parseQueryName('x.skiff.local'), { kind: 'unknown' });
  assert.deepEqual(parseQueryName('web.shop'), { kind: 'foreign' });
  assert.equal(serviceDnsName('Shop', 'Web'), 'web.shop.skiff.local');
  assert.equal(resolvConf('10.0.0.1', 'shop'), 'nameserver 10.0.0.1\nsearch shop.skiff.local\noptions ndots:1 timeout:2 attempts:3\n');
});
