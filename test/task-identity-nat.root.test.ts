/**
 * The metadata NAT against the real kernel, under the strictest boundary
 * (LinuxNetwork with taskToHost 'restricted' and hostAccess false): a
 * namespace's request to 169.254.170.2:80 reaches a server on the host's
 * gateway address with the namespace's own source address, while the
 * gateway's other ports stay closed to it. Names unique to this run; all
 * removed afterwards. Traffic only between this test's namespace and the host.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LinuxNetwork } from '../src/network/linux-network.ts';
import { MetadataNat } from '../src/metadata/metadata-nat.ts';
import { run } from '../src/util/exec.ts';

const [lo] = (process.env.SKIFF_TEST_OCTET_RANGE ?? '200-249').split('-').map(Number);

test('metadata requests are redirected to the host with the task address as source, under the restricted boundary', async () => {
  const tag = randomBytes(2).toString('hex');
  const cidr = `10.${lo}.${240 + (parseInt(tag, 16) % 15)}.0/24`;
  const base = cidr.split('.').slice(0, 3).join('.');
  const subnet = { id: `subnet-${tag}`, cidr, vpcCidr: cidr, bridge: `kmd${tag}` };
  const network = new LinuxNetwork({ netnsPrefix: `skmd-${tag}-`, vethPrefix: `km${tag.slice(0, 2)}`, nftTable: `skmd_${tag}`, hostAccess: false, taskToHost: 'restricted' });
  const nat = new MetadataNat(`skmd_${tag}_md`, 0);
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.socket.remoteAddress!.replace(/^::ffff:/, ''));
    res.end(`hello ${req.url}`);
  });
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
  const port = (server.address() as AddressInfo).port;
  const realNat = new MetadataNat(`skmd_${tag}_md`, port);
  try {
    await network.ensureSubnet(subnet);
    await realNat.install();
    const taskId = randomBytes(16).toString('hex');
    const ip = `${base}.10`;
    const att = await network.attach(taskId, subnet, ip);
    const ns = att.netnsPath.split('/').pop()!;
    // Asynchronously: the server answering is in this process. busybox timeout, not wget -T (which crashes the static busybox).
    const wget = async (url: string) => {
      const r = await run('ip', ['netns', 'exec', ns, '/bin/busybox', 'timeout', '3', '/bin/busybox', 'wget', '-q', '-O', '-', url]);
      return { status: r.code, stdout: r.stdout, stderr: r.stderr };
    };

    const before = await wget('http://169.254.170.2/v4/x');
    assert.notEqual(before.status, 0, 'no redirect before the bridge is allowed');
    await realNat.allowBridge(subnet.bridge);
    await realNat.allowBridge(subnet.bridge); // idempotent
    const got = await wget('http://169.254.170.2/v4/x');
    assert.equal(got.status, 0, `${got.stderr} ${got.stdout}`);
    assert.equal(got.stdout, 'hello /v4/x');
    assert.deepEqual(seen, [ip], 'the server sees the task address');
    const direct = await wget(`http://${base}.1:${port}/`);
    assert.notEqual(direct.status, 0, "the server's port on the gateway is not open to tasks directly (restricted)");
    assert.equal(seen.length, 1);
  } finally {
    server.close();
    await realNat.remove();
    await nat.remove();
    await network.destroyAll();
  }
  assert.doesNotMatch(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }), new RegExp(`skmd_${tag}`));
});
