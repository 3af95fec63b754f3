/**
 * composeUp against a scripted ECS (no server): what it sends and in which
 * order, and the load balancer switch. The real round trip is in
 * test/compose.root.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCompose } from './compose-file.ts';
import { planCompose } from './to-ecs.ts';
import { composeUp, definitionHash, type ComposeDeps, type SecretsApi } from './compose-ops.ts';

type Call = { op: string; input: Record<string, unknown> };

function fakeEcs(opts: { refuseLoadBalancers: boolean }) {
  const calls: Call[] = [];
  const services = new Map<string, { desiredCount: number }>();
  const send = async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
    const op = command.constructor.name.replace(/Command$/, '');
    calls.push({ op, input: command.input });
    switch (op) {
      case 'DescribeClusters':
        return { clusters: [] };
      case 'CreateCluster':
        return {};
      case 'DescribeTaskDefinition':
        throw Object.assign(new Error('Unable to describe task definition'), { name: 'ClientException' });
      case 'RegisterTaskDefinition':
        return { taskDefinition: { taskDefinitionArn: `arn:td/${command.input.family}:1` } };
      case 'DescribeServices': {
        const name = (command.input.services as string[])[0]!;
        const s = services.get(name);
        return { services: s ? [{ status: 'ACTIVE', desiredCount: s.desiredCount, runningCount: s.desiredCount, deployments: [{ status: 'PRIMARY', runningCount: s.desiredCount }] }] : [] };
      }
      case 'CreateService':
        if (command.input.loadBalancers && opts.refuseLoadBalancers) {
          throw Object.assign(new Error('loadBalancers are not supported by Skiff yet. Remove loadBalancers and reach the tasks at their own addresses.'), { name: 'InvalidParameterException' });
        }
        services.set(command.input.serviceName as string, { desiredCount: command.input.desiredCount as number });
        return {};
      default:
        throw new Error(`unexpected ${op}`);
    }
  };
  return { calls, ecs: { send } as unknown as ComposeDeps['ecs'] };
}

const secrets: SecretsApi = { put: async (name) => `arn:aws:secretsmanager:us-east-1:1:secret:${name}-AbCdEf`, delete: async () => true };
const yaml = `name: p
services:
  client: { image: x, depends_on: [web] }
  web: { image: x, ports: ["8080"], secrets: [tok] }
secrets:
  tok: { environment: TOK }
`;
const plan = () => planCompose(parseCompose(yaml, { file: '/p/c.yml', env: { TOK: 'v' } }));

test('up: cluster, secrets, task definitions with secret ARNs, then services in dependency order', async () => {
  const { calls, ecs } = fakeEcs({ refuseLoadBalancers: false });
  const lines: string[] = [];
  await composeUp(plan(), { ecs, secrets, log: (l) => lines.push(l), pollMs: 1 });
  const ops = calls.filter((c) => c.op !== 'DescribeServices' && c.op !== 'DescribeTaskDefinition').map((c) => `${c.op}${c.input.serviceName ? `:${c.input.serviceName}` : c.input.family ? `:${c.input.family}` : ''}`);
  assert.deepEqual(ops, ['DescribeClusters', 'CreateCluster', 'RegisterTaskDefinition:p-web', 'RegisterTaskDefinition:p-client', 'CreateService:web', 'CreateService:client']);
  const td = calls.find((c) => c.input.family === 'p-web')!.input as { containerDefinitions: { secrets: { valueFrom: string }[] }[] };
  assert.equal(td.containerDefinitions[0]!.secrets[0]!.valueFrom, 'arn:aws:secretsmanager:us-east-1:1:secret:compose/p/tok-AbCdEf');
  const web = calls.find((c) => c.op === 'CreateService' && c.input.serviceName === 'web')!.input;
  assert.deepEqual(web.loadBalancers, [{ containerName: 'web', containerPort: 8080 }]);
  assert.equal(web.taskDefinition, 'arn:td/p-web:1');
  assert.ok(lines.includes('client: waiting for web (service_started)'));
  assert.equal((td as unknown as { tags: { key: string; value: string }[] }).tags.find((t) => t.key === 'skiff:compose-hash')?.value, definitionHash(plan().services[0]!, plan()));
});

test('the definition hash changes with the definition and with the values of the secrets it uses', () => {
  const base = plan();
  const web = base.services.find((s) => s.name === 'web')!;
  const client = base.services.find((s) => s.name === 'client')!;
  const other = planCompose(parseCompose(yaml, { file: '/p/c.yml', env: { TOK: 'changed' } }));
  assert.equal(definitionHash(web, base), definitionHash(web, plan()), 'stable');
  assert.notEqual(definitionHash(web, base), definitionHash(other.services.find((s) => s.name === 'web')!, other), 'secret value changed');
  assert.equal(definitionHash(client, base), definitionHash(other.services.find((s) => s.name === 'client')!, other), 'client uses no secret');
  const bigger = planCompose(parseCompose(yaml.replace('ports: ["8080"]', 'ports: ["8081"]'), { file: '/p/c.yml', env: { TOK: 'v' } }));
  assert.notEqual(definitionHash(web, base), definitionHash(bigger.services.find((s) => s.name === 'web')!, bigger));
});

test('up: a server that refuses loadBalancers gets the service without them, and the user is told', async () => {
  const { calls, ecs } = fakeEcs({ refuseLoadBalancers: true });
  const lines: string[] = [];
  await composeUp(plan(), { ecs, secrets, log: (l) => lines.push(l), pollMs: 1 });
  const creates = calls.filter((c) => c.op === 'CreateService');
  assert.deepEqual(creates.map((c) => [c.input.serviceName, c.input.loadBalancers]), [['web', [{ containerName: 'web', containerPort: 8080 }]], ['web', undefined], ['client', undefined]]);
  assert.ok(lines.some((l) => /^note: this server does not accept load balancers yet/.test(l)), lines.join('\n'));
});

test('up: --load-balancers off never sends them', async () => {
  const { calls, ecs } = fakeEcs({ refuseLoadBalancers: false });
  await composeUp(plan(), { ecs, secrets, log: () => {}, pollMs: 1, loadBalancers: 'off' });
  assert.deepEqual(calls.filter((c) => c.op === 'CreateService').map((c) => c.input.loadBalancers), [undefined, undefined]);
});

test('up: a one-shot dependency that exits non-zero stops the run with its exit code and reason; its dependant is never created', async () => {
  const created: string[] = [];
  const send = async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
    switch (command.constructor.name.replace(/Command$/, '')) {
      case 'DescribeClusters':
        return { clusters: [{ status: 'ACTIVE' }] };
      case 'DescribeTaskDefinition':
        throw Object.assign(new Error('none'), { name: 'ClientException' });
      case 'RegisterTaskDefinition':
        return { taskDefinition: { taskDefinitionArn: `arn:td/${command.input.family}:1` } };
      case 'RunTask':
        return { tasks: [{ taskArn: 'arn:task/1' }] };
      case 'DescribeTasks':
        return { tasks: [{ taskArn: 'arn:task/1', lastStatus: 'STOPPED', stoppedReason: 'Essential container in task exited', containers: [{ name: 'migrate', exitCode: 3 }] }] };
      case 'DescribeServices':
        return { services: [] };
      case 'CreateService':
        created.push(command.input.serviceName as string);
        return {};
      default:
        throw new Error(`unexpected ${command.constructor.name}`);
    }
  };
  const p = planCompose(parseCompose('services: { app: { image: x, depends_on: { migrate: { condition: service_completed_successfully } } }, migrate: { image: x } }', { file: '/p/c.yml', env: {} }));
  await assert.rejects(
    composeUp(p, { ecs: { send } as unknown as ComposeDeps['ecs'], secrets, log: () => {}, pollMs: 1 }),
    /migrate did not complete successfully: container migrate exited with 3 \(Essential container in task exited\)/,
  );
  assert.deepEqual(created, []);
});
