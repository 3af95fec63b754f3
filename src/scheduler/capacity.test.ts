import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TaskDefinition } from '@aws-sdk/client-ecs';
import { fit, hostCapacity, limitOf, reservedBy, unableToPlaceEvent, type HostAdmission } from './capacity.ts';
import { Placement, storeTasks, type TaskBatch } from './placement.ts';
import { openDb } from '../store/db.ts';
import { TasksRepo } from '../store/tasks-repo.ts';
import { TagsRepo } from '../store/tags-repo.ts';
import { NetworksRepo } from '../store/networks-repo.ts';
import type { ClusterRecord } from '../store/clusters-repo.ts';

const GiB = 2 ** 30;

test('hostCapacity: cores × 1024 CPU units; total memory minus the reserve, in MiB, never below 0', () => {
  assert.deepEqual(hostCapacity({ cores: 2, totalMemoryBytes: 23 * GiB, reservedMemoryMiB: 512 }), { cpu: 2048, memory: 23 * 1024 - 512 });
  assert.deepEqual(hostCapacity({ cores: 1, totalMemoryBytes: 256 * 2 ** 20, reservedMemoryMiB: 512 }), { cpu: 1024, memory: 0 });
});

test('fit: what fits under capacity × overcommit; else the resource that is short, CPU first', () => {
  const host = { cpu: 2048, memory: 8192 };
  const none = { cpu: 0, memory: 0 };
  assert.equal(fit({ cpu: 1024, memory: 2048 }, host, none, 1), undefined);
  assert.equal(fit({ cpu: 1024, memory: 2048 }, host, { cpu: 1024, memory: 2048 }, 1), undefined); // exactly full still fits
  assert.equal(fit({ cpu: 1024, memory: 2048 }, host, { cpu: 2048, memory: 4096 }, 1), 'RESOURCE:CPU');
  assert.equal(fit({ cpu: 256, memory: 8192 }, host, { cpu: 256, memory: 512 }, 1), 'RESOURCE:MEMORY');
  // The case: a 16 vCPU / 120 GiB task on a 2-CPU / 23 GiB host.
  const small = hostCapacity({ cores: 2, totalMemoryBytes: 23 * GiB, reservedMemoryMiB: 512 });
  assert.equal(fit({ cpu: 16384, memory: 122880 }, small, none, 1), 'RESOURCE:CPU');
  assert.equal(fit({ cpu: 1024, memory: 122880 }, small, none, 1), 'RESOURCE:MEMORY');
  // Overcommit scales both limits (floored to whole units).
  assert.equal(fit({ cpu: 16384, memory: 122880 }, small, none, 8), undefined);
  assert.equal(fit({ cpu: 1024, memory: 512 }, host, { cpu: 2048, memory: 0 }, 1.5), undefined);
  assert.equal(fit({ cpu: 1024, memory: 512 }, host, { cpu: 2049, memory: 0 }, 1.5), 'RESOURCE:CPU');
  assert.equal(fit({ cpu: 256, memory: 512 }, host, none, 0.1), 'RESOURCE:CPU'); // 204 units only
  assert.deepEqual(limitOf({ capacity: host, overcommit: 0.5 }), { cpu: 1024, memory: 4096 });
});

test('reservedBy sums sizes; the service event names what is short', () => {
  assert.deepEqual(reservedBy([]), { cpu: 0, memory: 0 });
  assert.deepEqual(reservedBy([{ cpu: 256, memory: 512 }, { cpu: 1024, memory: 3072 }]), { cpu: 1280, memory: 3584 });
  assert.equal(
    unableToPlaceEvent('web', 'host-a', 'RESOURCE:MEMORY'),
    '(service web) was unable to place a task because no container instance met all of its requirements. The closest matching container-instance host-a has insufficient memory available.',
  );
  assert.match(unableToPlaceEvent('web', 'host-a', 'RESOURCE:CPU'), /has insufficient CPU units available\.$/);
});

/** A store with one default subnet and a placing context with the given admission. */
function stack(admission: HostAdmission | undefined) {
  const db = openDb(':memory:');
  const networks = new NetworksRepo(db);
  networks.insertVpc({ id: 'vpc-1', cidr: '10.9.0.0/16', isDefault: true });
  networks.insertSubnet({ id: 'subnet-1', vpcId: 'vpc-1', cidr: '10.9.0.0/20', availabilityZone: 'us-east-1a', isDefault: true, bridge: 'tb1' });
  const tasks = new TasksRepo(db);
  const ctx = {
    db,
    networks,
    tasks,
    tags: new TagsRepo(db),
    clock: { now: () => 1_700_000_000_000 },
    arns: { region: 'us-east-1', account: '123456789012', partition: 'aws' },
    admission,
  };
  const cluster: ClusterRecord = { name: 'default', arn: 'arn:aws:ecs:us-east-1:123456789012:cluster/default', status: 'ACTIVE', createdAt: 0, settings: [], capacityProviders: [], defaultCapacityProviderStrategy: [] };
  const def = (cpu: string, memory: string): TaskDefinition => ({
    taskDefinitionArn: `arn:aws:ecs:us-east-1:123456789012:task-definition/app:1`,
    family: 'app',
    revision: 1,
    cpu,
    memory,
    containerDefinitions: [{ name: 'app', image: 'busybox', essential: true }],
  });
  const batch = (cpu: string, memory: string, count: number): TaskBatch => ({ cluster, def: def(cpu, memory), capacityProviders: Array(count).fill('FARGATE'), tags: [] });
  /** Stores a batch in one transaction, as RunTask and the applier do. */
  const place = (b: TaskBatch) => {
    const placement = new Placement();
    const ids = db.transaction(() => storeTasks(ctx as never, b, placement))();
    return { ids, failures: placement.failures };
  };
  return { db, tasks, batch, place };
}

test('storeTasks with admission: only what fits is stored; the rest are failures; stopped tasks free their room', () => {
  // Room for two 1 vCPU / 2 GiB tasks: 2560 CPU units, 5120 MiB.
  const s = stack({ host: 'h', capacity: { cpu: 2048, memory: 4096 }, overcommit: 1.25 });
  const three = s.place(s.batch('1024', '2048', 3));
  assert.equal(three.ids.length, 2);
  assert.deepEqual(three.failures, ['RESOURCE:CPU']);
  assert.deepEqual(s.tasks.reserved(), { cpu: 2048, memory: 4096 });
  // Memory-bound: CPU would fit (512 more units), memory would not.
  assert.deepEqual(s.place(s.batch('512', '2048', 1)), { ids: [], failures: ['RESOURCE:MEMORY'] });
  // Too big for the host at all: nothing stored.
  assert.deepEqual(s.place(s.batch('16384', '122880', 1)), { ids: [], failures: ['RESOURCE:CPU'] });
  assert.equal((s.db.prepare(`SELECT count(*) AS n FROM tasks`).get() as { n: number }).n, 2);
  // A stopping task still holds its room; a STOPPED one does not.
  s.tasks.update(three.ids[0]!, (t) => (t.desiredStatus = 'STOPPED'));
  assert.deepEqual(s.place(s.batch('1024', '2048', 1)).failures, ['RESOURCE:CPU']);
  s.tasks.update(three.ids[0]!, (t) => (t.lastStatus = 'STOPPED'));
  const again = s.place(s.batch('1024', '2048', 2));
  assert.equal(again.ids.length, 1);
  assert.deepEqual(again.failures, ['RESOURCE:CPU']);
  s.db.close();
});

test('storeTasks: the last room is taken once, however many ask; without admission nothing is refused', () => {
  const s = stack({ host: 'h', capacity: { cpu: 1024, memory: 2048 }, overcommit: 1 });
  const outcomes = Array.from({ length: 10 }, () => s.place(s.batch('1024', '2048', 1)));
  assert.equal(outcomes.filter((o) => o.ids.length === 1).length, 1);
  assert.equal(outcomes.filter((o) => o.failures[0] === 'RESOURCE:CPU').length, 9);
  s.db.close();
  const open = stack(undefined);
  assert.equal(open.place(open.batch('16384', '122880', 3)).ids.length, 3);
  open.db.close();
});

test('a deployment counts the tasks waiting for capacity as pending; the next pass decides again', async () => {
  const { deploymentCounts } = await import('./reconcile.ts');
  const d = { id: 'ecs-svc/1', waitingForCapacity: 1 } as never;
  const running = { id: 't', deploymentId: 'ecs-svc/1', desiredStatus: 'RUNNING', lastStatus: 'RUNNING' } as never;
  assert.deepEqual(deploymentCounts(d, [running, running]), { runningCount: 2, pendingCount: 1 });
});
