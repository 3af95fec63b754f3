import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunTaskCommandInput, TaskDefinition } from '@aws-sdk/client-ecs';
import { ApiError } from '../api/errors.ts';
import { clusterArn, taskDefinitionArn } from './arns.ts';
import {
  canonicalJson,
  checkStrategyAssociated,
  effectiveContainerConfig,
  effectiveTaskSize,
  requestHash,
  validateCapacityProviderStrategy,
  validateNetworkConfiguration,
  validateRunTaskInput,
} from './run-task.ts';
import { normaliseTaskDefinition } from './task-definition.ts';

function expectInvalid(fn: () => unknown, re?: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApiError, `expected ApiError, got ${String(e)}`);
    assert.equal(e.code, 'InvalidParameterException', `code; message was: ${e.message}`);
    if (re) assert.match(e.message, re);
    return;
  }
  assert.fail(`expected InvalidParameterException${re ? ` matching ${re}` : ''}, but nothing was thrown`);
}

const def: TaskDefinition = {
  ...normaliseTaskDefinition({
    family: 'web',
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE'],
    cpu: '512',
    memory: '1024',
    containerDefinitions: [
      {
        name: 'app',
        image: 'nginx',
        cpu: 256,
        memory: 512,
        command: ['nginx', '-g', 'daemon off;'],
        environment: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }],
        stopTimeout: 10,
        dependsOn: [{ containerName: 'init', condition: 'SUCCESS' }],
      },
      { name: 'init', image: 'busybox', essential: false, memoryReservation: 64 },
    ],
  }),
  taskDefinitionArn: taskDefinitionArn('web', 1),
  revision: 1,
  status: 'ACTIVE',
};

const net = { awsvpcConfiguration: { subnets: ['subnet-1'] } };
const run = (extra: Partial<RunTaskCommandInput> & Record<string, unknown> = {}, opts = {}) =>
  validateRunTaskInput({ taskDefinition: 'web', networkConfiguration: net, ...extra } as RunTaskCommandInput, def, opts);

test('minimal request is normalised with ECS defaults', () => {
  assert.deepEqual(run(), {
    cluster: 'default',
    taskDefinition: 'web',
    count: 1,
    networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1'], securityGroups: [], assignPublicIp: 'DISABLED' } },
    subnets: ['subnet-1'],
    securityGroups: [],
    assignPublicIp: 'DISABLED',
    overrides: { containerOverrides: [] },
    group: 'family:web',
    tags: [],
    propagateTags: 'NONE',
    enableECSManagedTags: false,
    enableExecuteCommand: false,
    platformVersion: 'LATEST',
  });
  assert.equal(run({ cluster: clusterArn('prod') }).cluster, 'prod');
});

test('networkConfiguration: required as ECS does, unless the caller allows the default VPC', () => {
  expectInvalid(() => validateRunTaskInput({ taskDefinition: 'web' }, def), /Network Configuration must be provided when networkMode 'awsvpc' is specified/);
  const r = validateRunTaskInput({ taskDefinition: 'web' }, def, { allowMissingNetworkConfiguration: true });
  assert.equal(r.networkConfiguration, undefined);
  assert.equal(r.subnets, undefined);
  // Given but malformed is still an error.
  expectInvalid(() => validateRunTaskInput({ taskDefinition: 'web', networkConfiguration: {} }, def, { allowMissingNetworkConfiguration: true }), /Network Configuration must be provided/);
});

describe('count', () => {
  test('1 and 10 accepted', () => {
    assert.equal(run({ count: 1 }).count, 1);
    assert.equal(run({ count: 10 }).count, 10);
  });
  test('0, 11, 1.5 rejected', () => {
    expectInvalid(() => run({ count: 0 }), /count must be an integer from 1 to 10; got 0/);
    expectInvalid(() => run({ count: 11 }), /got 11/);
    expectInvalid(() => run({ count: 1.5 }), /count/);
  });
});

describe('launchType and capacityProviderStrategy', () => {
  test('FARGATE accepted', () => assert.equal(run({ launchType: 'FARGATE' }).launchType, 'FARGATE'));
  test('EC2 / EXTERNAL rejected', () => {
    expectInvalid(() => run({ launchType: 'EC2' }), /Skiff runs tasks on Fargate only: launchType "EC2" is not supported/);
    expectInvalid(() => run({ launchType: 'EXTERNAL' }), /Fargate only/);
  });
  test('FARGATE_SPOT as launch type points to the strategy', () =>
    expectInvalid(() => run({ launchType: 'FARGATE_SPOT' as never }), /capacityProviderStrategy \[\{"capacityProvider": "FARGATE_SPOT"/));
  test('both → InvalidParameterException', () =>
    expectInvalid(
      () => run({ launchType: 'FARGATE', capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }] }),
      /Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again./,
    ));
  test('valid strategy normalised', () =>
    assert.deepEqual(run({ capacityProviderStrategy: [{ capacityProvider: 'FARGATE', base: 2, weight: 1 }, { capacityProvider: 'FARGATE_SPOT', weight: 3 }] }).capacityProviderStrategy, [
      { capacityProvider: 'FARGATE', base: 2, weight: 1 },
      { capacityProvider: 'FARGATE_SPOT', base: 0, weight: 3 },
    ]));
  test('strategy rules', () => {
    const s = validateCapacityProviderStrategy;
    expectInvalid(() => s([{ capacityProvider: 'FARGATE', base: 1, weight: 1 }, { capacityProvider: 'FARGATE_SPOT', base: 1, weight: 1 }]), /Only one capacity provider in a strategy can have a base/);
    expectInvalid(() => s([{ capacityProvider: 'FARGATE', weight: 0 }, { capacityProvider: 'FARGATE_SPOT' }]), /weight greater than 0/);
    expectInvalid(() => s([{ capacityProvider: 'my-asg', weight: 1 }]), /not associated with the cluster.*FARGATE and FARGATE_SPOT/);
    expectInvalid(() => s([{ capacityProvider: 'FARGATE', weight: 1001 }]), /weight must be an integer from 0 to 1000/);
    expectInvalid(() => s([{ capacityProvider: 'FARGATE', weight: 1, base: 100001 }]), /base must be an integer from 0 to 100000/);
    expectInvalid(() => s([{ capacityProvider: 'FARGATE', weight: 1 }, { capacityProvider: 'FARGATE', weight: 1 }]), /more than once/);
    expectInvalid(() => s([]), /at least one/);
    assert.deepEqual(s([{ capacityProvider: 'FARGATE', weight: 1000, base: 100000 }]), [{ capacityProvider: 'FARGATE', weight: 1000, base: 100000 }]);
  });
});

describe('clientToken, startedBy, group, tags, propagateTags', () => {
  test('clientToken ≤ 64', () => {
    assert.equal(run({ clientToken: 't'.repeat(64) }).clientToken, 't'.repeat(64));
    expectInvalid(() => run({ clientToken: 't'.repeat(65) }), /clientToken must be 1 to 64 characters; got 65/);
  });
  test('startedBy ≤ 128 of the allowed characters', () => {
    assert.equal(run({ startedBy: 'ecs-svc/1234_ab' }).startedBy, 'ecs-svc/1234_ab');
    assert.equal(run({ startedBy: 's'.repeat(128) }).startedBy?.length, 128);
    expectInvalid(() => run({ startedBy: 's'.repeat(129) }), /startedBy must be up to 128/);
    expectInvalid(() => run({ startedBy: 'me@example' }), /startedBy/);
  });
  test('group ≤ 255; default family:<family>', () => {
    assert.equal(run({ group: 'service:front' }).group, 'service:front');
    assert.equal(run({ group: 'g'.repeat(255) }).group.length, 255);
    expectInvalid(() => run({ group: 'g'.repeat(256) }), /group must be 1 to 255 characters/);
  });
  test('tags ≤ 50, aws: reserved', () => {
    assert.equal(run({ tags: Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: 'v' })) }).tags.length, 50);
    expectInvalid(() => run({ tags: Array.from({ length: 51 }, (_, i) => ({ key: `k${i}`, value: 'v' })) }), /at most 50/);
    expectInvalid(() => run({ tags: [{ key: 'aws:x', value: 'v' }] }), /reserved/);
  });
  test('propagateTags', () => {
    assert.equal(run({ propagateTags: 'TASK_DEFINITION' }).propagateTags, 'TASK_DEFINITION');
    expectInvalid(() => run({ propagateTags: 'SERVICE' }), /propagateTags SERVICE is not valid for RunTask/);
  });
  test('placement constraints/strategies and EBS volumes are not supported', () => {
    expectInvalid(() => run({ placementConstraints: [{ type: 'distinctInstance' }] }), /placement constraints are not supported/);
    expectInvalid(() => run({ placementStrategy: [{ type: 'spread', field: 'attribute:ecs.availability-zone' }] }), /placement strategies/);
    expectInvalid(() => run({ volumeConfigurations: [{ name: 'v' }] }), /EBS/);
  });
  test('platformVersion', () => {
    assert.equal(run({ platformVersion: '1.4.0' }).platformVersion, '1.4.0');
    expectInvalid(() => run({ platformVersion: 'newest' }), /platformVersion must be LATEST/);
  });
  test('task definition without FARGATE compatibility', () =>
    expectInvalid(() => validateRunTaskInput({ taskDefinition: 'x', networkConfiguration: net }, { ...def, compatibilities: ['EC2'] }), /does not support launch_type FARGATE/));
});

describe('networkConfiguration', () => {
  const nc = (a: object) => validateNetworkConfiguration({ awsvpcConfiguration: a });
  test('limits: 16 subnets, 5 security groups', () => {
    const sixteen = Array.from({ length: 16 }, (_, i) => `subnet-${i}`);
    const five = Array.from({ length: 5 }, (_, i) => `sg-${i}`);
    assert.deepEqual(nc({ subnets: sixteen, securityGroups: five, assignPublicIp: 'ENABLED' }), { subnets: sixteen, securityGroups: five, assignPublicIp: 'ENABLED' });
    expectInvalid(() => nc({ subnets: [...sixteen, 'subnet-x'] }), /subnets can have at most 16 items; 17 given/);
    expectInvalid(() => nc({ subnets: ['subnet-1'], securityGroups: [...five, 'sg-x'] }), /securityGroups can have at most 5 items/);
  });
  test('subnets required, assignPublicIp ENABLED|DISABLED, no duplicates', () => {
    expectInvalid(() => nc({ subnets: [] }), /subnets can not be empty/);
    expectInvalid(() => nc({ subnets: ['subnet-1'], assignPublicIp: 'YES' }), /assignPublicIp must be ENABLED or DISABLED/);
    expectInvalid(() => nc({ subnets: ['subnet-1', 'subnet-1'] }), /more than once/);
    expectInvalid(() => validateNetworkConfiguration({}), /Network Configuration must be provided/);
  });
});

describe('overrides', () => {
  const o = (overrides: object) => run({ overrides } as never).overrides;
  test('container overrides must name containers of the definition', () => {
    expectInvalid(() => o({ containerOverrides: [{ name: 'django', command: ['x'] }] }), /Override for container named django is not a container in the TaskDefinition. Containers are: app, init./);
    expectInvalid(() => o({ containerOverrides: [{ command: ['x'] }] }), /must name its container/);
    expectInvalid(() => o({ containerOverrides: [{ name: 'app' }, { name: 'app', command: ['y'] }] }), /more than once/);
    assert.deepEqual(o({ containerOverrides: [{}] }), { containerOverrides: [] });
  });
  test('command, environment, cpu, memory accepted', () =>
    assert.deepEqual(o({ containerOverrides: [{ name: 'app', command: ['sh'], environment: [{ name: 'B', value: 'x' }], cpu: 128, memory: 256, memoryReservation: 128 }] }), {
      containerOverrides: [{ name: 'app', command: ['sh'], environment: [{ name: 'B', value: 'x' }], cpu: 128, memory: 256, memoryReservation: 128 }],
    }));
  test('invalid container values', () => {
    expectInvalid(() => o({ containerOverrides: [{ name: 'app', memory: 256, memoryReservation: 300 }] }), /memoryReservation \(300 MiB\) must be less than or equal to memory \(256 MiB\)/);
    expectInvalid(() => o({ containerOverrides: [{ name: 'app', memory: 2048 }] }), /The 'memory' setting for container 'app' \(2048 MiB\) is greater than for the task \(1024 MiB\) after overrides/);
    expectInvalid(() => o({ containerOverrides: [{ name: 'app', cpu: 1024 }] }), /The 'cpu' setting for container 'app' \(1024\) is greater than for the task \(512\)/);
    expectInvalid(() => o({ containerOverrides: [{ name: 'app', environment: [{ name: 'A=B', value: '1' }] }] }), /not a valid environment variable name/);
    expectInvalid(() => o({ containerOverrides: [{ name: 'app', command: 'sh -c x' }] }), /command in the override for container 'app' must be a list of strings/);
  });
  test('task cpu/memory overrides must be a valid Fargate pair', () => {
    assert.deepEqual(o({ cpu: '1024', memory: '2048' }), { containerOverrides: [], cpu: '1024', memory: '2048' });
    assert.deepEqual(o({ cpu: '1 vCPU', memory: '3GB' }), { containerOverrides: [], cpu: '1024', memory: '3072' });
    assert.deepEqual(o({ memory: '4096' }), { containerOverrides: [], memory: '4096' });
    expectInvalid(() => o({ cpu: '256', memory: '4096' }), /No Fargate configuration exists for given values: 256 CPU, 4096 memory/);
    expectInvalid(() => o({ memory: '8192' }), /No Fargate configuration exists for given values: 512 CPU, 8192 memory/);
    // Shrinking the task below what the containers ask for.
    expectInvalid(() => o({ cpu: '256', memory: '512' }), /After overrides the containers reserve 576 MiB, more than the task memory \(512 MiB\)/);
  });
  test('ephemeralStorage override 21..200', () => {
    assert.deepEqual(o({ ephemeralStorage: { sizeInGiB: 50 } }).ephemeralStorage, { sizeInGiB: 50 });
    expectInvalid(() => o({ ephemeralStorage: { sizeInGiB: 201 } }), /sizeInGiB must be an integer from 21 to 200/);
  });
  test('overrides JSON at most 8192 characters', () =>
    expectInvalid(() => o({ containerOverrides: [{ name: 'app', environment: [{ name: 'BIG', value: 'x'.repeat(9000) }] }] }), /Container Overrides length must be at most 8192/));
});

test('effectiveContainerConfig merges overrides over the definition', () => {
  const req = run({ overrides: { containerOverrides: [{ name: 'app', command: ['sh'], environment: [{ name: 'B', value: 'two' }, { name: 'C', value: '3' }], memory: 768 }] } });
  const [app, init] = effectiveContainerConfig(def, req.overrides);
  assert.equal(app.name, 'app');
  assert.deepEqual(app.command, ['sh']);
  assert.deepEqual(app.environment, [{ name: 'A', value: '1' }, { name: 'B', value: 'two' }, { name: 'C', value: '3' }]);
  assert.equal(app.memory, 768);
  assert.equal(app.cpu, 256);
  assert.equal(app.stopTimeout, 10);
  assert.deepEqual(app.dependsOn, [{ containerName: 'init', condition: 'SUCCESS' }]);
  assert.equal(app.essential, true);
  assert.equal(init.name, 'init');
  assert.equal(init.essential, false);
  assert.deepEqual(init.environment, []);
  assert.equal(init.command, undefined);
  assert.equal(init.memoryReservation, 64);
  assert.equal(init.cpu, 0);
  // No overrides: the definition as is.
  assert.deepEqual(effectiveContainerConfig(def)[0].command, ['nginx', '-g', 'daemon off;']);
});

test('effectiveTaskSize', () => {
  assert.deepEqual(effectiveTaskSize(def), { cpu: 512, memory: 1024, ephemeralStorageGiB: 20 });
  assert.deepEqual(effectiveTaskSize(def, { cpu: '1024', memory: '2048', ephemeralStorage: { sizeInGiB: 30 } }), { cpu: 1024, memory: 2048, ephemeralStorageGiB: 30 });
  assert.deepEqual(effectiveTaskSize({ ...def, ephemeralStorage: { sizeInGiB: 40 } }, { memory: '4096' }), { cpu: 512, memory: 4096, ephemeralStorageGiB: 40 });
});

describe('requestHash', () => {
  const a: RunTaskCommandInput = { taskDefinition: 'web', count: 2, overrides: { containerOverrides: [{ name: 'app', command: ['a'] }] }, clientToken: 't1' };
  test('stable across key order, token and defaults', () => {
    const reordered = { clientToken: 't2', overrides: { containerOverrides: [{ command: ['a'], name: 'app' }] }, count: 2, taskDefinition: 'web' } as RunTaskCommandInput;
    assert.equal(requestHash(a), requestHash(reordered));
    assert.match(requestHash(a), /^[0-9a-f]{64}$/);
    assert.equal(requestHash({ taskDefinition: 'web' }), requestHash({ taskDefinition: 'web', count: 1, cluster: 'default' }));
    assert.equal(requestHash({ taskDefinition: 'web', cluster: 'prod' }), requestHash({ taskDefinition: 'web', cluster: clusterArn('prod') }));
    assert.equal(requestHash({ taskDefinition: 'web', startedBy: undefined }), requestHash({ taskDefinition: 'web' }));
  });
  test('different parameters → different hash', () => {
    assert.notEqual(requestHash(a), requestHash({ ...a, count: 3 }));
    assert.notEqual(requestHash(a), requestHash({ ...a, overrides: { containerOverrides: [{ name: 'app', command: ['b'] }] } }));
    assert.notEqual(requestHash({ taskDefinition: 'web' }), requestHash({ taskDefinition: 'web:2' }));
    assert.notEqual(requestHash({ taskDefinition: 'web' }), requestHash({ taskDefinition: 'web', cluster: 'prod' }));
  });
  test('canonicalJson refuses nesting past its cap with InvalidParameterException, never a stack overflow', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 20_000; i++) deep = [deep];
    expectInvalid(() => canonicalJson({ x: deep }), /levels deep/);
    let ok: unknown = 1;
    for (let i = 0; i < 50; i++) ok = { a: ok };
    assert.ok(canonicalJson(ok).startsWith('{"a":{"a":'));
  });

  test('checkStrategyAssociated: every provider must be associated with the cluster', () => {
    const spot = [{ capacityProvider: 'FARGATE_SPOT' as const, weight: 1, base: 0 }];
    checkStrategyAssociated(spot, ['FARGATE', 'FARGATE_SPOT'], 'c');
    expectInvalid(() => checkStrategyAssociated(spot, ['FARGATE'], 'c'), /not associated with the cluster.*'c' has FARGATE.*FARGATE_SPOT/);
    expectInvalid(() => checkStrategyAssociated(spot, [], 'bare'), /no capacity providers/);
  });

  test('canonicalJson sorts keys at every level', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: undefined } }), '{"a":{"d":[2,{"e":0,"f":1}]},"b":1}');
  });
});
