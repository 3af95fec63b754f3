/**
 * Operator-provided registry credentials, in the Docker config.json format the
 * ECS agent accepts (`ECS_ENGINE_AUTH_TYPE=dockercfg`):
 *   {"auths": {"registry.example:5000": {"auth": "<base64 user:pass>"}}}
 * or with explicit "username"/"password". Read once at start; a bad file is a
 * configuration error reported with what to fix.
 */
import { readFileSync } from 'node:fs';
import type { RegistryCredentials } from './images.ts';
import { parseReference } from './reference.ts';

export type CredentialsLookup = (imageReference: string) => RegistryCredentials | undefined;

export function loadRegistryAuth(file: string | undefined): CredentialsLookup {
  if (!file) return () => undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`registry auth file ${file} is not readable JSON: ${(err as Error).message}`);
  }
  const auths = (parsed as { auths?: unknown })?.auths;
  if (typeof auths !== 'object' || auths === null) {
    throw new Error(`registry auth file ${file} must look like {"auths": {"host:port": {"auth": "<base64 user:pass>"}}}`);
  }
  const byHost = new Map<string, RegistryCredentials>();
  for (const [host, entry] of Object.entries(auths as Record<string, { auth?: string; username?: string; password?: string }>)) {
    let { username, password } = entry ?? {};
    if (entry?.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new Error(`registry auth file ${file}: "auth" of ${host} must be base64 of user:password`);
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
    if (typeof username !== 'string' || typeof password !== 'string') {
      throw new Error(`registry auth file ${file}: ${host} needs "auth" or "username" and "password"`);
    }
    byHost.set(host.replace(/^https?:\/\//, '').replace(/\/.*$/, ''), { username, password });
  }
  return (imageReference) => {
    try {
      return byHost.get(parseReference(imageReference).domain);
    } catch {
      return undefined; // an invalid reference fails in the pull with its own message
    }
  };
}
