import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDb } from './db.ts';
import { MAX_TASKS_PER_SUBNET, NetworksRepo, type SubnetRecord } from './networks-repo.ts';

function repoWithSubnet(cidr: string): { repo: NetworksRepo; subnet: SubnetRecord } {
  const db = openDb(':memory:');
  const repo = new NetworksRepo(db);
  repo.insertVpc({ id: 'vpc-1', cidr: '10.0.0.0/16', isDefault: false });
  const subnet: SubnetRecord = { id: 'subnet-1', vpcId: 'vpc-1', cidr, availabilityZone: 'us-east-1a', isDefault: false, bridge: 'br-test' };
  repo.insertSubnet(subnet);
  return { repo, subnet };
}

test('a subnet larger than a bridge can hold takes at most MAX_TASKS_PER_SUBNET tasks', () => {
  const { repo, subnet } = repoWithSubnet('10.0.0.0/20'); // 4091 usable addresses
  assert.equal(repo.roomFor(subnet), MAX_TASKS_PER_SUBNET);
  assert.equal(repo.availableCount(subnet), 4091, 'addresses are still reported as addresses');
  for (let i = 0; i < MAX_TASKS_PER_SUBNET; i++) assert.ok(repo.allocate(subnet, `task-${i}`), `allocation ${i}`);
  assert.equal(repo.roomFor(subnet), 0);
  assert.equal(repo.availableCount(subnet), 4091 - MAX_TASKS_PER_SUBNET);
  assert.equal(repo.allocate(subnet, 'one-too-many'), undefined);
  repo.release('task-7');
  assert.equal(repo.roomFor(subnet), 1);
  assert.ok(repo.allocate(subnet, 'after-release'));
});

test('a small subnet is limited by its addresses', () => {
  const { repo, subnet } = repoWithSubnet('10.0.1.0/28'); // AWS reserves 5: 11 usable
  assert.equal(repo.roomFor(subnet), 11);
  for (let i = 0; i < 11; i++) assert.ok(repo.allocate(subnet, `t${i}`));
  assert.equal(repo.allocate(subnet, 'full'), undefined);
  assert.equal(repo.availableCount(subnet), 0);
});
