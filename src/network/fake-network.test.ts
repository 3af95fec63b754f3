/** FakeNetwork (tests and scale measurement only) against the Network contract LinuxNetwork passes too. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { networkContract } from './network-contract.ts';
import { FakeNetwork, FakeNetworkState } from './fake-network.ts';

networkContract('fake', async () => {
  const state = new FakeNetworkState();
  return {
    newNetwork: () => new FakeNetwork(state),
    subnets: [
      { id: 'subnet-fakea', cidr: '10.9.0.0/24', vpcCidr: '10.9.0.0/16', bridge: 'fkbr-a' },
      { id: 'subnet-fakeb', cidr: '10.9.1.0/24', vpcCidr: '10.9.0.0/16', bridge: 'fkbr-b' },
    ],
    cleanup: async () => {
      assert.deepEqual([...state.attached.keys()], [], 'every test detached what it attached');
    },
  };
});

test('the fake network tells the fake driver which namespace paths exist', async () => {
  const state = new FakeNetworkState();
  const net = new FakeNetwork(state, { netnsPrefix: 'fk-', vethPrefix: 'fv' });
  const subnet = { id: 'subnet-x', cidr: '10.9.0.0/24', vpcCidr: '10.9.0.0/16', bridge: 'fkbr-x' };
  await net.ensureSubnet(subnet);
  const id = 'ab'.repeat(16);
  const att = await net.attach(id, subnet, '10.9.0.4');
  assert.equal(att.netnsName, `fk-${id}`);
  assert.equal(att.hostVeth, `fv${id.slice(0, 12)}`);
  assert.equal(att.macAddress, '0a:58:0a:09:00:04');
  assert.ok(state.hasNamespacePath(att.netnsPath));
  await net.detach(id);
  assert.ok(!state.hasNamespacePath(att.netnsPath));
  assert.throws(() => new FakeNetwork(state, { vethPrefix: 'much-too-long' }), /invalid vethPrefix/);
});
