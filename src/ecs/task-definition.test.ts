import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerDefinition, RegisterTaskDefinitionCommandInput } from '@aws-sdk/client-ecs';
import {
  containerStartOrder,
  ephemeralStorageGiB,
  normaliseRegisterTaskDefinition,
  normaliseTaskDefinition,
} from './task-definition.ts';
import { expectApiError } from '../../test/support/api-errors.ts';

const rejects = (input: unknown, re: RegExp): void => {
  expectApiError(() => normaliseTaskDefinition(input as RegisterTaskDefinitionCommandInput), 'ClientException', re);
};

type Input = RegisterTaskDefinitionCommandInput & Record<string, unknown>;
function base(): Input {
  return {
    family: 'web',
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE'],
    cpu: '256',
    memory: '512',
    containerDefinitions: [{ name: 'app', image: 'nginx:1.25', portMappings: [{ containerPort: 80 }] }],
  };
}
/** base() with the task-level fields of `patch` and the first container patched by `c`. */
function td(patch: Record<string, unknown> = {}, c: Record<string, unknown> = {}): Input {
  const b = base();
  const first = { ...b.containerDefinitions![0], ...c };
  for (const k of Object.keys(first)) if ((first as Record<string, unknown>)[k] === undefined) delete (first as Record<string, unknown>)[k];
  const out = { ...b, containerDefinitions: [first as ContainerDefinition], ...patch } as Input;
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}
const ok = (input: unknown) => normaliseTaskDefinition(input as RegisterTaskDefinitionCommandInput);
const c0 = (input: unknown) => ok(input).containerDefinitions[0];

test('minimal Fargate definition → the DescribeTaskDefinition shape', () => {
  assert.deepEqual(ok(base()), {
    containerDefinitions: [
      {
        name: 'app',
        image: 'nginx:1.25',
        cpu: 0,
        portMappings: [{ containerPort: 80, hostPort: 80, protocol: 'tcp' }],
        essential: true,
        environment: [],
        mountPoints: [],
        volumesFrom: [],
        systemControls: [],
      },
    ],
    family: 'web',
    networkMode: 'awsvpc',
    volumes: [],
    requiresAttributes: [{ name: 'com.amazonaws.ecs.capability.docker-remote-api.1.18' }, { name: 'ecs.capability.task-eni' }],
    placementConstraints: [],
    compatibilities: ['EC2', 'FARGATE'],
    requiresCompatibilities: ['FARGATE'],
    cpu: '256',
    memory: '512',
    enableFaultInjection: false,
  });
});

test('unknown fields are dropped, known ones kept in ECS order', () => {
  const out = ok(td({ bogus: 1 }, { bogus: 2, user: '1000', workingDirectory: '/srv' }));
  assert.equal((out as Record<string, unknown>).bogus, undefined);
  assert.equal((out.containerDefinitions[0] as Record<string, unknown>).bogus, undefined);
  assert.equal(out.containerDefinitions[0].user, '1000');
  assert.deepEqual(Object.keys(out.containerDefinitions[0]).slice(0, 4), ['name', 'image', 'cpu', 'portMappings']);
});

describe('family', () => {
  test('valid', () => assert.equal(ok(td({ family: 'Web_app-2' })).family, 'Web_app-2'));
  test('missing', () => rejects(td({ family: undefined }), /Family is required/));
  test('invalid characters', () => rejects(td({ family: 'web.app' }), /Family contains invalid characters/));
  test('too long', () => rejects(td({ family: 'f'.repeat(256) }), /Up to 255 letters/));
});

describe('requiresCompatibilities', () => {
  test('FARGATE, EC2+FARGATE accepted; absent accepted and omitted', () => {
    assert.deepEqual(ok(td({ requiresCompatibilities: ['EC2', 'FARGATE'] })).requiresCompatibilities, ['EC2', 'FARGATE']);
    const out = ok(td({ requiresCompatibilities: undefined }));
    assert.equal('requiresCompatibilities' in out, false);
    assert.deepEqual(out.compatibilities, ['EC2', 'FARGATE']);
  });
  test('EC2 only / EXTERNAL only rejected: Skiff runs FARGATE only', () => {
    rejects(td({ requiresCompatibilities: ['EC2'] }), /Skiff runs tasks on FARGATE only.*Add "FARGATE"/);
    rejects(td({ requiresCompatibilities: ['EXTERNAL'] }), /FARGATE only/);
  });
  test('unknown value', () => rejects(td({ requiresCompatibilities: ['LAMBDA'] }), /requiresCompatibilities item must be one of/));
});

describe('networkMode', () => {
  test('awsvpc', () => assert.equal(ok(base()).networkMode, 'awsvpc'));
  test('absent', () => rejects(td({ networkMode: undefined }), /Fargate only supports network mode 'awsvpc'.*set "networkMode": "awsvpc"/));
  test('bridge', () => rejects(td({ networkMode: 'bridge' }), /Fargate only supports network mode 'awsvpc'. The request has networkMode "bridge"/));
});

describe('task cpu/memory', () => {
  test('string forms normalised', () => {
    const out = ok(td({ cpu: '1 vCPU', memory: '2GB' }));
    assert.equal(out.cpu, '1024');
    assert.equal(out.memory, '2048');
  });
  test('cpu missing', () => rejects(td({ cpu: undefined }), /Fargate requires that 'cpu' be defined at the task level/));
  test('memory missing', () => rejects(td({ memory: undefined }), /Fargate requires that 'memory' be defined at the task level/));
  test('invalid pair', () => rejects(td({ cpu: '256', memory: '4096' }), /No Fargate configuration exists for given values: 256 CPU, 4096 memory/));
  test('unparseable', () => rejects(td({ cpu: 'lots' }), /Invalid 'cpu' setting for task/));
});

describe('containerDefinitions count and names', () => {
  const many = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `c${i}`, image: 'busybox' }));
  test('10 accepted', () => assert.equal(ok(td({ containerDefinitions: many(10) })).containerDefinitions.length, 10));
  test('11 rejected', () => rejects(td({ containerDefinitions: many(11) }), /Too many containers: 11 given, .* at most 10/));
  test('empty rejected', () => rejects(td({ containerDefinitions: [] }), /Container list cannot be empty/));
  test('missing rejected', () => rejects(td({ containerDefinitions: undefined }), /containerDefinitions is required/));
  test('duplicate names', () => rejects(td({ containerDefinitions: [{ name: 'a', image: 'x' }, { name: 'a', image: 'y' }] }), /'a' is used more than once/));
  test('missing name', () => rejects(td({}, { name: undefined }), /Container.name should not be null or empty/));
  test('bad name', () => rejects(td({}, { name: 'my app' }), /Container.name contains invalid characters/));
});

describe('image', () => {
  test('registry/repo:tag and digests', () => {
    const digestRef = '123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:' + 'a'.repeat(64);
    assert.equal(c0(td({}, { image: digestRef })).image, digestRef);
    assert.equal(c0(td({}, { image: 'localhost:5000/team/app:v1' })).image, 'localhost:5000/team/app:v1');
  });
  test('missing', () => rejects(td({}, { image: undefined }), /Container.image should not be null or empty/));
  test('invalid', () => rejects(td({}, { image: 'nginx latest' }), /Invalid image reference/));
});

describe('essential', () => {
  test('defaults to true', () => assert.equal(c0(base()).essential, true));
  test('one essential among several is enough', () => {
    const out = ok(td({ containerDefinitions: [{ name: 'a', image: 'x', essential: false }, { name: 'b', image: 'y' }] }));
    assert.deepEqual(out.containerDefinitions.map((c) => c.essential), [false, true]);
  });
  test('none essential', () => rejects(td({}, { essential: false }), /at least one essential container/));
});

describe('container memory and cpu against the task', () => {
  test('fits', () => {
    const out = ok(td({ cpu: '1024', memory: '2048' }, { cpu: 512, memory: 1024, memoryReservation: 512 }));
    assert.equal(out.containerDefinitions[0].memoryReservation, 512);
    assert.ok(out.requiresAttributes.some((a) => a.name === 'com.amazonaws.ecs.capability.docker-remote-api.1.21'));
  });
  test('memory above task', () => rejects(td({}, { memory: 1024 }), /The 'memory' setting for container 'app' \(1024 MiB\) is greater than for the task \(512 MiB\)/));
  test('memoryReservation above task', () => rejects(td({}, { memoryReservation: 600 }), /The 'memoryReservation' setting for container 'app'.*greater than for the task/));
  test('memoryReservation above memory', () => rejects(td({}, { memory: 256, memoryReservation: 300 }), /'memoryReservation' \(300 MiB\) must be less than or equal to 'memory' \(256 MiB\)/));
  test('memory below 6 MiB', () => rejects(td({}, { memory: 4 }), /'memory' setting for container 'app' \(MiB\) must be an integer from 6/));
  test('sum of reservations above task', () =>
    rejects(
      td({ containerDefinitions: [{ name: 'a', image: 'x', memory: 300 }, { name: 'b', image: 'y', memoryReservation: 300 }] }),
      /reserve 600 MiB of memory in total.*more than the task memory \(512 MiB\)/,
    ));
  test('cpu above task', () => rejects(td({}, { cpu: 512 }), /The 'cpu' setting for container 'app' \(512\) is greater than for the task \(256\)/));
  test('sum of cpu above task', () =>
    rejects(td({ containerDefinitions: [{ name: 'a', image: 'x', cpu: 200 }, { name: 'b', image: 'y', cpu: 100 }] }), /add up to 300, more than the task cpu \(256\)/));
  test('non-integer cpu', () => rejects(td({}, { cpu: '128' }), /'cpu' setting for container 'app'.*must be an integer/));
});

describe('portMappings (awsvpc)', () => {
  test('hostPort filled from containerPort; protocol defaults to tcp', () =>
    assert.deepEqual(c0(td({}, { portMappings: [{ containerPort: 8080 }, { containerPort: 53, hostPort: 53, protocol: 'udp', name: 'dns' }] })).portMappings, [
      { containerPort: 8080, hostPort: 8080, protocol: 'tcp' },
      { containerPort: 53, hostPort: 53, protocol: 'udp', name: 'dns' },
    ]));
  test('hostPort different from containerPort', () =>
    rejects(td({}, { portMappings: [{ containerPort: 80, hostPort: 8080 }] }), /When networkMode=awsvpc, the host ports and container ports in port mappings must match/));
  test('containerPort missing', () => rejects(td({}, { portMappings: [{ hostPort: 80 }] }), /Invalid 'containerPort' setting for container 'app'/));
  test('containerPort out of range', () => rejects(td({}, { portMappings: [{ containerPort: 70000 }] }), /Invalid 'containerPort'.*1 to 65535/));
  test('bad protocol', () => rejects(td({}, { portMappings: [{ containerPort: 80, protocol: 'sctp' }] }), /protocol must be one of tcp, udp/));
  test('same port tcp and udp is fine; same port twice across containers is not', () => {
    ok(td({ containerDefinitions: [{ name: 'a', image: 'x', portMappings: [{ containerPort: 53 }] }, { name: 'b', image: 'y', portMappings: [{ containerPort: 53, protocol: 'udp' }] }] }));
    rejects(
      td({ containerDefinitions: [{ name: 'a', image: 'x', portMappings: [{ containerPort: 80 }] }, { name: 'b', image: 'y', portMappings: [{ containerPort: 80 }] }] }),
      /Port 80\/tcp is mapped more than once \(containers 'a' and 'b'\).*share one network namespace/,
    );
  });
  test('containerPortRange', () => {
    assert.deepEqual(c0(td({}, { portMappings: [{ containerPortRange: '8000-8010' }] })).portMappings, [{ containerPortRange: '8000-8010', protocol: 'tcp' }]);
    rejects(td({}, { portMappings: [{ containerPortRange: '8010-8000' }] }), /containerPortRange '8010-8000' is not valid/);
  });
});

describe('ephemeralStorage', () => {
  test('21 and 200 accepted; absent means 20', () => {
    assert.deepEqual(ok(td({ ephemeralStorage: { sizeInGiB: 21 } })).ephemeralStorage, { sizeInGiB: 21 });
    assert.equal(ephemeralStorageGiB(ok(td({ ephemeralStorage: { sizeInGiB: 200 } }))), 200);
    assert.equal(ephemeralStorageGiB(ok(base())), 20);
  });
  test('20 and 201 rejected', () => {
    rejects(td({ ephemeralStorage: { sizeInGiB: 20 } }), /ephemeralStorage.sizeInGiB.*must be an integer from 21 to 200; got 20/);
    rejects(td({ ephemeralStorage: { sizeInGiB: 201 } }), /from 21 to 200; got 201/);
  });
});

describe('stopTimeout / startTimeout', () => {
  test('2 and 120 accepted', () => {
    assert.equal(c0(td({}, { stopTimeout: 2 })).stopTimeout, 2);
    assert.equal(c0(td({}, { stopTimeout: 120, startTimeout: 120 })).stopTimeout, 120);
  });
  test('1 and 121 rejected', () => {
    rejects(td({}, { stopTimeout: 1 }), /stopTimeout of container 'app'.*from 2 to 120; got 1/);
    rejects(td({}, { stopTimeout: 121 }), /from 2 to 120; got 121/);
    rejects(td({}, { startTimeout: 0 }), /startTimeout of container 'app'/);
  });
});

describe('healthCheck', () => {
  test('defaults filled: interval 30, timeout 5, retries 3', () => {
    const c = c0(td({}, { healthCheck: { command: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'] } }));
    assert.deepEqual(c.healthCheck, { command: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'], interval: 30, timeout: 5, retries: 3 });
  });
  test('explicit bounds accepted', () => {
    const c = c0(td({}, { healthCheck: { command: ['CMD', '/bin/check'], interval: 5, timeout: 60, retries: 10, startPeriod: 0 } }));
    assert.deepEqual(c.healthCheck, { command: ['CMD', '/bin/check'], interval: 5, timeout: 60, retries: 10, startPeriod: 0 });
    c0(td({}, { healthCheck: { command: ['CMD', 'x'], interval: 300, timeout: 2, retries: 1, startPeriod: 300 } }));
  });
  test('command must start with CMD or CMD-SHELL', () => {
    rejects(td({}, { healthCheck: { command: ['curl', '-f', 'http://localhost/'] } }), /must start with "CMD".*or "CMD-SHELL"/);
    rejects(td({}, { healthCheck: { command: ['CMD'] } }), /must start with "CMD"/);
  });
  test('out-of-range timings', () => {
    const hc = (x: object) => td({}, { healthCheck: { command: ['CMD', 'x'], ...x } });
    rejects(hc({ interval: 4 }), /interval \(seconds\) must be an integer from 5 to 300; got 4/);
    rejects(hc({ interval: 301 }), /interval/);
    rejects(hc({ timeout: 1 }), /timeout \(seconds\) must be an integer from 2 to 60/);
    rejects(hc({ timeout: 61 }), /timeout/);
    rejects(hc({ retries: 0 }), /retries must be an integer from 1 to 10/);
    rejects(hc({ retries: 11 }), /retries/);
    rejects(hc({ startPeriod: 301 }), /startPeriod \(seconds\) must be an integer from 0 to 300/);
  });
  test('adds the health-check capability attribute', () =>
    assert.ok(ok(td({}, { healthCheck: { command: ['CMD', 'x'] } })).requiresAttributes.some((a) => a.name === 'ecs.capability.container-health-check')));
});

describe('dependsOn', () => {
  const two = (dep: object, sidecar: object = {}) =>
    td({ containerDefinitions: [{ name: 'app', image: 'x', dependsOn: [dep] }, { name: 'init', image: 'y', essential: false, ...sidecar }] });
  test('START on an existing container', () => {
    const out = ok(two({ containerName: 'init', condition: 'START' }));
    assert.deepEqual(out.containerDefinitions[0].dependsOn, [{ containerName: 'init', condition: 'START' }]);
    assert.deepEqual(containerStartOrder(out), ['init', 'app']);
  });
  test('SUCCESS/COMPLETE on a non-essential container', () => {
    ok(two({ containerName: 'init', condition: 'SUCCESS' }));
    ok(two({ containerName: 'init', condition: 'COMPLETE' }));
  });
  test('SUCCESS on an essential container', () =>
    rejects(two({ containerName: 'init', condition: 'SUCCESS' }, { essential: true }), /A dependency container with SUCCESS or COMPLETE condition cannot be an essential container.*"essential": false on 'init'/));
  test('HEALTHY needs a health check on the target', () => {
    rejects(two({ containerName: 'init', condition: 'HEALTHY' }), /'init' has no healthCheck/);
    ok(two({ containerName: 'init', condition: 'HEALTHY' }, { healthCheck: { command: ['CMD', 'true'] } }));
  });
  test('unknown condition', () => rejects(two({ containerName: 'init', condition: 'READY' }), /condition must be one of START, COMPLETE, SUCCESS, HEALTHY/));
  test('missing container', () => rejects(two({ containerName: 'db', condition: 'START' }), /Cannot depend on container 'db' because it does not exist/));
  test('self', () => rejects(td({}, { dependsOn: [{ containerName: 'app', condition: 'START' }] }), /cannot depend on itself/));
  test('cycle', () =>
    rejects(
      td({
        containerDefinitions: [
          { name: 'a', image: 'x', dependsOn: [{ containerName: 'b', condition: 'START' }] },
          { name: 'b', image: 'x', dependsOn: [{ containerName: 'c', condition: 'START' }] },
          { name: 'c', image: 'x', dependsOn: [{ containerName: 'a', condition: 'START' }] },
        ],
      }),
      /Container dependencies form a cycle: a -> b -> c -> a/,
    ));
});

describe('environment and secrets', () => {
  test('valid names kept', () =>
    assert.deepEqual(c0(td({}, { environment: [{ name: 'PORT', value: '80' }, { name: 'lower.case-ok', value: '' }] })).environment, [
      { name: 'PORT', value: '80' },
      { name: 'lower.case-ok', value: '' },
    ]));
  test("name with '='", () => rejects(td({}, { environment: [{ name: 'A=B', value: '1' }] }), /not a valid environment variable name/));
  test('empty name', () => rejects(td({}, { environment: [{ name: '', value: '1' }] }), /not a valid environment variable name/));
  test('non-string value', () => rejects(td({}, { environment: [{ name: 'PORT', value: 80 }] }), /must be a string; quote numbers/));
  const EXEC = { executionRoleArn: 'arn:aws:iam::123456789012:role/exec' };
  const SECRET = { name: 'DB_PASSWORD', valueFrom: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db' };
  test('secrets need valueFrom', () => {
    assert.deepEqual(c0(td(EXEC, { secrets: [SECRET] })).secrets, [SECRET]);
    rejects(td(EXEC, { secrets: [{ name: 'DB_PASSWORD' }] }), /valueFrom/);
  });
  test('secrets need an executionRoleArn (ECS: ClientException at registration)', () => {
    rejects(td({}, { secrets: [SECRET] }), /^When you are specifying container secrets, you must also specify a value for 'executionRoleArn'\. Container\(s\) 'app'/);
    rejects(td({ executionRoleArn: '' }, { secrets: [SECRET] }), /executionRoleArn/);
    assert.equal(ok(td({}, { secrets: [] })).executionRoleArn, undefined, 'an empty secrets list needs no role');
  });
});

describe('size: at most 64 KiB of task definition JSON', () => {
  /** base() padded with one environment value so its JSON (without tags) is exactly `bytes` long. */
  const ofSize = (bytes: number, tags?: unknown): Input => {
    const input = td({}, { environment: [{ name: 'PAD', value: '' }] });
    const pad = bytes - Buffer.byteLength(JSON.stringify(input));
    const padded = td(tags ? { tags } : {}, { environment: [{ name: 'PAD', value: 'x'.repeat(pad) }] });
    return padded;
  };
  test('65536 bytes accepted, 65537 refused with ECS wording', () => {
    assert.equal(Buffer.byteLength(JSON.stringify(ofSize(65536))), 65536);
    ok(ofSize(65536));
    rejects(ofSize(65537), /^Actual length: '65537'\. Max allowed length is '65536' bytes\./);
  });
  test('65 KiB refused; bytes are UTF-8, not characters', () => {
    rejects(ofSize(65 * 1024), /Actual length: '66560'/);
    const input = td({}, { environment: [{ name: 'PAD', value: 'é'.repeat(33000) }] });
    rejects(input, /Actual length: '66\d{3}'/);
  });
  test('tags are not part of the definition', () => {
    const tags = Array.from({ length: 50 }, (_, i) => ({ key: `key-${i}`.padEnd(128, 'k'), value: 'v'.repeat(256) }));
    ok(ofSize(65536, tags));
  });
});

describe('tags', () => {
  test('returned separately, validated', () => {
    const r = normaliseRegisterTaskDefinition(td({ tags: [{ key: 'team', value: 'core' }] }));
    assert.deepEqual(r.tags, [{ key: 'team', value: 'core' }]);
    assert.equal('tags' in r.taskDefinition, false);
    assert.equal(normaliseRegisterTaskDefinition(td({ tags: Array.from({ length: 50 }, (_, i) => ({ key: `k${i}` })) })).tags.length, 50);
  });
  test('51 tags → InvalidParameterException', () => {
    expectApiError(() => ok(td({ tags: Array.from({ length: 51 }, (_, i) => ({ key: `k${i}` })) })), 'InvalidParameterException', /at most 50/);
  });
});

describe('runtimePlatform', () => {
  test('ARM64 accepted and required as an attribute', () => {
    const out = ok(td({ runtimePlatform: { cpuArchitecture: 'ARM64', operatingSystemFamily: 'LINUX' } }));
    assert.deepEqual(out.runtimePlatform, { cpuArchitecture: 'ARM64', operatingSystemFamily: 'LINUX' });
    assert.deepEqual(out.requiresAttributes.at(-1), { name: 'ecs.cpu-architecture', value: 'arm64' });
    assert.deepEqual(ok(td({ runtimePlatform: { cpuArchitecture: 'X86_64' } })).runtimePlatform, { cpuArchitecture: 'X86_64' });
  });
  test('Windows rejected', () => rejects(td({ runtimePlatform: { operatingSystemFamily: 'WINDOWS_SERVER_2022_CORE' } }), /Skiff runs Linux tasks only/));
  test('unknown architecture rejected', () => rejects(td({ runtimePlatform: { cpuArchitecture: 'RISCV' } }), /cpuArchitecture must be one of X86_64, ARM64/));
});

describe('parameters Fargate does not support', () => {
  test('links', () => rejects(td({}, { links: ['db'] }), /links are not supported when networkMode=awsvpc/));
  test('hostname', () => rejects(td({}, { hostname: 'web' }), /hostname is not supported on container when networkMode=awsvpc/));
  test('privileged (false is fine)', () => {
    assert.equal(c0(td({}, { privileged: false })).privileged, false);
    rejects(td({}, { privileged: true }), /Privileged containers are not supported on Fargate/);
  });
  test('ipcMode', () => rejects(td({ ipcMode: 'host' }), /Tasks using the Fargate launch type do not support ipcMode/));
  test('pidMode task ok, host not', () => {
    assert.equal(ok(td({ pidMode: 'task' })).pidMode, 'task');
    rejects(td({ pidMode: 'host' }), /Fargate only supports pidMode "task"/);
  });
  test('dnsServers', () => rejects(td({}, { dnsServers: ['1.1.1.1'] }), /dnsServers is not supported when networkMode=awsvpc/));
  test('dockerSecurityOptions', () => rejects(td({}, { dockerSecurityOptions: ['no-new-privileges'] }), /not supported on Fargate/));
  test('capabilities: SYS_PTRACE only', () => {
    assert.deepEqual(c0(td({}, { linuxParameters: { capabilities: { add: ['SYS_PTRACE'], drop: ['NET_RAW'] }, initProcessEnabled: true } })).linuxParameters, {
      capabilities: { add: ['SYS_PTRACE'], drop: ['NET_RAW'] },
      initProcessEnabled: true,
    });
    rejects(td({}, { linuxParameters: { capabilities: { add: ['NET_ADMIN'] } } }), /only lets a container add the SYS_PTRACE capability.*adds NET_ADMIN/);
  });
  test('devices / tmpfs', () => {
    rejects(td({}, { linuxParameters: { devices: [{ hostPath: '/dev/fuse' }] } }), /linuxParameters.devices is not supported on Fargate/);
    rejects(td({}, { linuxParameters: { tmpfs: [{ containerPath: '/tmp', size: 64 }] } }), /tmpfs is not supported/);
  });
  test('log drivers', () => {
    assert.equal(c0(td({ executionRoleArn: 'arn:aws:iam::123456789012:role/exec' }, { logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': 'g' } } })).logConfiguration?.logDriver, 'awslogs');
    rejects(td({}, { logConfiguration: { logDriver: 'json-file' } }), /Log driver "json-file" is not supported on Fargate.*awslogs, splunk, awsfirelens/);
  });
  test('GPU', () => rejects(td({}, { resourceRequirements: [{ type: 'GPU', value: '1' }] }), /not supported on Fargate/));
  test('inferenceAccelerators', () => rejects(td({ inferenceAccelerators: [{ deviceName: 'a', deviceType: 'eia2.medium' }] }), /not supported on Fargate/));
});

describe('volumes and mount points', () => {
  test('task-scoped bind mount', () => {
    const out = ok(td({ volumes: [{ name: 'data' }] }, { mountPoints: [{ sourceVolume: 'data', containerPath: '/data', readOnly: false }] }));
    assert.deepEqual(out.volumes, [{ name: 'data', host: {} }]);
    assert.deepEqual(out.containerDefinitions[0].mountPoints, [{ sourceVolume: 'data', containerPath: '/data', readOnly: false }]);
  });
  test('unknown sourceVolume', () => rejects(td({}, { mountPoints: [{ sourceVolume: 'data', containerPath: '/data' }] }), /no volume named 'data' is defined/));
  test('relative containerPath', () => rejects(td({ volumes: [{ name: 'd' }] }, { mountPoints: [{ sourceVolume: 'd', containerPath: 'data' }] }), /must be an absolute path/));
  test('host.sourcePath', () => rejects(td({ volumes: [{ name: 'd', host: { sourcePath: '/etc' } }] }), /host.sourcePath is not supported on Fargate/));
  test('duplicate volume', () => rejects(td({ volumes: [{ name: 'd' }, { name: 'd' }] }), /defined more than once/));
  test('EFS', () => {
    const efs = (cfg: Record<string, unknown>) => td({ volumes: [{ name: 'd', efsVolumeConfiguration: cfg }] });
    const fs = 'fs-0123456789abcdef0';
    assert.deepEqual(ok(efs({ fileSystemId: fs, rootDirectory: '/data' })).volumes, [{ name: 'd', efsVolumeConfiguration: { fileSystemId: fs, rootDirectory: '/data' } }]);
    const withAuth = ok(efs({ fileSystemId: fs, transitEncryption: 'ENABLED', transitEncryptionPort: 2999, authorizationConfig: { accessPointId: 'fsap-0123456789abcdef0', iam: 'ENABLED' } }));
    for (const name of ['ecs.capability.efs', 'ecs.capability.efsAuth', 'com.amazonaws.ecs.capability.docker-remote-api.1.25']) {
      assert.ok(withAuth.requiresAttributes?.some((a: { name?: string }) => a.name === name), name);
    }
    ok(efs({ fileSystemId: fs, rootDirectory: '/', transitEncryption: 'ENABLED', authorizationConfig: { accessPointId: 'fsap-0123456789abcdef0' } }));
    rejects(efs({ rootDirectory: '/' }), /fileSystemId must be a string/);
    rejects(efs({ fileSystemId: 'fs-1' }), /is not a file system id/);
    rejects(efs({ fileSystemId: fs, rootDirectory: '/a/../../etc' }), /contains "\.\."/);
    rejects(efs({ fileSystemId: fs, rootDirectory: '/x', transitEncryption: 'ENABLED', authorizationConfig: { accessPointId: 'fsap-1' } }), /root directory must either be set to "\/" or be omitted/);
    rejects(efs({ fileSystemId: fs, authorizationConfig: { accessPointId: 'fsap-1' } }), /Transit encryption must be enabled when using an EFS access point/);
    rejects(efs({ fileSystemId: fs, authorizationConfig: { iam: 'ENABLED' } }), /Transit encryption must be enabled when IAM authorization is used/);
    rejects(efs({ fileSystemId: fs, transitEncryption: 'yes' }), /transitEncryption/);
  });
  test('S3 Files', () => rejects(td({ volumes: [{ name: 'd', s3filesVolumeConfiguration: {} }] }), /s3filesVolumeConfiguration is not supported by Skiff/));
  test('volumesFrom needs an existing container', () => {
    ok(td({ containerDefinitions: [{ name: 'a', image: 'x', volumesFrom: [{ sourceContainer: 'b' }] }, { name: 'b', image: 'y' }] }));
    rejects(td({}, { volumesFrom: [{ sourceContainer: 'zzz' }] }), /names container 'zzz', which does not exist/);
  });
});

test('roles and requiresAttributes', () => {
  const out = ok(td({ taskRoleArn: 'arn:aws:iam::123456789012:role/app', executionRoleArn: 'arn:aws:iam::123456789012:role/exec' }));
  assert.equal(out.taskRoleArn, 'arn:aws:iam::123456789012:role/app');
  assert.ok(out.requiresAttributes.some((a) => a.name === 'com.amazonaws.ecs.capability.task-iam-role'));
  rejects(td({ taskRoleArn: 'not a role' }), /taskRoleArn is not valid/);
});

test('proxyConfiguration names a container', () => {
  ok(td({ proxyConfiguration: { type: 'APPMESH', containerName: 'app', properties: [{ name: 'AppPorts', value: '80' }] } }));
  rejects(td({ proxyConfiguration: { containerName: 'envoy' } }), /'envoy' is not a container of this task definition/);
});

test('the request must be an object', () => rejects(null, /must be a JSON object/));
