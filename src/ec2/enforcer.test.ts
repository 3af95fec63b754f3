import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDb } from '../store/db.ts';
import { NetworksRepo } from '../store/networks-repo.ts';
import { ensureDefaultSecurityGroup } from './ec2-protocol.ts';
import { desiredState, SecurityGroupEnforcer } from './enforcer.ts';
import { peerSetName, profileName } from '../network/security-group-firewall.ts';

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
  const written: string[] = [];
  const fw = { tables: true, fail: false };
  const enforcer = new SecurityGroupEnforcer({
    networks,
    firewall: {
      apply: async (script) => {
        if (fw.fail) throw new Error('nft: No such file or directory');
        written.push(script);
      },
      exists: async () => fw.tables,
    },
    table: 'sk_sg',
    portOf: (id) => `sk${id.slice(0, 8)}`,
    hostAccess: true,
    log: () => {},
  });
  return { networks, def, addTask, stopTask, written, fw, enforcer };
}

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);
const C = 'c'.repeat(32);

test('default group members share a profile whose inbound rule names the group\'s member set', () => {
  const s = setup();
  const ipA = s.addTask(A, [s.def.id]);
  const ipB = s.addTask(B, [s.def.id]);
  const snap = { members: s.networks.liveMembers(), rulesByGroup: new Map([[s.def.id, s.networks.securityGroupRules().filter((r) => r.groupId === s.def.id)]]) };
  const state = desiredState(snap, (id) => `sk${id.slice(0, 8)}`);
  const p = profileName([s.def.id]);
  assert.deepEqual([...state.tasks], [[ipA, { port: 'skaaaaaaaa', profile: p }], [ipB, { port: 'skbbbbbbbb', profile: p }]]);
  assert.deepEqual([...state.peerSets.get(peerSetName(s.def.id))!].sort(), [ipA, ipB].sort());
  assert.deepEqual(state.profiles.get(p)!.ingress, [{ protocol: '-1', fromPort: undefined, toPort: undefined, peerSet: peerSetName(s.def.id) }]);
  assert.deepEqual(state.profiles.get(p)!.egress.map((r) => r.cidr), ['0.0.0.0/0'], 'allow-all egress of a new group');
});

test('the first pass writes the tables whole; a start after that is a few elements, whatever the number of tasks', async () => {
  const s = setup();
  for (let i = 0; i < 50; i++) s.addTask(i.toString(16).padStart(32, '0'), [s.def.id]);
  await s.enforcer.sync();
  assert.equal(s.written.length, 1);
  assert.match(s.written[0]!, /^table inet sk_sg\ndelete table inet sk_sg\n/);
  await s.enforcer.sync();
  assert.equal(s.written.length, 1, 'nothing changed: nothing written');
  const ipB = s.addTask(B, [s.def.id]);
  await s.enforcer.prepareTask(B);
  assert.equal(s.written.length, 2);
  assert.deepEqual(s.written[1]!.trim().split('\n'), [
    `add element inet sk_sg ${peerSetName(s.def.id)} { ${ipB} }`,
    `add element inet sk_sg ingress { ${ipB} : jump i_${profileName([s.def.id])} }`,
    `add element inet sk_sg egress { ${ipB} : jump e_${profileName([s.def.id])} }`,
    'add element bridge sk_sg ports { "skbbbbbbbb" }',
    `add element bridge sk_sg port_addrs { "skbbbbbbbb" . ${ipB} }`,
  ]);
  s.stopTask(B);
  await s.enforcer.sync();
  assert.match(s.written[2]!, new RegExp(`^delete element inet sk_sg ${peerSetName(s.def.id)} \\{ ${ipB.replace(/\./g, '\\.')} \\}`));
  await assert.rejects(s.enforcer.prepareTask(B), /holds no address/, 'a stopped task cannot be prepared');
});

test('rules of every group of the task apply; changing a rule rewrites only that profile', async () => {
  const s = setup();
  s.networks.insertSecurityGroupRule({ id: 'sgr-1', groupId: 'sg-00000000000000web', egress: false, protocol: 'tcp', fromPort: 80, toPort: 80, cidr: '0.0.0.0/0' });
  s.networks.insertSecurityGroupRule({ id: 'sgr-2', groupId: 'sg-00000000000000web', egress: true, protocol: 'udp', fromPort: 53, toPort: 53, cidr: '10.0.0.0/8' });
  s.addTask(C, ['sg-00000000000000web', s.def.id]);
  s.addTask(A, [s.def.id]);
  await s.enforcer.prepareTask(C);
  const both = profileName(['sg-00000000000000web', s.def.id]);
  const script = s.written[0]!;
  assert.match(script, new RegExp(`chain i_${both} \\{[^}]*meta nfproto ipv4 tcp dport 80 accept[^}]*ip saddr @${peerSetName(s.def.id)} accept`));
  assert.match(script, new RegExp(`chain e_${both} \\{[^}]*ip daddr 10\\.0\\.0\\.0/8 udp dport 53 return[^}]*meta nfproto ipv4 return`));
  s.networks.insertSecurityGroupRule({ id: 'sgr-3', groupId: 'sg-00000000000000web', egress: false, protocol: 'tcp', fromPort: 443, toPort: 443, cidr: '0.0.0.0/0' });
  await s.enforcer.sync();
  const update = s.written[1]!;
  assert.match(update, new RegExp(`flush chain inet sk_sg i_${both}\n`));
  assert.match(update, /tcp dport 443 accept/);
  assert.doesNotMatch(update, new RegExp(`i_${profileName([s.def.id])}`), 'the default-only profile is untouched');
  assert.doesNotMatch(update, /add element/, 'no task moved');
});

test('a table removed behind Skiff\'s back, or a failed update, is rewritten whole', async () => {
  const s = setup();
  s.addTask(A, [s.def.id]);
  await s.enforcer.sync();
  s.fw.tables = false;
  await s.enforcer.sync({ verify: true });
  assert.equal(s.written.length, 2);
  assert.match(s.written[1]!, /^table inet sk_sg\ndelete table inet sk_sg\n/);
  s.fw.tables = true;
  s.fw.fail = true;
  s.addTask(B, [s.def.id]);
  await assert.rejects(s.enforcer.prepareTask(B), /No such file/, 'a start fails when its rules cannot be applied');
  s.fw.fail = false;
  await s.enforcer.prepareTask(B);
  assert.match(s.written[2]!, /^table inet sk_sg\ndelete table inet sk_sg\n/, 'after a failure: the whole table');
});
