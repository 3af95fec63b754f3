/** Runs host tools (runc, ip, nft, umount, ...) without a shell and collects their output. */
import { spawn } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { SpawnHelper, type PipedOptions, type PipedProcess } from './spawn-helper.ts';
import { Semaphore } from './semaphore.ts';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to the command's stdin (then closed); stdin is /dev/null without it. */
  input?: string;
}

export class CommandMissingError extends Error {
  constructor(readonly command: string) {
    super(`command not found: ${command}`);
    this.name = 'CommandMissingError';
  }
}

/**
 * Runs `file args`, resolving with the exit code and output; never rejects for a
 * non-zero exit (check `code`). Rejects only when the command cannot be started
 * (CommandMissingError when it does not exist).
 */
export function run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return commandSlots.run(() => runNow(file, args, opts));
}

/**
 * Short commands running at once. Each is a child process (of this process or of
 * the spawn helper), and libuv reaps children by walking all of them on every
 * SIGCHLD: thousands at once (a 5,000-task service scaled to zero) cost
 * quadratically, pile up as zombies and hold pids. Callers past the limit wait.
 */
const commandSlots = new Semaphore(64);

function runNow(file: string, args: string[], opts: RunOptions): Promise<RunResult> {
  if (helper) {
    return helper.run(file, args, opts).catch((e: Error & { code?: string }) => {
      throw e.code === 'ENOENT' ? new CommandMissingError(file) : e;
    });
  }
  return runDirect(file, args, opts);
}

let helper: SpawnHelper | undefined;

/**
 * Routes every `run` of this process through one small helper process (see
 * spawn-helper.ts: a fork of a big Node process blocks its event loop for
 * milliseconds). The server turns it on at start and off at close.
 */
export function useSpawnHelper(on: boolean): void {
  if (on) helper ??= new SpawnHelper();
  else {
    helper?.close();
    helper = undefined;
  }
}

/**
 * Starts a long-lived child with pipes on fds 2.. (a supervisor such as conmon):
 * through the spawn helper when it is on, else directly.
 */
export function spawnPiped(file: string, args: string[], opts: PipedOptions): PipedProcess {
  if (helper) return helper.spawnPiped(file, args, opts);
  const stdio: ('ignore' | 'pipe')[] = ['ignore', 'ignore'];
  for (let i = 0; i < opts.pipes; i++) stdio.push('pipe');
  const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio, detached: opts.detached });
  const streams = child.stdio.slice(2) as unknown as Duplex[];
  for (const s of streams) s.on('error', () => {});
  return {
    onData: (cb) => streams.forEach((s, i) => s.on('data', (b: Buffer) => cb(i + 2, b))),
    onClose: (cb) => void child.on('close', (code) => cb(code)),
    onError: (cb) => void child.on('error', cb),
    write: (fd, data, end) => (end ? streams[fd - 2]!.end(data) : streams[fd - 2]!.write(data)),
    kill: (signal) => void child.kill(signal),
    release: () => {
      for (const s of streams) s.destroy();
      child.unref();
    },
  };
}

/** The spawn helper's pid, when one runs. */
export function spawnHelperPid(): number | undefined {
  return helper?.pid;
}

function runDirect(file: string, args: string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new CommandMissingError(file) : e));
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => {}); // EPIPE if the tool exits early; the exit code tells
      child.stdin!.end(opts.input);
    }
  });
}

/** Like `run` but rejects with the command's stderr when it exits non-zero. */
export async function runOk(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(file, args, opts);
  if (r.code !== 0) {
    const msg = (r.stderr || r.stdout).trim() || `exit status ${r.code}`;
    throw new Error(`${file} ${args.join(' ')}: ${msg}`);
  }
  return r;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
