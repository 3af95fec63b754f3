/**
 * Reads a container's log file, which its supervisor (conmon) writes in the
 * k8s-file format: `<RFC3339Nano> <stdout|stderr> <F|P> <text>`, where P marks a
 * partial line continued by the next record. When the file reaches conmon's
 * --log-size-max, conmon renames a fresh empty file over it.
 *
 * `readContainerLog` serves `skiff logs`; `ResumableLogParser` serves the log
 * shipper (shipper.ts), whose position must survive restarts.
 */
import { open, stat } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';

export interface LogEvent {
  /** Epoch ms. */
  timestamp: number;
  stream: 'stdout' | 'stderr';
  message: string;
}

/** Parses complete lines of a k8s-file log, joining partial records. */
export class LogLineParser {
  private partial: { timestamp: number; stream: LogEvent['stream']; text: string } | undefined;
  private rest = '';

  /** Feeds raw text; returns the events it completed. */
  push(chunk: string): LogEvent[] {
    const text = this.rest + chunk;
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    const out: LogEvent[] = [];
    for (const line of lines) {
      const m = /^(\S+) (stdout|stderr) ([FP]) ?(.*)$/.exec(line);
      if (!m) continue;
      const [, ts, stream, tag, body] = m;
      const timestamp = Date.parse(ts);
      if (this.partial && this.partial.stream === stream) {
        this.partial.text += body;
      } else {
        if (this.partial) out.push({ timestamp: this.partial.timestamp, stream: this.partial.stream, message: this.partial.text });
        this.partial = { timestamp, stream: stream as LogEvent['stream'], text: body };
      }
      if (tag === 'F') {
        out.push({ timestamp: this.partial.timestamp, stream: this.partial.stream, message: this.partial.text });
        this.partial = undefined;
      }
    }
    return out;
  }
}

export interface FollowOptions {
  /** Keep reading as the file grows until this returns true (checked when no new data arrives). */
  isFinished?: () => boolean;
  signal?: AbortSignal;
  pollMs?: number;
}

/** Yields the events of a log file; with `isFinished`, follows it as it grows. */
export async function* readContainerLog(path: string, opts: FollowOptions = {}): AsyncGenerator<LogEvent> {
  const parser = new LogLineParser();
  const decoder = new StringDecoder('utf8');
  let offset = 0;
  let inode: number | undefined;
  const buf = Buffer.alloc(64 * 1024);
  const follow = opts.isFinished !== undefined;
  for (;;) {
    if (opts.signal?.aborted) return;
    let grew = false;
    const st = await stat(path).then((s) => s, () => undefined);
    const size = st?.size ?? -1;
    // conmon replaces the file when it reaches --log-size-max: read the new one from its start.
    if (st && ((inode !== undefined && st.ino !== inode) || size < offset)) offset = 0;
    if (st) inode = st.ino;
    if (size > offset) {
      const fh = await open(path, 'r');
      try {
        while (offset < size) {
          const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - offset), offset);
          if (bytesRead <= 0) break;
          offset += bytesRead;
          yield* parser.push(decoder.write(buf.subarray(0, bytesRead)));
        }
      } finally {
        await fh.close();
      }
      grew = true;
    }
    if (!follow) return;
    if (!grew && opts.isFinished!()) {
      // One last read after the finish was observed, so nothing written just before it is lost.
      const finalSize = await stat(path).then((s) => s.size, () => -1);
      if (finalSize <= offset) return;
      continue;
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 200));
  }
}

/** Partial (P) records of each stream not yet ended by an F record: the parser's whole state. */
export type PendingPartials = Partial<Record<LogEvent['stream'], { timestamp: number; text: string }>>;

/**
 * A k8s-file parser whose state can be saved and restored with a file offset, so
 * a reader resumed after a restart neither loses nor repeats a line. Unlike
 * `LogLineParser` it joins partial records per stream (stdout and stderr may
 * interleave) and splits a joined line longer than `maxMessageBytes`.
 */
export class ResumableLogParser {
  constructor(
    public pending: PendingPartials = {},
    private readonly maxMessageBytes = 256 * 1024 - 26,
  ) {}

  /** Parses one complete line (without its newline); returns the events it completes. */
  line(line: string): LogEvent[] {
    const m = /^(\S+) (stdout|stderr) ([FP]) ?(.*)$/s.exec(line);
    if (!m) return [];
    const [, ts, streamName, tag, body] = m;
    const stream = streamName as LogEvent['stream'];
    const parsed = Date.parse(ts);
    const timestamp = Number.isFinite(parsed) ? parsed : Date.now();
    const out: LogEvent[] = [];
    const p = (this.pending[stream] ??= { timestamp, text: '' });
    p.text += body;
    if (p.text.length * 3 > this.maxMessageBytes && Buffer.byteLength(p.text) > this.maxMessageBytes) {
      out.push({ timestamp: p.timestamp, stream, message: p.text });
      delete this.pending[stream];
      if (tag === 'F') return out;
    }
    if (tag === 'F') {
      const done = this.pending[stream]!;
      delete this.pending[stream];
      out.push({ timestamp: done.timestamp, stream, message: done.text });
    }
    return out;
  }

  /** Ends every pending partial line (the file is complete). */
  flush(): LogEvent[] {
    const out: LogEvent[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      const p = this.pending[stream];
      if (p) out.push({ timestamp: p.timestamp, stream, message: p.text });
      delete this.pending[stream];
    }
    return out;
  }
}
