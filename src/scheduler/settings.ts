/**
 * Service scheduler and Spot settings, resolved once at server start from the
 * environment (every problem reported together):
 *
 *   SKIFF_SERVICE_INTERVAL_MS        pass interval of the service scheduler (default 1000)
 *   SKIFF_SERVICE_MAX_STARTS         tasks a service may start per pass (default 50)
 *   SKIFF_SPOT_WARNING_MS            Spot warning: SIGTERM → SIGKILL (default 120000, 2 minutes)
 *   SKIFF_SPOT_INTERRUPTION_RATE     random Spot interruptions per Spot task-hour (default 0: only on request)
 */
import { envNumbers } from '../config/env-numbers.ts';

export interface ServiceSettings {
  intervalMs: number;
  maxStartsPerPass: number;
  spotWarningMs: number;
  spotInterruptionRatePerHour: number;
}

export function serviceSettingsFromEnv(env: NodeJS.ProcessEnv): ServiceSettings {
  const read = envNumbers(env);
  const out = {
    intervalMs: read.int('SKIFF_SERVICE_INTERVAL_MS', 1000, 20, 600_000),
    maxStartsPerPass: read.int('SKIFF_SERVICE_MAX_STARTS', 50, 1, 5000),
    spotWarningMs: read.int('SKIFF_SPOT_WARNING_MS', 120_000, 0, 3_600_000),
    spotInterruptionRatePerHour: read.number('SKIFF_SPOT_INTERRUPTION_RATE', 0, 0, 1_000_000),
  };
  read.check('service');
  return out;
}
