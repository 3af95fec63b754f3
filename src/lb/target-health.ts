/**
 * ALB's target health, as a pure state machine plus the HTTP probe.
 *
 * States (ELB DescribeTargetHealth): `initial` on registration, `healthy`
 * once it passes one check (ALB: "After your target is registered, it must
 * pass one health check to be considered healthy"), `unhealthy` after
 * `unhealthyThreshold` consecutive failures; an unhealthy target is healthy
 * again after `healthyThreshold` consecutive successes.
 */
import http from 'node:http';
import type { TargetHealthCheck } from '../model/load-balancer.ts';
import { parseMatcher } from './validate.ts';

export type HealthState = 'initial' | 'healthy' | 'unhealthy';

export interface HealthTrack {
  state: HealthState;
  /** Consecutive successes (while not healthy) or failures (while not unhealthy). */
  streak: number;
  /** The last failure, in ELB's words (`Target.ResponseCodeMismatch`, `Target.Timeout`, `Target.FailedHealthChecks`). */
  reason?: string;
  description?: string;
}

export const initialHealth = (): HealthTrack => ({ state: 'initial', streak: 0 });

export interface ProbeResult {
  ok: boolean;
  reason?: string;
  description?: string;
}

/** The track after one check. */
export function afterCheck(h: HealthTrack, r: ProbeResult, hc: Pick<TargetHealthCheck, 'healthyThreshold' | 'unhealthyThreshold'>): HealthTrack {
  if (r.ok) {
    if (h.state === 'healthy') return { state: 'healthy', streak: 0 };
    if (h.state === 'initial') return { state: 'healthy', streak: 0 };
    const streak = h.streak + 1;
    return streak >= hc.healthyThreshold ? { state: 'healthy', streak: 0 } : { ...h, streak };
  }
  const fail = { reason: r.reason, description: r.description };
  if (h.state === 'unhealthy') return { state: 'unhealthy', streak: 0, ...fail };
  const streak = h.streak + 1;
  return streak >= hc.unhealthyThreshold ? { state: 'unhealthy', streak: 0, ...fail } : { state: h.state, streak, ...fail };
}

/** One health check: GET `path` on host:port within the timeout; passes when the status matches. Never rejects. */
export function probe(host: string, port: number, hc: Pick<TargetHealthCheck, 'path' | 'timeoutSeconds' | 'matcher'>): Promise<ProbeResult> {
  const matches = parseMatcher(hc.matcher) ?? ((s: number) => s === 200);
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    };
    // A new connection per check, closed after it (as ALB does).
    const req = http.get({ host, port, path: hc.path, agent: false, headers: { 'user-agent': 'ELB-HealthChecker/2.0', connection: 'close' } }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      finish(matches(status) ? { ok: true } : { ok: false, reason: 'Target.ResponseCodeMismatch', description: `Health checks failed with these codes: [${status}]` });
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish({ ok: false, reason: 'Target.Timeout', description: 'Request timed out' });
    }, hc.timeoutSeconds * 1000);
    req.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, reason: 'Target.FailedHealthChecks', description: `Health checks failed (${err.code ?? err.message})` }));
  });
}
