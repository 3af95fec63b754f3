/**
 * The server's settings by part, each read from its SKIFF_* variables. Every
 * parser adds its problems (naming the variable, what is allowed and what was
 * given) to the list it is handed and returns usable defaults meanwhile, so
 * resolveServerConfig reports every problem of every part together. Nothing
 * outside src/config/ and src/cli/ reads the environment.
 *
 * Service scheduler and Spot:
 *   SKIFF_SERVICE_INTERVAL_MS        pass interval of the service scheduler (default 1000)
 *   SKIFF_SERVICE_MAX_STARTS         tasks a service may start per pass (default 50)
 *   SKIFF_SPOT_WARNING_MS            Spot warning: SIGTERM → SIGKILL (default 120000, 2 minutes)
 *   SKIFF_SPOT_INTERRUPTION_RATE     random Spot interruptions per Spot task-hour (default 0: only on request)
 *
 * Logs (bytes counted as CloudWatch counts them: UTF-8 message bytes + 26 per event):
 *   SKIFF_LOGS_SHIP_INTERVAL_MS      how often container log files are read into the log store (default 500)
 *   SKIFF_LOGS_ENFORCE_INTERVAL_MS   how often retention and size caps are enforced (default 60000)
 *   SKIFF_LOGS_STREAM_MAX_BYTES      a log stream's cap: its oldest events go beyond it (default 256 MiB)
 *   SKIFF_LOGS_MAX_BYTES             the whole log store's cap: the oldest events go beyond it (default 4 GiB)
 *   SKIFF_CONTAINER_LOG_MAX_BYTES    conmon's --log-size-max: a container's log file is started afresh
 *                                    when it would grow past this (default 64 MiB)
 *
 * Metrics (`/metrics`): Prometheus cannot sign with SigV4, so besides a signed
 * request the operator may give a bearer token: SKIFF_METRICS_TOKEN, or
 * SKIFF_METRICS_TOKEN_FILE (a file holding it, e.g. a mounted secret). Without
 * one, only signed requests are answered.
 *
 * Task metadata and credentials:
 *   SKIFF_METADATA_PORT              port the metadata server listens on (default 0: any free port)
 *   SKIFF_TASK_CREDENTIALS_TTL_MS    lifetime of task role credentials (default 21600000, 6 hours; min 2000)
 *
 * Load balancers:
 *   SKIFF_LB_DEREGISTRATION_DELAY_SECONDS  default deregistration delay (default 300, as AWS)
 *   SKIFF_LB_SYNC_INTERVAL_MS              how often targets follow the store (default 250)
 *
 * Autoscaling (AWS's defaults: 1-minute datapoints, 3 above the target to scale
 * out, 15 below 90 % of it to scale in; tests shrink them):
 *   SKIFF_AUTOSCALING_INTERVAL_MS          how often the autoscaler looks (default 5000)
 *   SKIFF_AUTOSCALING_PERIOD_MS            length of one metric datapoint (default 60000)
 *   SKIFF_AUTOSCALING_SCALE_OUT_DATAPOINTS consecutive datapoints above the target to scale out (default 3)
 *   SKIFF_AUTOSCALING_SCALE_IN_DATAPOINTS  consecutive datapoints below 90 % of the target to scale in (default 15)
 * A datapoint averages the stats sampler's samples (SKIFF_STATS_INTERVAL_MS)
 * that fall in its period; a period without samples is missing data (no alarm).
 *
 * Ephemeral storage (src/agent/storage-watcher.ts):
 *   SKIFF_EPHEMERAL_STORAGE_SCALE        multiplies every task's limit, for small hosts and tests
 *                                        (0.000001–1, default 1; 0.001: a 20 GiB task may use 20 MiB)
 *   SKIFF_EPHEMERAL_STORAGE_INTERVAL_MS  how often running tasks' writable layers are measured (default 2000)
 */
import { readFileSync } from 'node:fs';
import { envNumbers } from './env-numbers.ts';
import { DEFAULT_DEREGISTRATION_DELAY_SECONDS, MAX_DEREGISTRATION_DELAY_SECONDS } from '../model/load-balancer.ts';

type Env = NodeJS.ProcessEnv;

export interface ServiceSettings {
  intervalMs: number;
  maxStartsPerPass: number;
  spotWarningMs: number;
  spotInterruptionRatePerHour: number;
}

export function parseServiceSettings(env: Env, problems: string[]): ServiceSettings {
  const read = envNumbers(env, problems);
  return {
    intervalMs: read.int('SKIFF_SERVICE_INTERVAL_MS', 1000, 20, 600_000),
    maxStartsPerPass: read.int('SKIFF_SERVICE_MAX_STARTS', 50, 1, 5000),
    spotWarningMs: read.int('SKIFF_SPOT_WARNING_MS', 120_000, 0, 3_600_000),
    spotInterruptionRatePerHour: read.number('SKIFF_SPOT_INTERRUPTION_RATE', 0, 0, 1_000_000),
  };
}

export interface LogSettings {
  shipIntervalMs: number;
  enforceIntervalMs: number;
  streamMaxBytes: number;
  totalMaxBytes: number;
  containerLogMaxBytes: number;
}

const MiB = 1024 * 1024;

export function parseLogSettings(env: Env, problems: string[]): LogSettings {
  const read = envNumbers(env, problems);
  return {
    shipIntervalMs: read.int('SKIFF_LOGS_SHIP_INTERVAL_MS', 500, 20, 60_000),
    enforceIntervalMs: read.int('SKIFF_LOGS_ENFORCE_INTERVAL_MS', 60_000, 50, 86_400_000),
    streamMaxBytes: read.int('SKIFF_LOGS_STREAM_MAX_BYTES', 256 * MiB, 64 * 1024, 2 ** 50),
    totalMaxBytes: read.int('SKIFF_LOGS_MAX_BYTES', 4096 * MiB, MiB, 2 ** 50),
    containerLogMaxBytes: read.int('SKIFF_CONTAINER_LOG_MAX_BYTES', 64 * MiB, 64 * 1024, 2 ** 40),
  };
}

export interface MetricsSettings {
  bearerToken?: string;
}

export function parseMetricsSettings(env: Env, problems: string[]): MetricsSettings {
  let token = env.SKIFF_METRICS_TOKEN || undefined;
  const file = env.SKIFF_METRICS_TOKEN_FILE || undefined;
  if (token && file) {
    problems.push('set SKIFF_METRICS_TOKEN or SKIFF_METRICS_TOKEN_FILE, not both');
    return {};
  }
  if (file) {
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (e) {
      problems.push(`SKIFF_METRICS_TOKEN_FILE: cannot read ${file} (${(e as Error).message})`);
      return {};
    }
  }
  if (token !== undefined && (token.length < 16 || !/^[\x21-\x7e]+$/.test(token))) {
    problems.push('the metrics token (SKIFF_METRICS_TOKEN or SKIFF_METRICS_TOKEN_FILE) must be at least 16 printable characters without spaces, e.g. `openssl rand -hex 24`');
    return {};
  }
  return token ? { bearerToken: token } : {};
}

/** Lifetime of task role credentials when SKIFF_TASK_CREDENTIALS_TTL_MS is not set: 6 hours, as ECS. */
export const DEFAULT_CREDENTIALS_TTL_MS = 6 * 3_600_000;

export interface MetadataSettings {
  port: number;
  credentialsTtlMs: number;
}

export function parseMetadataSettings(env: Env, problems: string[]): MetadataSettings {
  const read = envNumbers(env, problems);
  return {
    port: read.int('SKIFF_METADATA_PORT', 0, 0, 65535),
    credentialsTtlMs: read.int('SKIFF_TASK_CREDENTIALS_TTL_MS', DEFAULT_CREDENTIALS_TTL_MS, 2000, 12 * 3_600_000),
  };
}

export interface LoadBalancerSettings {
  /** Address listeners bind to (the server's --host). */
  host: string;
  /** Default deregistration delay (SKIFF_LB_DEREGISTRATION_DELAY_SECONDS, default 300). */
  deregistrationDelaySeconds: number;
  /** How often targets are brought in step with the store (SKIFF_LB_SYNC_INTERVAL_MS, default 250). */
  syncIntervalMs: number;
}

export function parseLoadBalancerSettings(env: Env, host: string, problems: string[]): LoadBalancerSettings {
  const read = envNumbers(env, problems);
  return {
    host,
    deregistrationDelaySeconds: read.number('SKIFF_LB_DEREGISTRATION_DELAY_SECONDS', DEFAULT_DEREGISTRATION_DELAY_SECONDS, 0, MAX_DEREGISTRATION_DELAY_SECONDS),
    syncIntervalMs: read.number('SKIFF_LB_SYNC_INTERVAL_MS', 250, 20, 60_000),
  };
}

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

export function parseAutoscalingSettings(env: Env, problems: string[]): AutoscalingSettings {
  const read = envNumbers(env, problems);
  const d = DEFAULT_AUTOSCALING_SETTINGS;
  return {
    intervalMs: read.int('SKIFF_AUTOSCALING_INTERVAL_MS', d.intervalMs, 50, 600_000),
    periodMs: read.int('SKIFF_AUTOSCALING_PERIOD_MS', d.periodMs, 200, 3_600_000),
    scaleOutDatapoints: read.int('SKIFF_AUTOSCALING_SCALE_OUT_DATAPOINTS', d.scaleOutDatapoints, 1, 100),
    scaleInDatapoints: read.int('SKIFF_AUTOSCALING_SCALE_IN_DATAPOINTS', d.scaleInDatapoints, 1, 100),
  };
}

export interface EphemeralStorageSettings {
  scale: number;
  intervalMs: number;
}

export function parseEphemeralStorageSettings(env: Env, problems: string[]): EphemeralStorageSettings {
  const read = envNumbers(env, problems);
  return {
    scale: read.number('SKIFF_EPHEMERAL_STORAGE_SCALE', 1, 0.000001, 1),
    intervalMs: read.int('SKIFF_EPHEMERAL_STORAGE_INTERVAL_MS', 2000, 100, 600_000),
  };
}
