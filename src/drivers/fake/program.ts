/**
 * What a container "runs" under the fake driver: its argv read as a tiny
 * program, so a task definition's `command` can say how a fake task behaves
 * (exit at once, run until stopped, run out of memory, fail to start) and a
 * test drives the real task runner, agent and scheduler through it.
 *
 * Grammar: argv is a sequence of steps, each a verb and its one argument:
 *
 *   echo <text>            a line on stdout
 *   stderr <text>          a line on stderr
 *   sleep <ms>             wait
 *   exit <code>            exit with <code>
 *   oom                    killed by the OOM killer (137, oomKilled)
 *   trap <SIGNAL> <code>   on SIGNAL exit with <code> (`ignore`: keep running)
 *   run                    run until a signal ends it (or the test ends it through the host)
 *   fail-create <message>  `createContainer` rejects with <message> (like a missing executable)
 *   fail-start <message>   `startContainer` rejects with <message>
 *
 * A program that ends without `exit`, `oom` or `run` exits 0, as a shell
 * script does. An argv whose first word (basename) is none of these verbs is
 * a real image's command (`nginx`, `/usr/bin/httpd -f`): it runs until a
 * signal ends it. A signal without a trap ends the process: exit 128 + the
 * signal's number (SIGTERM 143, SIGKILL 137); SIGKILL cannot be trapped.
 */
import { constants } from 'node:os';

export type Step =
  | { op: 'echo'; stream: 'stdout' | 'stderr'; text: string }
  | { op: 'sleep'; ms: number }
  | { op: 'exit'; code: number }
  | { op: 'oom' }
  | { op: 'trap'; signal: string; code: number | 'ignore' }
  | { op: 'run' };

export interface Program {
  steps: Step[];
  /** Set when the program asks `createContainer` to fail. */
  failCreate?: string;
  /** Set when the program asks `startContainer` to fail. */
  failStart?: string;
}

const VERBS = new Set(['echo', 'stderr', 'sleep', 'exit', 'oom', 'trap', 'run', 'fail-create', 'fail-start']);

/** Normalises a signal name or number to `SIGXXX`; undefined when unknown. */
export function signalName(signal: string | number): string | undefined {
  const s = String(signal).trim().toUpperCase();
  if (/^\d{1,2}$/.test(s)) {
    const n = Number(s);
    return Object.entries(constants.signals).find(([, v]) => v === n)?.[0];
  }
  const name = s.startsWith('SIG') ? s : `SIG${s}`;
  return name in constants.signals ? name : undefined;
}

/** Exit code of a process ended by `signal` (128 + its number). */
export function signalExitCode(signal: string): number {
  return 128 + (constants.signals as Record<string, number>)[signal]!;
}

/** Reads argv as a program; throws (a message saying what is wrong) for a malformed one. */
export function parseProgram(args: string[]): Program {
  const first = (args[0] ?? '').split('/').pop()!;
  if (!VERBS.has(first)) return { steps: [{ op: 'run' }] };
  const steps: Step[] = [];
  const out: Program = { steps };
  const words = [first, ...args.slice(1)];
  for (let i = 0; i < words.length; i++) {
    const verb = words[i]!;
    const arg = () => {
      if (i + 1 >= words.length) throw new Error(`fake program: ${verb} needs an argument`);
      return words[++i]!;
    };
    const int = (what: string) => {
      const v = arg();
      if (!/^\d+$/.test(v)) throw new Error(`fake program: ${verb} needs a whole number ${what}, got ${JSON.stringify(v)}`);
      return Number(v);
    };
    switch (verb) {
      case 'echo':
        steps.push({ op: 'echo', stream: 'stdout', text: arg() });
        break;
      case 'stderr':
        steps.push({ op: 'echo', stream: 'stderr', text: arg() });
        break;
      case 'sleep':
        steps.push({ op: 'sleep', ms: int('of milliseconds') });
        break;
      case 'exit':
        steps.push({ op: 'exit', code: int('exit code') & 255 });
        break;
      case 'oom':
        steps.push({ op: 'oom' });
        break;
      case 'run':
        steps.push({ op: 'run' });
        break;
      case 'trap': {
        const sig = signalName(arg());
        if (!sig || sig === 'SIGKILL') throw new Error(`fake program: trap needs a signal other than SIGKILL`);
        const v = arg();
        if (v !== 'ignore' && !/^\d+$/.test(v)) throw new Error(`fake program: trap ${sig} needs an exit code or 'ignore'`);
        steps.push({ op: 'trap', signal: sig, code: v === 'ignore' ? 'ignore' : Number(v) & 255 });
        break;
      }
      case 'fail-create':
        out.failCreate = arg();
        break;
      case 'fail-start':
        out.failStart = arg();
        break;
      default:
        throw new Error(`fake program: unknown step ${JSON.stringify(verb)} (steps: ${[...VERBS].join(', ')})`);
    }
  }
  return out;
}
