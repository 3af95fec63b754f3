import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PoolLedger, WarmPool, type PoolAddressBook } from './warm-pool.ts';
import type { Network, SubnetSpec, TaskAttachment } from './network.ts';

const SUBNET: SubnetSpec = { id: 'subnet-a', cidr: '10.9.0.0/28', vpcCidr: '10.9.0.0/16', bridge: 'tbr0' };

/** An address book like the store's: lowest free address, one holder per address, tasks marked apart. */
class FakeAddresses implements PoolAddressBook {
  readonly held = new Map<string, { subnetId: string; ipv4: string }>();
  readonly tasks = new Set<string>();
  constructor(private readonly free: string[]) {}
  reserve(subnetId: string, id: string): string | undefined {
    const used = new Set([...this.held.values()].map((h) => h.ipv4));
    const ip = this.free.find((a) => !used.has(a));
    if (!ip) return undefined;
    assert.ok(!this.held.has(id), `id ${id} reserved twice`);
    this.held.set(id, { subnetId, ipv4: ip });
    return ip;
  }
  release(id: string): void {
    this.held.delete(id);
  }
  reservationsWithoutTask() {
    return [...this.held].filter(([id]) => !this.tasks.has(id)).map(([id, h]) => ({ id, ...h }));
  }
}

/** A network that records namespaces by id; attach can be told to fail. */
class FakeNetwork implements Network {
  readonly namespaces = new Map<string, string>();
  failNext = 0;
  attachDelayMs = 0;
  async fingerprint() {
    return [];
  }
  async ensureSubnet() {}
  async attach(taskId: string, subnet: SubnetSpec, ipv4: string): Promise<TaskAttachment> {
    await new Promise((r) => setTimeout(r, this.attachDelayMs));
    if (this.failNext > 0) {
      this.failNext--;
      this.namespaces.set(taskId, ipv4); // half-made, as a real failure may leave it
      throw new Error('ip failed');
    }
    for (const [id, ip] of this.namespaces) assert.ok(id === taskId || ip !== ipv4, `${ipv4} configured in two namespaces`);
    this.namespaces.set(taskId, ipv4);
    return { netnsName: `ns-${taskId}`, netnsPath: `/run/netns/ns-${taskId}`, hostVeth: `v${taskId.slice(0, 8)}`, macAddress: '0a:58:00:00:00:01', ipv4, prefixLength: 28, gateway: '10.9.0.1' };
  }
  async shape() {}
  async shaping() {
    return undefined;
  }
  async detach(taskId: string) {
    this.namespaces.delete(taskId);
  }
  async listAttached() {
    return [...this.namespaces.keys()];
  }
}

let seq = 0;
const newId = () => (++seq).toString(16).padStart(32, '0');

function makePool(size: number, free: string[], busy?: () => number) {
  const network = new FakeNetwork();
  const addresses = new FakeAddresses(free);
  const logs: string[] = [];
  const pool = new WarmPool(
    { network, addresses, subnet: () => SUBNET, newId, log: (m) => logs.push(m), busy },
    { size, retryMs: 5, idlePollMs: 1 },
  );
  return { pool, network, addresses, logs };
}

async function until(what: string, cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const ADDRS = Array.from({ length: 10 }, (_, i) => `10.9.0.${i + 4}`);

test('ledger: take hands the oldest entry, giveBack restores order, claim is once', () => {
  const l = new PoolLedger(3);
  l.wanted.add('s');
  assert.equal(l.nextToFill(), 's');
  assert.equal(l.deficit('s'), 3);
  const att = (ip: string) => ({ netnsName: ip, netnsPath: ip, hostVeth: ip, macAddress: '', ipv4: ip, prefixLength: 24, gateway: '' });
  l.startFill('s');
  assert.equal(l.deficit('s'), 2, 'an entry being filled counts');
  l.add({ id: 'a', subnetId: 's', ipv4: '1', attachment: att('1') });
  l.endFill('s');
  l.add({ id: 'b', subnetId: 's', ipv4: '2', attachment: att('2') });
  const a = l.take('s')!;
  const b = l.take('s')!;
  assert.deepEqual([a.id, b.id], ['a', 'b']);
  assert.equal(l.take('s'), undefined);
  l.giveBack([a, b]);
  assert.equal(l.readyCount('s'), 2);
  assert.equal(l.take('s')!.id, 'a', 'given back in order');
  assert.equal(l.claim('a')!.ipv4, '1');
  assert.equal(l.claim('a'), undefined, 'claimed once');
  assert.equal(l.deficit('s'), 2);
});

test('fills to size, hands out distinct addresses, refills, and never reuses a held address', async () => {
  const { pool, network, addresses } = makePool(3, ADDRS);
  pool.warm(SUBNET.id);
  await until('3 ready', () => pool.readyCount(SUBNET.id) === 3);
  const given = new Set<string>();
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 3; i++) {
      const e = pool.take(SUBNET.id);
      if (!e) continue;
      assert.ok(!given.has(e.ipv4), `${e.ipv4} handed out twice`);
      given.add(e.ipv4);
      addresses.tasks.add(e.id); // RunTask stores a task under the id
      assert.equal(pool.claim(e.id)!.ipv4, e.ipv4);
      assert.equal(network.namespaces.get(e.id), e.ipv4);
    }
    await until('refilled', () => pool.readyCount(SUBNET.id) === 3 || addresses.held.size === ADDRS.length);
  }
  assert.ok(given.size >= 7, `handed out ${given.size}`);
  // Every held address belongs to exactly one holder.
  const ips = [...addresses.held.values()].map((h) => h.ipv4);
  assert.equal(new Set(ips).size, ips.length);
  await pool.drain();
});

test('a full subnet stops the refill instead of failing', async () => {
  const { pool, addresses } = makePool(4, ADDRS.slice(0, 2));
  pool.warm(SUBNET.id);
  await until('2 ready', () => pool.readyCount(SUBNET.id) === 2);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(addresses.held.size, 2);
  assert.deepEqual(pool.status().subnets, [{ subnetId: SUBNET.id, ready: 2, filling: 0 }], 'nothing more being made');
  await pool.drain();
  assert.equal(addresses.held.size, 0);
});

test('drain removes every namespace and then its address, also entries still being filled', async () => {
  const { pool, network, addresses } = makePool(4, ADDRS);
  network.attachDelayMs = 10;
  pool.warm(SUBNET.id);
  await until('1 ready', () => pool.readyCount(SUBNET.id) >= 1);
  const removed = await pool.drain();
  assert.ok(removed >= 1);
  assert.equal(network.namespaces.size, 0, 'no namespace left');
  assert.equal(addresses.held.size, 0, 'no address left');
  assert.equal(pool.take(SUBNET.id), undefined, 'a drained pool hands nothing out');
  pool.warm(SUBNET.id);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(network.namespaces.size, 0, 'and does not refill');
  await pool.drain({ resume: true });
  pool.warm(SUBNET.id);
  await until('refilled after resume', () => pool.readyCount(SUBNET.id) === 4);
  await pool.drain();
  assert.equal(network.namespaces.size + addresses.held.size, 0);
});

test('a failed attach leaves neither namespace nor address, and the pool retries', async () => {
  const { pool, network, addresses, logs } = makePool(2, ADDRS);
  network.failNext = 2;
  pool.warm(SUBNET.id);
  await until('2 ready', () => pool.readyCount(SUBNET.id) === 2);
  assert.equal(logs.filter((l) => /cannot prepare/.test(l)).length, 2);
  assert.equal(network.namespaces.size, 2);
  assert.equal(addresses.held.size, 2);
  await pool.drain();
});

test('recover removes what a crashed pool left (namespace first, then address), not tasks', async () => {
  const { pool, network, addresses } = makePool(2, ADDRS);
  addresses.reserve(SUBNET.id, 'task1');
  addresses.tasks.add('task1');
  await network.attach('task1', SUBNET, addresses.held.get('task1')!.ipv4);
  addresses.reserve(SUBNET.id, 'orphan1');
  await network.attach('orphan1', SUBNET, addresses.held.get('orphan1')!.ipv4);
  addresses.reserve(SUBNET.id, 'orphan2'); // crashed before its namespace was made
  assert.equal(await pool.recover(), 2);
  assert.deepEqual([...network.namespaces.keys()], ['task1']);
  assert.deepEqual([...addresses.held.keys()], ['task1']);
});

test('refills wait while starts are in flight', async () => {
  let busy = 1;
  const { pool } = makePool(2, ADDRS, () => busy);
  pool.warm(SUBNET.id);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(pool.readyCount(SUBNET.id), 0);
  busy = 0;
  await until('filled once idle', () => pool.readyCount(SUBNET.id) === 2);
  await pool.drain();
});

test('a size of 0 never makes anything', async () => {
  const { pool, network } = makePool(0, ADDRS);
  pool.warm(SUBNET.id);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(network.namespaces.size, 0);
  assert.equal(pool.take(SUBNET.id), undefined);
  assert.throws(() => makePool(-1, ADDRS), /whole number/);
});
