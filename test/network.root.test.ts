/**
 * LinuxNetwork against the real kernel: namespaces, veths, a bridge and an
 * nftables table, all with names unique to this run, all removed afterwards.
 * Needs root on Linux with `ip`, `nft` and /bin/busybox (busybox-static).
 * Traffic goes only to this test's own namespace addresses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import { LinuxNetwork, macForIpv4 } from '../src/network/linux-network.ts';
import type { SubnetSpec } from '../src/network/network.ts';
import { overlaps, parseCidr } from '../src/model/cidr.ts';

const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
const haveTools = (() => {
  try {
    execFileSync('ip', ['-V']);
    execFileSync('nft', ['-v']);
    return existsSync('/bin/busybox');
  } catch {
    return false;
  }
})();
const skip = !isRoot ? 'needs root on Linux' : !haveTools ? 'needs ip, nft and /bin/busybox' : false;

const tag = randomBytes(2).toString('hex');
const netnsPrefix = `sktest-${tag}-`;
const vethPrefix = `kt${tag.slice(0, 2)}`;
const bridge = `ktbr${tag}`;
const nftTable = `skiff_test_${tag}`;
const nftTable2 = `skiff_test_${tag}_b`;

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' });
}

/** A /24 in 10.254.0.0/16 that no host route touches. */
function freeSubnet(): string {
  const routes = JSON.parse(sh('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])) as { dst: string }[];
  const used = routes
    .map((r) => r.dst)
    .filter((d) => d && d !== 'default')
    .map((d) => parseCidr(d.includes('/') ? d : `${d}/32`, { allowHostBits: true }));
  for (let i = 0; i < 256; i++) {
    const third = (parseInt(tag, 16) + i) % 200 + 20;
    const c = `10.254.${third}.0/24`;
    if (!used.some((u) => overlaps(u, c))) return c;
  }
  throw new Error('no free /24 in 10.254.0.0/16');
}

const newTaskId = () => randomBytes(16).toString('hex');

interface Proc {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}
function startProc(cmd: string, args: string[], stdinText?: string): Proc {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (out += b));
  child.stdin!.on('error', () => {});
  if (stdinText !== undefined) child.stdin!.write(stdinText);
  const exited = new Promise<number | null>((res) => child.on('close', (c) => res(c)));
  return { child, out: () => out, exited };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, fn: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** TCP from this (host) process to addr:port; sends `msg`, resolves with what came back. */
function hostTcp(addr: string, port: number, msg: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: addr, port });
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('timeout'));
    }, timeoutMs);
    s.on('connect', () => s.end(msg));
    s.on('data', (b) => (got += b));
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

function leftovers(): string[] {
  const left: string[] = [];
  const ns = existsSync('/var/run/netns') ? readdirSync('/var/run/netns') : [];
  left.push(...ns.filter((n) => n.startsWith(netnsPrefix)).map((n) => `netns ${n}`));
  left.push(...readdirSync('/sys/class/net').filter((n) => n.startsWith(vethPrefix) || n.startsWith(bridge)).map((n) => `link ${n}`));
  const tables = sh('nft', ['list', 'tables']);
  for (const t of [nftTable, nftTable2]) if (new RegExp(`\\b${t}\\b`).test(tables)) left.push(`nft table ${t}`);
  return left;
}

test('LinuxNetwork on the real kernel', { skip }, async (t) => {
  const network = new LinuxNetwork({ netnsPrefix, vethPrefix, nftTable });
  const procs: Proc[] = [];
  t.after(async () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    try {
      execFileSync('nft', ['delete', 'table', 'inet', nftTable2], { stdio: 'ignore' });
    } catch {
      /* not there */
    }
    await network.destroyAll();
    assert.deepEqual(leftovers(), [], 'nothing with the test prefixes remains');
  });

  const cidr = freeSubnet();
  const base = cidr.split('.').slice(0, 3).join('.');
  const subnet: SubnetSpec = { id: `subnet-test${tag}`, cidr, vpcCidr: '10.254.0.0/16', bridge };
  const gw = `${base}.1`;

  await t.test('fingerprint finds nothing missing', async () => {
    assert.deepEqual(await network.fingerprint(), []);
  });

  await t.test('ensureSubnet makes the bridge and the boundary, idempotently', async () => {
    await network.ensureSubnet(subnet);
    await network.ensureSubnet(subnet);
    await new LinuxNetwork({ netnsPrefix, vethPrefix, nftTable }).ensureSubnet(subnet); // fresh instance, no cache
    const link = JSON.parse(sh('ip', ['-j', 'addr', 'show', 'dev', bridge]))[0];
    assert.ok(existsSync(`/sys/class/net/${bridge}/bridge`), 'is a bridge');
    assert.deepEqual(
      link.addr_info.filter((a: { family: string }) => a.family === 'inet').map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`),
      [`${gw}/24`],
    );
    assert.ok(!link.addr_info.some((a: { family: string }) => a.family === 'inet6'), 'no IPv6 on the bridge');
    const table = sh('nft', ['list', 'table', 'inet', nftTable]);
    assert.match(table, new RegExp(`elements = \\{ "${bridge}" \\}`));
    assert.match(table, /hook forward priority filter - 1; policy accept;/);
    assert.match(table, /iifname @bridges oifname != @bridges counter packets \d+ bytes \d+ drop/);
    assert.match(table, /oifname @bridges iifname != @bridges counter packets \d+ bytes \d+ drop/);
    assert.equal(table.match(/drop comment "skiff: task to outside"/g)?.length, 1, 'rules not duplicated');
  });

  await t.test('ensureSubnet refuses a subnet that overlaps a host route and leaves nothing', async () => {
    const hostRoute = (JSON.parse(sh('ip', ['-j', '-4', 'route', 'show', 'table', 'main'])) as { dst: string; dev: string }[]).find(
      (r) => r.dst !== 'default' && r.dst.includes('/') && Number(r.dst.split('/')[1]) >= 16 && Number(r.dst.split('/')[1]) <= 28,
    );
    if (!hostRoute) return t.diagnostic('no host route with a /16../28 prefix to collide with');
    const clash: SubnetSpec = { id: 'subnet-clash', cidr: hostRoute.dst, vpcCidr: hostRoute.dst, bridge: `${bridge}x` };
    await assert.rejects(network.ensureSubnet(clash), /overlaps the host route/);
    assert.equal(existsSync(`/sys/class/net/${bridge}x`), false);
  });

  const id1 = newTaskId();
  const id2 = newTaskId();
  const ip1 = `${base}.10`;
  const ip2 = `${base}.11`;
  const ns1 = `${netnsPrefix}${id1}`;
  const ns2 = `${netnsPrefix}${id2}`;

  await t.test('attach gives two tasks their addresses and routes, no default route', async () => {
    const a1 = await network.attach(id1, subnet, ip1);
    const a2 = await network.attach(id2, subnet, ip2);
    assert.deepEqual(
      { ...a1, macAddress: '' },
      { netnsName: ns1, netnsPath: `/var/run/netns/${ns1}`, hostVeth: `${vethPrefix}${id1.slice(0, 11)}`, macAddress: '', ipv4: ip1, prefixLength: 24, gateway: gw },
    );
    assert.ok(a1.hostVeth.length <= 15);
    assert.match(a1.macAddress, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    assert.equal(a1.macAddress, macForIpv4(ip1), 'MAC follows the address');
    assert.notEqual(a1.macAddress, a2.macAddress);
    const eth0 = JSON.parse(sh('ip', ['-n', ns1, '-j', 'addr', 'show', 'dev', 'eth0']))[0];
    assert.equal(eth0.address, a1.macAddress);
    assert.deepEqual(eth0.addr_info.map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`), [`${ip1}/24`]);
    const routes = sh('ip', ['-n', ns1, 'route']);
    assert.doesNotMatch(routes, /default/);
    assert.match(routes, new RegExp(`^10\\.254\\.0\\.0/16 via ${gw.replace(/\./g, '\\.')} dev eth0`, 'm'));
    assert.match(routes, new RegExp(`^169\\.254\\.170\\.2 via ${gw.replace(/\./g, '\\.')} dev eth0`, 'm'));
    assert.doesNotMatch(sh('ip', ['-n', ns1, '-6', 'route']), /default/);
    assert.equal(sh('ip', ['-n', ns1, '-j', '-6', 'addr', 'show', 'dev', 'eth0']).includes('inet6'), false, 'IPv4 only');
    assert.ok(readdirSync(`/sys/class/net/${bridge}/brif`).includes(a1.hostVeth));
    assert.deepEqual((await network.listAttached()).filter((x) => x === id1 || x === id2).sort(), [id1, id2].sort());
    // Outside networks are unreachable from the task.
    const get = JSON.parse(sh('ip', ['-n', ns1, '-j', 'route', 'get', '10.254.255.1']))[0];
    assert.equal(get.gateway, gw);
    assert.throws(() => execFileSync('ip', ['-n', ns1, 'route', 'get', '192.0.2.1'], { stdio: 'pipe' }), /unreachable/);
  });

  await t.test('tasks in one subnet ping each other and talk TCP', async () => {
    sh('ip', ['netns', 'exec', ns1, '/bin/busybox', 'ping', '-c', '1', '-W', '2', ip2]);
    sh('ip', ['netns', 'exec', ns2, '/bin/busybox', 'ping', '-c', '1', '-W', '2', ip1]);
    // The gateway is the host: closed to tasks by default (test/host-boundary.root.test.ts has the rest).
    assert.throws(() => execFileSync('ip', ['netns', 'exec', ns1, '/bin/busybox', 'ping', '-c', '1', '-W', '1', gw], { stdio: 'pipe' }));

    const server = startProc('ip', ['netns', 'exec', ns2, '/bin/busybox', 'nc', '-l', '-p', '8080'], 'pong-from-2\n');
    procs.push(server);
    let client: Proc | undefined;
    await waitFor('the TCP exchange', async () => {
      if (client && client.out().includes('pong-from-2') && server.out().includes('ping-from-1')) return true;
      if (!client || client.child.exitCode !== null) {
        client = startProc('ip', ['netns', 'exec', ns1, '/bin/busybox', 'nc', ip2, '8080'], 'ping-from-1\n');
        procs.push(client);
      }
      return false;
    });
    server.child.kill();
    client!.child.kill();
  });

  await t.test('the host reaches a task over TCP', async () => {
    const server = startProc('ip', ['netns', 'exec', ns1, '/bin/busybox', 'nc', '-l', '-p', '8081'], 'hello-host\n');
    procs.push(server);
    let reply = '';
    await waitFor('host → task TCP', async () => {
      try {
        reply = await hostTcp(ip1, 8081, 'hello-task\n');
      } catch {
        return false;
      }
      return true;
    });
    await waitFor('the server to see the host', () => server.out().includes('hello-task'));
    assert.match(reply, /hello-host/);
    server.child.kill();
  });

  await t.test('hostAccess:false closes host → task; task → host stays closed (restricted)', async () => {
    // A second instance with its own table but the same bridge: its rules apply on top.
    const closed = new LinuxNetwork({ netnsPrefix, vethPrefix, nftTable: nftTable2, hostAccess: false, taskToHost: 'restricted' });
    await closed.ensureSubnet(subnet);
    const table = sh('nft', ['list', 'table', 'inet', nftTable2]);
    assert.match(table, /oifname @bridges ct state new counter packets \d+ bytes \d+ drop/);
    const server = startProc('ip', ['netns', 'exec', ns1, '/bin/busybox', 'nc', '-l', '-p', '8082'], 'x\n');
    procs.push(server);
    await sleep(200);
    // Dropped, not refused: a refusal would mean the rule did not apply (or nothing listened).
    await assert.rejects(hostTcp(ip1, 8082, 'x\n', 1000), /timeout/, 'host → task blocked');
    // Task → host: a listener on the gateway address is not reachable from the task.
    const hostServer = net.createServer((s) => s.end('from-host\n'));
    await new Promise<void>((r) => hostServer.listen(8083, gw, r));
    try {
      const c = startProc('ip', ['netns', 'exec', ns2, '/bin/busybox', 'nc', '-w', '1', gw, '8083'], '');
      procs.push(c);
      await c.exited;
      assert.doesNotMatch(c.out(), /from-host/);
      // Tasks still reach each other.
      sh('ip', ['netns', 'exec', ns2, '/bin/busybox', 'ping', '-c', '1', '-W', '2', ip1]);
    } finally {
      hostServer.close();
      server.child.kill();
      sh('nft', ['delete', 'table', 'inet', nftTable2]);
    }
    // With the table gone the host reaches the task again (sanity check of the test itself).
    const again = startProc('ip', ['netns', 'exec', ns1, '/bin/busybox', 'nc', '-l', '-p', '8084'], 'back\n');
    procs.push(again);
    let reply = '';
    await waitFor('host → task TCP again', async () => {
      try {
        reply = await hostTcp(ip1, 8084, 'x\n');
        return true;
      } catch {
        return false;
      }
    });
    assert.match(reply, /back/);
  });

  await t.test('attach is idempotent and repairs half-made namespaces', async () => {
    const before = statSync(`/var/run/netns/${ns1}`).ino;
    const a = await network.attach(id1, subnet, ip1);
    const again = await network.attach(id1, subnet, ip1);
    assert.deepEqual(again, a);
    assert.equal(statSync(`/var/run/netns/${ns1}`).ino, before, 'same namespace, not recreated');
    await assert.rejects(network.attach(id1, subnet, `${base}.12`), /already has .*detach it first/);
    await Promise.all([network.attach(id1, subnet, ip1), network.attach(id1, subnet, ip1)]);

    // Half-made: the veth is gone (as after a crash mid-attach). The rebuilt
    // namespace keeps the MAC, so task 2's neighbour cache stays right and
    // the first ping gets through.
    sh('ip', ['link', 'del', a.hostVeth]);
    const repaired = await network.attach(id1, subnet, ip1);
    assert.equal(repaired.ipv4, ip1);
    assert.notEqual(statSync(`/var/run/netns/${ns1}`).ino, before, 'rebuilt');
    sh('ip', ['netns', 'exec', ns2, '/bin/busybox', 'ping', '-c', '1', '-W', '2', ip1]);
    // Half-made: namespace without routes.
    sh('ip', ['-n', ns1, 'route', 'del', '169.254.170.2']);
    await network.attach(id1, subnet, ip1);
    assert.match(sh('ip', ['-n', ns1, 'route']), /169\.254\.170\.2/);

    await assert.rejects(network.attach(newTaskId(), subnet, `${base}.1`), /not a usable address/);
    await assert.rejects(network.attach(newTaskId(), subnet, `${base}.255`), /not a usable address/);
    await assert.rejects(network.attach(newTaskId(), subnet, '10.254.250.9'), /not a usable address/);
    await assert.rejects(network.attach('../etc', subnet, ip1), /invalid task id/);
    await assert.rejects(network.attach(newTaskId(), { ...subnet, bridge: 'nobr' + tag }, `${base}.20`), /does not exist/);
    assert.deepEqual(leftovers().filter((l) => l.startsWith('netns')).length, 2, 'failed attaches leave nothing');
  });

  await t.test('detach removes namespace and veth, and is idempotent', async () => {
    const veth = network.hostVethName(id2);
    await network.detach(id2);
    assert.equal(existsSync(`/var/run/netns/${ns2}`), false);
    assert.equal(existsSync(`/sys/class/net/${veth}`), false);
    await network.detach(id2);
    assert.ok(!(await network.listAttached()).includes(id2));
    await assert.rejects(network.removeSubnet(bridge), /still has tasks attached/);
    await network.detach(id1);
    assert.deepEqual(await network.listAttached(), []);
  });

  await t.test('ten tasks attach and detach in parallel', async () => {
    const ids = Array.from({ length: 10 }, () => newTaskId());
    const atts = await Promise.all(ids.map((id, i) => network.attach(id, subnet, `${base}.${100 + i}`)));
    assert.deepEqual(atts.map((a) => a.ipv4), ids.map((_, i) => `${base}.${100 + i}`));
    sh('ip', ['netns', 'exec', atts[0]!.netnsName, '/bin/busybox', 'ping', '-c', '1', '-W', '2', `${base}.109`]);
    await Promise.all(ids.map((id) => network.detach(id)));
    assert.deepEqual(await network.listAttached(), []);
    assert.deepEqual(readdirSync(`/sys/class/net/${bridge}/brif`), []);
  });

  await t.test('20 rounds of attach + detach on one address leave nothing behind', async () => {
    for (let i = 0; i < 20; i++) {
      const id = newTaskId();
      await network.attach(id, subnet, `${base}.${30 + i}`);
      await network.detach(id);
    }
    assert.deepEqual(await network.listAttached(), []);
  });

  await t.test('removeSubnet removes the bridge and its set element', async () => {
    await network.removeSubnet(bridge);
    assert.equal(existsSync(`/sys/class/net/${bridge}`), false);
    assert.doesNotMatch(sh('nft', ['list', 'table', 'inet', nftTable]), new RegExp(bridge));
    await network.removeSubnet(bridge);
  });
});
