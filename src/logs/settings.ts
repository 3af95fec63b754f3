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
import { envNumbers } from '../config/env-numbers.ts';

export interface LogSettings {
  shipIntervalMs: number;
  enforceIntervalMs: number;
  streamMaxBytes: number;
  totalMaxBytes: number;
  containerLogMaxBytes: number;
}

const MiB = 1024 * 1024;

export function logSettingsFromEnv(env: NodeJS.ProcessEnv): LogSettings {
  const read = envNumbers(env);
  const out: LogSettings = {
    shipIntervalMs: read.int('SKIFF_LOGS_SHIP_INTERVAL_MS', 500, 20, 60_000),
    enforceIntervalMs: read.int('SKIFF_LOGS_ENFORCE_INTERVAL_MS', 60_000, 50, 86_400_000),
    streamMaxBytes: read.int('SKIFF_LOGS_STREAM_MAX_BYTES', 256 * MiB, 64 * 1024, 2 ** 50),
    totalMaxBytes: read.int('SKIFF_LOGS_MAX_BYTES', 4096 * MiB, MiB, 2 ** 50),
    containerLogMaxBytes: read.int('SKIFF_CONTAINER_LOG_MAX_BYTES', 64 * MiB, 64 * 1024, 2 ** 40),
  };
  read.check('log');
  return out;
}
