import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bandwidthFor, bandwidthProblem, describeBandwidth, parseShaping, sameBandwidth, shapingScript, tbfArgs } from './bandwidth.ts';
import { hostIfbName, hostVethName, taskLinkNames } from './links.ts';

test('the seed table by CPU units, each way: 1/2/4/10 Gbps sustained, bursts to 10 (25 above 2048)', () => {
  const row = (cpu: number) => bandwidthFor(cpu);
  assert.deepEqual(row(256), { sustainedMbps: 1000, burstMbps: 10_000 });
  assert.deepEqual(row(512), { sustainedMbps: 1000, burstMbps: 10_000 });
  assert.deepEqual(row(1024), { sustainedMbps: 2000, burstMbps: 10_000 });
  assert.deepEqual(row(2048), { sustainedMbps: 4000, burstMbps: 10_000 });
  assert.deepEqual(row(4096), { sustainedMbps: 10_000, burstMbps: 25_000 });
  assert.deepEqual(row(16384), { sustainedMbps: 10_000, burstMbps: 25_000 });
});

test('--bandwidth-scale multiplies the table; out of 0.001..10 is refused', () => {
  assert.deepEqual(bandwidthFor(256, 0.1), { sustainedMbps: 100, burstMbps: 1000 });
  assert.deepEqual(bandwidthFor(4096, 0.02), { sustainedMbps: 200, burstMbps: 500 });
  assert.deepEqual(bandwidthFor(256, 0.001), { sustainedMbps: 1, burstMbps: 10 });
  assert.deepEqual(bandwidthFor(2048, 2.5), { sustainedMbps: 10_000, burstMbps: 25_000 });
  assert.throws(() => bandwidthFor(256, 0), /from 0.001 to 10/);
  assert.throws(() => bandwidthFor(256, 11), /from 0.001 to 10/);
  assert.throws(() => bandwidthFor(256, Number.NaN), /from 0.001 to 10/);
});

test('bandwidths are described for people and checked before they reach tc', () => {
  assert.equal(describeBandwidth(bandwidthFor(256)), '1 Gbps sustained, bursts to 10 Gbps');
  assert.equal(describeBandwidth(bandwidthFor(4096, 0.05)), '500 Mbps sustained, bursts to 1.25 Gbps');
  assert.equal(describeBandwidth({ sustainedMbps: 0.5, burstMbps: 1.5 }), '500 kbps sustained, bursts to 1.5 Mbps');
  assert.equal(bandwidthProblem(bandwidthFor(256)), undefined);
  assert.match(bandwidthProblem({ sustainedMbps: Number.NaN, burstMbps: 1 })!, /invalid bandwidth/);
  assert.match(bandwidthProblem({ sustainedMbps: 10, burstMbps: 5 })!, /below the sustained rate/);
  assert.ok(sameBandwidth({ sustainedMbps: 1000, burstMbps: 10_000 }, { sustainedMbps: 999.999, burstMbps: 10_000 }));
  assert.ok(!sameBandwidth({ sustainedMbps: 1000, burstMbps: 10_000 }, { sustainedMbps: 2000, burstMbps: 10_000 }));
});

test('tbf: the sustained rate, a bucket of 100 ms of it (at least 64 KiB), the peak with a 64 KiB peak bucket, a 20 ms queue', () => {
  assert.equal(tbfArgs(bandwidthFor(256)), 'tbf rate 1000000000bit burst 12500000 peakrate 10000000000bit mtu 65536 limit 2500000');
  assert.equal(tbfArgs({ sustainedMbps: 1, burstMbps: 10 }), 'tbf rate 1000000bit burst 65536 peakrate 10000000bit mtu 65536 limit 196608');
  assert.equal(tbfArgs({ sustainedMbps: 5, burstMbps: 5 }), 'tbf rate 5000000bit burst 65536 limit 196608', 'no peak above the rate: no peakrate');
});

test('one tc batch shapes both ways, replace only (idempotent), the ifb before the redirect to it', () => {
  const lines = shapingScript('skabc', 'skabi', bandwidthFor(256)).trim().split('\n');
  assert.equal(lines.length, 4);
  assert.ok(lines.every((l) => /^(qdisc|filter) replace dev /.test(l)));
  assert.match(lines[0]!, /^qdisc replace dev skabi root handle 1: tbf /);
  assert.match(lines[1]!, /^qdisc replace dev skabc root handle 1: tbf /);
  assert.match(lines[3]!, /^filter replace dev skabc parent ffff: .* u32 match u32 0 0 action mirred egress redirect dev skabi$/);
});

test('what the kernel holds is read back from tc output; half a shaping is none', () => {
  const veth = 'qdisc tbf 1: root refcnt 3 rate 100Mbit burst 1250000b peakrate 1Gbit minburst 65500b lat 7.48ms \nqdisc ingress ffff: parent ffff:fff1 ---------------- \n';
  const ifb = 'qdisc tbf 1: root refcnt 2 rate 100Mbit burst 1250000b peakrate 1Gbit minburst 65500b lat 7.48ms \n';
  const filter = 'filter parent ffff: protocol all pref 1 u32 chain 0 fh 800::800 order 2048 key ht 800 bkt 0 terminal flowid not_in_hw \n  match 00000000/00000000 at 0\n\taction order 1: mirred (Egress Redirect to device skabi) stolen\n';
  assert.deepEqual(parseShaping(veth + ifb + filter, 'skabi'), { sustainedMbps: 100, burstMbps: 1000 });
  assert.deepEqual(parseShaping(veth.replace('100Mbit', '12500Kbit') + ifb.replace('100Mbit', '12500Kbit') + filter, 'skabi'), { sustainedMbps: 12.5, burstMbps: 1000 });
  assert.equal(parseShaping(veth + filter, 'skabi'), undefined, 'the ifb is not shaped');
  assert.equal(parseShaping(veth + ifb, 'skabi'), undefined, 'no redirect: traffic out of the task is not shaped');
  assert.equal(parseShaping(veth + ifb.replace('100Mbit', '200Mbit') + filter, 'skabi'), undefined, 'the two ways disagree');
  assert.equal(parseShaping('qdisc noqueue 0: root refcnt 2 \n', 'skabi'), undefined);
});

test('ifb names never take a veth name and match the cleanup patterns', () => {
  const id = 'ab'.repeat(16);
  for (const prefix of ['sk', 'kc12', 't0a1b2c']) {
    const [veth, ifb] = [hostVethName(prefix, id), hostIfbName(prefix, id)];
    assert.ok(ifb.length <= 15 && veth.length <= 15, `${veth} ${ifb}`);
    assert.notEqual(veth, ifb);
    const names = taskLinkNames(prefix);
    assert.ok(names.veth.test(veth) && !names.veth.test(ifb));
    assert.ok(names.ifb.test(ifb) && !names.ifb.test(veth));
  }
});
