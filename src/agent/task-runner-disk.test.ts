import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../store/db.ts';
import { TasksRepo } from '../store/tasks-repo.ts';
import type { TaskRecord } from '../model/task-record.ts';
import type { ContainerExit, Driver } from '../drivers/driver.ts';
import type { Network } from '../network/network.ts';
import type { ImageStore } from '../images/images.ts';
import { TaskRunner } from './task-runner.ts';
import { DEFAULT_PRICE_BOOK } from '../metering/pricing.ts';

/** A store whose task writes fail with SQLITE_FULL while `full` is set (reads work, as on a full disk). */
class FullDiskTasks extends TasksRepo {
  full = false;
  failed = 0;
  override update(id: string, mutate: (t: TaskRecord) => void, opts: { durable?: boolean } = {}): TaskRecord {
    if (this.full) {
      this.failed++;
      throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    }
    return super.update(id, mutate, opts);
  }
}

const id = 'c'.repeat(32);
const runningTask = (): TaskRecord =>
  ({
    id, arn: `arn:aws:ecs:us-east-1:1:task/default/${id}`, clusterName: 'default', clusterArn: 'c', taskDefinitionArn: 'td', family: 'web', revision: 1,
    cpu: 256, memory: 512, ephemeralStorageGiB: 20, cpuArchitecture: 'X86_64', overrides: {}, launchType: 'FARGATE', capacityProviderName: 'FARGATE',
    availabilityZone: 'a', desiredStatus: 'RUNNING', lastStatus: 'RUNNING', createdAt: 1, pullStartedAt: 1, startedAt: 2, timings: [], version: 1,
    network: { attachmentId: 'x', subnetId: 's', vpcId: 'v', ipv4: '10.0.0.2', status: 'ATTACHED' },
    containers: [{ name: 'app', runtimeId: `${id}-app`, arn: 'ca', image: 'busybox', essential: true, environment: [], cpu: 0, stopTimeoutSec: 2, dependsOn: [], lastStatus: 'RUNNING' }],
  }) as TaskRecord;

test('a container exit while the disk is full is retried until stored: the task is neither lost nor left half-stopped, nothing throws', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-runner-disk-'));
  const tasks = new FullDiskTasks(openDb(':memory:'));
  tasks.insert(runningTask());
  let exit!: (e: ContainerExit) => void;
  const exited = new Promise<ContainerExit>((r) => (exit = r));
  const driver = {
    inspect: async () => ({ id: `${id}-app`, status: 'running' }),
    waitContainer: () => exited,
    stopContainer: () => exited,
    destroyContainer: async () => {},
    destroyTask: async () => {},
  } as unknown as Driver;
  const logs: string[] = [];
  const released: string[] = [];
  let stopped = false;
  const runner = new TaskRunner(
    id,
    {
      tasks, driver, network: { detach: async () => {} } as unknown as Network, images: {} as ImageStore, clock: { now: () => Date.now() },
      prices: DEFAULT_PRICE_BOOK, region: 'us-east-1', taskFilesDir: dir,
      subnet: () => { throw new Error('not used'); }, registryCredentials: () => undefined,
      releaseAddress: (t) => released.push(t), log: (m) => logs.push(m), onStopped: () => (stopped = true),
    },
    'adopt',
  );
  try {
    await new Promise((r) => setTimeout(r, 20)); // adopted: watching the container
    tasks.full = true;
    exit({ exitCode: 137, oomKilled: false, exitedAt: Date.now() }); // the essential container dies while nothing can be written
    await new Promise((r) => setTimeout(r, 700));
    assert.ok(tasks.failed >= 2, 'the write was tried again');
    assert.equal(tasks.get(id)!.lastStatus, 'RUNNING', 'nothing recorded yet, nothing lost');
    assert.equal(stopped, false);
    assert.equal(logs.filter((l) => l.includes('cannot write')).length, 1, logs.join('\n'));
    tasks.full = false; // space returns
    await runner.done;
    const t = tasks.get(id)!;
    assert.equal(t.lastStatus, 'STOPPED');
    assert.equal(t.containers[0].exitCode, 137);
    assert.equal(t.stopCode, 'EssentialContainerExited');
    assert.ok(stopped);
    assert.deepEqual(released, [id]);
    assert.ok(!logs.some((l) => l.includes('runner failed')), logs.join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
