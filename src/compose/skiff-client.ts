/**
 * The calls `skiff compose` makes to Skiff's own endpoints (`/skiff/v1/roles`,
 * `/skiff/v1/load-balancers`), signed like any AWS client. Errors keep the
 * server's type and message.
 */
import { credentials, signedFetch } from '../auth/signed-fetch.ts';
import type { ListenerInfo, RoleInfo, RolesApi } from './compose-ops.ts';

type Reply = { ok: true; body: Record<string, unknown> } | { ok: false; type: string; message: string };

function skiffCaller(endpoint: string, region: string) {
  return async (method: string, path: string, body?: unknown): Promise<Reply> => {
    const res = await signedFetch(new URL(endpoint + path), {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      service: 'skiff',
      region,
      credentials,
    });
    const parsed = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (res.ok) return { ok: true, body: parsed };
    return { ok: false, type: String(parsed.__type ?? res.headers.get('x-amzn-errortype') ?? res.status).split('#').pop()!, message: String(parsed.message ?? parsed.Message ?? res.statusText) };
  };
}

const fail = (what: string, r: { type: string; message: string }) => new Error(`${what}: ${r.type}: ${r.message}`);

export function rolesClient(endpoint: string, region: string): RolesApi {
  const call = skiffCaller(endpoint, region);
  const path = (name: string) => `/skiff/v1/roles/${encodeURIComponent(name)}`;
  return {
    async get(name) {
      const r = await call('GET', path(name));
      if (r.ok) return r.body.role as RoleInfo;
      if (r.type === 'ResourceNotFoundException') return undefined;
      throw fail(`reading role ${name}`, r);
    },
    async create(role) {
      const r = await call('POST', '/skiff/v1/roles', role);
      if (!r.ok) throw fail(`creating role ${role.name}`, r);
      return r.body.role as RoleInfo;
    },
    async delete(name) {
      const r = await call('DELETE', path(name));
      if (r.ok) return true;
      if (r.type === 'ResourceNotFoundException') return false;
      throw fail(`deleting role ${name}`, r);
    },
  };
}

export function listenersClient(endpoint: string, region: string): () => Promise<ListenerInfo[]> {
  const call = skiffCaller(endpoint, region);
  return async () => {
    const r = await call('GET', '/skiff/v1/load-balancers');
    if (!r.ok) throw fail('listing load balancers', r);
    return (r.body.loadBalancers ?? []) as ListenerInfo[];
  };
}
