/**
 * `skiff host reset`: removes everything a stopped Skiff server made on this
 * host, by its data dir and resource prefix P (SKIFF_RESOURCE_PREFIX), the way
 * an operator who means to go wants it. Tasks outlive a stopped server by
 * design; this is the one operation that ends them.
 *
 * What goes, in this order (each step idempotent, a second run finds nothing):
 * 1. containers: every container the runc driver lists (through the Driver
 *    contract, so the driver's own paths — runc root, bundles, pid files — are
 *    used, wherever they live): `runc delete --force` (kills running tasks),
 *    conmon waited for, overlay/sysfs mounts, bundle and supervisor cgroup;
 *    then every task cgroup the driver lists;
 * 2. cgroups: any process still in a cgroup under `/<P>` of any hierarchy is
 *    killed, then every directory under `/<P>` (tasks, `.conmon/<id>`) and
 *    `/<P>` itself are removed;
 * 3. mounts left under the data dir (deepest first);
 * 4. network: namespaces `<P>-*` (tasks and warm pool), host veths and ifbs, subnet
 *    bridges (their routes go with them), nft tables `inet P`, `ip P_md`
 *    (metadata NAT) and `inet|bridge P_sg` (security groups);
 * 5. with `purgeData`, the data dir itself (the store, logs, keys).
 * Host-wide tuning the server raised (kernel keys quota, br_netfilter and
 * bridge-nf-call sysctls) is left alone: other software may rely on it.
 *
 * Refuses while the server of that data dir runs (server-lock.ts).
 */
import { existsSync, promises as fsp, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerConfig } from '../config/server-config.ts';
import { runtimeSet } from './host.ts';
import { LinuxNetwork } from '../network/linux-network.ts';
import { taskLinkNames } from '../network/links.ts';
import { HostFirewall, securityGroupTable } from '../network/security-group-firewall.ts';
import { TaskIdentityService } from '../metadata/index.ts';
import { run } from '../util/exec.ts';
import { LOCK_FILE, lockHolder } from './server-lock.ts';

export type ResetConfig = Pick<ServerConfig, 'dataDir' | 'cgroupRoot' | 'netnsPrefix' | 'vethPrefix' | 'bridgePrefix' | 'nftTable' | 'runcPath' | 'conmonPath'>;

/** What a reset removed (or, dry, would remove). */
export interface ResetReport {
  dryRun: boolean;
  dataDir: string;
  prefix: string;
  /** Containers (runtime ids); `running` those that were running (killed). */
  containers: string[];
  running: string[];
  /** Task cgroups the driver listed. */
  tasks: string[];
  /** Stray processes killed in the prefix's cgroups (pids). */
  killedPids: number[];
  /** `/sys/fs/cgroup/<hierarchy>/<P>` roots removed. */
  cgroups: string[];
  mounts: string[];
  /** Driver state outside the data dir (e.g. the memory dir holding runtime specs). */
  driverState: string[];
  namespaces: string[];
  veths: string[];
  bridges: string[];
  nftTables: string[];
  dataRemoved: boolean;
}

export class HostResetRefused extends Error {}

/** Every name that is this prefix's, from what the host lists (pure: the tests feed it). */
export function ownedNames(
  c: Pick<ResetConfig, 'netnsPrefix' | 'vethPrefix' | 'bridgePrefix' | 'nftTable'>,
  host: { namespaces: string[]; veths: string[]; bridges: string[]; nftTables: string[] },
): { namespaces: string[]; veths: string[]; bridges: string[]; nftTables: string[] } {
  const names = taskLinkNames(c.vethPrefix);
  const bridgeRe = new RegExp(`^${c.bridgePrefix}[0-9a-f]{8}$`);
  const tables = new Set([`inet ${c.nftTable}`, `ip ${TaskIdentityService.natTable(c.nftTable)}`, `inet ${securityGroupTable(c.nftTable)}`, `bridge ${securityGroupTable(c.nftTable)}`]);
  return {
    namespaces: host.namespaces.filter((n) => n.startsWith(c.netnsPrefix)).sort(),
    veths: host.veths.filter((v) => names.veth.test(v) || names.ifb.test(v)).sort(),
    bridges: host.bridges.filter((b) => bridgeRe.test(b)).sort(),
    nftTables: host.nftTables.filter((t) => tables.has(t)).sort(),
  };
}

/** Mount points strictly under `dir` in a mountinfo text, deepest first. */
export function mountsUnder(mountinfo: string, dir: string): string[] {
  const base = dir.replace(/\/+$/, '') + '/';
  return [...new Set(mountinfo.split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(base)))].sort((a, b) => b.length - a.length || a.localeCompare(b));
}

async function links(type: string): Promise<string[]> {
  const r = await run('ip', ['-j', 'link', 'show', 'type', type]);
  return r.code === 0 ? (JSON.parse(r.stdout || '[]') as { ifname: string }[]).map((l) => l.ifname) : [];
}

async function nftTables(): Promise<string[]> {
  const r = await run('nft', ['list', 'tables']);
  return r.code === 0 ? r.stdout.split('\n').map((l) => l.trim().replace(/^table /, '')).filter(Boolean) : [];
}

function cgroupRoots(prefix: string): string[] {
  let ctrls: string[] = [];
  try {
    ctrls = readdirSync('/sys/fs/cgroup');
  } catch {
    return [];
  }
  return ctrls.map((c) => join('/sys/fs/cgroup', c, prefix)).filter((d) => existsSync(d));
}

/** Every directory under `dir` (itself included), deepest first. */
async function dirsDepthFirst(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    let entries;
    try {
      entries = await fsp.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) await walk(join(d, e.name));
    out.push(d);
  };
  await walk(dir);
  return out;
}

async function pidsIn(dirs: string[]): Promise<number[]> {
  const pids = new Set<number>();
  for (const d of dirs) {
    try {
      for (const p of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (/^\d+$/.test(p)) pids.add(Number(p));
    } catch {
      /* gone */
    }
  }
  pids.delete(process.pid);
  return [...pids].sort((a, b) => a - b);
}

/**
 * Resets the host for the server of `c` (its data dir and prefix). Throws
 * HostResetRefused while that server runs. With `dryRun`, only lists.
 */
export async function resetHost(c: Readonly<ResetConfig>, opts: { dryRun?: boolean; purgeData?: boolean; log?: (msg: string) => void } = {}): Promise<ResetReport> {
  const dry = opts.dryRun ?? false;
  const log = opts.log ?? (() => {});
  const holder = lockHolder(c.dataDir);
  if (holder) throw new HostResetRefused(`the Skiff server with data dir ${c.dataDir} is running (pid ${holder.pid}): stop it first (host reset removes what a stopped server left)`);
  const report: ResetReport = { dryRun: dry, dataDir: c.dataDir, prefix: c.cgroupRoot, containers: [], running: [], tasks: [], killedPids: [], cgroups: [], mounts: [], namespaces: [], veths: [], bridges: [], nftTables: [], driverState: [], dataRemoved: false };

  // 1. containers and task cgroups, through the driver (made as prepareHost in host.ts makes it: keep the two in step).
  const driver = await runtimeSet({ isolation: 'runc' }, { runtimeDir: join(c.dataDir, 'runtime'), tools: { runc: c.runcPath, conmon: c.conmonPath }, cgroupRoot: c.cgroupRoot });
  report.containers = await driver.listContainers();
  for (const id of report.containers) {
    const st = await driver.inspect(id).catch(() => undefined);
    if (st?.status === 'running' || st?.status === 'created') report.running.push(id);
    if (!dry) {
      log(`removing container ${id}${st?.status === 'running' ? ' (running: killed)' : ''}`);
      await driver.destroyContainer(id);
    }
  }
  report.tasks = await driver.listTasks();
  if (!dry) for (const t of report.tasks) await driver.destroyTask(t).catch((e) => log(`task cgroup ${t}: ${e instanceof Error ? e.message : e}`));
  // What the driver keeps outside the data dir (runc: the memory dir of runtime specs and runc state).
  report.driverState = await driver.purgeHostState({ dryRun: dry });

  // 2. whatever is left in the prefix's cgroups.
  const roots = cgroupRoots(c.cgroupRoot);
  const dirs = (await Promise.all(roots.map(dirsDepthFirst))).flat();
  report.killedPids = await pidsIn(dirs);
  report.cgroups = roots;
  if (!dry) {
    for (const pid of report.killedPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    for (const d of dirs) {
      for (let i = 0; i < 20; i++) {
        try {
          await fsp.rmdir(d);
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') break;
          await new Promise((r) => setTimeout(r, 50)); // killed processes leave the cgroup shortly
        }
      }
    }
    const left = roots.filter((d) => existsSync(d));
    if (left.length) throw new Error(`could not remove cgroup ${left.join(', ')}: processes still in it`);
  }

  // 3. mounts under the data dir.
  report.mounts = mountsUnder(readFileSync('/proc/self/mountinfo', 'utf8'), c.dataDir);
  if (!dry) for (const m of report.mounts) await run('umount', ['-l', m]);

  // 4. network.
  Object.assign(report, ownedNames(c, { namespaces: safeReaddir('/run/netns'), veths: [...(await links('veth')), ...(await links('ifb'))], bridges: await links('bridge'), nftTables: await nftTables() }));
  if (!dry) {
    const net = new LinuxNetwork({ netnsPrefix: c.netnsPrefix, vethPrefix: c.vethPrefix, nftTable: c.nftTable });
    await net.destroyAll(); // namespaces, veths, the bridges in its nft set, `inet P`
    for (const b of report.bridges) await run('ip', ['link', 'del', b]); // bridges the set no longer named
    await run('nft', ['delete', 'table', 'ip', TaskIdentityService.natTable(c.nftTable)]);
    await new HostFirewall().remove(securityGroupTable(c.nftTable));
    const left = ownedNames(c, { namespaces: safeReaddir('/run/netns'), veths: [...(await links('veth')), ...(await links('ifb'))], bridges: await links('bridge'), nftTables: await nftTables() });
    const names = [...left.namespaces, ...left.veths, ...left.bridges, ...left.nftTables];
    if (names.length) throw new Error(`host reset left ${names.join(', ')}`);
  }

  // 5. the data dir, on request; otherwise only the stale lock file.
  if (opts.purgeData && existsSync(c.dataDir)) {
    report.dataRemoved = true;
    if (!dry) await fsp.rm(c.dataDir, { recursive: true, force: true });
  } else if (!dry) await fsp.rm(join(c.dataDir, LOCK_FILE), { force: true });
  return report;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** How many things the report names (0: the host was already clean). */
export function resetCount(r: ResetReport): number {
  return r.containers.length + r.tasks.length + r.killedPids.length + r.cgroups.length + r.mounts.length + r.namespaces.length + r.veths.length + r.bridges.length + r.nftTables.length + r.driverState.length + (r.dataRemoved ? 1 : 0);
}
