/**
 * Service scheduler and Spot settings, resolved once at server start from the
 * environment (every problem reported together):
 *
 *   SKIFF_SERVICE_INTERVAL_MS        pass interval of the service scheduler (default 1000)
 *   SKIFF_SERVICE_MAX_STARTS         tasks a service may start per pass (default 50)
 *   SKIFF_SPOT_WARNING_MS            Spot warning: SIGTERM → SIGKILL (default 120000, 2 minutes)
 *   SKIFF_SPOT_INTERRUPTION_RATE     random Spot interruptions per Spot task-hour (default 0: only on request)
 */
export interface ServiceSettings {
  intervalMs: number;
  maxStartsPerPass: number;
  spotWarningMs: number;
  spotInterruptionRatePerHour: number;
}

export function serviceSettingsFromEnv(env: NodeJS.ProcessEnv): ServiceSettings {
  const problems: string[] = [];
  const num = (name: string, def: number, min: number, max: number, integer = true): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return def;
    const v = Number(raw);
    if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      problems.push(`${name} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max} (got ${raw})`);
      return def;
    }
    return v;
  };
  const out = {
    intervalMs: num('SKIFF_SERVICE_INTERVAL_MS', 1000, 20, 600_000),
    maxStartsPerPass: num('SKIFF_SERVICE_MAX_STARTS', 50, 1, 5000),
    spotWarningMs: num('SKIFF_SPOT_WARNING_MS', 120_000, 0, 3_600_000),
    spotInterruptionRatePerHour: num('SKIFF_SPOT_INTERRUPTION_RATE', 0, 0, 1_000_000, false),
  };
  if (problems.length) throw new Error(`invalid service settings:\n  ${problems.join('\n  ')}`);
  return out;
}
