/**
 * A small helper process that starts host tools for the server.
 *
 * Why: starting a process from Node forks the whole Node process first, and the
 * fork costs time in proportion to the parent's resident memory, all of it on the
 * event loop: about 5 ms per spawn for a server of 150 MB here, against under
 * 1 ms for a bare Node process. A task start runs several tools (mount, nsenter,
 * runc, ip), so in a burst the forks alone held the server's event loop for
 * seconds. The helper is one plain Node process with a tiny heap (no TypeScript
 * loader, no modules of ours) that runs the tools and sends back their results
 * over its stdin/stdout as JSON lines; the server's event loop only writes and
 * reads a line.
 *
 * One helper per server, not per task. If it dies, calls in flight fail and the
 * next call starts a new helper. It ignores SIGINT/SIGTERM (a Ctrl-C reaches the
 * whole process group) and exits when its stdin closes (the server ended, even by
 * SIGKILL), and it keeps the server's event loop alive only while
 * a call is in flight.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { RunOptions, RunResult } from './exec.ts';

/** The helper's program, run with `node --input-type=module -e`. Plain JS on purpose. */
const HELPER_SOURCE = `
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
// Ctrl-C reaches the whole process group: the helper must outlive it so the server
// can still shut down cleanly through it. It exits when its stdin closes.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
// libuv reaps children when a SIGCHLD wakes it; with hundreds exiting at once a
// wake-up can be lost, leaving exited children unreaped (zombies whose 'close'
// never comes) until another child exits — and when every caller is waiting on
// those, none ever does. A SIGCHLD to itself once a second while children are
// out makes libuv look again.
let running = 0;
setInterval(() => { if (running > 0 || piped.size > 0) process.kill(process.pid, 'SIGCHLD'); }, 1000).unref();
const piped = new Map();
function pipedOp(r) {
  if (r.op === 'spawn') {
    const stdio = ['ignore', 'ignore'];
    for (let fd = 2; fd < 2 + r.pipes; fd++) stdio.push('pipe');
    let child;
    try {
      child = spawn(r.file, r.args, { cwd: r.cwd, env: r.env ?? process.env, stdio, detached: !!r.detached });
    } catch (e) {
      return send({ id: r.id, ev: 'error', error: String(e && e.code || e) });
    }
    piped.set(r.id, child);
    for (let fd = 2; fd < 2 + r.pipes; fd++) {
      const s = child.stdio[fd];
      s.on('error', () => {});
      if (s.readable) s.on('data', (b) => send({ id: r.id, ev: 'data', fd, data: b.toString('base64') }));
    }
    child.on('error', (e) => send({ id: r.id, ev: 'error', error: e.code || String(e) }));
    child.on('close', (code) => { piped.delete(r.id); send({ id: r.id, ev: 'close', code }); });
    return;
  }
  const child = piped.get(r.id);
  if (!child) return;
  if (r.op === 'write') { const s = child.stdio[r.fd]; if (r.end) s.end(r.data); else s.write(r.data); }
  else if (r.op === 'kill') { try { child.kill(r.signal); } catch {} }
  else if (r.op === 'release') { piped.delete(r.id); for (const s of child.stdio) s && s.destroy(); child.unref(); }
}
createInterface({ input: process.stdin }).on('line', (line) => {
  let r;
  try { r = JSON.parse(line); } catch { return; }
  if (r.op) return pipedOp(r);
  let child;
  try {
    child = spawn(r.file, r.args, { cwd: r.cwd, env: r.env ?? process.env, stdio: [r.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  } catch (e) {
    return send({ id: r.id, error: String(e && e.code || e) });
  }
  running++;
  let reaped = false;
  const reap = () => { if (!reaped) { reaped = true; running--; } };
  child.on('exit', reap);
  child.on('error', reap);
  const out = [], err = [];
  child.stdout.on('data', (b) => out.push(b));
  child.stderr.on('data', (b) => err.push(b));
  child.on('error', (e) => send({ id: r.id, error: e.code || String(e) }));
  child.on('close', (code, signal) => send({ id: r.id, code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  if (r.input !== undefined) { child.stdin.on('error', () => {}); child.stdin.end(r.input); }
}).on('close', () => process.exit(0));
`;

/** A child process with pipes on fds 2.. (stderr and extra pipes), started directly or by the helper. */
export interface PipedProcess {
  onData(cb: (fd: number, chunk: Buffer) => void): void;
  onClose(cb: (code: number | null) => void): void;
  onError(cb: (err: Error & { code?: string }) => void): void;
  write(fd: number, data: string, end?: boolean): void;
  kill(signal: NodeJS.Signals): void;
  /** Lets go of the process: our ends of its pipes are closed; it keeps running. */
  release(): void;
}

export interface PipedOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Number of pipes from fd 2 on (stdin and stdout are /dev/null). */
  pipes: number;
  detached?: boolean;
}

interface PipedListeners {
  data: ((fd: number, chunk: Buffer) => void)[];
  close: ((code: number | null) => void)[];
  error: ((err: Error & { code?: string }) => void)[];
}

interface Pending {
  resolve(r: RunResult): void;
  reject(e: Error & { code?: string }): void;
}

export class SpawnHelper {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly piped = new Map<number, PipedListeners>();
  private nextId = 1;
  private buffer = '';
  private closed = false;

  /** Runs `file args` in the helper; same contract as util/exec.ts `run` (ENOENT rejects with code 'ENOENT'). */
  run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const child = this.ensure();
    const id = this.nextId++;
    return new Promise<RunResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.updateRef();
      child.stdin!.write(JSON.stringify({ id, file, args, cwd: opts.cwd, env: opts.env, input: opts.input }) + '\n');
    });
  }

  /** Starts `file` with pipes (see PipedProcess); its events come back through the helper. */
  spawnPiped(file: string, args: string[], opts: PipedOptions): PipedProcess {
    const child = this.ensure();
    const id = this.nextId++;
    const l: PipedListeners = { data: [], close: [], error: [] };
    this.piped.set(id, l);
    this.updateRef();
    const send = (m: Record<string, unknown>) => this.child?.stdin!.write(JSON.stringify({ id, ...m }) + '\n');
    child.stdin!.write(JSON.stringify({ id, op: 'spawn', file, args, cwd: opts.cwd, env: opts.env, pipes: opts.pipes, detached: opts.detached }) + '\n');
    return {
      onData: (cb) => void l.data.push(cb),
      onClose: (cb) => void l.close.push(cb),
      onError: (cb) => void l.error.push(cb),
      write: (fd, data, end) => send({ op: 'write', fd, data, end: !!end }),
      kill: (signal) => send({ op: 'kill', signal }),
      release: () => {
        this.piped.delete(id);
        this.updateRef();
        send({ op: 'release' });
      },
    };
  }

  /** The helper's pid (tests and memory accounting), once started. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Ends the helper; calls in flight fail over to the caller's fallback. */
  close(): void {
    this.closed = true;
    this.child?.stdin?.end();
    this.child = undefined;
  }

  private ensure(): ChildProcess {
    if (this.closed) throw new Error('spawn helper is closed');
    if (this.child) return this.child;
    const child = spawn(process.execPath, ['--max-old-space-size=32', '--input-type=module', '-e', HELPER_SOURCE], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: process.env,
    });
    this.child = child;
    this.buffer = '';
    child.stdin!.on('error', () => {});
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        this.deliver(line);
      }
    });
    const lost = () => {
      if (this.child === child) this.child = undefined;
      const err = Object.assign(new Error('spawn helper exited'), { code: 'EHELPERGONE' });
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      for (const l of this.piped.values()) for (const cb of l.error) cb(err);
      this.piped.clear();
      this.updateRef();
    };
    child.on('exit', lost);
    child.on('error', lost);
    child.unref();
    this.updateRef();
    return child;
  }

  /** The helper's pipes hold the event loop open only while something waits on them. */
  private updateRef(): void {
    const busy = this.pending.size + this.piped.size > 0;
    for (const s of [this.child?.stdin, this.child?.stdout]) {
      const h = s as unknown as { ref?: () => void; unref?: () => void } | undefined;
      if (busy) h?.ref?.();
      else h?.unref?.();
    }
  }

  private deliver(line: string): void {
    let m: { id: number; ev?: string; fd?: number; data?: string; error?: string; code?: number | null; stdout?: string; stderr?: string };
    try {
      m = JSON.parse(line);
    } catch {
      return;
    }
    if (m.ev) {
      const l = this.piped.get(m.id);
      if (!l) return;
      if (m.ev === 'data') for (const cb of l.data) cb(m.fd!, Buffer.from(m.data ?? '', 'base64'));
      else if (m.ev === 'close') {
        this.piped.delete(m.id);
        this.updateRef();
        for (const cb of l.close) cb(m.code ?? null);
      } else if (m.ev === 'error') {
        const err = Object.assign(new Error(`spawn failed: ${m.error}`), { code: m.error });
        for (const cb of l.error) cb(err);
      }
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    this.updateRef();
    if (m.error !== undefined) p.reject(Object.assign(new Error(`spawn failed: ${m.error}`), { code: m.error }));
    else p.resolve({ code: m.code ?? 1, stdout: m.stdout ?? '', stderr: m.stderr ?? '' });
  }
}
