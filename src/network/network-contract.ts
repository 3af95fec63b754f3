/**
 * The Network contract (network.ts) as one test suite, run against every
 * implementation: FakeNetwork in src/network/fake-network.test.ts (no root),
 * LinuxNetwork in test/network-contract.root.test.ts (real namespaces, veths,
 * bridges, nftables). It asserts what the agent relies on; traffic, routes and
 * the nftables boundary are LinuxNetwork's own tests (test/network.root.test.ts).
 * No test here sends a packet.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Network, SubnetSpec } from './network.ts';
import { gatewayAddress, intToIp, nthUsable, parseCidr } from '../model/cidr.ts';

export interface NetworkHarness {
  /** A new instance over the harness's host; a second one is a restarted server. */
  newNetwork(): Network;
  /**
   * Two subnets of one VPC whose bridges do not exist yet and whose CIDRs
   * (each a /24 or larger) overlap nothing on the host.
   */
  subnets: [SubnetSpec, SubnetSpec];
  /** Removes whatever the suite and the harness made (called once, even when the suite failed). */
  cleanup(): Promise<void>;
}

const newTaskId = () => randomBytes(16).toString('hex');
const MAC_RE = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;
const IFNAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

/** Registers the contract tests for one Network implementation. `setUp` runs once, before them. */
export function networkContract(name: string, setUp: () => Promise<NetworkHarness>, opts: { skip?: string | false } = {}): void {
  let h: NetworkHarness;
  let net: Network;
  let a: SubnetSpec;
  let b: SubnetSpec;
  const addr = (s: SubnetSpec, n: number) => nthUsable(s.cidr, n);

  describe(`Network contract: ${name}`, { skip: opts.skip, concurrency: false }, () => {
    before(async () => {
      h = await setUp();
      net = h.newNetwork();
      [a, b] = h.subnets;
    });
    after(async () => {
      await h?.cleanup();
    });

    test('fingerprint finds nothing missing', async () => {
      assert.deepEqual(await net.fingerprint(), []);
    });

    test('ensureSubnet checks its input, is idempotent, refuses a bridge with another subnet and an overlap', async () => {
      await assert.rejects(net.ensureSubnet({ ...a, bridge: 'bad/name' }), /invalid bridge name/);
      await assert.rejects(net.ensureSubnet({ ...a, bridge: 'x'.repeat(16) }), /invalid bridge name/);
      await assert.rejects(net.ensureSubnet({ ...a, vpcCidr: '192.0.2.0/24' }), new RegExp(a.id));
      await net.ensureSubnet(a);
      await net.ensureSubnet(a);
      await h.newNetwork().ensureSubnet(a);
      await assert.rejects(net.ensureSubnet({ ...a, cidr: b.cidr }), /already carries/);
      const c = parseCidr(a.cidr);
      const inside = `${intToIp(c.base)}/${c.prefixLength + 1}`;
      await assert.rejects(net.ensureSubnet({ ...b, id: `${b.id}-overlap`, cidr: inside }), /overlaps/);
    });

    test('attach needs the bridge; bad task ids and unusable addresses are refused', async () => {
      const id = newTaskId();
      await assert.rejects(net.attach(id, b, addr(b, 0)), /does not exist/);
      await assert.rejects(net.attach('not-a-task', a, addr(a, 0)), /invalid task id/);
      await assert.rejects(net.attach(id, a, gatewayAddress(a.cidr)), /not a usable address/);
      await assert.rejects(net.attach(id, a, addr(b, 0)), /not a usable address/);
      await assert.rejects(net.attach(id, a, '999.1.1.1'));
      assert.ok(!(await net.listAttached()).includes(id));
    });

    test('attach gives the task its namespace, veth, address and gateway; idempotent, also after a restart', async (t) => {
      const id = newTaskId();
      t.after(() => net.detach(id));
      const ip = addr(a, 0);
      const att = await net.attach(id, a, ip);
      assert.ok(att.netnsName.endsWith(id), `netns ${att.netnsName} is named after the task`);
      assert.ok(att.netnsPath.endsWith(`/${att.netnsName}`), att.netnsPath);
      assert.match(att.hostVeth, IFNAME_RE);
      assert.match(att.macAddress, MAC_RE);
      assert.equal(att.ipv4, ip);
      assert.equal(att.prefixLength, parseCidr(a.cidr).prefixLength);
      assert.equal(att.gateway, gatewayAddress(a.cidr));
      assert.deepEqual(await net.attach(id, a, ip), att);
      const restarted = h.newNetwork();
      assert.ok((await restarted.listAttached()).includes(id));
      assert.deepEqual(await restarted.attach(id, a, ip), att);
      await assert.rejects(net.attach(id, a, addr(a, 1)), /detach it first/);
    });

    test('tasks get their own namespaces; a reused address keeps its MAC; detach is idempotent', async (t) => {
      const [x, y] = [newTaskId(), newTaskId()];
      t.after(async () => {
        await net.detach(x);
        await net.detach(y);
      });
      const ax = await net.attach(x, a, addr(a, 2));
      const ay = await net.attach(y, a, addr(a, 3));
      assert.notEqual(ax.netnsName, ay.netnsName);
      assert.notEqual(ax.netnsPath, ay.netnsPath);
      assert.notEqual(ax.hostVeth, ay.hostVeth);
      assert.notEqual(ax.macAddress, ay.macAddress);
      const listed = await net.listAttached();
      assert.ok(listed.includes(x) && listed.includes(y));
      assert.deepEqual(listed, [...listed].sort(), 'listAttached is sorted');
      await net.detach(x);
      await net.detach(x);
      await net.detach(newTaskId()); // never attached: nothing to do
      assert.ok(!(await net.listAttached()).includes(x));
      assert.ok((await net.listAttached()).includes(y));
      const z = newTaskId();
      t.after(() => net.detach(z));
      const az = await net.attach(z, a, addr(a, 2));
      assert.equal(az.macAddress, ax.macAddress, 'the address keeps its MAC, so neighbour caches stay right');
    });

    test('shape: refused before attach and for a bad bandwidth; idempotent, the last wins, read back after a restart; gone with detach', async (t) => {
      const id = newTaskId();
      t.after(() => net.detach(id));
      const bw = { sustainedMbps: 1000, burstMbps: 10_000 };
      await assert.rejects(net.shape(id, bw), /not attached/);
      await assert.rejects(net.shape('not-a-task', bw), /invalid task id/);
      assert.equal(await net.shaping(id), undefined);
      await net.attach(id, a, addr(a, 4));
      assert.equal(await net.shaping(id), undefined, 'attached, not shaped yet');
      await assert.rejects(net.shape(id, { sustainedMbps: 0, burstMbps: 1 }), /invalid bandwidth/);
      await assert.rejects(net.shape(id, { sustainedMbps: 100, burstMbps: 10 }), /below the sustained rate/);
      await net.shape(id, bw);
      await net.shape(id, bw);
      assert.deepEqual(await net.shaping(id), bw);
      const small = { sustainedMbps: 12.5, burstMbps: 125 };
      await net.shape(id, small);
      const restarted = h.newNetwork();
      assert.deepEqual(await restarted.shaping(id), small, 'the last shape wins; a restarted server reads it back');
      await restarted.attach(id, a, addr(a, 4));
      assert.deepEqual(await net.shaping(id), small, 'attaching again keeps the shaping');
      await net.detach(id);
      assert.equal(await net.shaping(id), undefined);
      await net.attach(id, a, addr(a, 4));
      assert.equal(await net.shaping(id), undefined, 'a new namespace starts unshaped');
    });

    test('removeSubnet refuses while tasks are attached, then removes the bridge', async (t) => {
      if (!net.removeSubnet) return t.skip('this implementation has no removeSubnet');
      await net.ensureSubnet(b);
      const id = newTaskId();
      t.after(() => net.detach(id));
      await net.attach(id, b, addr(b, 0));
      await assert.rejects(net.removeSubnet(b.bridge), /still has tasks attached/);
      await net.detach(id);
      await net.removeSubnet(b.bridge);
      await net.removeSubnet(b.bridge);
      await assert.rejects(net.attach(id, b, addr(b, 0)), /does not exist/);
    });
  });
}
