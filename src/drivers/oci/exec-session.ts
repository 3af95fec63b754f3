/**
 * Interactive exec sessions for the runc driver (`Driver.startExec`).
 *
 * The process joins the running container the way health checks do (see
 * RuncDriver.exec): `nsenter` into the init process's namespaces (user
 * namespace last, when the container has its own), root and working directory,
 * as the container's uid/gid with its environment, under no_new_privs. Before
 * that, the wrapper shell moves itself into every cgroup of the container (read
 * from /proc/<init>/cgroup), so the session counts against the task's limits
 * and shows the container's cgroup.
 *
 * With a terminal: the pseudo-terminal must come from the container's own devpts
 * instance, or `tty` inside says "not a tty". util-linux `script` allocates
 * it: it runs in a private mount namespace (`unshare -m`) whose /dev is a small
 * tmpfs where `pts` leads to the container's devpts and `ptmx` to its ptmx
 * (PRIVATE_DEV), so openpty() allocates a pty of the container's instance.
 * `script -e` passes the exit status through. Before joining, the shell under
 * `script` sets the initial window size (`stty`) and reports its tty path and
 * session id on fd 3; later resizes are `stty -F <that pty seen from the host>`,
 * which makes the kernel send SIGWINCH to the foreground process group.
 * (Why not node-pty: not installed, and a native module; why not the host's
 * devpts: the container cannot see it.)
 *
 * Without a terminal: plain pipes, stdout and stderr apart.
 *
 * The session's environment is the container's less the loader variables
 * (LD_PRELOAD, LD_LIBRARY_PATH, ...: see LOADER_VARS): the host programs above
 * run as root with it until nsenter has entered the container.
 *
 * Ending a session (process exit or `kill`) also ends everything it started:
 * every process in the container's cgroup whose session id is the session's
 * (the wrapper runs in a session of its own), then the wrapper's process group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { ExecSession, ExecSessionOptions } from '../driver.ts';
import type { CgroupLayout } from './cgroups.ts';

export interface ExecTarget {
  /** Host pid of the container's init process. */
  pid: number;
  /** The container's OCI bundle (config.json: env, cwd, user). */
  bundleDir: string;
  layout: CgroupLayout;
}

/** Single-quotes `s` for /bin/sh. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Paths of the `cgroup.procs` files of every cgroup a process is in (from /proc/<pid>/cgroup text). */
export function cgroupProcsFiles(procCgroup: string, layout: CgroupLayout): string[] {
  const out: string[] = [];
  for (const line of procCgroup.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, hid, controllers, cgPath] = m;
    const mount = hid === '0' && controllers === '' ? layout.unified : layout.v1.get(controllers.split(',')[0]);
    if (!mount || !cgPath.startsWith('/')) continue;
    out.push(path.join(mount, cgPath, 'cgroup.procs'));
  }
  return [...new Set(out)];
}

interface ProcessConfig {
  env: Record<string, string>;
  cwd: string;
  uid: number;
  gid: number;
}

async function readProcessConfig(bundleDir: string): Promise<ProcessConfig> {
  const config = JSON.parse(await fsp.readFile(path.join(bundleDir, 'config.json'), 'utf8')) as {
    process: { env?: string[]; cwd?: string; user?: { uid: number; gid: number } };
  };
  const env: Record<string, string> = {};
  for (const kv of config.process.env ?? []) {
    const eq = kv.indexOf('=');
    if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const u = config.process.user ?? { uid: 0, gid: 0 };
  return { env, cwd: config.process.cwd ?? '/', uid: u.uid, gid: u.gid };
}

/** The setpriv + nsenter command line that enters the container as its user. */
export function enterCommand(pid: number, cfg: { cwd: string; uid: number; gid: number }, ownUserns: boolean, args: string[]): string[] {
  return [
    '/usr/bin/setpriv', '--no-new-privs', '--',
    '/usr/bin/nsenter', '-t', String(pid), '-m', '-u', '-i', '-n', '-p', '-C', ...(ownUserns ? ['-U'] : []), '-r', '-W', cfg.cwd,
    '-S', String(cfg.uid), '-G', String(cfg.gid), '--', ...args,
  ];
}

/**
 * Shell run in the private mount namespace: a /dev of its own whose `pts` is the
 * container's devpts (a symlink through /proc/<pid>/root: the kernel refuses to
 * bind-mount another namespace's mount) and whose `ptmx` is that instance's, so
 * `script` allocates the pty there; then `script` runs "$2".
 */
const PRIVATE_DEV = [
  'mount -t tmpfs -o mode=755,size=64k skiff-exec /tmp',
  'touch /tmp/null',
  'mount --bind /dev/null /tmp/null',
  'ln -s "$1" /tmp/pts',
  'ln -s pts/ptmx /tmp/ptmx',
  'ln -s /proc/self/fd /tmp/fd',
  'mount --move /tmp /dev',
].join(' && ') + ' || exit 126; exec /usr/bin/script -q -e -c "$2" /dev/null';

/** Shell that writes its own pid to each cgroup.procs file named in "$@" up to `--`, then execs the rest. */
const JOIN_AND_EXEC = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 126; shift; done; shift; PATH="$SKIFF_EXEC_PATH"; unset SKIFF_EXEC_PATH; exec "$@"';

/**
 * Variables that make the dynamic loader or libc load code or data from a path
 * (glibc's list of variables it drops for setuid programs but TMPDIR, plus every LD_*).
 * The session passes through host programs running as root (sh, unshare,
 * script, setpriv, nsenter) before it enters the container, so a task
 * definition must not steer them: these never reach a session.
 */
const LOADER_VARS = new Set([
  'GCONV_PATH', 'GETCONF_DIR', 'GLIBC_TUNABLES', 'HOSTALIASES', 'LOCALDOMAIN', 'LOCPATH', 'MALLOC_TRACE', 'NIS_PATH',
  'NLSPATH', 'RESOLV_HOST_CONF', 'RES_OPTIONS', 'TZDIR',
]);
const HOST_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/** The container's environment less LOADER_VARS and every LD_*: safe for host programs running as root. */
export function withoutLoaderVars(containerEnv: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(containerEnv)) if (!k.startsWith('LD_') && !LOADER_VARS.has(k)) env[k] = v;
  return env;
}
const DEFAULT_CONTAINER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The environment the host side of a session runs with: the container's, less
 * LOADER_VARS, with the host's PATH; the container's PATH is put back (from
 * SKIFF_EXEC_PATH) right before setpriv, so nsenter finds the command in the container.
 */
export function sessionEnv(containerEnv: Record<string, string>): Record<string, string> {
  const env = withoutLoaderVars(containerEnv);
  env.SKIFF_EXEC_PATH = containerEnv.PATH ?? DEFAULT_CONTAINER_PATH;
  env.PATH = HOST_PATH;
  return env;
}

export async function startExecSession(target: ExecTarget, args: string[], opts: ExecSessionOptions): Promise<ExecSession> {
  if (args.length === 0) throw new Error('exec needs a command');
  const cfg = await readProcessConfig(target.bundleDir);
  const procs = cgroupProcsFiles(await fsp.readFile(`/proc/${target.pid}/cgroup`, 'utf8'), target.layout);
  const [own, theirs] = await Promise.all([fsp.readlink('/proc/self/ns/user'), fsp.readlink(`/proc/${target.pid}/ns/user`)]);
  const enter = enterCommand(target.pid, cfg, own !== theirs, args);
  // Where to look for what a session left behind: the container's pids cgroup (every process is in one), else any.
  const pidsMount = target.layout.v1.get('pids') ?? target.layout.unified;
  const scan = procs.find((p) => pidsMount && p.startsWith(pidsMount + '/')) ?? procs[0];
  const cgroupDir = scan ? path.dirname(scan) : undefined;
  if (!opts.tty) {
    const child = spawn('/bin/sh', ['-c', JOIN_AND_EXEC, 'sh', ...procs, '--', ...enter], { env: sessionEnv(cfg.env), stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    return session(child, child.stdout!, child.stderr!, cgroupDir, () => Promise.resolve(child.pid), () => {});
  }

  // The shell under `script`: window size, report (tty, session id) on fd 3, restore SHELL, join the cgroups, enter.
  const cols = clampSize(opts.cols, 80);
  const rows = clampSize(opts.rows, 24);
  const env = { ...sessionEnv(cfg.env), SHELL: '/bin/sh', SKIFF_EXEC_SHELL: cfg.env.SHELL ?? '', TERM: cfg.env.TERM ?? 'xterm' };
  const restoreShell = cfg.env.SHELL === undefined ? 'unset SHELL' : 'SHELL="$SKIFF_EXEC_SHELL"';
  const inner = [
    `/usr/bin/stty cols ${cols} rows ${rows}`,
    `echo "$(/usr/bin/tty) $$" >&3`,
    'exec 3>&-',
    restoreShell,
    'unset SKIFF_EXEC_SHELL',
    `exec /bin/sh -c ${shellQuote(JOIN_AND_EXEC)} sh ${[...procs, '--', ...enter].map(shellQuote).join(' ')}`,
  ].join('; ');
  const child = spawn('/usr/bin/unshare', ['-m', '--propagation', 'private', '--', '/bin/sh', '-c', PRIVATE_DEV, 'sh', `/proc/${target.pid}/root/dev/pts`, inner], {
    env,
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const stderr = new PassThrough();
  child.stderr!.on('data', (d: Buffer) => stderr.write(d)); // script's own complaints only: the terminal's output is on stdout
  child.stderr!.on('end', () => stderr.end());
  let report = '';
  const reported = new Promise<{ ttyPath: string; sid: number } | undefined>((resolve) => {
    const fd3 = child.stdio[3] as NodeJS.ReadableStream;
    // One line; `script` keeps its own copy of fd 3 open, so the line, not EOF, is the signal.
    fd3.on('data', (d: Buffer) => {
      report += d.toString();
      const m = /^(\/dev\/pts\/\d+) (\d+)\n/.exec(report);
      if (m) resolve({ ttyPath: m[1], sid: Number(m[2]) });
    });
    fd3.on('end', () => resolve(undefined));
    fd3.on('error', () => resolve(undefined));
  });
  const resize = (c: number, r: number) => {
    void reported.then((rep) => {
      if (!rep) return;
      const host = `/proc/${target.pid}/root${rep.ttyPath}`;
      const p = spawn('/usr/bin/stty', ['-F', host, 'cols', String(clampSize(c, 80)), 'rows', String(clampSize(r, 24))], { stdio: 'ignore' });
      p.on('error', () => {});
    });
  };
  return session(child, child.stdout!, stderr, cgroupDir, async () => (await reported)?.sid, resize);
}

function clampSize(n: number | undefined, dflt: number): number {
  return Number.isInteger(n) && n! > 0 && n! <= 10_000 ? n! : dflt;
}

function session(
  child: ChildProcess,
  stdout: NodeJS.ReadableStream,
  stderr: NodeJS.ReadableStream,
  cgroupDir: string | undefined,
  sessionId: () => Promise<number | undefined>,
  resize: (cols: number, rows: number) => void,
): ExecSession {
  child.stdin!.on('error', () => {}); // the process may exit before reading everything
  let ended = false;
  const endAll = async () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch { /* gone */ }
    const sids = new Set([child.pid!, ...[await sessionId()].filter((x): x is number => x !== undefined)]);
    if (cgroupDir) await killSessionsIn(cgroupDir, sids);
  };
  const exited = sessionExit(child, () => void endAll()); // what the session left behind (background jobs) ends with it
  return {
    stdin: child.stdin!,
    stdout,
    stderr,
    resize,
    kill() {
      if (ended) return;
      ended = true;
      void endAll();
    },
    exited,
  };
}

/** SIGKILLs every process in `cgroupDir` whose session id is in `sids`. */
async function killSessionsIn(cgroupDir: string, sids: Set<number>): Promise<void> {
  let pids: number[];
  try {
    pids = (await fsp.readFile(path.join(cgroupDir, 'cgroup.procs'), 'utf8')).split('\n').filter(Boolean).map(Number);
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8');
      // pid (comm) state ppid pgrp session ...: comm may hold spaces and parentheses, so split after the last ')'.
      const sid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
      if (sids.has(sid)) process.kill(pid, 'SIGKILL');
    } catch { /* exited meanwhile */ }
  }
}

/**
 * A session process's exit code once its streams closed: its own code, 128 +
 * the signal that ended it, or 127 when it could not run. `onExit` runs as soon
 * as it exits (before its streams close).
 */
export function sessionExit(child: ChildProcess, onExit: () => void): Promise<number> {
  return new Promise<number>((resolve) => {
    let code = 1;
    child.on('error', () => {
      code = 127;
    });
    child.on('exit', (c, signal) => {
      code = c ?? (signal ? 128 + (os.constants.signals[signal] ?? 9) : 1);
      onExit();
    });
    child.on('close', () => resolve(code));
  });
}
