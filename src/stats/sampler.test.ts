import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDb } from '../store/db.ts';
import { TasksRepo } from '../store/tasks-repo.ts';
import { MeteringRepo } from '../store/metering-repo.ts';
import type { TaskRecord } from '../model/task-record.ts';
import { StatsSampler } from './sampler.ts';
import type { ResourceUsage } from '../drivers/driver.ts';

function task(id: string, lastStatus: TaskRecord['lastStatus']): TaskRecord {
  return {
    id, arn: `arn:aws:ecs:us-east-1:1:task/default/${id}`, clusterName: 'default', clusterArn: 'c', taskDefinitionArn: 'td', family: 'web', revision: 1,
    cpu: 512, memory: 1024, ephemeralStorageGiB: 20, cpuArchitecture: 'X86_64', containers: [], overrides: {}, group: 'service:web',
    launchType: 'FARGATE', capacityProviderName: 'FARGATE', availabilityZone: 'a', desiredStatus: 'RUNNING', lastStatus, createdAt: 1,
    network: { attachmentId: 'x', subnetId: 's', vpcId: 'v', ipv4: '10.0.0.2', status: 'ATTACHED' }, timings: [], version: 1,
  };
}

test('the sampler stores RUNNING tasks only, with vCPUs used between samples; a new sampler continues from the stored sample', async () => {
  const db = openDb(':memory:');
  const tasks = new TasksRepo(db);
  const metering = new MeteringRepo(db);
  tasks.insert(task('a'.repeat(32), 'RUNNING'));
  tasks.insert(task('b'.repeat(32), 'PENDING'));
  let now = 1_000_000;
  let cpuUs = 0;
  const read = async (id: string): Promise<ResourceUsage | undefined> => {
    assert.equal(id, 'a'.repeat(32), 'only RUNNING tasks are read');
    return { cpuUsageUs: cpuUs, workingSetBytes: 64 * 1024 * 1024, rssBytes: 1, cacheBytes: 2 };
  };
  const mk = () => new StatsSampler({ tasks, metering, clock: { now: () => now }, intervalMs: 10_000, log: () => {}, readUsage: read });
  const s1 = mk();
  assert.equal(await s1.sampleOnce(), 1);
  now += 10_000;
  cpuUs += 2_500_000; // 2.5 s of CPU in 10 s = 0.25 vCPU
  await s1.sampleOnce();
  // A restarted server: a new sampler, 20 s later, 10 s more CPU.
  now += 20_000;
  cpuUs += 10_000_000;
  await mk().sampleOnce();
  const samples = metering.samples({ family: 'web', since: 0 });
  assert.deepEqual(samples.map((x) => x.cpuVcpus), [undefined, 0.25, 0.5]);
  assert.equal(samples[0].memoryBytes, 64 * 1024 * 1024);
  assert.equal(samples[0].group, 'service:web');
  assert.equal(metering.samples({ group: 'service:web', since: 0 }).length, 3);
  assert.equal(metering.pruneSamples(now - 15_000), 2);
  db.close();
});

test('the sampler loop runs on its interval and stops cleanly', async () => {
  const db = openDb(':memory:');
  const tasks = new TasksRepo(db);
  const metering = new MeteringRepo(db);
  tasks.insert(task('c'.repeat(32), 'RUNNING'));
  let us = 0;
  const s = new StatsSampler({
    tasks, metering, clock: { now: () => Date.now() }, intervalMs: 20, log: () => {},
    readUsage: async () => ({ cpuUsageUs: (us += 1000), workingSetBytes: 1, rssBytes: 1, cacheBytes: 0 }),
  });
  s.start();
  await new Promise((r) => setTimeout(r, 200));
  await s.stop();
  const n = metering.samples({ since: 0, family: 'web' }).length;
  assert.ok(n >= 3, `${n} samples`);
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(metering.samples({ since: 0, family: 'web' }).length, n, 'nothing sampled after stop');
  db.close();
});
