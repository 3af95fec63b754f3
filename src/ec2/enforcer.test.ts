import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDb } from '../store/db.ts';
import { NetworksRepo } from '../store/networks-repo.ts';
import { ensureDefaultSecurityGroup } from './ec2-protocol.ts';
import { peerSetName, SecurityGroupEnforcer, taskRuleset } from './enforcer.ts';

/** A store with one VPC, one subnet, its default group and a `web` group; tasks are added with `addTask`. */
function setup() {
  const db = openDb(':memory:');
  const networks = new NetworksRepo(db);
  networks.insertVpc({ id: 'vpc-00000001', cidr: '10.5.0.0/16', isDefault: true });
  networks.insertSubnet({ id: 'subnet-00000001', vpcId: 'vpc-00000001', cidr: '10.5.0.0/24', availabilityZone: 'us-east-1a', isDefault: true, bridge: 'tbr1' });
  const def = ensureDefaultSecurityGroup(networks, 'vpc-00000001');
  networks.insertSecurityGroup({ id: 'sg-00000000000000web', vpcId: 'vpc-00000001', name: 'web', description: 'web', isDefault: false });
  const subnet = networks.subnet('subnet-00000001')!;
  const addTask = (id: string, groups: string[]) => {
    db.prepare(`INSERT INTO tasks (id, arn, cluster, family, task_definition_arn, desired_status, last_status, created_at, doc) VALUES (?, ?, 'default', 'f', 'td', 'RUNNING', 'RUNNING', 0, '{}')`).run(id, `arn:${id}`);
    const ip = networks.allocate(subnet, id)!;
    networks.setTaskSecurityGroups(id, groups);
    return ip;
  };
  const stopTask = (id: string) => {
    db.prepare(`UPDATE tasks SET last_status = 'STOPPED' WHERE id = ?`).run(id);
    networks.release(id);
  };
  const written: { taskId: string; script: string }[] = [];
  const namespaces = new Set<string>();
  const enforcer = new SecurityGroupEnforcer({
    networks,
    firewall: {
      hasNamespace: (id) => namespaces.has(id),
      apply: async (taskId, script) => void written.push({ taskId, script }),
    },
    hostAccess: true,
    log: () => {},
  });
  return { networks, def, addTask, stopTask, written, namespaces, enforcer };
}

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);
const C = 'c'.repeat(32);

test('default group members get a peer set of each other; the host and the metadata endpoint are allowed', async () => {
  const s = setup();
  const ipA = s.addTask(A, [s.def.id]);
  const ipB = s.addTask(B, [s.def.id]);
  s.namespaces.add(A).add(B);
  await s.enforcer.sync();
  assert.deepEqual(s.written.map((w) => w.taskId).sort(), [A, B]);
  const script = s.written.find((w) => w.taskId === A)!.script;
  assert.match(script, new RegExp(`set ${peerSetName(s.def.id)} \\{ type ipv4_addr; elements = \\{ ${ipA}, ${ipB} \\}; \\}`));
  assert.match(script, new RegExp(`ip saddr @${peerSetName(s.def.id)} accept`));
  assert.match(script, /ip saddr 10\.5\.0\.1 accept comment "host"/, 'the gateway: the host on this bridge');
  assert.match(script, /ip daddr 169\.254\.170\.2 accept/);
  assert.match(script, /chain egress[^}]*meta nfproto ipv4 accept/);
});

test('a table is written only when it changes; members coming and going update the peers', async () => {
  const s = setup();
  s.addTask(A, [s.def.id]);
  s.namespaces.add(A);
  await s.enforcer.sync();
  await s.enforcer.sync();
  assert.equal(s.written.length, 1, 'nothing changed: nothing written');
  const ipB = s.addTask(B, [s.def.id]);
  s.namespaces.add(B);
  const start = s.written.length;
  await s.enforcer.prepareTask(B);
  assert.equal(s.written[start]!.taskId, B, 'the new task first');
  await s.enforcer.sync();
  assert.ok(s.written.some((w) => w.taskId === A && w.script.includes(ipB)), 'A now lets B in');
  s.stopTask(B);
  const before = s.written.length;
  await s.enforcer.sync();
  const last = s.written.slice(before);
  assert.deepEqual(last.map((w) => w.taskId), [A]);
  assert.ok(!last[0]!.script.includes(ipB), 'B left the set');
});

test('rules of every group of the task apply; a task without a namespace yet waits; prepareTask insists', async () => {
  const s = setup();
  s.networks.insertSecurityGroupRule({ id: 'sgr-1', groupId: 'sg-00000000000000web', egress: false, protocol: 'tcp', fromPort: 80, toPort: 80, cidr: '0.0.0.0/0' });
  s.networks.insertSecurityGroupRule({ id: 'sgr-2', groupId: 'sg-00000000000000web', egress: true, protocol: 'udp', fromPort: 53, toPort: 53, cidr: '10.0.0.0/8' });
  s.addTask(C, ['sg-00000000000000web']);
  await s.enforcer.sync();
  assert.equal(s.written.length, 0, 'no namespace: nothing to write yet');
  await assert.rejects(s.enforcer.prepareTask(C), /no network namespace/);
  s.namespaces.add(C);
  await s.enforcer.prepareTask(C);
  const script = s.written.at(-1)!.script;
  assert.match(script, /chain ingress[^}]*meta nfproto ipv4 tcp dport 80 accept/);
  assert.match(script, /chain egress[^}]*ip daddr 10\.0\.0\.0\/8 udp dport 53 accept/);
  assert.doesNotMatch(script, /chain egress[^}]*meta nfproto ipv4 accept/, 'web has no allow-all egress');
});

test('with host access off, the host is not a trusted source', () => {
  const s = setup();
  const member = { taskId: A, ipv4: '10.5.0.4', subnetId: 'subnet-00000001', groupIds: [s.def.id] };
  const snap = { members: [member], rulesByGroup: new Map(), subnetCidr: new Map([['subnet-00000001', '10.5.0.0/24']]) };
  assert.deepEqual(taskRuleset(member, snap, true).trustedSources, ['10.5.0.1']);
  assert.deepEqual(taskRuleset(member, snap, false).trustedSources, []);
});
