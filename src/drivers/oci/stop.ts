/**
 * Stopping a container: its stop signal, then SIGKILL after the grace period
 * (a created, never started container is killed at once). Resolves with the exit.
 */
import type { ContainerExit } from '../driver.ts';
import type { ExitTracker } from './exits.ts';
import type { RuncCli } from './runc-cli.ts';

/** Normalises and checks a signal name or number (`TERM`, `SIGTERM`, `15`). */
export function parseSignal(signal: string | undefined): string {
  const sig = String(signal ?? 'SIGTERM').trim().toUpperCase() || 'SIGTERM';
  if (!/^(SIG)?[A-Z][A-Z0-9+-]*$|^\d{1,2}$/.test(sig)) throw new Error(`invalid signal ${JSON.stringify(signal)}`);
  return sig;
}

export async function stopContainer(d: { exits: ExitTracker; cli: RuncCli; wait(id: string): Promise<ContainerExit> }, id: string, signal: string, timeoutMs: number): Promise<ContainerExit> {
  const sig = parseSignal(signal);
  const already = await d.exits.read(id);
  if (already) return already;
  const exited = d.wait(id);
  exited.catch(() => {}); // awaited below; don't let an early rejection go unhandled meanwhile
  const st = await d.cli.state(id);
  if (st && st.status !== 'stopped') {
    // A created container has not exec'd the process yet: nothing to be graceful with.
    const first = st.status === 'created' ? 'SIGKILL' : sig;
    await d.cli.kill(id, first).catch((e: Error) => {
      // runsc cannot signal a created container: its sandbox process is the container until start, and dies with it.
      if (st.status !== 'created' || !/state created/i.test(e.message) || !(st.pid > 1)) throw e;
      process.kill(st.pid, 'SIGKILL');
    });
    if (first !== 'SIGKILL' && first !== 'KILL' && first !== '9') {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), Math.max(0, timeoutMs))));
      const winner = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (winner !== 'timeout') return winner;
      await d.cli.kill(id, 'SIGKILL');
    }
  }
  return exited;
}
