/**
 * The Network contract (src/network/network-contract.ts) against LinuxNetwork on
 * the real kernel: namespaces, veths, bridges and an nftables table, the same
 * suite FakeNetwork passes without root. Names are unique to this run and
 * everything is removed afterwards, even on failure. No packet is sent.
 * Needs root on Linux with `ip` and `nft`.
 * Run: node --import tsx --test test/network-contract.root.test.ts
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { networkContract } from '../src/network/network-contract.ts';
import { LinuxNetwork } from '../src/network/linux-network.ts';
import { overlaps, parseCidr } from '../src/model/cidr.ts';

const haveTools = (() => {
  try {
    execFileSync('ip', ['-V']);
    execFileSync('nft', ['-v']);
    return true;
  } catch {
    return false;
  }
})();
const skip = !(process.platform === 'linux' && process.getuid?.() === 0) ? 'needs root on Linux' : !haveTools ? 'needs ip and nft' : false;

const tag = randomBytes(2).toString('hex');
const opts = { netnsPrefix: `skct-${tag}-`, vethPrefix: `kc${tag.slice(0, 2)}`, nftTable: `skiff_ct_${tag}` };
const bridges = [`kcbr${tag}a`, `kcbr${tag}b`];

/** Two adjacent /24s in 10.253.0.0/16 that no host route touches. */
function freeSubnets(): [string, string] {
  const routes = JSON.parse(execFileSync('ip', ['-j', '-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' })) as { dst: string }[];
  const used = routes
    .map((r) => r.dst)
    .filter((d) => d && d !== 'default')
    .map((d) => parseCidr(d.includes('/') ? d : `${d}/32`, { allowHostBits: true }));
  for (let i = 0; i < 120; i++) {
    const third = ((parseInt(tag, 16) + i * 2) % 240) + 10;
    const pair: [string, string] = [`10.253.${third}.0/24`, `10.253.${third + 1}.0/24`];
    if (!used.some((u) => pair.some((c) => overlaps(u, c)))) return pair;
  }
  throw new Error('no two free /24s in 10.253.0.0/16');
}

function leftovers(): string[] {
  const left: string[] = [];
  const ns = existsSync('/var/run/netns') ? readdirSync('/var/run/netns') : [];
  left.push(...ns.filter((n) => n.startsWith(opts.netnsPrefix)).map((n) => `netns ${n}`));
  left.push(...readdirSync('/sys/class/net').filter((n) => n.startsWith(opts.vethPrefix) || bridges.includes(n)).map((n) => `link ${n}`));
  if (new RegExp(`\\b${opts.nftTable}\\b`).test(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }))) left.push(`nft table ${opts.nftTable}`);
  return left;
}

networkContract(
  'linux',
  async () => {
    const [ca, cb] = freeSubnets();
    return {
      newNetwork: () => new LinuxNetwork(opts),
      subnets: [
        { id: `subnet-ct${tag}a`, cidr: ca, vpcCidr: '10.253.0.0/16', bridge: bridges[0]! },
        { id: `subnet-ct${tag}b`, cidr: cb, vpcCidr: '10.253.0.0/16', bridge: bridges[1]! },
      ],
      cleanup: async () => {
        await new LinuxNetwork(opts).destroyAll();
        assert.deepEqual(leftovers(), [], 'nothing with the test prefixes remains');
      },
    };
  },
  { skip },
);
