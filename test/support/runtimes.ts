/**
 * The runtimes (drivers) the root end-to-end suites run on. Suites that show
 * what every runtime must keep (tasks, limits, networking, security groups,
 * metadata, secrets, logs, health, restart, hostile images) loop over
 * `testRuntimes()` instead of being copied per runtime.
 *
 * SKIFF_TEST_RUNTIMES picks them (comma-separated, e.g. `runc` or
 * `runc,gvisor`); the default is every sandbox this suite knows that the host
 * has the tools for (runc always; gvisor when /usr/bin/runsc exists).
 */
import { existsSync } from 'node:fs';

export const KNOWN_RUNTIMES = ['runc', 'gvisor'] as const;

export function testRuntimes(): string[] {
  const env = process.env.SKIFF_TEST_RUNTIMES?.trim();
  if (env) return env.split(',').map((s) => s.trim()).filter(Boolean);
  return KNOWN_RUNTIMES.filter((r) => r !== 'gvisor' || existsSync('/usr/bin/runsc'));
}

/** The runtimes other than runc the suites should also cover (for files that add one sandboxed pass to a runc suite). */
export function sandboxRuntimes(): string[] {
  return testRuntimes().filter((r) => r !== 'runc');
}

/**
 * The isolation this run's servers give tasks by default (TestServer passes the
 * environment on: SKIFF_ISOLATION=gvisor runs a whole suite in gVisor). Suites
 * branch on it only where a sandbox truly shows a thing differently (a task's
 * own view of its cgroup, start and stop latency), never to skip a promise.
 */
export const ISOLATION = process.env.SKIFF_ISOLATION?.trim() || 'runc';
/** True when tasks run in a sandbox with a kernel of its own (not runc). */
export const SANDBOXED = ISOLATION !== 'runc';
/** Timing windows widened for sandboxes (a gVisor sandbox starts and stops in a few hundred ms more). */
export function slack(runcMs: number, sandboxMs: number): number {
  return SANDBOXED ? sandboxMs : runcMs;
}

/** Where this run's runtime keeps its state under a server's data dir (runc: `<data>/runtime`; others `<data>/runtime/<name>`). */
export function runtimeStateDir(dataDir: string): string {
  return SANDBOXED ? `${dataDir}/runtime/${ISOLATION}` : `${dataDir}/runtime`;
}
