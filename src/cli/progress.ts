/**
 * Progress while the CLI waits (image pulls, task starts, rollouts). Always on
 * stderr, so stdout stays the command's result (a table or JSON) whatever happens.
 *
 * - On a terminal: live bars (cli-progress) with bytes and rates, milestone
 *   lines printed above them.
 * - Otherwise (a pipe, a file, CI): no bars and no escape codes or carriage
 *   returns; only the milestone lines, one per event, as plain text.
 * - `quiet`: nothing at all.
 */
import type { MultiBar, SingleBar } from 'cli-progress';
import { createRequire } from 'node:module';
import { bytes, colors, type Colors } from './style.ts';

export interface Progress {
  /** A milestone ("task 1a2b… RUNNING 10.0.0.5"). */
  note(text: string): void;
  /** Creates or updates a bar. `unit` decides how value/total read: bytes (with a rate) or a count. */
  bar(id: string, label: string, value: number, total: number, unit: 'bytes' | 'count'): void;
  /** Removes a bar (its work is done). */
  done(id: string): void;
  stop(): void;
}

export interface ProgressOptions {
  quiet?: boolean;
  stream?: NodeJS.WriteStream;
}

export function createProgress(opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet) return { note() {}, bar() {}, done() {}, stop() {} };
  if (!stream.isTTY) return new PlainProgress(stream);
  return new BarProgress(stream, colors(stream));
}

class PlainProgress implements Progress {
  constructor(private readonly stream: NodeJS.WritableStream) {}
  note(text: string): void {
    this.stream.write(text + '\n');
  }
  bar(): void {}
  done(): void {}
  stop(): void {}
}

interface BarState {
  bar: SingleBar;
  firstAt: number;
  firstValue: number;
}

/** Bytes per second between the first update and now, for a bar's rate. */
export function rate(b: { firstAt: number; firstValue: number }, value: number, now: number): number {
  const s = (now - b.firstAt) / 1000;
  return s > 0.05 ? (value - b.firstValue) / s : 0;
}

/** A download's amount: resolving (total unknown), bytes with the rate, then unpacking once every byte arrived. */
export function bytesAmount(value: number, total: number, perSecond: number, c: Colors): string {
  if (total <= 0) return c.dim('resolving…');
  if (value >= total) return `${bytes(total)} ${c.dim('unpacking…')}`;
  return `${bytes(value)} / ${bytes(total)} ${c.dim(`${bytes(Math.round(perSecond))}/s`)}`;
}

class BarProgress implements Progress {
  private readonly multi: MultiBar;
  private readonly bars = new Map<string, BarState>();

  constructor(stream: NodeJS.WriteStream, private readonly c: Colors) {
    // Loaded only for bars on a terminal: most commands, and every piped one, never draw one.
    const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress');
    this.multi = new cliProgress.MultiBar({
      stream,
      format: `{label} ${c.cyan('{bar}')} {percentage}% {amount}`,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 24,
      fps: 10,
      emptyOnZero: true,
    });
  }

  note(text: string): void {
    this.multi.log(text + '\n');
  }

  bar(id: string, label: string, value: number, total: number, unit: 'bytes' | 'count'): void {
    let b = this.bars.get(id);
    const now = Date.now();
    if (!b) {
      b = { bar: this.multi.create(Math.max(total, 1), value, { label, amount: '' }), firstAt: now, firstValue: value };
      this.bars.set(id, b);
    }
    const amount = unit === 'count' ? `${value}/${total}` : bytesAmount(value, total, rate(b, value, now), this.c);
    b.bar.setTotal(Math.max(total, 1));
    b.bar.update(value, { label, amount });
  }

  done(id: string): void {
    const b = this.bars.get(id);
    if (!b) return;
    this.multi.remove(b.bar);
    this.bars.delete(id);
  }

  stop(): void {
    this.multi.stop();
  }
}
