/**
 * Skiff's endpoints for access keys and the audit log. Each is authorized like
 * any other call (actions skiff:ListAccessKeys, skiff:CreateAccessKey,
 * skiff:RevokeAccessKey, skiff:GetAuditLog); creating a key is as powerful as
 * the policy it may give, so grant skiff:CreateAccessKey to administrators only.
 *
 *   GET    /skiff/v1/keys[?includeRevoked=true]  → { accessKeys: [...] }   (no secrets)
 *   POST   /skiff/v1/keys {name?, policy?}        → { accessKey: {..., secretAccessKey} }  (the only time the secret is shown)
 *   DELETE /skiff/v1/keys/:accessKeyId            → { accessKey }
 *   GET    /skiff/v1/audit[?since=&until=&accessKeyId=&action=&failed=true&limit=]  → { events: [...] } newest first
 */
import type { FastifyInstance } from 'fastify';
import { ApiError, ErrorCode, invalidParameter } from '../api/errors.ts';
import { routeHandler } from '../api/route-handler.ts';
import type { AuditLog } from './audit.ts';
import { KeyStoreError, type AccessKey, type KeyStore } from './keys.ts';
import { PolicyError } from './policy.ts';

const view = (k: AccessKey) => ({
  accessKeyId: k.accessKeyId,
  name: k.name,
  status: k.status,
  root: k.isRoot,
  createdAt: new Date(k.createdAt).toISOString(),
  ...(k.revokedAt ? { revokedAt: new Date(k.revokedAt).toISOString() } : {}),
  ...(k.lastUsedAt ? { lastUsedAt: new Date(k.lastUsedAt).toISOString() } : {}),
  policy: k.policy,
});

function time(v: string | undefined, name: string, now: number): number | undefined {
  if (v === undefined || v === '') return undefined;
  const d = /^(\d+)(m|h|d)$/.exec(v);
  if (d) return now - Number(d[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[d[2] as 'm' | 'h' | 'd'];
  const ms = Date.parse(v);
  if (!Number.isFinite(ms)) throw invalidParameter(`${name} '${v}' is not a time: use ISO 8601 (2025-06-01T12:00:00Z) or a duration ago (30m, 24h, 7d).`);
  return ms;
}

export function authRoutes(app: FastifyInstance, deps: { keys: KeyStore; audit: AuditLog; now?: () => number }): void {
  const now = deps.now ?? Date.now;
  const handle = routeHandler((err) => (err instanceof PolicyError || err instanceof KeyStoreError ? invalidParameter(err.message) : err));

  app.get<{ Querystring: { includeRevoked?: string } }>(
    '/skiff/v1/keys',
    handle((req: { query: { includeRevoked?: string } }) => ({ accessKeys: deps.keys.list({ includeRevoked: req.query.includeRevoked === 'true' }).map(view) })),
  );

  app.post<{ Body: unknown }>(
    '/skiff/v1/keys',
    handle((req: { body: unknown }) => {
      const body = (req.body ?? {}) as { name?: unknown; policy?: unknown };
      if (typeof body !== 'object' || Array.isArray(body)) throw invalidParameter('The body must be a JSON object: {"name": "...", "policy": {...}}.');
      if (body.name !== undefined && typeof body.name !== 'string') throw invalidParameter('name must be a string.');
      if (body.policy === undefined) throw invalidParameter('policy is required: an IAM-like policy document {"Statement": [{"Effect", "Action", "Resource"}]}.');
      const policy = typeof body.policy === 'string' ? parseJson(body.policy) : body.policy;
      const created = deps.keys.create({ name: body.name, policy });
      return { accessKey: { ...view(created), secretAccessKey: created.secretAccessKey } };
    }),
  );

  app.delete<{ Params: { accessKeyId: string } }>(
    '/skiff/v1/keys/:accessKeyId',
    handle((req: { params: { accessKeyId: string } }) => {
      const key = deps.keys.get(req.params.accessKeyId);
      if (!key) throw new ApiError(ErrorCode.ResourceNotFoundException, `Access key ${req.params.accessKeyId} does not exist. List keys with \`skiff keys list\`.`);
      if (key.isRoot) {
        throw invalidParameter('The root key cannot be revoked through the API: set SKIFF_ROOT_ACCESS_KEY_ID/SKIFF_ROOT_SECRET_ACCESS_KEY to a new key and restart the server.');
      }
      deps.keys.revoke(key.accessKeyId);
      return { accessKey: view(deps.keys.get(key.accessKeyId)!) };
    }),
  );

  app.get<{ Querystring: Record<string, string | undefined> }>(
    '/skiff/v1/audit',
    handle((req: { query: Record<string, string | undefined> }) => {
      const q = req.query;
      const t = now();
      const limit = q.limit === undefined ? 100 : Number(q.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw invalidParameter(`limit must be a whole number from 1 to 10000 (got ${q.limit}).`);
      const events = deps.audit.query({
        since: time(q.since, 'since', t),
        until: time(q.until, 'until', t),
        accessKeyId: q.accessKeyId || undefined,
        action: q.action || undefined,
        failedOnly: q.failed === 'true',
        limit,
      });
      return { events: events.map((e) => ({ ...e, time: new Date(e.ts).toISOString() })) };
    }),
  );

  // How many access keys start tasks or services in a cluster (skiff doctor's shared-kernel check): a count from
  // the audit log, never who they are, so a read-only key (which may not read the audit log) may ask.
  app.get<{ Params: { cluster: string } }>(
    '/skiff/v1/clusters/:cluster/access-keys',
    handle((req: { params: { cluster: string } }) => {
      const cluster = req.params.cluster;
      if (!/^arn:[a-z-]+:ecs:[a-z0-9-]+:\d{12}:cluster\/[A-Za-z0-9_-]{1,255}$/.test(cluster)) {
        throw invalidParameter(`'${cluster.slice(0, 300)}' is not a cluster ARN: give the clusterArn DescribeClusters answers.`);
      }
      const taskPrefix = cluster.replace(':cluster/', ':task/') + '/';
      const servicePrefix = cluster.replace(':cluster/', ':service/') + '/';
      const keys = new Set<string>();
      for (const action of ['ecs:RunTask', 'ecs:StartTask', 'ecs:CreateService', 'ecs:UpdateService']) {
        for (const e of deps.audit.query({ action, limit: 10_000 })) {
          if (e.outcome !== 'Success' || !e.accessKeyId) continue;
          if ((e.resource ?? '').split(' ').some((r) => r === cluster || r.startsWith(taskPrefix) || r.startsWith(servicePrefix))) keys.add(e.accessKeyId);
        }
      }
      return { cluster, accessKeys: keys.size };
    }),
  );
}

function parseJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    throw invalidParameter('policy is not valid JSON.');
  }
}
