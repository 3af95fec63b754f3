/**
 * The baseline: `podman run` of the same image on the same machine, with and
 * without a network. `installPodman` installs Debian's podman through apt and
 * configures /etc/containers/containers.conf (runc as the runtime, no default
 * ulimits; cgroupfs and a file event logger when systemd is not running).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { run } from '../../src/util/exec.ts';
import { summarize, type Summary } from './stats.ts';

export async function podmanVersion(): Promise<string | undefined> {
  try {
    const r = await run('podman', ['--version']);
    return r.code === 0 ? r.stdout.trim() : undefined;
  } catch {
    return undefined;
  }
}

/** The containers.conf the baseline runs with (`systemd`: whether systemd is PID 1). */
export function containersConf(systemd: boolean): string {
  return [
    '# Written by Skiff\'s benchmark (npm run bench -- --install-podman).',
    '[containers]',
    'default_ulimits = []',
    '',
    '[engine]',
    'runtime = "runc"',
    ...(systemd ? [] : ['cgroup_manager = "cgroupfs"', 'events_logger = "file"']),
    '',
  ].join('\n');
}

export async function installPodman(log: (m: string) => void): Promise<void> {
  if (!(await podmanVersion())) {
    log('installing podman with apt-get ...');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const u = await run('apt-get', ['update'], { env });
    if (u.code !== 0) throw new Error(`apt-get update failed: ${u.stderr.trim()}`);
    const i = await run('apt-get', ['install', '-y', '--no-install-recommends', 'podman', 'netavark', 'aardvark-dns', 'iptables', 'uidmap', 'fuse-overlayfs'], { env });
    if (i.code !== 0) throw new Error(`apt-get install podman failed: ${i.stderr.trim()}`);
  }
  const file = '/etc/containers/containers.conf';
  const systemd = existsSync('/run/systemd/system');
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '';
  if (!/^\s*runtime\s*=\s*"runc"/m.test(existing) || !/^\s*default_ulimits\s*=\s*\[\s*\]/m.test(existing)) {
    if (existing && !existing.startsWith("# Written by Skiff's benchmark")) writeFileSync(`${file}.before-skiff-bench`, existing);
    mkdirSync('/etc/containers', { recursive: true });
    writeFileSync(file, containersConf(systemd));
    log(`configured ${file}`);
  }
}

export interface PodmanResult {
  version: string;
  image: string;
  /** `podman run -d` (returns once the container runs), ms. */
  runNoNetwork: Summary;
  runWithNetwork: Summary;
  network: string;
}

async function podman(args: string[]): Promise<string> {
  const r = await run('podman', args);
  if (r.code !== 0) throw new Error(`podman ${args.join(' ')}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout.trim();
}

/**
 * Pulls `image` from the loopback registry, then times `podman run -d IMAGE sleep`
 * (`runs` times each, after one untimed warm-up) with `--network none` and with the
 * default network. Every container it made is removed, and the image too; the
 * nftables tables podman's network stack (netavark, through iptables-nft) created
 * are deleted, net.ipv4.ip_forward (which netavark turns on) is put back, and
 * podman's cgroup parent (cgroupfs manager) is removed if this run made it.
 */
export async function measurePodman(image: string, runs: number, log: (m: string) => void): Promise<PodmanResult> {
  const version = (await podmanVersion()) ?? 'unknown';
  const tablesBefore = new Set(await nftTables());
  const forwardBefore = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  const cgroupParentBefore = existsSync('/sys/fs/cgroup/memory/libpod_parent');
  await podman(['pull', '--tls-verify=false', '-q', image]);
  const names: string[] = [];
  const once = async (network: string[], name: string): Promise<number> => {
    names.push(name);
    const t0 = performance.now();
    await podman(['run', '-d', '--name', name, ...network, image, 'sleep', '3600']);
    const ms = performance.now() - t0;
    await podman(['rm', '-f', '-t', '0', name]);
    names.splice(names.indexOf(name), 1);
    return ms;
  };
  try {
    const result: Record<string, number[]> = { none: [], default: [] };
    for (const [mode, args] of [['none', ['--network', 'none']], ['default', []]] as const) {
      await once([...args], `skiff-bench-warm-${mode}`);
      for (let i = 0; i < runs; i++) result[mode]!.push(await once([...args], `skiff-bench-${mode}-${i}`));
      log(`podman ${mode === 'none' ? '--network none' : 'default network'}: p50 ${summarize(result[mode]!).p50} ms`);
    }
    const info = await podman(['info', '--format', '{{.Host.NetworkBackend}}']).catch(() => 'unknown');
    return { version, image, runNoNetwork: summarize(result.none!), runWithNetwork: summarize(result.default!), network: `default (${info} bridge)` };
  } finally {
    for (const n of names) await run('podman', ['rm', '-f', '-t', '0', n]);
    await run('podman', ['rmi', '-f', image]);
    for (const t of await nftTables()) {
      if (!tablesBefore.has(t)) await run('nft', ['delete', 'table', ...t.split(' ')]);
    }
    writeFileSync('/proc/sys/net/ipv4/ip_forward', forwardBefore);
    if (existsSync('/sys/class/net/podman0')) await run('ip', ['link', 'del', 'podman0']);
    // podman's cgroupfs parent (libpod_parent), when this run made it: only empty directories go.
    if (!cgroupParentBefore) {
      await run('sh', ['-c', 'for d in /sys/fs/cgroup/*/libpod_parent; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + ; done; true']);
    }
  }
}

/** `family name` of every nftables table. */
async function nftTables(): Promise<string[]> {
  const r = await run('nft', ['list', 'tables']);
  return r.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('table ')).map((l) => l.slice(6));
}
