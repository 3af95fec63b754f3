/**
 * The exec stream: `GET /skiff/v1/exec/<sessionId>` upgraded to a WebSocket on
 * Skiff's API port. The one-time token of the session (header
 * `x-skiff-exec-token`, sessions.ts) is the only credential; a missing, used,
 * expired or foreign token gets HTTP 403 before any upgrade. The framing is in
 * framing.ts. The process is started through the Driver contract
 * (`startExec`), so every runtime serves the same stream.
 *
 * A session ends when the process exits (EXIT frame, close 1000) or when the
 * client goes away (the process and what it started are killed).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ExecSession, ExecSessionOptions } from '../drivers/driver.ts';
import { Channel, FrameError, TOKEN_HEADER, decodeFrame, encodeFrame, exitFrame, readResize } from './framing.ts';
import type { ExecSessions, ExecTarget } from './sessions.ts';

export const EXEC_PATH = /^\/skiff\/v1\/exec\/([A-Za-z0-9-]{1,100})$/;

export interface ExecStreamDeps {
  sessions: ExecSessions;
  startExec(runtimeId: string, args: string[], opts: ExecSessionOptions): Promise<ExecSession>;
  log?: (msg: string) => void;
}

/** Output buffered toward a slow client before the process's output is paused. */
const HIGH_WATER = 1 << 20;

/** Adds the exec upgrade handler to `server`; other upgrade requests get 404. Returns a function that ends every open session. */
export function attachExecStream(server: Server, deps: ExecStreamDeps): () => void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  const open = new Set<ExecSession>();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = EXEC_PATH.exec(url.pathname);
    if (!m) return refuse(socket, 404, 'Not Found', 'no WebSocket endpoint here; exec sessions are at /skiff/v1/exec/<sessionId>');
    const tokenHeader = req.headers[TOKEN_HEADER];
    const r = deps.sessions.redeem(m[1], Array.isArray(tokenHeader) ? tokenHeader[0] : tokenHeader);
    if (!r.ok) {
      deps.log?.(`exec session ${m[1]} refused from ${req.socket.remoteAddress}: ${r.reason}`);
      return refuse(socket, 403, 'Forbidden', r.reason);
    }
    const opts: ExecSessionOptions = {
      tty: url.searchParams.get('tty') === '1',
      cols: Number(url.searchParams.get('cols') ?? '') || undefined,
      rows: Number(url.searchParams.get('rows') ?? '') || undefined,
    };
    wss.handleUpgrade(req, socket, head, (ws) => void serve(ws, m[1], r.target, opts, deps, open));
  });
  return () => {
    for (const s of open) s.kill();
    for (const c of wss.clients) c.terminate();
    wss.close();
  };
}

function refuse(socket: Duplex, status: number, text: string, message: string): void {
  const body = JSON.stringify({ message });
  socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

async function serve(ws: WebSocket, sessionId: string, target: ExecTarget, opts: ExecSessionOptions, deps: ExecStreamDeps, open: Set<ExecSession>): Promise<void> {
  // Frames that arrive while the process starts are kept and applied once it runs.
  const early: Buffer[] = [];
  let onFrame = (data: Buffer, isBinary: boolean) => void early.push(isBinary ? data : Buffer.alloc(0));
  let gone = false;
  ws.on('message', (data: Buffer, isBinary: boolean) => onFrame(data, isBinary));
  ws.on('close', () => (gone = true));
  let proc: ExecSession;
  try {
    proc = await deps.startExec(target.runtimeId, target.args, opts);
  } catch (err) {
    ws.send(encodeFrame(Channel.Error, Buffer.from(`cannot start the command in container ${target.containerName}: ${(err as Error).message}`)));
    ws.close(1011);
    return;
  }
  open.add(proc);
  deps.log?.(`exec session ${sessionId} started in ${target.taskArn} (${target.containerName}) by ${target.principal ?? 'unknown'}${opts.tty ? ' with a tty' : ''}`);
  const forward = (channel: Channel, stream: NodeJS.ReadableStream) => {
    stream.on('data', (d: Buffer) => {
      if (ws.readyState !== ws.OPEN) return;
      // Past the high-water mark the output pauses until this frame has gone out.
      const over = ws.bufferedAmount + d.length > HIGH_WATER;
      ws.send(encodeFrame(channel, d), over ? () => stream.resume() : undefined);
      if (over) stream.pause();
    });
  };
  forward(Channel.Stdout, proc.stdout);
  forward(Channel.Stderr, proc.stderr);
  onFrame = (data: Buffer, isBinary: boolean) => {
    try {
      if (!isBinary) throw new FrameError('text messages are not part of the exec protocol');
      const { channel, payload } = decodeFrame(data);
      if (channel === Channel.Stdin) proc.stdin.write(payload);
      else if (channel === Channel.Eof) proc.stdin.end();
      else if (channel === Channel.Resize) {
        const { cols, rows } = readResize(payload);
        proc.resize(cols, rows);
      } else throw new FrameError(`channel ${channel} is not sent by clients`);
    } catch (err) {
      ws.close(1002, (err as Error).message.slice(0, 120));
    }
  };
  for (const f of early.splice(0)) onFrame(f, f.length > 0);
  ws.on('close', () => proc.kill());
  ws.on('error', () => proc.kill());
  if (gone) proc.kill(); // the client left while the process was starting
  const code = await proc.exited;
  open.delete(proc);
  proc.kill(); // whatever it left running in the container ends with the session
  deps.log?.(`exec session ${sessionId} ended with exit code ${code}`);
  if (ws.readyState === ws.OPEN) {
    ws.send(exitFrame(code));
    ws.close(1000);
  }
}
