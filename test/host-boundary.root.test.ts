/**
 * Tasks cannot reach the host they run on (issue #16), tried the way an
 * attacker in a task would: a real `skiff server`, real runc tasks, and from
 * inside a busybox container `wget`, `nc`, `tftp` (UDP) and `nslookup`
 * against every host address the task can route to — its own gateway and the
 * gateway of another subnet of its VPC (both addresses of this host).
 *
 * This test starts the host's listeners itself: HTTP on 0.0.0.0 and on the
 * task's gateway address, UDP on 0.0.0.0, a TCP port with nothing on it. The
 * host proves each is up by reaching it itself before the task tries, and the
 * task's probe tells "dropped" (no answer until the timeout) from "refused"
 * (a reset or ICMP error at once: the packet got through but nothing
 * listened), so a failure cannot come from a listener that was not there.
 *
 * By default every probe is dropped but DNS on the task's own gateway and the
 * metadata endpoint; with `--task-host-port P/tcp --task-host-port U/udp`
 * exactly those two open, nothing else. Traffic only between this host and
 * the servers' own task namespaces; every server is destroyed (namespaces,
 * veths, cgroups, nft tables) even when an assertion fails.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { DescribeSubnetsCommand, DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { RunTaskCommand, StopTaskCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { TestServer, TEST_ROOT_KEY } from './support/skiff-server.ts';
import { freePort, startRegistry, type TestRegistry } from './support/registry.ts';
import { pushBusyboxImage } from './support/images.ts';
import { ipOf, registerFamily, taskLogText, waitTaskStatus } from './support/tasks.ts';
import { freeOctets } from './support/octets.ts';
import { gatewayAddress, parseCidr } from '../src/model/cidr.ts';

const isRoot = process.platform === 'linux' && process.getuid?.() === 0;
const skip = isRoot ? false : 'needs root on Linux (runc, namespaces, nftables)';

const nonce = randomBytes(4).toString('hex');
let registry: TestRegistry;
let image: string;
const closers: (() => void)[] = [];

/** Host listeners, all on 0.0.0.0 unless said otherwise; each answers with a marker naming it. */
const ports = { httpAny: 0, httpOpen: 0, udpAny: 0, udpOpen: 0, closed: 0, metadata: 0 };
const hits: string[] = []; // remote addresses of every HTTP request the host listeners answered

function httpListener(name: string, host: string, port = 0): Promise<Server> {
  const server = createServer((req, res) => {
    hits.push(`${name} ${req.socket.remoteAddress!.replace(/^::ffff:/, '')}`);
    res.end(`${name}-${nonce}\n`);
  });
  closers.push(() => server.close());
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

/** A UDP listener that answers any datagram with a TFTP ERROR packet carrying its marker (busybox tftp prints it). */
function udpListener(name: string, port = 0): Promise<number> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (_m, from) => sock.send(Buffer.concat([Buffer.from([0, 5, 0, 0]), Buffer.from(`${name}-${nonce}\0`)]), from.port, from.address));
  closers.push(() => sock.close());
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, '0.0.0.0', () => resolve(sock.address().port));
  });
}

before(async () => {
  if (skip) return;
  registry = await startRegistry({ auth: 'none' });
  image = await pushBusyboxImage(registry, 'test/busybox:hostboundary');
  ports.httpAny = ((await httpListener('http-any', '0.0.0.0')).address() as AddressInfo).port;
  ports.httpOpen = ((await httpListener('http-open', '0.0.0.0')).address() as AddressInfo).port;
  ports.udpAny = await udpListener('udp-any');
  ports.udpOpen = await udpListener('udp-open');
  ports.closed = await freePort();
  ports.metadata = await freePort();
});
after(async () => {
  for (const close of closers) close();
  await registry?.stop();
});

// ------------------------------------------------------------------ host side

function hostHttp(host: string, port: number): Promise<string> {
  return fetch(`http://${host}:${port}/`, { signal: AbortSignal.timeout(3000) }).then((r) => r.text());
}

function hostUdp(host: string, port: number, payload: Buffer): Promise<Buffer> {
  const sock = dgram.createSocket('udp4');
  return new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no UDP answer from ${host}:${port}`)), 3000);
    sock.on('message', (m) => {
      clearTimeout(timer);
      resolve(m);
    });
    sock.send(payload, port, host, (e) => e && reject(e));
  }).finally(() => sock.close());
}

/** A DNS query for `name` type A: header (id 0x5353, RD) + question. */
function dnsQuery(name: string): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  return Buffer.concat([Buffer.from([0x53, 0x53, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

function hostTcpRefused(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(3000, () => (s.destroy(), resolve(false)));
    s.on('connect', () => (s.destroy(), resolve(false)));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

// ------------------------------------------------------------------ task side

interface Probe {
  name: string;
  /** Shell words run under `timeout 4` inside the task. */
  cmd: string;
  /** Output that proves the peer answered. */
  answered: RegExp;
}

type Outcome = 'answered' | 'refused' | 'dropped' | 'unclear';
/** What a probe must show: an outcome, or 'passes' (answered or refused: the boundary let it through). */
type Expect = Outcome | 'passes';

const TIMEOUT_S = 4;

/**
 * The task's script: every probe at once, each printing
 * `probe <name> <uptime before> <uptime after> <output>` on one line.
 */
function probeScript(probes: Probe[]): string {
  const lines = [
    'up() { read u _ < /proc/uptime; echo $u; }',
    `probe() { n=$1; shift; s=$(up); o=$(timeout ${TIMEOUT_S} "$@" 2>&1 </dev/null | tr '\\n' ' ' | head -c 400); e=$(up); echo "probe $n $s $e $o"; }`,
    'cd /tmp',
    ...probes.map((p) => `probe ${p.name} ${p.cmd} &`),
    'wait',
    'echo probes-done',
  ];
  return lines.join('\n');
}

function outcomes(log: string, probes: Probe[]): Record<string, { outcome: Outcome; line: string }> {
  const out: Record<string, { outcome: Outcome; line: string }> = {};
  for (const p of probes) {
    const line = log.split('\n').find((l) => l.startsWith(`probe ${p.name} `)) ?? '';
    const m = /^probe \S+ ([\d.]+) ([\d.]+) ?(.*)$/.exec(line);
    if (!m) {
      out[p.name] = { outcome: 'unclear', line: `no result in the log:\n${log}` };
      continue;
    }
    const elapsed = Number(m[2]) - Number(m[1]);
    const text = m[3]!;
    const outcome: Outcome = p.answered.test(text)
      ? 'answered'
      : /refused/i.test(text) && elapsed < TIMEOUT_S - 1.5
        ? 'refused'
        : elapsed >= TIMEOUT_S - 1.5 && !/refused/i.test(text)
          ? 'dropped'
          : 'unclear';
    out[p.name] = { outcome, line };
  }
  return out;
}

interface Scene {
  server: TestServer;
  ecs: ECSClient;
  gw1: string;
  gw2: string;
  subnet1: string;
  subnet2: string;
  idle: string[];
}

/** Starts a server (args), one idle task in each of two subnets (so both gateways are up), an HTTP listener on gateway 1. */
async function scene(args: string[]): Promise<Scene> {
  const server = new TestServer({ args, vpcSecondOctet: freeOctets([])[0], env: { SKIFF_METADATA_PORT: String(ports.metadata) } });
  const s: Scene = { server, ecs: undefined as unknown as ECSClient, gw1: '', gw2: '', subnet1: '', subnet2: '', idle: [] };
  try {
    await server.start();
    s.ecs = server.ecs();
    const ec2 = new EC2Client({ endpoint: server.endpoint, region: 'us-east-1', credentials: TEST_ROOT_KEY, maxAttempts: 1 });
    try {
      const vpc = (await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }))).Vpcs![0]!;
      const subnets = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc.VpcId!] }] }))).Subnets!;
      [s.subnet1, s.subnet2] = [subnets[0]!.SubnetId!, subnets[1]!.SubnetId!];
      [s.gw1, s.gw2] = [subnets[0]!, subnets[1]!].map((x) => gatewayAddress(parseCidr(x.CidrBlock!)));
    } finally {
      ec2.destroy();
    }
    await registerFamily(s.ecs, 'idle', [{ name: 'idle', image, stopTimeout: 2, command: ['sleep', '3600'] }]);
    for (const subnet of [s.subnet1, s.subnet2]) {
      const out = await s.ecs.send(new RunTaskCommand({ taskDefinition: 'idle', launchType: 'FARGATE', networkConfiguration: { awsvpcConfiguration: { subnets: [subnet] } } }));
      assert.equal(out.tasks?.length, 1, JSON.stringify(out.failures));
      s.idle.push(out.tasks![0]!.taskArn!);
    }
    for (const arn of s.idle) await waitTaskStatus(s.ecs, arn, 'RUNNING', 60_000);
    return s;
  } catch (e) {
    await server.destroy();
    throw e;
  }
}

async function endScene(s: Scene): Promise<void> {
  try {
    for (const arn of s.idle) await s.ecs.send(new StopTaskCommand({ task: arn })).catch(() => {});
  } finally {
    await s.server.destroy();
  }
}

/** Proves from the host that every listener the task will try is up, on each address the task will use. */
async function hostProvesListeners(s: Scene, gwPort: number): Promise<void> {
  for (const gw of [s.gw1, s.gw2]) {
    assert.equal((await hostHttp(gw, ports.httpAny)).trim(), `http-any-${nonce}`);
    assert.equal((await hostHttp(gw, ports.httpOpen)).trim(), `http-open-${nonce}`);
    assert.match((await hostUdp(gw, ports.udpAny, Buffer.from('x'))).toString(), new RegExp(`udp-any-${nonce}`));
    assert.match((await hostUdp(gw, ports.udpOpen, Buffer.from('x'))).toString(), new RegExp(`udp-open-${nonce}`));
    // Service discovery's DNS answers on both gateways (an answer with our id, whatever its rcode).
    assert.equal((await hostUdp(gw, 53, dnsQuery('nope.default.skiff.local'))).readUInt16BE(0), 0x5353, `DNS on ${gw}`);
    assert.ok((await fetch(`http://${gw}:${ports.metadata}/`, { signal: AbortSignal.timeout(3000) })).status > 0, 'the metadata server answers on its own port');
  }
  assert.equal((await hostHttp(s.gw1, gwPort)).trim(), `http-gw-${nonce}`);
  assert.equal(await hostTcpRefused(s.gw1, ports.closed), true, 'nothing listens on the closed port: a connection is refused');
}

/** Every way in that a task would try, with the outcome each must have by default. */
function attackerProbes(s: Scene, gwPort: number): { probe: Probe; expect: Expect }[] {
  const wget = (host: string, port: number, marker: string): Probe => ({ name: '', cmd: `wget -q -O - http://${host}:${port}/`, answered: new RegExp(`${marker}-${nonce}`) });
  const tftp = (host: string, port: number, marker: string): Probe => ({ name: '', cmd: `tftp -g -r x -l /dev/null ${host} ${port}`, answered: new RegExp(`${marker}-${nonce}`) });
  const tcp = (host: string, port: number): Probe => ({ name: '', cmd: `nc -w ${TIMEOUT_S - 1} ${host} ${port} -e sh -c 'echo tcp-connected >&2'`, answered: /tcp-connected/ });
  const named = (name: string, p: Probe, expect: Expect) => ({ probe: { ...p, name }, expect });
  return [
    named('http-any-gw1', wget(s.gw1, ports.httpAny, 'http-any'), 'dropped'),
    named('http-any-gw2', wget(s.gw2, ports.httpAny, 'http-any'), 'dropped'),
    named('http-gw1-bound', wget(s.gw1, gwPort, 'http-gw'), 'dropped'),
    named('tcp-closed-gw1', tcp(s.gw1, ports.closed), 'dropped'),
    named('udp-any-gw1', tftp(s.gw1, ports.udpAny, 'udp-any'), 'dropped'),
    named('udp-any-gw2', tftp(s.gw2, ports.udpAny, 'udp-any'), 'dropped'),
    named('metadata-server-port', tcp(s.gw1, ports.metadata), 'dropped'),
    named('dns-udp-gw2', { name: '', cmd: `nslookup nope.default.skiff.local ${s.gw2}`, answered: /can't find|NXDOMAIN|REFUSED/ }, 'dropped'),
    named('dns-udp-gw1', { name: '', cmd: `nslookup nope.default.skiff.local ${s.gw1}`, answered: /can't find|NXDOMAIN|REFUSED/ }, 'answered'),
    named('metadata-endpoint', { name: '', cmd: 'wget -q -O - $ECS_CONTAINER_METADATA_URI_V4/task', answered: /"TaskARN"/ }, 'answered'),
    // TCP 53: connected (DNS over TCP) or refused (no TCP listener yet), never dropped, on the own gateway only.
    named('dns-tcp-gw1', tcp(s.gw1, 53), 'passes'),
    named('dns-tcp-gw2', tcp(s.gw2, 53), 'dropped'),
  ];
}

/** Runs the probes from a fresh task in subnet 1; returns the outcomes by probe name and the task's address. */
async function runProbes(s: Scene, probes: Probe[]): Promise<{ results: ReturnType<typeof outcomes>; ip: string }> {
  await registerFamily(s.ecs, 'attacker', [{ name: 'attacker', image, command: ['sh', '-c', probeScript(probes)] }]);
  const out = await s.ecs.send(new RunTaskCommand({ taskDefinition: 'attacker', launchType: 'FARGATE', networkConfiguration: { awsvpcConfiguration: { subnets: [s.subnet1] } } }));
  assert.equal(out.tasks?.length, 1, JSON.stringify(out.failures));
  const stopped = await waitTaskStatus(s.ecs, out.tasks![0]!.taskArn!, 'STOPPED', 60_000);
  const log = await taskLogText(s.server, stopped.taskArn!);
  assert.match(log, /probes-done/, log);
  return { results: outcomes(log, probes), ip: ipOf(stopped) ?? '' };
}

/** Asserts every probe's outcome at once (the message shows every line the task printed). */
function assertOutcomes(results: ReturnType<typeof outcomes>, probes: { probe: Probe; expect: Expect }[]): void {
  const got = (p: { probe: Probe; expect: Expect }): Expect => {
    const o = results[p.probe.name]!.outcome;
    return p.expect === 'passes' && (o === 'answered' || o === 'refused') ? 'passes' : o;
  };
  assert.deepEqual(
    Object.fromEntries(probes.map((p) => [p.probe.name, got(p)])),
    Object.fromEntries(probes.map((p) => [p.probe.name, p.expect])),
    Object.values(results).map((r) => r.line).join('\n'),
  );
}

function dropCounter(s: Scene): number {
  const chain = execFileSync('nft', ['list', 'chain', 'inet', s.server.prefix, 'task_to_host'], { encoding: 'utf8' });
  return Number(/counter packets (\d+) bytes \d+ drop/.exec(chain)?.[1] ?? NaN);
}

test('by default a task reaches nothing of the host but DNS on its own gateway and the metadata endpoint', { skip }, async () => {
  const s = await scene([]);
  try {
    const gwServer = await httpListener('http-gw', s.gw1);
    const gwPort = (gwServer.address() as AddressInfo).port;
    await hostProvesListeners(s, gwPort);
    const probes = [
      ...attackerProbes(s, gwPort),
      // Not open without the operator's flag either.
      { probe: { name: 'http-open-gw1', cmd: `wget -q -O - http://${s.gw1}:${ports.httpOpen}/`, answered: new RegExp(`http-open-${nonce}`) }, expect: 'dropped' as Expect },
      { probe: { name: 'udp-open-gw1', cmd: `tftp -g -r x -l /dev/null ${s.gw1} ${ports.udpOpen}`, answered: new RegExp(`udp-open-${nonce}`) }, expect: 'dropped' as Expect },
    ];
    const before = dropCounter(s);
    hits.length = 0;
    const { results, ip } = await runProbes(s, probes.map((p) => p.probe));
    assertOutcomes(results, probes);
    assert.deepEqual(hits.filter((h) => h.endsWith(` ${ip}`)), [], 'no host listener saw the task');
    assert.ok(dropCounter(s) > before, "the boundary's drop rule counted the attempts");
  } finally {
    await endScene(s);
  }
});

test('--task-host-port opens exactly the named ports, on any host address; everything else stays dropped', { skip }, async () => {
  const s = await scene(['--task-host-port', `${ports.httpOpen}/tcp`, '--task-host-port', `${ports.udpOpen}/udp`]);
  // The same port numbers with the other protocol stay closed.
  const udpOnTcpPort = await udpListener('udp-on-tcp-port', ports.httpOpen);
  assert.equal(udpOnTcpPort, ports.httpOpen);
  try {
    const gwServer = await httpListener('http-gw', s.gw1);
    const gwPort = (gwServer.address() as AddressInfo).port;
    await hostProvesListeners(s, gwPort);
    assert.match((await hostUdp(s.gw1, ports.httpOpen, Buffer.from('x'))).toString(), new RegExp(`udp-on-tcp-port-${nonce}`));
    const probes = [
      ...attackerProbes(s, gwPort),
      { probe: { name: 'http-open-gw1', cmd: `wget -q -O - http://${s.gw1}:${ports.httpOpen}/`, answered: new RegExp(`http-open-${nonce}`) }, expect: 'answered' as Expect },
      { probe: { name: 'http-open-gw2', cmd: `wget -q -O - http://${s.gw2}:${ports.httpOpen}/`, answered: new RegExp(`http-open-${nonce}`) }, expect: 'answered' as Expect },
      { probe: { name: 'udp-open-gw1', cmd: `tftp -g -r x -l /dev/null ${s.gw1} ${ports.udpOpen}`, answered: new RegExp(`udp-open-${nonce}`) }, expect: 'answered' as Expect },
      { probe: { name: 'udp-on-tcp-port', cmd: `tftp -g -r x -l /dev/null ${s.gw1} ${ports.httpOpen}`, answered: new RegExp(`udp-on-tcp-port-${nonce}`) }, expect: 'dropped' as Expect },
      { probe: { name: 'tcp-on-udp-port', cmd: `nc -w ${TIMEOUT_S - 1} ${s.gw1} ${ports.udpOpen} -e sh -c 'echo tcp-connected >&2'`, answered: /tcp-connected/ }, expect: 'dropped' as Expect },
    ];
    hits.length = 0;
    const { results, ip } = await runProbes(s, probes.map((p) => p.probe));
    assertOutcomes(results, probes);
    assert.deepEqual(hits.filter((h) => h.endsWith(` ${ip}`)).sort(), [`http-open ${ip}`, `http-open ${ip}`], 'only the open port saw the task');
  } finally {
    await endScene(s);
  }
});

test('a bad --task-host-port stops the server with a message that says what to write', { skip }, async () => {
  const server = new TestServer({ args: ['--task-host-port', '5432/sctp'] });
  try {
    await assert.rejects(server.start(), /--task-host-port.*"5432\/sctp" is not a host port: write PORT\/PROTOCOL .*e\.g\. 5432\/tcp/s);
  } finally {
    await server.destroy();
  }
});
