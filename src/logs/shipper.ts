/**
 * Copies the output of awslogs containers from their conmon log files into the
 * log store: a follower that reads each file from a stored offset.
 *
 * Contract:
 *   - A batch of events and the offset it was read up to (plus any partial line
 *     still pending) commit in one transaction, so after a restart — even a
 *     kill -9 or a power cut — reading resumes exactly where the stored events
 *     end: no line lost, none doubled. Only whole lines are consumed.
 *   - Each event keeps the timestamp conmon gave the line.
 *   - conmon replaces a file that reaches --log-size-max with an empty one. The
 *     shipper keeps the file it is reading open, so it finishes the replaced file
 *     before moving to the new one; a file replaced while the server was down (or
 *     twice within one interval) loses what was not yet shipped, and the server
 *     log says so.
 *   - A shipment is done once its task has stopped (its containers and conmon are
 *     gone, so the file is final) and the file is read to the end.
 *   - Lines for a deleted log group are dropped (as CloudWatch would refuse
 *     them); a deleted stream is created again.
 *   - A commit that fails for lack of disk leaves the checkpoint where it was:
 *     the next pass reads the same lines again (logged once per outage, not
 *     every pass). Lines conmon drops meanwhile (--log-size-max) are lost.
 */
import { promises as fsp, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { ResumableLogParser, type LogEvent, type PendingPartials } from './container-log.ts';
import type { LogStore, NewEvent, ShipmentRow } from './log-store.ts';
import { WriteFailureNotice } from '../store/disk-errors.ts';

export interface LogShipperOptions {
  store: LogStore;
  now: () => number;
  intervalMs: number;
  /** True once the task's containers are gone for good (task STOPPED, or unknown). */
  taskFinished(taskId: string): boolean;
  log(msg: string): void;
  /** Bytes read per file per pass (bounds memory and pass time). Default 4 MiB. */
  maxReadBytes?: number;
}

/** Bytes read, parsed and committed at a time (a few ms of work), between yields to the event loop. */
const CHUNK_BYTES = 128 * 1024;

interface OpenFile {
  handle: FileHandle;
  inode: number;
}

export class LogShipper {
  private readonly open = new Map<string, OpenFile>();
  private readonly warned = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly writes: WriteFailureNotice;

  constructor(private readonly opts: LogShipperOptions) {
    this.writes = new WriteFailureNotice('log shipping', opts.log);
  }

  start(): void {
    const loop = () => {
      if (this.closed) return;
      this.running = this.pass()
        .catch((e) => {
          if (!this.writes.failed(e)) this.opts.log(`log shipping pass failed: ${e instanceof Error ? (e.stack ?? e.message) : e}`);
        })
        .finally(() => {
          this.running = undefined;
          if (!this.closed) this.timer = setTimeout(loop, this.opts.intervalMs);
        });
    };
    this.timer = setTimeout(loop, 0);
  }

  /** Stops after the pass in progress (its checkpoint committed) and closes the files. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running;
    for (const f of this.open.values()) await f.handle.close().catch(() => {});
    this.open.clear();
  }

  /** One pass over every active shipment. */
  async pass(): Promise<void> {
    for (const s of this.opts.store.activeShipments()) {
      if (this.closed) return;
      try {
        await this.shipOne(s);
        this.writes.succeeded();
      } catch (e) {
        // The disk is full: the next pass starts again from the stored checkpoint (the open file is kept), and
        // the other shipments would fail the same way.
        if (this.writes.failed(e)) return;
        this.warnOnce(`${s.runtimeId}:error`, `log shipping for container ${s.containerName} of task ${s.taskId} failed: ${e instanceof Error ? e.message : e}`);
      }
    }
  }

  private warnOnce(key: string, msg: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.opts.log(msg);
  }

  private async shipOne(s: ShipmentRow): Promise<void> {
    // Observed before reading: if the task had already finished, this read sees the final file.
    const finished = this.opts.taskFinished(s.taskId);
    let f = this.open.get(s.runtimeId);
    let offset = s.offset;
    let pending = s.pending;
    if (!f) {
      const opened = await openFile(s.file);
      if (!opened) {
        if (finished) this.commit(s, [], { inode: s.inode, offset, pending, done: true });
        return;
      }
      f = opened;
      this.open.set(s.runtimeId, f);
      if (s.inode !== null && s.inode !== f.inode) {
        this.opts.log(`container ${s.containerName} of task ${s.taskId}: its log file was replaced (--log-size-max) while not being read; lines after offset ${s.offset} of the old file are lost`);
        offset = 0;
      }
    }
    const parser = new ResumableLogParser(pending ? (JSON.parse(pending) as PendingPartials) : {});
    let events: NewEvent[] = [];
    let budget = this.opts.maxReadBytes ?? 4 * 1024 * 1024;
    for (;;) {
      const size = (await f.handle.stat()).size;
      if (size < offset) offset = 0; // truncated in place: start over
      const want = Math.min(budget, CHUNK_BYTES, size - offset);
      if (want > 0) {
        const read = await readLines(f.handle, offset, want);
        for (const line of read.lines) for (const e of parser.line(line)) pushEvent(events, e);
        offset += read.consumed;
        budget -= read.consumed;
        if (read.consumed > 0) {
          // Commit chunk by chunk and let the event loop breathe: a big backlog never stalls the API.
          this.commit(s, events, { inode: f.inode, offset, pending: pendingJson(parser), done: false });
          events = [];
          await new Promise((r) => setImmediate(r));
        }
        if (budget <= 0 || this.closed) break; // the rest next pass
        if (read.consumed > 0) continue; // read on (then look again for growth or a replacement)
      }
      // Nothing more to read (or only a record conmon is still writing): is this still the current file?
      const current = await statPath(s.file);
      if (!current || current.ino === f.inode) break;
      // Replaced by conmon (--log-size-max). It may have grown just before the rename: finish it first.
      if ((await f.handle.stat()).size > size) continue;
      await f.handle.close().catch(() => {});
      this.open.delete(s.runtimeId);
      const next = await openFile(s.file);
      if (!next) {
        // conmon renames atomically, so this is someone removing the file: look again next pass.
        this.commit(s, events, { inode: null, offset: 0, pending: pendingJson(parser), done: false });
        return;
      }
      f = next;
      this.open.set(s.runtimeId, f);
      offset = 0;
      this.commit(s, events, { inode: f.inode, offset, pending: pendingJson(parser), done: false });
    }
    const atEnd = offset >= (await f.handle.stat()).size;
    const done = finished && atEnd;
    if (done) for (const e of parser.flush()) pushEvent(events, e);
    this.commit(s, events, { inode: f.inode, offset, pending: pendingJson(parser), done });
    if (done) {
      await f.handle.close().catch(() => {});
      this.open.delete(s.runtimeId);
    }
  }

  /** Appends the events and moves the checkpoint, atomically. */
  private commit(s: ShipmentRow, events: NewEvent[], c: { inode: number | null; offset: number; pending: string | null; done: boolean }): void {
    const { store } = this.opts;
    if (events.length === 0 && c.inode === s.inode && c.offset === s.offset && c.pending === s.pending && !c.done) return;
    store.transaction(() => {
      const g = store.group(s.groupName);
      if (!g) {
        if (events.length) this.warnOnce(`${s.runtimeId}:group`, `log group ${s.groupName} no longer exists: output of container ${s.containerName} of task ${s.taskId} is dropped`);
      } else if (events.length) {
        let stream = store.stream(g.id, s.streamName);
        if (!stream) {
          store.createStream(g.id, s.streamName, this.opts.now());
          stream = store.stream(g.id, s.streamName)!;
        }
        store.append(stream, events, this.opts.now());
      }
      store.checkpoint(s.runtimeId, c);
    });
    Object.assign(s, { inode: c.inode, offset: c.offset, pending: c.pending, done: c.done });
  }
}

function pendingJson(parser: ResumableLogParser): string | null {
  return Object.keys(parser.pending).length > 0 ? JSON.stringify(parser.pending) : null;
}

/** CloudWatch refuses empty messages; the awslogs driver skips empty lines too. */
function pushEvent(out: NewEvent[], e: LogEvent): void {
  if (e.message.length > 0) out.push({ ts: e.timestamp, message: e.message });
}

async function openFile(path: string): Promise<OpenFile | undefined> {
  try {
    const handle = await fsp.open(path, 'r');
    const st = await handle.stat();
    return { handle, inode: st.ino };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function statPath(path: string): Promise<Stats | undefined> {
  return fsp.stat(path).catch(() => undefined);
}

/**
 * Reads up to `length` bytes at `offset` and splits them into whole lines.
 * `consumed` counts the bytes of those lines (newlines included); an unfinished
 * tail stays unread.
 */
async function readLines(handle: FileHandle, offset: number, length: number): Promise<{ lines: string[]; consumed: number }> {
  if (length <= 0) return { lines: [], consumed: 0 };
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await handle.read(buf, got, length - got, offset + got);
    if (bytesRead <= 0) break;
    got += bytesRead;
  }
  const data = buf.subarray(0, got);
  const end = data.lastIndexOf(0x0a);
  if (end < 0) return { lines: [], consumed: 0 };
  const lines = data.subarray(0, end).toString('utf8').split('\n');
  return { lines, consumed: end + 1 };
}
