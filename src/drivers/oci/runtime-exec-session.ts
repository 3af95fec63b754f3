/**
 * Commands inside a container through the runtime's own `exec` (health checks,
 * `skiff exec`), for runtimes whose containers are not host processes (gVisor:
 * the process lives in the sandbox's own kernel, so entering the sandbox
 * process's host namespaces would run the command on the host kernel, outside
 * the sandbox).
 *
 * The process is the container's own process spec (env, cwd, user,
 * capabilities, rlimits, no_new_privileges) with the command's args, written
 * as a `--process` file in the memory dir (it holds the env, secrets included)
 * and removed once the runtime has read it. The runtime writes the process's pid
 * inside the sandbox (`--internal-pid-file`), so ending a session or a timed-out
 * check kills the process inside (`kill --pid`), not just the runtime's client.
 *
 * With a terminal: util-linux `script` gives the runtime's client a host
 * pseudo-terminal as its stdio, which the runtime hands to the process as its
 * controlling terminal (`process.terminal`); window size changes are
 * `stty -F <that pty>` from the host.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { ExecResult, ExecSession, ExecSessionOptions } from '../driver.ts';
import type { RuncCli } from './runc-cli.ts';
import { sessionExit, shellQuote, withoutLoaderVars } from './exec-session.ts';
import { spawnExec } from './exec.ts';

export interface RuntimeExecTarget {
  cli: RuncCli;
  id: string;
  /** The container's OCI bundle (config.json: its process spec). */
  bundleDir: string;
  /** Owner-only memory dir for the process files. */
  execDir: string;
}

interface Prepared {
  argv: string[];
  /** Kills the process inside the sandbox (once its pid is known), then removes the files. */
  end(): Promise<void>;
  /** Removes the files. */
  cleanup(): Promise<void>;
}

const HOST_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

async function prepare(t: RuntimeExecTarget, args: string[], tty: boolean, cols?: number, rows?: number): Promise<Prepared> {
  if (args.length === 0) throw new Error('exec needs a command');
  const spec = JSON.parse(await fsp.readFile(path.join(t.bundleDir, 'config.json'), 'utf8')) as { process: Record<string, unknown> };
  // As runc's sessions: the loader variables of the definition (LD_PRELOAD, ...) never reach a session.
  const kept = withoutLoaderVars(Object.fromEntries(((spec.process.env as string[] | undefined) ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])));
  const env = Object.entries(kept).filter(([k]) => k !== 'TERM').map(([k, v]) => `${k}=${v}`);
  if (tty) env.push('TERM=xterm');
  const proc = { ...spec.process, args, env, terminal: tty, ...(tty ? { consoleSize: { width: cols ?? 80, height: rows ?? 24 } } : {}) };
  const dir = path.join(t.execDir, 'exec');
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const base = path.join(dir, `${t.id}.${randomBytes(6).toString('hex')}`);
  const processFile = `${base}.json`;
  const pidFile = `${base}.pid`;
  await fsp.writeFile(processFile, JSON.stringify(proc), { mode: 0o600 });
  const cleanup = async () => {
    await Promise.all([fsp.rm(processFile, { force: true }), fsp.rm(pidFile, { force: true })]);
  };
  const end = async () => {
    const pid = Number.parseInt(await fsp.readFile(pidFile, 'utf8').catch(() => ''), 10);
    if (pid > 0) await t.cli.killPid(t.id, pid, 'SIGKILL').catch(() => {});
    await cleanup();
  };
  return { argv: t.cli.args('exec', '--process', processFile, '--internal-pid-file', pidFile, t.id), end, cleanup };
}

/** Runs `args` to completion (health checks): exit code, timeout, first 4 KiB of output. */
export async function runtimeExec(t: RuntimeExecTarget, args: string[], timeoutMs: number): Promise<ExecResult> {
  const p = await prepare(t, args, false);
  return spawnExec(t.cli.runcPath, p.argv, HOST_ENV, timeoutMs, { beforeKill: p.end, done: () => void p.cleanup() });
}

/** An interactive session (Driver.startExec) through the runtime's exec. */
export async function startRuntimeExecSession(t: RuntimeExecTarget, args: string[], opts: ExecSessionOptions): Promise<ExecSession> {
  const cols = clampSize(opts.cols, 80);
  const rows = clampSize(opts.rows, 24);
  const p = await prepare(t, args, opts.tty, cols, rows);
  const runtime = [t.cli.runcPath, ...p.argv];
  let ttyPath: Promise<string | undefined> = Promise.resolve(undefined);
  let child: ChildProcess;
  let stderr: NodeJS.ReadableStream;
  if (!opts.tty) {
    child = spawn(runtime[0]!, runtime.slice(1), { env: HOST_ENV, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    stderr = child.stderr!;
  } else {
    // `script` makes the pty; the shell under it reports the pty's path on fd 3, sets the size, then becomes the runtime's client.
    const inner = [`/usr/bin/stty cols ${cols} rows ${rows}`, 'echo "$(/usr/bin/tty)" >&3', 'exec 3>&-', `exec ${runtime.map(shellQuote).join(' ')}`].join('; ');
    child = spawn('/usr/bin/script', ['-q', '-e', '-c', inner, '/dev/null'], { env: { ...HOST_ENV, SHELL: '/bin/sh', TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe', 'pipe'], detached: true });
    const out = new PassThrough();
    child.stderr!.on('data', (d: Buffer) => out.write(d));
    child.stderr!.on('end', () => out.end());
    stderr = out;
    ttyPath = new Promise((resolve) => {
      let report = '';
      const fd3 = child.stdio[3] as NodeJS.ReadableStream;
      fd3.on('data', (d: Buffer) => {
        report += d.toString();
        const m = /^(\/dev\/pts\/\d+)\n/.exec(report);
        if (m) resolve(m[1]);
      });
      fd3.on('end', () => resolve(undefined));
      fd3.on('error', () => resolve(undefined));
    });
  }
  child.stdin!.on('error', () => {});
  let ended = false;
  const endAll = async () => {
    await p.end();
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch { /* gone */ }
  };
  const exited = sessionExit(child, () => void p.cleanup());
  return {
    stdin: child.stdin!,
    stdout: child.stdout!,
    stderr,
    resize(c: number, r: number) {
      void ttyPath.then((tty) => {
        if (!tty) return;
        const s = spawn('/usr/bin/stty', ['-F', tty, 'cols', String(clampSize(c, 80)), 'rows', String(clampSize(r, 24))], { stdio: 'ignore' });
        s.on('error', () => {});
      });
    },
    kill() {
      if (ended) return;
      ended = true;
      void endAll();
    },
    exited,
  };
}

function clampSize(n: number | undefined, dflt: number): number {
  return Number.isInteger(n) && n! > 0 && n! <= 10_000 ? n! : dflt;
}
