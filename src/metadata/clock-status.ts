/**
 * The host clock's synchronization, as task metadata v4 reports it in
 * `ClockDrift` ({ClockErrorBound (ms), ReferenceTimestamp, ClockSynchronizationStatus}).
 * Read from the first source this host has: `chronyc -c tracking` (what the ECS
 * agent uses), `adjtimex --print` (the kernel's NTP state), `timedatectl show`
 * (systemd's view: status only). With none, the clock is NOT_SYNCHRONIZED with
 * an unknown bound: Skiff never claims a synchronization it cannot see.
 * A reading is cached a few seconds; a missing tool is not tried again.
 */
import { execFile } from 'node:child_process';

export type ClockSynchronizationStatus = 'SYNCHRONIZED' | 'NOT_SYNCHRONIZED';

export interface ClockDrift {
  /** Bound on the clock's error, ms; absent when the source does not say. */
  ClockErrorBound?: number;
  /** When the bound was computed (the source's reference time, else the reading's). */
  ReferenceTimestamp?: string;
  ClockSynchronizationStatus: ClockSynchronizationStatus;
}

/** Kernel timex status bit: the clock is not synchronized (STA_UNSYNC). */
const STA_UNSYNC = 0x40;

/**
 * `chronyc -c tracking` (CSV: ref id, name, stratum, ref time s, system offset s,
 * last offset, rms offset, freq, residual freq, skew, root delay s, root
 * dispersion s, update interval, leap status). Bound as the ECS agent computes
 * it: |offset| + root delay / 2 + root dispersion.
 */
export function parseChronyTracking(csv: string): ClockDrift | undefined {
  const f = csv.trim().split('\n')[0]?.split(',') ?? [];
  if (f.length < 14) return undefined;
  const refTime = Number(f[3]);
  const [offset, rootDelay, rootDispersion] = [Number(f[4]), Number(f[10]), Number(f[11])];
  const synced = f[13].trim() !== 'Not synchronised' && refTime > 0;
  if (![refTime, offset, rootDelay, rootDispersion].every(Number.isFinite)) return undefined;
  return {
    ...(synced ? { ClockErrorBound: (Math.abs(offset) + rootDelay / 2 + rootDispersion) * 1000 } : {}),
    ...(refTime > 0 ? { ReferenceTimestamp: new Date(refTime * 1000).toISOString() } : {}),
    ClockSynchronizationStatus: synced ? 'SYNCHRONIZED' : 'NOT_SYNCHRONIZED',
  };
}

/** `adjtimex --print` (`status:` timex bits, `maxerror:` µs) read at `now`. */
export function parseAdjtimexPrint(text: string, now: number): ClockDrift | undefined {
  const field = (name: string) => {
    const m = new RegExp(`^\\s*${name}:\\s*(-?\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const status = field('status');
  if (status === undefined) return undefined;
  const synced = (status & STA_UNSYNC) === 0;
  const maxerror = field('maxerror');
  return {
    ...(synced && maxerror !== undefined ? { ClockErrorBound: maxerror / 1000 } : {}),
    ReferenceTimestamp: new Date(now).toISOString(),
    ClockSynchronizationStatus: synced ? 'SYNCHRONIZED' : 'NOT_SYNCHRONIZED',
  };
}

/** `timedatectl show -p NTPSynchronized --value`: yes / no, no bound. */
export function parseTimedatectl(text: string, now: number): ClockDrift | undefined {
  const v = text.trim();
  if (v !== 'yes' && v !== 'no') return undefined;
  return { ReferenceTimestamp: new Date(now).toISOString(), ClockSynchronizationStatus: v === 'yes' ? 'SYNCHRONIZED' : 'NOT_SYNCHRONIZED' };
}

/** What a host without a readable source reports. */
export const UNKNOWN_CLOCK: ClockDrift = { ClockSynchronizationStatus: 'NOT_SYNCHRONIZED' };

interface Source {
  cmd: string;
  args: string[];
  parse(out: string, now: number): ClockDrift | undefined;
}

export const CLOCK_SOURCES: readonly Source[] = [
  { cmd: 'chronyc', args: ['-c', 'tracking'], parse: (out) => parseChronyTracking(out) },
  { cmd: 'adjtimex', args: ['--print'], parse: parseAdjtimexPrint },
  { cmd: 'timedatectl', args: ['show', '-p', 'NTPSynchronized', '--value'], parse: parseTimedatectl },
];

/** Runs a command; its stdout, or an error whose `code` is ENOENT when it is not installed. */
export type RunCommand = (cmd: string, args: string[]) => Promise<string>;

const run: RunCommand = (cmd, args) =>
  new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 2000, env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
  });

/** Reads the host clock's state through the first working source, cached `ttlMs`. */
export class ClockReader {
  private cached?: { at: number; value: Promise<ClockDrift> };
  private readonly missing = new Set<string>();

  constructor(
    private readonly ttlMs = 5000,
    private readonly exec: RunCommand = run,
    private readonly sources: readonly Source[] = CLOCK_SOURCES,
  ) {}

  read(now = Date.now()): Promise<ClockDrift> {
    if (!this.cached || now - this.cached.at >= this.ttlMs) this.cached = { at: now, value: this.measure(now) };
    return this.cached.value;
  }

  private async measure(now: number): Promise<ClockDrift> {
    for (const s of this.sources) {
      if (this.missing.has(s.cmd)) continue;
      try {
        const drift = s.parse(await this.exec(s.cmd, s.args), now);
        if (drift) return drift;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') this.missing.add(s.cmd);
        // a source that fails (no daemon, no systemd) says nothing: try the next
      }
    }
    return UNKNOWN_CLOCK;
  }
}

/** The process-wide reader of this host's clock. */
export const hostClock = new ClockReader();
