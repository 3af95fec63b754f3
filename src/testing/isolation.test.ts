/**
 * Choosing a task's isolation, without root, on FAKE parts (fake-stack.ts):
 * the real RegisterTaskDefinition, CreateCluster, TagResource, RunTask and
 * CreateService over fake runtime fingerprints (runc and gvisor usable, microvm
 * missing its QEMU). What is shown is the choice and its errors, not isolation
 * (every task runs on the fake driver): the task definition's tag
 * `skiff:isolation` over the cluster's over the server default; an unknown
 * value is a ClientException where it is given; a runtime this host lacks is an
 * InvalidParameterException at RunTask/CreateService naming what is missing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateClusterCommand, CreateServiceCommand, RegisterTaskDefinitionCommand, RunTaskCommand, TagResourceCommand, type Task,
} from '@aws-sdk/client-ecs';
import { startFakeStack, type FakeStack } from './fake-stack.ts';
import { registerFamily } from './ecs-helpers.ts';
import type { IsolationDeps } from '../scheduler/placement.ts';

const PRINTS: Record<string, { available: boolean; reasons: string[]; platform?: string }> = {
  runc: { available: true, reasons: [] },
  gvisor: { available: true, reasons: [], platform: 'ptrace' },
  microvm: { available: false, reasons: ['qemu-system-x86_64 not found at /usr/bin/qemu-system-x86_64: install it with `apt-get install qemu-system-x86`'] },
};

function fakeRuntimes(serverDefault: 'runc' | 'gvisor'): IsolationDeps & { asked: string[] } {
  const asked: string[] = [];
  const known = new Map<string, (typeof PRINTS)[string]>();
  return {
    serverDefault,
    asked,
    runtimes: {
      availability: (name) => known.get(name),
      ensure: async (name) => {
        asked.push(name);
        const p = PRINTS[name] ?? { available: false, reasons: [`no ${name} runtime`] };
        known.set(name, p);
        return p;
      },
    },
  };
}

const attr = (t: Task | undefined, name: string) => t?.attributes?.find((a) => a.name === name)?.value;
const tag = (value: string) => [{ key: 'skiff:isolation', value }];

describe('isolation per task on fake parts', () => {
  let s: FakeStack;
  let iso: ReturnType<typeof fakeRuntimes>;
  before(async () => {
    iso = fakeRuntimes('runc');
    s = await startFakeStack({ isolation: iso });
  });
  after(() => s?.destroy());

  test('an unknown isolation is a ClientException at registration, CreateCluster and TagResource, naming the choices', async () => {
    const bad = [{ key: 'skiff:isolation', value: 'firecracker' }];
    const expect = { name: 'ClientException', message: /"firecracker" is not an isolation Skiff knows: use one of runc, gvisor, microvm/ };
    await assert.rejects(
      s.ecs.send(new RegisterTaskDefinitionCommand({ family: 'bad', requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc', cpu: '256', memory: '512', containerDefinitions: [{ name: 'app', image: 'fake/app:1' }], tags: bad })),
      expect,
    );
    await assert.rejects(s.ecs.send(new CreateClusterCommand({ clusterName: 'bad', tags: bad })), expect);
    const arn = await registerFamily(s.ecs, 'fine', [{ name: 'app', image: 'fake/app:1' }]);
    await assert.rejects(s.ecs.send(new TagResourceCommand({ resourceArn: arn, tags: bad })), expect);
  });

  test('task definition tag over cluster tag over the server default; DescribeTasks shows it with the platform', async () => {
    const plain = await registerFamily(s.ecs, 'plain', [{ name: 'app', image: 'fake/app:1' }]);
    const onRunc = await registerFamily(s.ecs, 'on-runc', [{ name: 'app', image: 'fake/app:1' }], { tags: tag('runc') });
    const onGvisor = await registerFamily(s.ecs, 'on-gvisor', [{ name: 'app', image: 'fake/app:1' }], { tags: tag('gvisor') });
    await s.ecs.send(new CreateClusterCommand({ clusterName: 'sandboxed', tags: tag('gvisor') }));
    const run = async (taskDefinition: string, cluster?: string) => (await s.ecs.send(new RunTaskCommand({ taskDefinition, cluster }))).tasks?.[0];

    const byServer = await run(plain);
    assert.equal(attr(byServer, 'skiff.isolation'), 'runc');
    assert.equal(attr(byServer, 'skiff.isolationPlatform'), undefined, 'runc has one variant');
    const byDefinition = await run(onGvisor);
    assert.equal(attr(byDefinition, 'skiff.isolation'), 'gvisor');
    assert.equal(attr(byDefinition, 'skiff.isolationPlatform'), 'ptrace');
    const byCluster = await run(plain, 'sandboxed');
    assert.equal(attr(byCluster, 'skiff.isolation'), 'gvisor');
    const definitionWins = await run(onRunc, 'sandboxed');
    assert.equal(attr(definitionWins, 'skiff.isolation'), 'runc');
    // A cluster tagged later counts for the tasks started after.
    const cluster = (await s.ecs.send(new CreateClusterCommand({ clusterName: 'later' }))).cluster!;
    await s.ecs.send(new TagResourceCommand({ resourceArn: cluster.clusterArn!, tags: tag('gvisor') }));
    assert.equal(attr(await run(plain, 'later'), 'skiff.isolation'), 'gvisor');
  });

  test('a runtime this host lacks: InvalidParameterException at RunTask and CreateService naming what is missing; nothing is stored', async () => {
    const vm = await registerFamily(s.ecs, 'on-microvm', [{ name: 'app', image: 'fake/app:1' }], { tags: tag('microvm') });
    const expect = { name: 'InvalidParameterException', message: /Isolation microvm \(from the task-definition's tag skiff:isolation\) is not available on this host: qemu-system-x86_64 not found/ };
    await assert.rejects(s.ecs.send(new RunTaskCommand({ taskDefinition: vm })), expect);
    await assert.rejects(s.ecs.send(new CreateServiceCommand({ serviceName: 'vm', taskDefinition: vm, desiredCount: 1 })), expect);
    assert.ok(iso.asked.includes('microvm'));
    const stored = s.db.prepare(`SELECT COUNT(*) AS n FROM tasks WHERE family = 'on-microvm'`).get() as { n: number };
    assert.equal(stored.n, 0);
  });
});

describe('a server whose default isolation is gvisor', () => {
  let s: FakeStack;
  before(async () => {
    s = await startFakeStack({ isolation: fakeRuntimes('gvisor') });
  });
  after(() => s?.destroy());

  test('tasks that choose nothing run on gvisor; a definition may still ask for runc', async () => {
    const plain = await registerFamily(s.ecs, 'plain', [{ name: 'app', image: 'fake/app:1' }]);
    const onRunc = await registerFamily(s.ecs, 'on-runc', [{ name: 'app', image: 'fake/app:1' }], { tags: tag('runc') });
    const a = (await s.ecs.send(new RunTaskCommand({ taskDefinition: plain }))).tasks?.[0];
    const b = (await s.ecs.send(new RunTaskCommand({ taskDefinition: onRunc }))).tasks?.[0];
    assert.equal(attr(a, 'skiff.isolation'), 'gvisor');
    assert.equal(attr(b, 'skiff.isolation'), 'runc');
  });
});
