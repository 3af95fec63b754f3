/**
 * How `/metrics` is reached. Prometheus cannot sign with SigV4, so besides a
 * signed request (action `skiff:GetMetrics`, like any Skiff route), the operator
 * may give a bearer token: SKIFF_METRICS_TOKEN, or SKIFF_METRICS_TOKEN_FILE (a
 * file holding it, e.g. a mounted secret). A scraper then sends
 * `Authorization: Bearer <token>` (Prometheus: `authorization: {credentials_file: ...}`).
 * Without a token, only signed requests are answered: metrics name tasks,
 * families and services, which a key's policy may not allow someone to see.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/server-config.ts';

export interface MetricsSettings {
  bearerToken?: string;
}

export function metricsSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): MetricsSettings {
  let token = env.SKIFF_METRICS_TOKEN || undefined;
  const file = env.SKIFF_METRICS_TOKEN_FILE || undefined;
  if (token && file) throw new ConfigError('set SKIFF_METRICS_TOKEN or SKIFF_METRICS_TOKEN_FILE, not both');
  if (file) {
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw new ConfigError(`SKIFF_METRICS_TOKEN_FILE: cannot read ${file} (${(e as Error).message})`);
    }
  }
  if (token !== undefined && (token.length < 16 || !/^[\x21-\x7e]+$/.test(token))) {
    throw new ConfigError('the metrics token (SKIFF_METRICS_TOKEN or SKIFF_METRICS_TOKEN_FILE) must be at least 16 printable characters without spaces, e.g. `openssl rand -hex 24`');
  }
  return token ? { bearerToken: token } : {};
}
