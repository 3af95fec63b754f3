/**
 * API access: `keys create|list|revoke` and `audit`. Clients of /skiff/v1/keys
 * and /skiff/v1/audit like any other caller (their own calls are authorized
 * and audited too).
 */
import { readFileSync } from 'node:fs';
import { skiffFetch } from '../client.ts';
import { render } from '../render.ts';
import type { CommandModule } from '../context.ts';
import { ADMIN_POLICY, READ_ONLY_POLICY } from '../../auth/policy.ts';
import type { AuditEntry } from '../../auth/audit.ts';

interface KeyView {
  accessKeyId: string;
  name: string;
  status: string;
  root: boolean;
  createdAt: string;
  revokedAt?: string;
  lastUsedAt?: string;
  policy: unknown;
  secretAccessKey?: string;
}

/** An audit entry as /skiff/v1/audit sends it: the stored entry with an ISO time. */
type AuditEvent = Omit<AuditEntry, 'ts'> & { time: string };

function loadPolicy(opts: { policy?: string; preset?: string }): unknown {
  if (opts.policy && opts.preset) throw new Error('give --policy or --preset, not both');
  if (opts.preset === 'admin') return ADMIN_POLICY;
  if (opts.preset === 'read-only') return READ_ONLY_POLICY;
  if (opts.preset) throw new Error(`--preset must be admin or read-only (got ${opts.preset})`);
  if (!opts.policy) throw new Error('a key needs a policy: --policy <file or JSON> or --preset admin|read-only');
  const text = opts.policy.trimStart().startsWith('{') ? opts.policy : readFileSync(opts.policy.replace(/^file:\/\//, ''), 'utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new Error('--policy is not valid JSON');
  }
}

export const keyCommands: CommandModule = ({ program, globals, format }) => {
  const keys = program.command('keys').description('API access keys: create, list, revoke; rotate the master key');

  keys
    .command('create')
    .description('create an access key; its secret is printed once')
    .option('--name <name>', 'who the key is for (the principal name in the audit log)')
    .option('--policy <file|json>', 'IAM-like policy: {"Statement":[{"Effect":"Allow","Action":["ecs:Describe*"],"Resource":"*"}]}')
    .option('--preset <name>', 'a ready policy instead: admin | read-only')
    .action(async (opts: { name?: string; policy?: string; preset?: string }) => {
      const policy = loadPolicy(opts);
      const { accessKey } = (await (await skiffFetch(globals(), '/skiff/v1/keys', { method: 'POST', body: { name: opts.name, policy } })).json()) as { accessKey: KeyView };
      render(format(), { accessKey }, () => ({
        columns: ['ACCESS KEY ID', 'SECRET ACCESS KEY', 'NAME'],
        rows: [[accessKey.accessKeyId, accessKey.secretAccessKey, accessKey.name]],
      }));
      if (format() === 'table') console.error('The secret is shown only now: store it (e.g. `aws configure`).');
    });

  keys
    .command('list')
    .description('list access keys (never their secrets)')
    .option('-a, --all', 'include revoked keys')
    .action(async (opts: { all?: boolean }) => {
      const data = (await (await skiffFetch(globals(), `/skiff/v1/keys${opts.all ? '?includeRevoked=true' : ''}`)).json()) as { accessKeys: KeyView[] };
      render(format(), data, () => ({
        columns: ['ACCESS KEY ID', 'NAME', 'STATUS', 'ROOT', 'CREATED', 'LAST USED'],
        rows: data.accessKeys.map((k) => [k.accessKeyId, k.name, k.status, k.root ? 'yes' : '', k.createdAt, k.lastUsedAt]),
      }));
    });

  keys
    .command('revoke <accessKeyId>')
    .description('revoke an access key: calls signed with it are refused from now on')
    .action(async (id: string) => {
      const data = (await (await skiffFetch(globals(), `/skiff/v1/keys/${encodeURIComponent(id)}`, { method: 'DELETE' })).json()) as { accessKey: KeyView };
      render(format(), data, () => ({ columns: ['ACCESS KEY ID', 'STATUS'], rows: [[data.accessKey.accessKeyId, data.accessKey.status]] }));
    });

  keys
    .command('rotate-master')
    .description('re-wrap every stored secret under a new master key (crash-safe); back up the new master.key with the store')
    .action(async () => {
      const data = (await (await skiffFetch(globals(), '/skiff/v1/master-key/rotate', { method: 'POST', body: {} })).json()) as {
        fingerprint: string;
        rewrapped: { secretVersions: number; accessKeys: number; taskCredentials: number };
      };
      render(format(), data, () => ({
        columns: ['NEW KEY FINGERPRINT', 'SECRET VERSIONS', 'ACCESS KEYS', 'TASK CREDENTIALS'],
        rows: [[data.fingerprint, String(data.rewrapped.secretVersions), String(data.rewrapped.accessKeys), String(data.rewrapped.taskCredentials)]],
      }));
    });

  program
    .command('audit')
    .description('who called what on which resource, and the outcome (newest first)')
    .option('--since <time>', 'ISO time or a duration ago (30m, 24h, 7d)')
    .option('--until <time>', 'ISO time or a duration ago')
    .option('--key <accessKeyId>', 'only calls signed with this key')
    .option('--action <action>', 'only this action (e.g. ecs:RunTask; * as wildcard)')
    .option('--failed', 'only calls that were refused or failed')
    .option('--limit <n>', 'at most this many events', '100')
    .action(async (opts: { since?: string; until?: string; key?: string; action?: string; failed?: boolean; limit: string }) => {
      const q = new URLSearchParams();
      if (opts.since) q.set('since', opts.since);
      if (opts.until) q.set('until', opts.until);
      if (opts.key) q.set('accessKeyId', opts.key);
      if (opts.action) q.set('action', opts.action);
      if (opts.failed) q.set('failed', 'true');
      q.set('limit', opts.limit);
      const data = (await (await skiffFetch(globals(), `/skiff/v1/audit?${q}`)).json()) as { events: AuditEvent[] };
      render(format(), data, () => ({
        columns: ['TIME', 'KEY', 'PRINCIPAL', 'ACTION', 'RESOURCE', 'OUTCOME', 'SOURCE'],
        rows: data.events.map((e) => [e.time, e.accessKeyId, e.principal, e.action, e.resource, e.outcome, e.sourceIp]),
      }));
    });
};
