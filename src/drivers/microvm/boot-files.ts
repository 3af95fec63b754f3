/**
 * What a microVM boots from, found on the host once: QEMU, virtiofsd, a guest
 * kernel with its virtio modules, a static busybox; the initramfs built from
 * them (guest-init.ts as /init); and whether KVM really works here, found by
 * booting it once (a /dev/kvm may exist and still refuse standard guests, as
 * PVM hosts do), else TCG.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp, readFileSync, readdirSync } from 'node:fs';
import { constants as fsc } from 'node:fs';
import path from 'node:path';
import { run } from '../../util/exec.ts';
import { GUEST_INIT } from './guest-init.ts';
import { writeAtomic } from './layout.ts';

export interface BootTools {
  qemu: string;
  virtiofsd: string;
  busybox: string;
  /** A kernel image path, or undefined to pick one under /boot. */
  kernel?: string;
}

export interface GuestKernel {
  vmlinuz: string;
  version: string;
  /** Module files (.ko, uncompressed as Debian 12 ships them) to load in the guest, in load order. */
  modules: string[];
}

/** Load order of the guest's modules (a module that is built in is simply absent). */
const MODULES = [
  'drivers/virtio/virtio_ring.ko',
  'drivers/virtio/virtio.ko',
  'drivers/virtio/virtio_mmio.ko',
  'net/core/failover.ko',
  'drivers/net/net_failover.ko',
  'drivers/net/virtio_net.ko',
  'fs/fuse/fuse.ko',
  'fs/fuse/virtiofs.ko',
];

/** The guest kernel: `explicit`, or the newest /boot/vmlinuz-* with virtio-fs (cloud kernels first). */
export function findGuestKernel(explicit?: string): GuestKernel | undefined {
  const candidates = explicit
    ? [explicit]
    : (existsSync('/boot') ? readdirSync('/boot') : [])
        .filter((f) => f.startsWith('vmlinuz-'))
        .sort((a, b) => Number(b.includes('cloud')) - Number(a.includes('cloud')) || b.localeCompare(a, undefined, { numeric: true }))
        .map((f) => path.join('/boot', f));
  for (const vmlinuz of candidates) {
    const version = path.basename(vmlinuz).replace(/^vmlinuz-/, '');
    const modDir = path.join('/lib/modules', version, 'kernel');
    const config = path.join('/boot', `config-${version}`);
    const builtIn = existsSync(config) ? readFileSync(config, 'utf8') : '';
    const modules = MODULES.map((m) => path.join(modDir, m)).filter((m) => existsSync(m));
    const hasFs = modules.some((m) => m.endsWith('virtiofs.ko')) || /^CONFIG_VIRTIO_FS=y$/m.test(builtIn);
    const hasMmio = modules.some((m) => m.endsWith('virtio_mmio.ko')) || /^CONFIG_VIRTIO_MMIO=y$/m.test(builtIn);
    if (existsSync(vmlinuz) && hasFs && hasMmio) return { vmlinuz, version, modules };
  }
  return undefined;
}

async function canRead(p: string): Promise<boolean> {
  return fsp.access(p, fsc.R_OK).then(() => true, () => false);
}

/** What is missing on this host, each with how to get it. */
export async function missingParts(tools: BootTools): Promise<string[]> {
  const reasons: string[] = [];
  if (!existsSync(tools.qemu)) reasons.push(`${tools.qemu} not found: install Debian's qemu-system-x86`);
  if (!existsSync(tools.virtiofsd)) reasons.push(`virtiofsd not found at ${tools.virtiofsd}: install Debian's qemu-system-common (QEMU 7.2 ships it)`);
  if (!existsSync(tools.busybox)) reasons.push(`${tools.busybox} not found: install Debian's busybox-static`);
  const k = findGuestKernel(tools.kernel);
  if (!k) reasons.push(`no guest kernel with virtio-mmio and virtio-fs ${tools.kernel ? `at ${tools.kernel}` : 'under /boot'}: install Debian's linux-image-cloud-amd64`);
  else if (!(await canRead(k.vmlinuz))) reasons.push(`cannot read the guest kernel ${k.vmlinuz}: run Skiff as root`);
  if (!existsSync('/dev/net/tun')) reasons.push('/dev/net/tun is missing: load the tun module (modprobe tun)');
  if (process.getuid?.() !== 0) reasons.push('the microvm driver needs root (overlay mounts, tap devices, network namespaces)');
  return reasons;
}

// ---------------------------------------------------------------- initramfs (cpio newc)

interface CpioEntry {
  name: string;
  mode: number;
  data?: Buffer;
  rdev?: [number, number];
}

function cpio(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  const push = (e: CpioEntry) => {
    const data = e.data ?? Buffer.alloc(0);
    const name = Buffer.from(`${e.name}\0`);
    const f = (n: number) => n.toString(16).padStart(8, '0');
    const header = Buffer.from(
      '070701' + [ino++, e.mode, 0, 0, 1, 0, data.length, 0, 0, e.rdev?.[0] ?? 0, e.rdev?.[1] ?? 0, name.length, 0].map(f).join(''),
    );
    parts.push(header, name, pad(header.length + name.length), data, pad(data.length));
  };
  for (const e of entries) push(e);
  push({ name: 'TRAILER!!!', mode: 0 });
  return Buffer.concat(parts);
}

/** The initramfs for `kernel` under `bootDir` (built once; its name carries a hash of what is in it). */
export async function ensureInitramfs(bootDir: string, kernel: GuestKernel, busybox: string): Promise<string> {
  const bb = await fsp.stat(busybox);
  const hash = createHash('sha256')
    .update(GUEST_INIT)
    .update(JSON.stringify([kernel.version, kernel.modules, bb.size, bb.mtimeMs]))
    .digest('hex')
    .slice(0, 16);
  const file = path.join(bootDir, `initramfs-${hash}.cpio`);
  if (existsSync(file)) return file;
  await fsp.mkdir(bootDir, { recursive: true, mode: 0o700 });
  const dir = (name: string): CpioEntry => ({ name, mode: 0o040755 });
  const entries: CpioEntry[] = [
    ...['bin', 'dev', 'proc', 'sys', 'run', 'task', 'lib', 'lib/modules', 'tmp'].map(dir),
    { name: 'dev/console', mode: 0o020600, rdev: [5, 1] },
    { name: 'dev/null', mode: 0o020666, rdev: [1, 3] },
    { name: 'init', mode: 0o100755, data: Buffer.from(GUEST_INIT) },
    { name: 'bin/busybox', mode: 0o100755, data: await fsp.readFile(busybox) },
    { name: 'bin/sh', mode: 0o120777, data: Buffer.from('busybox') },
  ];
  for (const m of kernel.modules) entries.push({ name: `lib/modules/${path.basename(m)}`, mode: 0o100644, data: await fsp.readFile(m) });
  const tmp = `${file}.tmp`;
  await fsp.writeFile(tmp, cpio(entries), { mode: 0o600 });
  await fsp.rename(tmp, file);
  return file;
}

// ---------------------------------------------------------------- accelerator

/** The host's TSC rate in kHz (TCG guests read the host's TSC; telling them skips a calibration that fails on a busy host). */
export function hostTscKhz(): number | undefined {
  try {
    const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? Math.round(Number(m[1]) * 1000) : undefined;
  } catch {
    return undefined;
  }
}

export type Accel = 'kvm' | 'tcg';

const probes = new Map<string, Promise<{ accel: Accel; why: string }>>();

/**
 * 'kvm' when a guest really boots under KVM here (a tiny boot of the real kernel
 * and initramfs, which powers off at once), else 'tcg' with the reason. Once per
 * process and tool set; also written to `<bootDir>/accel.json` for diagnostics.
 */
export function probeAccel(bootDir: string, kernel: GuestKernel, initramfs: string, qemu: string): Promise<{ accel: Accel; why: string }> {
  const key = `${qemu}\0${kernel.vmlinuz}\0${initramfs}`;
  let p = probes.get(key);
  if (!p) {
    p = (async () => {
      const result = await tryKvm(kernel, initramfs, qemu);
      await writeAtomic(path.join(bootDir, 'accel.json'), JSON.stringify({ ...result, at: new Date().toISOString() })).catch(() => {});
      return result;
    })();
    probes.set(key, p);
  }
  return p;
}

async function tryKvm(kernel: GuestKernel, initramfs: string, qemu: string): Promise<{ accel: Accel; why: string }> {
  try {
    await fsp.access('/dev/kvm', fsc.R_OK | fsc.W_OK);
  } catch {
    return { accel: 'tcg', why: '/dev/kvm is not usable' };
  }
  const args = [
    ...['-M', 'microvm,x-option-roms=off,isa-serial=on,rtc=on', '-accel', 'kvm', '-cpu', 'host', '-m', '128', '-smp', '1'],
    ...['-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot', '-serial', 'stdio'],
    ...['-kernel', kernel.vmlinuz, '-initrd', initramfs, '-append', 'console=ttyS0 quiet panic=-1 reboot=t skiff.probe=1'],
  ];
  const r = await run('timeout', ['-s', 'KILL', '10', qemu, ...args]).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
  if (r.stdout.includes('SKIFF-PROBE-OK')) return { accel: 'kvm', why: 'a guest booted under KVM' };
  const detail = (r.stderr || r.stdout).trim().split('\n').slice(-2).join(' ').slice(0, 300);
  return { accel: 'tcg', why: `a test guest did not boot under KVM (${r.code === 137 ? 'timed out' : `exit ${r.code}`}: ${detail})` };
}
