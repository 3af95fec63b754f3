/**
 * Colours and terminal detection for the CLI. Colour only when the stream is a
 * terminal, NO_COLOR is unset (https://no-color.org) and TERM is not `dumb`;
 * FORCE_COLOR (not `0`) turns it on anyway. Output for scripts (`--output json`,
 * pipes, files) never carries escape codes.
 */
import pc from 'picocolors';

export type Colors = ReturnType<typeof pc.createColors>;

export interface Stream {
  isTTY?: boolean;
}

export function colorEnabled(stream: Stream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

export function colors(stream: Stream = process.stdout, env: NodeJS.ProcessEnv = process.env): Colors {
  return pc.createColors(colorEnabled(stream, env));
}

/** A task, service or rollout state in its colour: green is good, yellow is on its way, red is stopped or failed. */
export function stateColor(c: Colors, state: string): string {
  if (['RUNNING', 'ACTIVE', 'COMPLETED', 'HEALTHY', 'PRIMARY'].includes(state)) return c.green(state);
  if (['STOPPED', 'FAILED', 'INACTIVE', 'UNHEALTHY'].includes(state)) return c.red(state);
  if (['-', ''].includes(state)) return state;
  return c.yellow(state);
}

/** Bytes for people: 1.5 MiB. */
export function bytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
