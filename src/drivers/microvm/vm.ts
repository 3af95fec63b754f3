/**
 * One task's microVM: virtiofsd serving the task's share, QEMU `-M microvm`
 * daemonized inside the task's network namespace (so its tap device lives
 * there), and the tap joined to the namespace's eth0 by two tc mirred
 * redirects (Kata Containers' "tcfilter" model): the guest takes eth0's MAC,
 * address and routes, so the host side — veth, bridge, security groups,
 * metadata endpoint — sees the same task as with runc.
 *
 * QEMU and virtiofsd are started detached (their own session, parent init):
 * they outlive the Skiff server, and a new driver finds them by the pid files
 * in `vm/`, checked against /proc/<pid>/cmdline so a recycled pid is never taken
 * for them.
 */
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { run } from '../../util/exec.ts';
import type { Accel, GuestKernel } from './boot-files.ts';
import { pollFor, sleep, type TaskRecord } from './layout.ts';

export interface VmSettings {
  qemu: string;
  virtiofsd: string;
  kernel: GuestKernel;
  /** What QEMU boots: the kernel's uncompressed ELF where it could be made (vmlinux.ts), else its bzImage. */
  kernelImage: string;
  initramfs: string;
  accel: Accel;
  tscKhz?: number;
  /** Guest memory beyond the task's, MiB: the guest kernel, init and page tables. */
  overheadMiB: number;
  bootTimeoutMs: number;
}

interface TaskNet {
  ip: string;
  prefix: number;
  mac: string;
  mtu: number;
  routes: { dst: string; gateway: string }[];
}

/** eth0 of the namespace at `netnsPath` and its routes via a gateway; undefined when it has no eth0. */
async function readTaskNet(netnsPath: string): Promise<TaskNet | undefined> {
  const a = await run('nsenter', [`--net=${netnsPath}`, 'ip', '-j', 'addr', 'show', 'dev', 'eth0']);
  if (a.code !== 0) return undefined;
  type Link = { address?: string; mtu?: number; addr_info?: { family: string; local: string; prefixlen: number }[] };
  const link = (JSON.parse(a.stdout || '[]') as Link[])[0];
  const inet = link?.addr_info?.find((i) => i.family === 'inet');
  if (!link?.address || !inet) return undefined;
  const r = await run('nsenter', [`--net=${netnsPath}`, 'ip', '-j', '-4', 'route', 'show']);
  const routes = (JSON.parse(r.stdout || '[]') as { dst: string; gateway?: string; dev?: string }[])
    .filter((x) => x.gateway && (x.dev ?? 'eth0') === 'eth0')
    .map((x) => ({ dst: x.dst, gateway: x.gateway! }));
  return { ip: inet.local, prefix: inet.prefixlen, mac: link.address, mtu: link.mtu ?? 1500, routes };
}

/** Whether `pid` is alive and its command line contains `marker` (so a recycled pid does not count). */
export async function processAlive(pid: number | undefined, marker: string): Promise<boolean> {
  if (!pid) return false;
  const cmd = await fsp.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmd.includes(marker)) return false;
  const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return !/^\d+ \(.*\) Z/.test(stat);
}

export async function readPid(file: string): Promise<number | undefined> {
  const n = Number((await fsp.readFile(file, 'utf8').catch(() => '')).trim());
  return Number.isInteger(n) && n > 1 ? n : undefined;
}

export class Vm {
  constructor(
    readonly taskId: string,
    readonly vmDir: string,
    readonly shareDir: string,
  ) {}

  get qemuPidFile(): string {
    return path.join(this.vmDir, 'qemu.pid');
  }
  get marker(): string {
    return this.vmDir;
  }

  async qemuPid(): Promise<number | undefined> {
    const pid = await readPid(this.qemuPidFile);
    return (await processAlive(pid, this.marker)) ? pid : undefined;
  }

  /** Boots the VM; resolves once the guest init has said it is ready. */
  async boot(s: VmSettings, res: TaskRecord, netnsPath: string): Promise<number> {
    await fsp.mkdir(this.vmDir, { recursive: true, mode: 0o700 });
    for (const d of ['ctl', 'st', 'c', 'x']) await fsp.mkdir(path.join(this.shareDir, d), { recursive: true, mode: 0o700 });
    await fsp.rm(path.join(this.shareDir, 'st', 'ready'), { force: true });
    await fsp.writeFile(path.join(this.vmDir, 'netns'), netnsPath);
    const net = await readTaskNet(netnsPath);

    // virtiofsd: chroot sandbox, so it sees mounts made under the share later (each container's overlay).
    const sock = path.join(this.vmDir, 'fs.sock');
    await fsp.rm(sock, { force: true });
    const log = openSync(path.join(this.vmDir, 'virtiofsd.log'), 'a');
    const fsd = spawn(s.virtiofsd, [`--socket-path=${sock}`, '-o', `source=${this.shareDir}`, '-o', 'sandbox=chroot', '-o', 'cache=auto', '-o', 'no_posix_lock'], {
      detached: true,
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    fsd.unref();
    await fsp.writeFile(path.join(this.vmDir, 'virtiofsd.pid'), `${fsd.pid}\n`);
    if (!(await pollFor(async () => (existsSync(sock) ? true : undefined), 10_000, 10))) throw new Error(`virtiofsd did not start: ${await this.tail('virtiofsd.log')}`);

    const vcpus = Math.max(1, Math.ceil(res.cpuUnits / 1024));
    const memMiB = res.memoryMiB + s.overheadMiB;
    const cmdline = [
      'console=ttyS0', 'quiet', 'panic=-1', 'reboot=t', 'nomodeset', 'mitigations=off', 'init_on_alloc=0', 'audit=0', 'nowatchdog',
      ...(s.accel === 'tcg' && s.tscKhz ? [`tsc_early_khz=${s.tscKhz}`, 'tsc=reliable', 'no_timer_check'] : []),
      `skiff.mem=${res.memoryMiB}`, `skiff.pids=${res.pidsLimit}`, `skiff.cpu=${res.cpuUnits}`, `skiff.vcpus=${vcpus}`,
      ...(net ? [`skiff.ip=${net.ip}/${net.prefix}`, `skiff.mac=${net.mac}`, ...net.routes.map((r) => `skiff.route=${r.dst},${r.gateway}`)] : []),
    ].join(' ');
    const args = [
      '-name', `skiff-${this.taskId}`,
      '-M', 'microvm,x-option-roms=off,isa-serial=on,rtc=on',
      '-global', 'virtio-mmio.force-legacy=false',
      '-accel', s.accel,
      '-cpu', s.accel === 'kvm' ? 'host' : 'max',
      '-m', `${memMiB}`, '-smp', `${vcpus}`,
      '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
      '-kernel', s.kernelImage, '-initrd', s.initramfs, '-append', cmdline,
      '-serial', `file:${path.join(this.vmDir, 'console.log')}`,
      '-object', `memory-backend-memfd,id=mem,size=${memMiB}M,share=on`, '-machine', 'memory-backend=mem',
      '-chardev', `socket,id=fs,path=${sock}`, '-device', 'vhost-user-fs-device,chardev=fs,tag=task',
      ...(net ? ['-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no', '-device', `virtio-net-device,netdev=n0,mac=${net.mac}`] : []),
      '-pidfile', this.qemuPidFile, '-daemonize',
    ];
    const q = await run('nsenter', [`--net=${netnsPath}`, s.qemu, ...args]);
    if (q.code !== 0) {
      await this.kill();
      throw new Error(`qemu did not start: ${(q.stderr || q.stdout).trim().slice(0, 500)}`);
    }
    if (net) await this.joinTap(netnsPath, net);
    const ready = await pollFor(async () => (existsSync(path.join(this.shareDir, 'st', 'ready')) ? true : (await this.qemuPid()) ? undefined : false), s.bootTimeoutMs, 20);
    if (!ready) {
      const console = await this.tail('console.log');
      await this.kill();
      throw new Error(`the microVM did not come up (${ready === false ? 'qemu exited' : `not ready after ${s.bootTimeoutMs} ms`}): ${console}`);
    }
    return (await this.qemuPid()) ?? 0;
  }

  /** tap0 ⇄ eth0: every frame arriving on one leaves by the other (tc ingress + mirred). */
  private async joinTap(netnsPath: string, net: TaskNet): Promise<void> {
    const script = [
      'link set tap0 up',
      `link set tap0 mtu ${net.mtu}`,
    ].join('\n');
    const ip = await run('nsenter', [`--net=${netnsPath}`, 'ip', '-batch', '-'], { input: script + '\n' });
    const tc = [
      'qdisc replace dev eth0 ingress',
      'filter add dev eth0 parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev tap0',
      'qdisc replace dev tap0 ingress',
      'filter add dev tap0 parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev eth0',
    ].join('\n');
    const t = ip.code === 0 ? await run('nsenter', [`--net=${netnsPath}`, 'tc', '-batch', '-'], { input: tc + '\n' }) : ip;
    if (t.code !== 0) {
      await this.kill();
      throw new Error(`cannot join the microVM's tap to the task's eth0: ${(t.stderr || t.stdout).trim()}`);
    }
  }

  /** Ends QEMU and virtiofsd (SIGKILL: the guest's state is the task's, and the task is over). Idempotent. */
  async kill(): Promise<void> {
    const qpid = await readPid(this.qemuPidFile);
    if (await processAlive(qpid, this.marker)) process.kill(qpid!, 'SIGKILL');
    const fpid = await readPid(path.join(this.vmDir, 'virtiofsd.pid'));
    if (await processAlive(fpid, this.shareDir)) process.kill(fpid!, 'SIGKILL');
    for (let i = 0; i < 100 && ((await processAlive(qpid, this.marker)) || (await processAlive(fpid, this.shareDir))); i++) await sleep(20);
  }

  /** Removes the tc redirect from the namespace's eth0 (the tap went with QEMU), if the namespace is still there. */
  async unjoin(): Promise<void> {
    const netnsPath = await fsp.readFile(path.join(this.vmDir, 'netns'), 'utf8').catch(() => '');
    if (netnsPath && existsSync(netnsPath)) await run('nsenter', [`--net=${netnsPath}`, 'tc', 'qdisc', 'del', 'dev', 'eth0', 'ingress']);
  }

  private async tail(file: string): Promise<string> {
    const text = await fsp.readFile(path.join(this.vmDir, file), 'utf8').catch(() => '');
    return text.trim().split('\n').slice(-8).join(' | ').slice(-1500);
  }
}
