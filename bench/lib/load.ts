/** Load generation for the benchmark. */
import { summarize, type Summary } from './stats.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Open-loop load: `rps` requests a second for `seconds`, latency of each from its send. */
export async function openLoop(rps: number, seconds: number, send: () => Promise<unknown>): Promise<{ latency: Summary; achievedRps: number; errors: number }> {
  const lat: number[] = [];
  let errors = 0;
  const total = Math.round(rps * seconds);
  const inflight: Promise<void>[] = [];
  const t0 = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rps) + 1);
    while (sent < due) {
      sent++;
      const s = performance.now();
      inflight.push(
        send().then(
          () => void lat.push(performance.now() - s),
          () => void errors++,
        ),
      );
    }
    await sleep(1);
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - t0) / 1000;
  return { latency: summarize(lat), achievedRps: Math.round(total / elapsed), errors };
}

