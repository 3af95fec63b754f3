/**
 * composeUp against a scripted ECS and in-memory roles (no server): what it
 * sends and in which order, the execution role, load balancer requests and a
 * taken published port. The real round trip is in test/compose.root.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCompose } from './compose-file.ts';
import { planCompose } from './to-ecs.ts';
import { composeUp, definitionFor, definitionHash, ensureExecutionRole, executionRolePolicy, type ComposeDeps, type RoleInfo, type RolesApi, type SecretsApi } from './compose-ops.ts';

type Call = { op: string; input: Record<string, unknown> };

function fakeEcs(opts: { takenPort?: string } = {}) {
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
        if (opts.takenPort && (command.input.tags as { key: string; value: string }[]).some((t) => t.key === 'skiff:loadBalancerPort' && t.value === opts.takenPort)) {
          throw Object.assign(new Error(`Cannot use port ${opts.takenPort} (tag skiff:loadBalancerPort) for the load balancer listener: listen EADDRINUSE. Choose another port or leave the tag out.`), { name: 'InvalidParameterException' });
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

/** Roles kept in a map, with every call recorded. */
function fakeRoles(initial: RoleInfo[] = []) {
  const roles = new Map(initial.map((r) => [r.name, r]));
  const calls: string[] = [];
  const api: RolesApi = {
    get: async (name) => (calls.push(`get:${name}`), roles.get(name)),
    create: async (r) => {
      calls.push(`create:${r.name}`);
      const role = { ...r, arn: `arn:aws:iam::000000000001:role/${r.name}` };
      roles.set(r.name, role);
      return role;
    },
    delete: async (name) => (calls.push(`delete:${name}`), roles.delete(name)),
  };
  return { roles, calls, api };
}
const yaml = `name: p
services:
  client: { image: x, depends_on: [web] }
  web: { image: x, ports: ["8080"], secrets: [tok] }
secrets:
  tok: { environment: TOK }
`;
const plan = () => planCompose(parseCompose(yaml, { file: '/p/c.yml', env: { TOK: 'v' } }));

test('up: cluster, secrets, execution role, task definitions with secret ARNs, then services in dependency order', async () => {
  const { calls, ecs } = fakeEcs();
  const roles = fakeRoles();
  const lines: string[] = [];
  await composeUp(plan(), { ecs, secrets, roles: roles.api, log: (l) => lines.push(l), pollMs: 1 });
  const ops = calls.filter((c) => c.op !== 'DescribeServices' && c.op !== 'DescribeTaskDefinition').map((c) => `${c.op}${c.input.serviceName ? `:${c.input.serviceName}` : c.input.family ? `:${c.input.family}` : ''}`);
  assert.deepEqual(ops, ['DescribeClusters', 'CreateCluster', 'RegisterTaskDefinition:p-web', 'RegisterTaskDefinition:p-client', 'CreateService:web', 'CreateService:client']);
  const td = calls.find((c) => c.input.family === 'p-web')!.input as { containerDefinitions: { secrets: { valueFrom: string }[] }[] };
  assert.equal(td.containerDefinitions[0]!.secrets[0]!.valueFrom, 'arn:aws:secretsmanager:us-east-1:1:secret:compose/p/tok-AbCdEf');
  // The role reads exactly the project's secret; only the definition that uses secrets names it.
  assert.deepEqual(roles.calls, ['get:compose-p-execution', 'create:compose-p-execution']);
  const role = roles.roles.get('compose-p-execution')!;
  assert.deepEqual(role.policy, executionRolePolicy(['arn:aws:secretsmanager:us-east-1:1:secret:compose/p/tok-AbCdEf']));
  assert.match(role.description!, /skiff:compose-project=p/);
  assert.equal((td as { executionRoleArn?: string }).executionRoleArn, role.arn);
  assert.equal(calls.find((c) => c.input.family === 'p-client')!.input.executionRoleArn, undefined);
  assert.ok(lines.includes('execution role compose-p-execution: created (secretsmanager:GetSecretValue on 1 secret(s))'), lines.join('\n'));
  const web = calls.find((c) => c.op === 'CreateService' && c.input.serviceName === 'web')!.input;
  assert.deepEqual(web.loadBalancers, [{ loadBalancerName: 'p-web-8080', containerName: 'web', containerPort: 8080 }]);
  assert.equal((web.tags as { key: string }[]).some((t) => t.key === 'skiff:loadBalancerPort'), false, 'no published port: Skiff picks one');
  assert.equal(web.taskDefinition, 'arn:td/p-web:1');
  assert.ok(lines.includes('client: waiting for web (service_started)'));
  const webPlan = plan().services.find((s) => s.name === 'web')!;
  assert.equal((td as unknown as { tags: { key: string; value: string }[] }).tags.find((t) => t.key === 'skiff:compose-hash')?.value, definitionHash(definitionFor(webPlan, role.arn), plan()));
});

test('the execution role: unchanged when it allows the same secrets, remade when they change, a foreign one refused', async () => {
  const arn = (n: string) => `arn:aws:secretsmanager:us-east-1:1:secret:compose/p/${n}-AbCdEf`;
  const roles = fakeRoles();
  const lines: string[] = [];
  const deps = { roles: roles.api, log: (l: string) => lines.push(l) };
  const first = await ensureExecutionRole('p', 'compose-p-execution', [arn('a'), arn('b')], deps);
  assert.equal(await ensureExecutionRole('p', 'compose-p-execution', [arn('b'), arn('a')], deps), first);
  assert.deepEqual(roles.calls, ['get:compose-p-execution', 'create:compose-p-execution', 'get:compose-p-execution'], 'a second up changes nothing');
  await ensureExecutionRole('p', 'compose-p-execution', [arn('a')], deps);
  assert.deepEqual(roles.calls.slice(3), ['get:compose-p-execution', 'delete:compose-p-execution', 'create:compose-p-execution']);
  assert.deepEqual(roles.roles.get('compose-p-execution')!.policy.Statement[0]!.Resource, [arn('a')]);
  assert.equal(lines.at(-1), 'execution role compose-p-execution: updated (secretsmanager:GetSecretValue on 1 secret(s))');

  const foreign = fakeRoles([{ name: 'compose-p-execution', arn: 'arn:aws:iam::000000000001:role/compose-p-execution', policy: executionRolePolicy(['*']) }]);
  await assert.rejects(ensureExecutionRole('p', 'compose-p-execution', [arn('a')], { roles: foreign.api, log: () => {} }), /role compose-p-execution already exists and was not made by compose for project p/);
  assert.deepEqual(foreign.calls, ['get:compose-p-execution'], 'never touched');
  const otherProject = fakeRoles([{ name: 'compose-p-execution', arn: 'x', description: 'skiff:compose-project=q', policy: executionRolePolicy(['*']) }]);
  await assert.rejects(ensureExecutionRole('p', 'compose-p-execution', [arn('a')], { roles: otherProject.api, log: () => {} }), /not made by compose for project p/);
});

test('the definition hash changes with the definition and with the values of the secrets it uses', () => {
  const base = plan();
  const def = (p: typeof base, name: string, role = 'arn:aws:iam::000000000001:role/compose-p-execution') => definitionFor(p.services.find((s) => s.name === name)!, role);
  const other = planCompose(parseCompose(yaml, { file: '/p/c.yml', env: { TOK: 'changed' } }));
  assert.equal(definitionHash(def(base, 'web'), base), definitionHash(def(plan(), 'web'), plan()), 'stable');
  assert.notEqual(definitionHash(def(base, 'web'), base), definitionHash(def(other, 'web'), other), 'secret value changed');
  assert.equal(definitionHash(def(base, 'client'), base), definitionHash(def(other, 'client'), other), 'client uses no secret');
  const bigger = planCompose(parseCompose(yaml.replace('ports: ["8080"]', 'ports: ["8081"]'), { file: '/p/c.yml', env: { TOK: 'v' } }));
  assert.notEqual(definitionHash(def(base, 'web'), base), definitionHash(def(bigger, 'web'), bigger));
  // A definition registered before compose set execution roles is not reused.
  assert.notEqual(definitionHash(def(base, 'web'), base), definitionHash(definitionFor(base.services.find((s) => s.name === 'web')!, undefined), base), 'execution role is part of the hash');
});

test('up: a published port becomes the listener port tag; a taken one stops the run with a message naming it', async () => {
  const published = planCompose(parseCompose(yaml.replace('ports: ["8080"]', 'ports: ["18080:8080"]'), { file: '/p/c.yml', env: { TOK: 'v' } }));
  const ok = fakeEcs();
  await composeUp(published, { ecs: ok.ecs, secrets, roles: fakeRoles().api, log: () => {}, pollMs: 1 });
  const web = ok.calls.find((c) => c.op === 'CreateService' && c.input.serviceName === 'web')!.input;
  assert.deepEqual(web.tags, [{ key: 'skiff:compose-project', value: 'p' }, { key: 'skiff:loadBalancerPort', value: '18080' }]);
  assert.deepEqual(web.loadBalancers, [{ loadBalancerName: 'p-web-8080', containerName: 'web', containerPort: 8080 }]);

  const taken = fakeEcs({ takenPort: '18080' });
  await assert.rejects(
    composeUp(published, { ecs: taken.ecs, secrets, roles: fakeRoles().api, log: () => {}, pollMs: 1 }),
    /^ComposeRunError: web: cannot get published port\(s\) 18080: Cannot use port 18080 \(tag skiff:loadBalancerPort\) for the load balancer listener: listen EADDRINUSE/,
  );
  assert.deepEqual(taken.calls.filter((c) => c.op === 'CreateService').map((c) => c.input.serviceName), ['web'], 'nothing after web is created');
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
    composeUp(p, { ecs: { send } as unknown as ComposeDeps['ecs'], secrets, roles: fakeRoles().api, log: () => {}, pollMs: 1 }),
    /migrate did not complete successfully: container migrate exited with 3 \(Essential container in task exited\)/,
  );
  assert.deepEqual(created, []);
});
