/**
 * Checks the host before the server creates anything, so a server that cannot run
 * tasks refuses to start with one message naming what is missing and how to get
 * it, instead of half-starting.
 */
export interface PreflightCheck {
  fingerprint(): Promise<string[]>;
}

export class PreflightError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `skiff server cannot start on this host:\n${problems.map((p) => `  - ${p}`).join('\n')}\n` +
        `Fix the above (the README's set-up command installs everything) and start it again.`,
    );
    this.name = 'PreflightError';
  }
}

export async function preflight(checks: PreflightCheck[]): Promise<void> {
  const problems: string[] = [];
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    problems.push('Skiff must run as root to create network namespaces and cgroups: run it with sudo (or as root).');
  } else {
    for (const c of checks) problems.push(...(await c.fingerprint()));
  }
  const unique = [...new Set(problems)];
  if (unique.length) throw new PreflightError(unique);
}
