/**
 * The wire framing of an exec session's WebSocket (`streamUrl` of ECS
 * ExecuteCommand as Skiff serves it; see stream-route.ts).
 *
 * Every message is a binary WebSocket message: one channel byte, then the payload.
 *
 *   channel  direction         payload
 *   0 STDIN  client → server   bytes for the process's stdin
 *   1 STDOUT server → client   bytes the process wrote to stdout (with a tty: the terminal's output)
 *   2 STDERR server → client   bytes the process wrote to stderr (never with a tty)
 *   3 EXIT   server → client   int32 big-endian exit code (128 + n: ended by signal n); the server then closes (1000)
 *   4 RESIZE client → server   uint16 BE columns, uint16 BE rows (a tty's window size)
 *   5 EOF    client → server   empty: stdin is finished
 *   6 ERROR  server → client   UTF-8 text: the session could not start or broke; the server then closes (1011)
 *
 * Text messages, unknown channels and malformed payloads are protocol errors
 * (the server closes with 1002). Sessions are opened with a one-time token
 * (header `x-skiff-exec-token`), never SigV4; the options of the process come as
 * query parameters of the upgrade request: `tty=1`, `cols`, `rows`.
 */

export const Channel = {
  Stdin: 0,
  Stdout: 1,
  Stderr: 2,
  Exit: 3,
  Resize: 4,
  Eof: 5,
  Error: 6,
} as const;
export type Channel = (typeof Channel)[keyof typeof Channel];

/** The header that carries an exec session's token on the WebSocket upgrade. */
export const TOKEN_HEADER = 'x-skiff-exec-token';

export class FrameError extends Error {}

export function encodeFrame(channel: Channel, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const out = Buffer.allocUnsafe(1 + payload.length);
  out[0] = channel;
  out.set(payload, 1);
  return out;
}

export function decodeFrame(msg: Buffer): { channel: Channel; payload: Buffer } {
  if (msg.length < 1) throw new FrameError('empty frame');
  const channel = msg[0];
  if (channel > Channel.Error) throw new FrameError(`unknown channel ${channel}`);
  const payload = msg.subarray(1);
  if (channel === Channel.Resize && payload.length !== 4) throw new FrameError('a resize frame carries 4 bytes (cols, rows)');
  if (channel === Channel.Exit && payload.length !== 4) throw new FrameError('an exit frame carries 4 bytes (the exit code)');
  if (channel === Channel.Eof && payload.length !== 0) throw new FrameError('an EOF frame is empty');
  return { channel: channel as Channel, payload };
}

export function resizeFrame(cols: number, rows: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt16BE(Math.max(0, Math.min(0xffff, Math.trunc(cols))), 0);
  p.writeUInt16BE(Math.max(0, Math.min(0xffff, Math.trunc(rows))), 2);
  return encodeFrame(Channel.Resize, p);
}

export function readResize(payload: Buffer): { cols: number; rows: number } {
  return { cols: payload.readUInt16BE(0), rows: payload.readUInt16BE(2) };
}

export function exitFrame(code: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeInt32BE(code, 0);
  return encodeFrame(Channel.Exit, p);
}

export function readExit(payload: Buffer): number {
  return payload.readInt32BE(0);
}
