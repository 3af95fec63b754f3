/**
 * The microVM driver on this host's real QEMU, virtiofsd, guest kernel and
 * overlayfs: the Driver contract suite (src/drivers/driver-contract.ts), then
 * (with userns-remap's layout: shifted layers, a user namespace per container),
 * then what only a VM can show — the task runs on a kernel of its own (its
 * /proc/version and `uname -r` differ from the host's), with the task's vCPUs
 * and memory, and keeps its network namespace's address. KVM when usable here, else TCG (slow: each VM boots in seconds,
 * so the tests are few). Needs root, qemu-system-x86, a guest kernel
 * (linux-image-cloud-amd64) and busybox-static.
 * Run: node --import tsx --test test/microvm-driver.root.test.ts
 *
 * Everything lives in a temp dir and a network namespace (skiff-mtest-<rand>),
 * both removed at the end even on failure, with every VM of the run.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { driverContract } from '../src/drivers/driver-contract.ts';
import { MicrovmDriver } from '../src/drivers/microvm/index.ts';
import { busyboxWorkloads } from './support/busybox-workloads.ts';
import { writeBusyboxRootfs } from './support/images.ts';

const execFileP = promisify(execFile);
const RUN = randomBytes(4).toString('hex');
const NETNS = `skiff-mtest-${RUN}`;

let skip: string | false = process.getuid?.() !== 0 ? 'needs root' : false;
if (!skip) {
  const fp = await new MicrovmDriver({ runtimeDir: path.join(tmpdir(), `skiff-mtest-probe-${RUN}`) }).fingerprint();
  await fsp.rm(path.join(tmpdir(), `skiff-mtest-probe-${RUN}`), { recursive: true, force: true });
  if (!fp.available) skip = `microvm unavailable here: ${fp.reasons.join('; ')}`;
  else console.error(`# microvm platform: ${fp.platform} (${fp.attributes?.accelReason})`);
}

interface Host {
  tmp: string;
  runtimeDir: string;
  layer: string;
  newDriver(): MicrovmDriver;
  cleanup(): Promise<void>;
}

/** A runtime dir and a busybox layer; with `userns`, the layer stored shifted as the server stores it for userns-remap. */
async function makeHost(name: string, userns?: { hostId: number; size: number }): Promise<Host> {
  const tmp = await fsp.mkdtemp(path.join(tmpdir(), `skiff-mtest-${name}-`));
  const runtimeDir = path.join(tmp, 'runtime');
  const newDriver = () => new MicrovmDriver({ runtimeDir, userns });
  const cleanup = async () => {
    const d = newDriver();
    for (const id of await d.listContainers().catch(() => [])) await d.destroyContainer(id).catch((e) => console.error(e));
    for (const t of await d.listTasks().catch(() => [])) await d.destroyTask(t).catch((e) => console.error(e));
    await fsp.rm(tmp, { recursive: true, force: true });
  };
  try {
    await writeBusyboxRootfs(path.join(tmp, 'layer'));
    if (userns) await execFileP('chown', ['-R', '-h', `${userns.hostId}:${userns.hostId}`, path.join(tmp, 'layer')]);
  } catch (e) {
    await cleanup();
    throw e;
  }
  return { tmp, runtimeDir, layer: path.join(tmp, 'layer'), newDriver, cleanup };
}

/** Creates a one-container task of `cpuUnits`/`memoryMiB` running `script` (busybox sh) in `netns`, and starts it. */
async function runOne(d: MicrovmDriver, h: Host, task: string, res: { cpuUnits: number; memoryMiB: number }, script: string, netns: string): Promise<string> {
  await d.createTask(task, { ...res, pidsLimit: 64 });
  const id = `${task}-app`;
  await d.createContainer({
    id, taskId: task, containerName: 'app', layerDirs: [h.layer], args: ['sh', '-c', script],
    env: ['PATH=/bin'], cwd: '/', uid: 0, gid: 0, netnsPath: `/var/run/netns/${netns}`, hostname: 'app', taskLimits: res,
  });
  await d.startContainer(id);
  return id;
}

before(async () => {
  if (skip) return;
  await execFileP('ip', ['netns', 'add', NETNS]);
  await execFileP('ip', ['netns', 'exec', NETNS, 'ip', 'link', 'set', 'lo', 'up']);
});
after(async () => {
  await execFileP('ip', ['netns', 'del', NETNS]).catch(() => {});
});

// As the server runs it by default: userns-remap on, layers stored shifted; each container in a user namespace of the guest.
driverContract(
  'microvm',
  async () => {
    const h = await makeHost('contract', { hostId: 100000, size: 65536 });
    return {
      newDriver: h.newDriver,
      netnsPath: `/var/run/netns/${NETNS}`,
      layerDirs: [h.layer],
      ...busyboxWorkloads,
      cleanup: h.cleanup,
    };
  },
  { skip, idPrefix: `m${RUN}` },
);

describe('microvm: the task keeps its network namespace\'s address', { skip, concurrency: false }, () => {
  // A task namespace as Skiff's network makes one (eth0 = a veth with the task's
  // address, MAC and routes), its other end in an "outside" namespace of the test.
  const n = parseInt(RUN.slice(0, 2), 16);
  const TASK_NS = `skiff-mtest-net-${RUN}`;
  const OUT_NS = `skiff-mtest-out-${RUN}`;
  const gw = `198.18.${n}.1`;
  const addr = `198.18.${n}.2`;
  let h: Host;
  before(async () => {
    h = await makeHost('net');
    const sh = (cmd: string) => execFileP('sh', ['-c', cmd]);
    await sh(`ip netns add ${TASK_NS} && ip netns add ${OUT_NS}`);
    await sh(`ip -n ${OUT_NS} link add o${RUN} type veth peer name eth0 netns ${TASK_NS}`);
    await sh(`ip -n ${OUT_NS} addr add ${gw}/24 dev o${RUN} && ip -n ${OUT_NS} link set o${RUN} up && ip -n ${OUT_NS} link set lo up`);
    await sh(`ip -n ${TASK_NS} link set eth0 address 02:42:c6:12:${n.toString(16).padStart(2, '0')}:02 && ip -n ${TASK_NS} addr add ${addr}/24 dev eth0`);
    await sh(`ip -n ${TASK_NS} link set eth0 up && ip -n ${TASK_NS} link set lo up && ip -n ${TASK_NS} route add 169.254.170.2/32 via ${gw} dev eth0`);
  });
  after(async () => {
    await h?.cleanup();
    for (const ns of [TASK_NS, OUT_NS]) await execFileP('ip', ['netns', 'del', ns]).catch(() => {});
  });

  test('a server in the VM answers on the task\'s address; the guest has its MAC and routes', async () => {
    const d = h.newDriver();
    const task = `n${RUN}`;
    const id = await runOne(d, h, task, { cpuUnits: 256, memoryMiB: 128 }, 'mkdir -p /tmp/www && echo hello-from-the-vm > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www', TASK_NS);
    let body = '';
    for (let i = 0; i < 60 && !body.includes('hello-from-the-vm'); i++) {
      body = await execFileP('ip', ['netns', 'exec', OUT_NS, 'curl', '-s', '-m', '3', `http://${addr}:8080/`]).then((r) => r.stdout, () => '');
      if (!body) await new Promise((r) => setTimeout(r, 250));
    }
    assert.match(body, /hello-from-the-vm/);
    const probe = await d.exec(id, ['sh', '-c', 'ip -4 addr show dev eth0; ip link show dev eth0; ip route'], { timeoutMs: 20_000 });
    assert.equal(probe.exitCode, 0, probe.output);
    assert.match(probe.output, new RegExp(`inet ${addr.replace(/\./g, '\\.')}/24`));
    assert.match(probe.output, new RegExp(`02:42:c6:12:${n.toString(16).padStart(2, '0')}:02`));
    assert.match(probe.output, /169\.254\.170\.2 via 198\.18\.\d+\.1/);
    // Usage from the guest's cgroups (sampled every ~2 s), the writable layer from the host.
    let stats = await d.taskStats(task);
    for (let i = 0; i < 150 && !stats; i++) {
      await new Promise((r) => setTimeout(r, 200));
      stats = await d.taskStats(task);
    }
    assert.ok(stats, 'the guest reports usage');
    assert.equal(stats.memoryLimitBytes, 128 * 1024 * 1024);
    assert.ok(stats.memoryUsageBytes! > 0 && stats.cpuUsageUs > 0 && stats.pids! >= 1, JSON.stringify(stats));
    const cs = await d.containerStats(id);
    assert.equal(cs?.pid, (await d.inspect(id)).pid, 'the host pid is the VM (it lives in the task namespace)');
    assert.ok((await d.writableLayerUsage(id))!.bytes > 0, 'index.html is in the writable layer');
    await d.destroyContainer(id);
    await d.destroyTask(task);
    const tc = await execFileP('ip', ['netns', 'exec', TASK_NS, 'tc', 'qdisc', 'show', 'dev', 'eth0']);
    assert.doesNotMatch(tc.stdout, /ingress/, 'the redirect is gone with the task');
  });
});

describe('microvm: a kernel of its own', { skip, concurrency: false }, () => {
  let h: Host;
  before(async () => {
    h = await makeHost('kernel');
  });
  after(async () => {
    await h?.cleanup();
  });

  test('the task sees its own kernel, its vCPUs and its memory, not the host\'s', async () => {
    const d = h.newDriver();
    const task = `k${RUN}`;
    const id = await runOne(
      d, h, task, { cpuUnits: 2048, memoryMiB: 256 },
      'cat /proc/version; echo "release $(uname -r)"; echo "cpus $(nproc)"; grep MemTotal /proc/meminfo',
      NETNS,
    );
    assert.equal((await d.waitContainer(id)).exitCode, 0);
    const log = await fsp.readFile(d.logPath(id), 'utf8');
    const hostVersion = readFileSync('/proc/version', 'utf8').trim();
    const guestVersion = /stdout F (Linux version .*)$/m.exec(log)?.[1];
    assert.ok(guestVersion, log);
    assert.notEqual(guestVersion, hostVersion);
    const guestRelease = /stdout F release (\S+)$/m.exec(log)?.[1];
    assert.ok(guestRelease && guestRelease !== release(), `guest ${guestRelease} vs host ${release()}`);
    assert.match(log, /stdout F cpus 2$/m, 'ceil(2048/1024) vCPUs');
    const memKb = Number(/MemTotal:\s+(\d+) kB/.exec(log)?.[1]);
    assert.ok(memKb > 256 * 1024 && memKb < 1024 * 1024, `guest MemTotal ${memKb} kB: the task's 256 MiB plus the guest kernel's share, not the host's`);
    await d.destroyContainer(id);
    await d.destroyTask(task);
    assert.deepEqual(await d.listTasks(), []);
  });
});
