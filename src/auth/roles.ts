/**
 * Roles: what tasks act with, stored once and seen through two APIs (the IAM
 * Query API in src/iam/ and Skiff's `/skiff/v1/roles`). A task definition's
 * `executionRoleArn` is what Skiff itself may do for the task while starting it
 * (read its secrets); its `taskRoleArn` is what the task's own code may do with
 * the temporary credentials Skiff hands it (see metadata/task-credentials.ts).
 *
 * A role has a trust policy (AssumeRolePolicyDocument: stored and returned, not
 * evaluated), inline policies (name → document) and attached managed policies
 * (`arn:aws:iam::<account>:policy/<path><name>`, one version each: v1). Its
 * effective policy — what its credentials may do — is the union of the
 * statements of all of them (`Role.policy`). Every lookup reads the store, so a
 * policy put, attached, detached or deleted takes effect on the next call.
 *
 * Names are unique regardless of case, as in IAM. A role ARN is
 * `arn:aws:iam::<account>:role/<path><name>`; lookups by ARN go by the name
 * (a path in the ARN is accepted and ignored).
 *
 * Contract for writers: every method checks its input and throws RoleStoreError
 * (kind = what went wrong, message = what to fix); nothing is half-written.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../store/db.ts';
import { validatePolicy, type Policy } from './policy.ts';

/** The inline policy that Skiff's own roles API (`skiff roles create --policy-file`) writes. */
export const SKIFF_INLINE_POLICY = 'skiff-policy';
/** The trust policy of a role made through Skiff's own API: ECS tasks may assume it. */
export const ECS_TASKS_TRUST_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

export interface Tag {
  Key: string;
  Value: string;
}

export interface Role {
  name: string;
  arn: string;
  roleId: string;
  path: string;
  description?: string;
  /** The trust policy document as it was given. */
  trustPolicy: string;
  maxSessionDuration: number;
  tags: Tag[];
  /** The effective policy: every statement of the inline and attached policies. */
  policy: Policy;
  createdAt: number;
}

export interface ManagedPolicy {
  name: string;
  arn: string;
  policyId: string;
  path: string;
  description?: string;
  document: string;
  attachmentCount: number;
  createdAt: number;
  updatedAt: number;
}

export type RoleStoreErrorKind = 'invalid' | 'malformed' | 'exists' | 'not-found' | 'conflict';

export class RoleStoreError extends Error {
  constructor(
    message: string,
    readonly kind: RoleStoreErrorKind,
  ) {
    super(message);
  }
}

interface RoleRow {
  name: string;
  arn: string;
  role_id: string;
  path: string;
  description: string | null;
  trust_policy: string;
  max_session_duration: number;
  tags: string;
  created_at: number;
}

interface PolicyRow {
  arn: string;
  name: string;
  policy_id: string;
  path: string;
  description: string | null;
  document: string;
  created_at: number;
  updated_at: number;
}

/** IAM's rule for role and policy names. */
export const ROLE_NAME_RE = /^[\w+=,.@-]{1,64}$/;
const POLICY_NAME_RE = /^[\w+=,.@-]{1,128}$/;
/** IAM's rule for paths: `/` or `/a/b/`. */
const PATH_RE = /^\/(?:[\x21-\x2e\x30-\x7e]+\/)*$/;
const ROLE_ARN_RE = /^arn:aws:iam::(\d{12}):role\/(?:[\x21-\x7e]*\/)?([\w+=,.@-]{1,64})$/;
const POLICY_DOC_MAX = 10_240;
const TRUST_DOC_MAX = 2_048;

/** `{account, name}` of a role ARN, or undefined when it is not one. */
export function parseRoleArn(arn: string): { account: string; name: string } | undefined {
  const m = ROLE_ARN_RE.exec(arn);
  return m ? { account: m[1], name: m[2] } : undefined;
}

/** An IAM unique id: a 4-letter prefix and 17 characters of base32 (`AROA...`, `ANPA...`). */
export function newIamId(prefix: 'AROA' | 'ANPA'): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  return prefix + [...randomBytes(17)].map((b) => alphabet[b & 31]).join('');
}

/** Parses a permissions policy document (JSON text or an object) with Skiff's evaluator's rules. */
export function parsePermissionsPolicy(doc: unknown): Policy {
  let value = doc;
  if (typeof doc === 'string') {
    if (doc.length > POLICY_DOC_MAX) throw new RoleStoreError(`The policy document is ${doc.length} characters; the limit is ${POLICY_DOC_MAX}.`, 'malformed');
    try {
      value = JSON.parse(doc);
    } catch {
      throw new RoleStoreError('Syntax errors in policy: the document is not valid JSON.', 'malformed');
    }
  }
  try {
    return validatePolicy(value);
  } catch (err) {
    throw new RoleStoreError((err as Error).message, 'malformed');
  }
}

/** Checks a trust policy: JSON with statements of Effect, Principal and sts:AssumeRole* actions. */
export function checkTrustPolicy(doc: string): void {
  if (doc.length > TRUST_DOC_MAX) throw new RoleStoreError(`The trust policy is ${doc.length} characters; the limit is ${TRUST_DOC_MAX}.`, 'malformed');
  let p: { Statement?: unknown };
  try {
    p = JSON.parse(doc);
  } catch {
    throw new RoleStoreError('Syntax errors in policy: the trust policy is not valid JSON.', 'malformed');
  }
  const stmts = Array.isArray(p?.Statement) ? p.Statement : p?.Statement && typeof p.Statement === 'object' ? [p.Statement] : [];
  if (typeof p !== 'object' || p === null || stmts.length === 0) throw new RoleStoreError('The trust policy needs a Statement: [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}].', 'malformed');
  stmts.forEach((s: Record<string, unknown>, i: number) => {
    if (s?.Effect !== 'Allow' && s?.Effect !== 'Deny') throw new RoleStoreError(`Statement[${i}].Effect of the trust policy must be Allow or Deny.`, 'malformed');
    if (s.Principal === undefined && s.NotPrincipal === undefined) throw new RoleStoreError(`Has prohibited field Resource or is missing Principal: Statement[${i}] of a trust policy needs a Principal (e.g. {"Service": "ecs-tasks.amazonaws.com"}).`, 'malformed');
    if (s.Resource !== undefined) throw new RoleStoreError(`Has prohibited field Resource: Statement[${i}] of a trust policy names no Resource.`, 'malformed');
    const actions = typeof s.Action === 'string' ? [s.Action] : Array.isArray(s.Action) ? s.Action : [];
    if (!actions.length || actions.some((a) => typeof a !== 'string' || !/^(sts:[\w*]+|\*)$/i.test(a))) {
      throw new RoleStoreError(`Statement[${i}].Action of a trust policy must be sts actions such as sts:AssumeRole.`, 'malformed');
    }
  });
}

function checkName(kind: 'roleName' | 'policyName', v: unknown): string {
  const re = kind === 'roleName' ? ROLE_NAME_RE : POLICY_NAME_RE;
  if (typeof v !== 'string' || !re.test(v)) {
    throw new RoleStoreError(`Value ${JSON.stringify(v)} at '${kind}' failed to satisfy constraint: Member must be 1-${kind === 'roleName' ? 64 : 128} letters, digits or _+=,.@-.`, 'invalid');
  }
  return v;
}

function checkPath(v: string | undefined): string {
  const path = v ?? '/';
  if (path.length > 512 || !PATH_RE.test(path)) throw new RoleStoreError(`Value '${path}' at 'path' failed to satisfy constraint: a path starts and ends with '/' (e.g. /app/).`, 'invalid');
  return path;
}

const notFoundRole = (name: string) => new RoleStoreError(`The role with name ${name} cannot be found.`, 'not-found');
const notFoundPolicy = (arn: string) => new RoleStoreError(`Policy ${arn} was not found.`, 'not-found');

export class RoleStore {
  constructor(
    private readonly db: Db,
    private readonly accountId: string,
    private readonly now: () => number = Date.now,
  ) {}

  arnOf(name: string, path = '/'): string {
    return `arn:aws:iam::${this.accountId}:role${path}${name}`;
  }

  policyArnOf(name: string, path = '/'): string {
    return `arn:aws:iam::${this.accountId}:policy${path}${name}`;
  }

  // ---- roles ----

  private row(name: string): RoleRow | undefined {
    return this.db.prepare('SELECT * FROM roles WHERE name = ? COLLATE NOCASE').get(name) as RoleRow | undefined;
  }

  private toRole(r: RoleRow): Role {
    return {
      name: r.name,
      arn: r.arn,
      roleId: r.role_id,
      path: r.path,
      ...(r.description ? { description: r.description } : {}),
      trustPolicy: r.trust_policy,
      maxSessionDuration: r.max_session_duration,
      tags: JSON.parse(r.tags) as Tag[],
      policy: this.effectivePolicy(r.name),
      createdAt: r.created_at,
    };
  }

  /** The union of a role's inline and attached policies' statements (none: nothing is allowed). */
  private effectivePolicy(roleName: string): Policy {
    const docs = [
      ...this.inlinePolicies(roleName).map((p) => p.document),
      ...(this.db.prepare('SELECT p.document FROM role_attached_policies a JOIN managed_policies p ON p.arn = a.policy_arn WHERE a.role_name = ? ORDER BY p.name').all(roleName) as { document: string }[]).map((r) => r.document),
    ];
    return { Version: '2012-10-17', Statement: docs.flatMap((d) => parsePermissionsPolicy(d).Statement) };
  }

  get(name: string): Role | undefined {
    const r = this.row(name);
    return r && this.toRole(r);
  }

  /** The role an ARN names, if it is in this account and exists. */
  byArn(arn: string): Role | undefined {
    const p = parseRoleArn(arn);
    if (!p || p.account !== this.accountId) return undefined;
    return this.get(p.name);
  }

  /** Roles in name order, those whose path starts with `pathPrefix` (default `/`: all). */
  list(pathPrefix = '/'): Role[] {
    return (this.db.prepare('SELECT * FROM roles WHERE substr(path, 1, ?) = ? ORDER BY name').all(pathPrefix.length, pathPrefix) as RoleRow[]).map((r) => this.toRole(r));
  }

  /** IAM's CreateRole: a role with a trust policy and no permissions yet. */
  createRole(input: { name: unknown; trustPolicy: string; path?: string; description?: string; maxSessionDuration?: number; tags?: Tag[] }): Role {
    const name = checkName('roleName', input.name);
    const path = checkPath(input.path);
    if (input.description !== undefined && input.description.length > 1000) throw new RoleStoreError('description must be at most 1000 characters.', 'invalid');
    const maxSession = input.maxSessionDuration ?? 3600;
    if (!Number.isInteger(maxSession) || maxSession < 3600 || maxSession > 43200) throw new RoleStoreError(`MaxSessionDuration must be 3600 to 43200 seconds (got ${maxSession}).`, 'invalid');
    const tags = input.tags ?? [];
    if (tags.length > 50) throw new RoleStoreError('A role has at most 50 tags.', 'invalid');
    checkTrustPolicy(input.trustPolicy);
    if (this.row(name)) throw new RoleStoreError(`Role with name ${name} already exists.`, 'exists');
    this.db
      .prepare('INSERT INTO roles (name, arn, role_id, path, description, trust_policy, max_session_duration, tags, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(name, this.arnOf(name, path), newIamId('AROA'), path, input.description ?? null, input.trustPolicy, maxSession, JSON.stringify(tags), this.now());
    return this.get(name)!;
  }

  /** IAM's DeleteRole: refused while the role has inline or attached policies. */
  deleteRole(name: string): Role {
    const role = this.get(name);
    if (!role) throw notFoundRole(name);
    if (this.inlinePolicies(role.name).length) throw new RoleStoreError('Cannot delete entity, must delete policies first.', 'conflict');
    if (this.attachedPolicies(role.name).length) throw new RoleStoreError('Cannot delete entity, must detach all policies first.', 'conflict');
    this.db.prepare('DELETE FROM roles WHERE name = ?').run(role.name);
    return role;
  }

  updateTrustPolicy(name: string, trustPolicy: string): void {
    const r = this.row(name);
    if (!r) throw notFoundRole(name);
    checkTrustPolicy(trustPolicy);
    this.db.prepare('UPDATE roles SET trust_policy = ? WHERE name = ?').run(trustPolicy, r.name);
  }

  // ---- Skiff's own view: one inline policy, deleted with the role ----

  /** `/skiff/v1/roles` create: CreateRole (ECS tasks may assume it) + PutRolePolicy skiff-policy, in one transaction. */
  create(input: { name: unknown; policy: unknown; description?: unknown }): Role {
    if (input.description !== undefined && typeof input.description !== 'string') throw new RoleStoreError('description must be a string of at most 1000 characters.', 'invalid');
    const name = checkName('roleName', input.name);
    const policy = parsePermissionsPolicy(input.policy);
    return this.db.transaction(() => {
      this.createRole({ name, trustPolicy: ECS_TASKS_TRUST_POLICY, description: input.description as string | undefined });
      this.putInlinePolicy(name, SKIFF_INLINE_POLICY, JSON.stringify(policy));
      return this.get(name)!;
    })();
  }

  /** `/skiff/v1/roles` delete: removes the role with its inline policies and attachments (IAM's DeleteRole refuses instead). */
  delete(name: string): Role {
    return this.db.transaction(() => {
      const role = this.get(name);
      if (!role) throw new RoleStoreError(`The role with name ${name} cannot be found. List roles with \`skiff roles list\`.`, 'not-found');
      this.db.prepare('DELETE FROM role_policies WHERE role_name = ?').run(role.name);
      this.db.prepare('DELETE FROM role_attached_policies WHERE role_name = ?').run(role.name);
      this.db.prepare('DELETE FROM roles WHERE name = ?').run(role.name);
      return role;
    })();
  }

  // ---- inline policies ----

  inlinePolicies(roleName: string): { name: string; document: string }[] {
    return this.db.prepare('SELECT policy_name AS name, document FROM role_policies WHERE role_name = ? ORDER BY policy_name').all(roleName) as { name: string; document: string }[];
  }

  /** PutRolePolicy: adds or replaces an inline policy (in force from the role's next call). */
  putInlinePolicy(roleName: string, policyName: unknown, document: string): void {
    const name = checkName('policyName', policyName);
    const r = this.row(roleName);
    if (!r) throw notFoundRole(roleName);
    parsePermissionsPolicy(document);
    this.db.prepare('INSERT INTO role_policies (role_name, policy_name, document) VALUES (?, ?, ?) ON CONFLICT (role_name, policy_name) DO UPDATE SET document = excluded.document').run(r.name, name, document);
  }

  getInlinePolicy(roleName: string, policyName: string): { roleName: string; name: string; document: string } {
    const r = this.row(roleName);
    if (!r) throw notFoundRole(roleName);
    const p = this.inlinePolicies(r.name).find((x) => x.name === policyName);
    if (!p) throw new RoleStoreError(`The role policy with name ${policyName} cannot be found.`, 'not-found');
    return { roleName: r.name, ...p };
  }

  deleteInlinePolicy(roleName: string, policyName: string): void {
    const p = this.getInlinePolicy(roleName, policyName);
    this.db.prepare('DELETE FROM role_policies WHERE role_name = ? AND policy_name = ?').run(p.roleName, p.name);
  }

  // ---- managed policies ----

  private toPolicy(r: PolicyRow): ManagedPolicy {
    const { n } = this.db.prepare('SELECT count(*) AS n FROM role_attached_policies WHERE policy_arn = ?').get(r.arn) as { n: number };
    return {
      name: r.name,
      arn: r.arn,
      policyId: r.policy_id,
      path: r.path,
      ...(r.description ? { description: r.description } : {}),
      document: r.document,
      attachmentCount: n,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    };
  }

  getPolicy(arn: string): ManagedPolicy | undefined {
    const r = this.db.prepare('SELECT * FROM managed_policies WHERE arn = ?').get(arn) as PolicyRow | undefined;
    return r && this.toPolicy(r);
  }

  listPolicies(pathPrefix = '/'): ManagedPolicy[] {
    return (this.db.prepare('SELECT * FROM managed_policies WHERE substr(path, 1, ?) = ? ORDER BY name').all(pathPrefix.length, pathPrefix) as PolicyRow[]).map((r) => this.toPolicy(r));
  }

  createPolicy(input: { name: unknown; document: string; path?: string; description?: string }): ManagedPolicy {
    const name = checkName('policyName', input.name);
    const path = checkPath(input.path);
    if (input.description !== undefined && input.description.length > 1000) throw new RoleStoreError('description must be at most 1000 characters.', 'invalid');
    parsePermissionsPolicy(input.document);
    if (this.db.prepare('SELECT 1 FROM managed_policies WHERE name = ? COLLATE NOCASE').get(name)) {
      throw new RoleStoreError(`A policy called ${name} already exists. Duplicate names are not allowed.`, 'exists');
    }
    const arn = this.policyArnOf(name, path);
    const at = this.now();
    this.db
      .prepare('INSERT INTO managed_policies (arn, name, policy_id, path, description, document, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(arn, name, newIamId('ANPA'), path, input.description ?? null, input.document, at, at);
    return this.getPolicy(arn)!;
  }

  /** DeletePolicy: refused while the policy is attached to a role. */
  deletePolicy(arn: string): ManagedPolicy {
    const p = this.getPolicy(arn);
    if (!p) throw notFoundPolicy(arn);
    if (p.attachmentCount) throw new RoleStoreError('Cannot delete a policy attached to entities.', 'conflict');
    this.db.prepare('DELETE FROM managed_policies WHERE arn = ?').run(arn);
    return p;
  }

  attachedPolicies(roleName: string): { name: string; arn: string; path: string }[] {
    return this.db
      .prepare('SELECT p.name, p.arn, p.path FROM role_attached_policies a JOIN managed_policies p ON p.arn = a.policy_arn WHERE a.role_name = ? ORDER BY p.name')
      .all(roleName) as { name: string; arn: string; path: string }[];
  }

  /** AttachRolePolicy (idempotent, as in IAM). */
  attach(roleName: string, policyArn: string): void {
    const r = this.row(roleName);
    if (!r) throw notFoundRole(roleName);
    if (!this.getPolicy(policyArn)) throw new RoleStoreError(`Policy ${policyArn} does not exist or is not attachable.`, 'not-found');
    this.db.prepare('INSERT OR IGNORE INTO role_attached_policies (role_name, policy_arn, attached_at) VALUES (?, ?, ?)').run(r.name, policyArn, this.now());
  }

  detach(roleName: string, policyArn: string): void {
    const r = this.row(roleName);
    if (!r) throw notFoundRole(roleName);
    const gone = this.db.prepare('DELETE FROM role_attached_policies WHERE role_name = ? AND policy_arn = ?').run(r.name, policyArn);
    if (!gone.changes) throw notFoundPolicy(policyArn);
  }
}
