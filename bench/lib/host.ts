/** What the benchmark reads about the host: the machine, and resident memory of processes. */
import { readFileSync, readdirSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryMiB: number;
  kernel: string;
  os: string;
  node: string;
  runc: string;
}

export function machineInfo(runcVersion: string): MachineInfo {
  let os = 'unknown';
  try {
    os = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os;
  } catch {
    /* keep unknown */
  }
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryMiB: Math.round(totalmem() / 1024 / 1024),
    kernel: release(),
    os,
    node: process.version,
    runc: runcVersion,
  };
}

/** VmRSS and Pss of a process in KiB (0 when it is gone). */
export function memoryOf(pid: number): { rssKiB: number; pssKiB: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKiB = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    let pssKiB = 0;
    try {
      pssKiB = Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
    } catch {
      /* no smaps_rollup */
    }
    return { rssKiB, pssKiB };
  } catch {
    return { rssKiB: 0, pssKiB: 0 };
  }
}

/** Pids of conmon processes supervising containers whose bundles live under `bundlesDir`. */
export function conmonPids(bundlesDir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (!argv[0]?.endsWith('conmon')) continue;
      const b = argv.indexOf('-b');
      if (b >= 0 && argv[b + 1]?.startsWith(bundlesDir + '/')) pids.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** Pids of the direct children of `pid` (the server's spawn helper, tools it runs at that moment). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** The platform's memory: the server process, its helper process(es) and every conmon of its tasks. */
export function platformMemory(serverPid: number, bundlesDir: string): { rssKiB: number; pssKiB: number; conmons: number; serverRssKiB: number; helperRssKiB: number } {
  const server = memoryOf(serverPid);
  const conmons = conmonPids(bundlesDir);
  let rssKiB = server.rssKiB;
  let pssKiB = server.pssKiB;
  let helperRssKiB = 0;
  for (const pid of childPids(serverPid)) {
    const m = memoryOf(pid);
    helperRssKiB += m.rssKiB;
    rssKiB += m.rssKiB;
    pssKiB += m.pssKiB;
  }
  for (const pid of conmons) {
    const m = memoryOf(pid);
    rssKiB += m.rssKiB;
    pssKiB += m.pssKiB;
  }
  return { rssKiB, pssKiB, conmons: conmons.length, serverRssKiB: server.rssKiB, helperRssKiB };
}
