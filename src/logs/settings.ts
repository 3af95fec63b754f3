/**
 * Log settings, resolved once at server start from the environment (every
 * problem reported together):
 *
 *   SKIFF_LOGS_SHIP_INTERVAL_MS      how often container log files are read into the log store (default 500)
 *   SKIFF_LOGS_ENFORCE_INTERVAL_MS   how often retention and size caps are enforced (default 60000)
 *   SKIFF_LOGS_STREAM_MAX_BYTES      a log stream's cap: its oldest events go beyond it (default 256 MiB)
 *   SKIFF_LOGS_MAX_BYTES             the whole log store's cap: the oldest events go beyond it (default 4 GiB)
 *   SKIFF_CONTAINER_LOG_MAX_BYTES    conmon's --log-size-max: a container's log file is started afresh
 *                                    when it would grow past this (default 64 MiB)
 *
 * Bytes are counted as CloudWatch counts them: UTF-8 message bytes + 26 per event.
 */
export interface LogSettings {
  shipIntervalMs: number;
  enforceIntervalMs: number;
  streamMaxBytes: number;
  totalMaxBytes: number;
  containerLogMaxBytes: number;
}

const MiB = 1024 * 1024;

export function logSettingsFromEnv(env: NodeJS.ProcessEnv): LogSettings {
  const problems: string[] = [];
  const num = (name: string, def: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return def;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min || v > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max} (got ${raw})`);
      return def;
    }
    return v;
  };
  const out: LogSettings = {
    shipIntervalMs: num('SKIFF_LOGS_SHIP_INTERVAL_MS', 500, 20, 60_000),
    enforceIntervalMs: num('SKIFF_LOGS_ENFORCE_INTERVAL_MS', 60_000, 50, 86_400_000),
    streamMaxBytes: num('SKIFF_LOGS_STREAM_MAX_BYTES', 256 * MiB, 64 * 1024, 2 ** 50),
    totalMaxBytes: num('SKIFF_LOGS_MAX_BYTES', 4096 * MiB, MiB, 2 ** 50),
    containerLogMaxBytes: num('SKIFF_CONTAINER_LOG_MAX_BYTES', 64 * MiB, 64 * 1024, 2 ** 40),
  };
  if (problems.length) throw new Error(`invalid log settings:\n  ${problems.join('\n  ')}`);
  return out;
}
