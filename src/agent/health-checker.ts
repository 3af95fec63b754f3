/**
 * Container health checks, as ECS runs them: the definition's healthCheck
 * command executed inside the running container (`CMD`: the arguments as they
 * are; `CMD-SHELL`: through `/bin/sh -c`), every `interval` seconds, each run
 * limited to `timeout` seconds. A passing run makes the container HEALTHY; after
 * `retries` consecutive failing runs it is UNHEALTHY; failures during the
 * `startPeriod` do not count (a pass then still counts). The first run comes one
 * second after the container starts (Docker waits a whole interval; a service
 * gets healthy tasks sooner this way), later runs every interval.
 *
 * The checker only observes and reports through `record`; the task runner is
 * the one that writes the status, and the service scheduler decides what an
 * UNHEALTHY task means (it replaces it; a standalone task keeps running, as in ECS).
 */
import type { ContainerRecord, TaskRecord } from '../model/task-record.ts';

import type { HealthStatus } from '../model/task-health.ts';

export interface HealthCheckerDeps {
  /** Runs a command in the container; exit code 0 is a pass (a timeout or a failure to run is not). */
  exec(runtimeId: string, args: string[], timeoutMs: number): Promise<{ exitCode: number }>;
  /** Whether the container is still running (probing stops once it is not). */
  running(containerName: string): boolean;
  /** A container's health changed. */
  record(containerName: string, status: HealthStatus): void;
  log(msg: string): void;
}

const FIRST_PROBE_MS = 1000;

/** The command a health check runs. */
export function probeCommand(command: string[]): string[] {
  const [kind, ...rest] = command;
  return kind === 'CMD-SHELL' ? ['/bin/sh', '-c', rest.join(' ')] : rest;
}

/** One task's health checks: one probe loop per container that has a health check. */
export class HealthChecker {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly deps: HealthCheckerDeps) {}

  /** Starts probing a container that has just started (or was adopted running). No-op without a health check. */
  watch(c: ContainerRecord): void {
    const hc = c.healthCheck;
    if (!hc || this.stopped || this.timers.has(c.name)) return;
    const startedAt = Date.now();
    let failures = 0;
    let status: HealthStatus = c.healthStatus ?? 'UNKNOWN';
    const set = (s: HealthStatus) => {
      if (s === status) return;
      status = s;
      this.deps.record(c.name, s);
    };
    const probe = async () => {
      if (this.stopped) return;
      if (!this.deps.running(c.name)) {
        this.timers.delete(c.name);
        return;
      }
      let ok = false;
      try {
        ok = (await this.deps.exec(c.runtimeId, probeCommand(hc.command), hc.timeout * 1000)).exitCode === 0;
      } catch (err) {
        this.deps.log(`health check of container ${c.name} could not run: ${err instanceof Error ? err.message : err}`);
      }
      if (this.stopped) return;
      if (ok) {
        failures = 0;
        set('HEALTHY');
      } else if (Date.now() - startedAt >= (hc.startPeriod ?? 0) * 1000) {
        failures++;
        if (failures >= hc.retries) set('UNHEALTHY');
      }
      this.timers.set(c.name, setTimeout(probe, hc.interval * 1000));
    };
    this.timers.set(c.name, setTimeout(probe, Math.min(FIRST_PROBE_MS, hc.interval * 1000)));
  }

  /** Stops every probe (the task is stopping). */
  stopAll(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
