/**
 * Bandwidth by task size through the task runner, without root, on FAKE parts
 * (fake-stack.ts: the fake network remembers shaping and slows nothing): what
 * a task is given and stored at start, and what an adopting server puts back.
 * The real thing, tc on real veths with traffic measured, is
 * test/bandwidth.root.test.ts.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeStack, type FakeStack } from './fake-stack.ts';
import { registerFamily, runOne, taskIdOf, waitForStatus } from './ecs-helpers.ts';

const stacks: FakeStack[] = [];
after(async () => {
  for (const s of stacks.reverse()) await s.destroy();
});

test('a task is shaped by its size and the scale at start, stored on it; a restarted server puts back what the host lost', async () => {
  const s1 = await startFakeStack({ bandwidthScale: 0.5 });
  stacks.push(s1);
  const small = await registerFamily(s1.ecs, 'bw-small', [{ name: 'app', image: 'fake/web:1' }]);
  const big = await registerFamily(s1.ecs, 'bw-big', [{ name: 'app', image: 'fake/web:1' }], { cpu: '4096', memory: '8192' });
  const ids = {
    small: taskIdOf((await runOne(s1.ecs, small)).taskArn!),
    big: taskIdOf((await runOne(s1.ecs, big)).taskArn!),
    lost: taskIdOf((await runOne(s1.ecs, small)).taskArn!),
    old: taskIdOf((await runOne(s1.ecs, small)).taskArn!),
  };
  for (const id of Object.values(ids)) await waitForStatus(s1.ecs, id, 'RUNNING');
  const record = (s: FakeStack, id: string) => s.ctx.tasks.get(id)!;
  assert.deepEqual(record(s1, ids.small).network.bandwidth, { sustainedMbps: 500, burstMbps: 5000 });
  assert.deepEqual(record(s1, ids.big).network.bandwidth, { sustainedMbps: 5000, burstMbps: 12_500 });
  assert.deepEqual(s1.networkState.shaped.get(ids.small), { sustainedMbps: 500, burstMbps: 5000 }, 'the network applies what is stored');
  assert.deepEqual(s1.networkState.shaped.get(ids.big), { sustainedMbps: 5000, burstMbps: 12_500 });
  const phases = record(s1, ids.small).timings.map((t) => t.phase);
  assert.ok(phases.includes('shaping'), `shaping is a timed phase: ${phases.join(', ')}`);
  assert.ok(phases.indexOf('shaping') < phases.findIndex((p) => p.startsWith('container-start')), 'shaped before any container starts');
  s1.ctx.tasks.update(ids.old, (t) => delete t.network.bandwidth); // as a task started before shaping existed

  await s1.crash();
  s1.networkState.shaped.delete(ids.lost); // the host lost it (as a qdisc removed by hand)
  s1.networkState.shaped.delete(ids.old);
  s1.networkState.shaped.set(ids.big, { sustainedMbps: 1, burstMbps: 1 }); // changed behind Skiff's back

  const s2 = await startFakeStack({ ...s1.restartOptions(), bandwidthScale: 0.1 });
  stacks.push(s2);
  for (const id of Object.values(ids)) await waitForStatus(s2.ecs, id, 'RUNNING');
  assert.deepEqual(s2.networkState.shaped.get(ids.small), { sustainedMbps: 500, burstMbps: 5000 }, 'untouched: a running task keeps the bandwidth it started with');
  assert.deepEqual(s2.networkState.shaped.get(ids.lost), { sustainedMbps: 500, burstMbps: 5000 }, 'lost: put back as stored');
  assert.deepEqual(s2.networkState.shaped.get(ids.big), { sustainedMbps: 5000, burstMbps: 12_500 }, 'changed: put back as stored');
  assert.deepEqual(s2.networkState.shaped.get(ids.old), { sustainedMbps: 100, burstMbps: 1000 }, 'never shaped: shaped at the scale in force now');
  assert.deepEqual(record(s2, ids.old).network.bandwidth, { sustainedMbps: 100, burstMbps: 1000 }, 'and stored');
  assert.ok(s2.logs.some((l) => l === `task ${ids.lost}: its traffic was not shaped; shaped to 500 Mbps sustained, bursts to 5 Gbps again`), s2.logs.join('\n'));
  assert.ok(s2.logs.some((l) => l.startsWith(`task ${ids.big}: its traffic was shaped to 1 Mbps sustained, bursts to 1 Mbps;`)), s2.logs.join('\n'));
  assert.ok(!s2.logs.some((l) => l.startsWith(`task ${ids.small}:`)), 'nothing to do for a task whose shaping is in place');
});
