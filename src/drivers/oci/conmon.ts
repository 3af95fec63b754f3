/**
 * conmon, each container's supervisor: it owns the container's stdio, log file
 * and exit file, double-forks and setsid()s so it outlives the Node process, and
 * runs `runc create` for us once released from its start pipe.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { sleep, spawnPiped } from '../../util/exec.ts';
import type { RuncPaths } from './paths.ts';

export interface ConmonSettings {
  conmonPath: string;
  runcPath: string;
  /** How long to wait for conmon to report `runc create`, ms. */
  createTimeoutMs: number;
  /** conmon `--log-size-max`, bytes; undefined: no cap. */
  logSizeMaxBytes?: number;
  /** More global runtime flags for `create` (after `--root`). */
  runtimeArgs?: string[];
}

export interface PendingConmon {
  /** The container pid from conmon's sync pipe, or runc's error. */
  pid: Promise<number>;
  /** Lets conmon run `runc create`. */
  release(): void;
  /** Kills conmon before it forks. */
  abort(): void;
}

/**
 * Spawns conmon held on its start pipe (`_OCI_STARTPIPE`): `release()` lets it run
 * `runc create`, `abort()` kills it before it forks. `pid` resolves from conmon's
 * sync pipe (`_OCI_SYNCPIPE`) with the container pid, or rejects with runc's error.
 */
export function spawnConmon(s: ConmonSettings, paths: RuncPaths, id: string): PendingConmon {
  const bundle = paths.bundle(id);
  const args = [
    '--api-version', '1',
    '-c', id,
    '-u', id,
    '-n', id,
    '-r', s.runcPath,
    `--runtime-arg=--root=${paths.runcRoot}`,
    ...(s.runtimeArgs ?? []).map((a) => `--runtime-arg=${a}`),
    '-b', bundle,
    '-p', path.join(bundle, 'pidfile'),
    '--conmon-pidfile', paths.conmonPid(id),
    '--exit-dir', paths.exitDir,
    '-l', `k8s-file:${paths.logPath(id)}`,
    ...(s.logSizeMaxBytes ? ['--log-size-max', String(s.logSizeMaxBytes)] : []),
    '--log-level', 'warning',
    '--socket-dir-path', paths.sockDir,
    '--syslog',
  ];
  // Through the spawn helper when the server runs one (util/exec.ts): a fork of the server blocks its event loop.
  const child = spawnPiped(s.conmonPath, args, {
    cwd: bundle,
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' },
    pipes: 3, // fd 2 stderr, fd 3 sync pipe, fd 4 start pipe
    detached: true,
  });
  const pid = new Promise<number>((resolve, reject) => {
    let buf = '';
    let stderr = '';
    let done = false;
    const finish = (err: Error | null, pid?: number) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.release();
      if (err) reject(err);
      else resolve(pid!);
    };
    const timer = setTimeout(() => finish(new Error(`conmon did not report \`runc create\` for ${id} within ${s.createTimeoutMs} ms`)), s.createTimeoutMs);
    child.onData((fd, d) => {
      if (fd === 2) {
        if (stderr.length < 8192) stderr += d.toString('utf8');
        return;
      }
      if (fd !== 3) return;
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let msg: { data?: number; message?: string };
      try {
        msg = JSON.parse(buf.slice(0, nl));
      } catch {
        return finish(new Error(`conmon sent an unreadable sync message: ${buf.slice(0, nl)}`));
      }
      if (typeof msg.data === 'number' && msg.data > 0) return finish(null, msg.data);
      finish(new Error(`runc create failed for ${id}: ${(msg.message ?? 'no message').trim()}`));
    });
    child.onError((e) => finish(new Error(`cannot start conmon (${s.conmonPath}): ${e.message}`)));
    child.onClose((code) => {
      finish(new Error(`conmon exited (status ${code}) before reporting the container: ${stderr.trim() || 'no output'}`));
    });
  });
  pid.catch(() => {}); // observed by the caller after release(); avoid an unhandled rejection meanwhile
  return {
    pid,
    release: () => {
      child.write(4, '0', true);
    },
    abort: () => {
      // Still the first conmon process, blocked reading the start pipe: it has not forked.
      child.kill('SIGKILL');
    },
  };
}

async function readConmonPid(paths: RuncPaths, id: string): Promise<number | undefined> {
  try {
    return Number.parseInt(await fsp.readFile(paths.conmonPid(id), 'utf8'), 10);
  } catch {
    return undefined;
  }
}

/** true/false if conmon.pid names a live (non-zombie) conmon or not; undefined when there is no pid file. */
export async function conmonAlive(paths: RuncPaths, id: string): Promise<boolean | undefined> {
  const pid = await readConmonPid(paths, id);
  if (pid === undefined) return undefined;
  return pid > 1 ? processIsLiveConmon(pid) : undefined;
}

/** Waits (up to ~3 s) for the container's conmon to finish, then SIGKILLs it. */
export async function waitConmonGone(paths: RuncPaths, id: string): Promise<void> {
  const pid = await readConmonPid(paths, id);
  if (pid === undefined || !(pid > 1)) return;
  for (let i = 0; i < 300; i++) {
    if (!(await processIsLiveConmon(pid))) return;
    await sleep(10);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** True if `pid` is a running conmon. A zombie counts as gone: its exit is final (our init may reap slowly). */
export async function processIsLiveConmon(pid: number): Promise<boolean> {
  try {
    const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const state = stat.slice(close + 2, close + 3);
    return comm === 'conmon' && state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
