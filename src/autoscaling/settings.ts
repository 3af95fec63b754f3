/**
 * Autoscaling settings, resolved once at server start from the environment
 * (every problem reported together). The defaults are AWS's: target tracking
 * alarms evaluate 1-minute datapoints, 3 above the target to scale out, 15
 * below 90 % of it to scale in. Tests shrink them.
 *
 *   SKIFF_AUTOSCALING_INTERVAL_MS          how often the autoscaler looks (default 5000)
 *   SKIFF_AUTOSCALING_PERIOD_MS            length of one metric datapoint (default 60000)
 *   SKIFF_AUTOSCALING_SCALE_OUT_DATAPOINTS consecutive datapoints above the target to scale out (default 3)
 *   SKIFF_AUTOSCALING_SCALE_IN_DATAPOINTS  consecutive datapoints below 90 % of the target to scale in (default 15)
 *
 * A datapoint averages the stats sampler's samples (SKIFF_STATS_INTERVAL_MS,
 * default 10 s) that fall in its period, so the period must be longer than
 * the sampling interval; a period without samples is missing data (no alarm).
 */
import { envNumbers } from '../config/env-numbers.ts';

export interface AutoscalingSettings {
  intervalMs: number;
  periodMs: number;
  scaleOutDatapoints: number;
  scaleInDatapoints: number;
}

export const DEFAULT_AUTOSCALING_SETTINGS: Readonly<AutoscalingSettings> = Object.freeze({
  intervalMs: 5000,
  periodMs: 60_000,
  scaleOutDatapoints: 3,
  scaleInDatapoints: 15,
});

export function autoscalingSettingsFromEnv(env: NodeJS.ProcessEnv): Readonly<AutoscalingSettings> {
  const read = envNumbers(env);
  const d = DEFAULT_AUTOSCALING_SETTINGS;
  const out = {
    intervalMs: read.int('SKIFF_AUTOSCALING_INTERVAL_MS', d.intervalMs, 50, 600_000),
    periodMs: read.int('SKIFF_AUTOSCALING_PERIOD_MS', d.periodMs, 200, 3_600_000),
    scaleOutDatapoints: read.int('SKIFF_AUTOSCALING_SCALE_OUT_DATAPOINTS', d.scaleOutDatapoints, 1, 100),
    scaleInDatapoints: read.int('SKIFF_AUTOSCALING_SCALE_IN_DATAPOINTS', d.scaleInDatapoints, 1, 100),
  };
  read.check('autoscaling');
  return Object.freeze(out);
}
