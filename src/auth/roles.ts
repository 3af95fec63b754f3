/**
 * Roles: named policies that tasks act with. A task definition's
 * `executionRoleArn` is what Skiff itself may do for the task while starting it
 * (read its secrets); its `taskRoleArn` is what the task's own code may do with
 * the temporary credentials Skiff hands it (see task-credentials.ts).
 *
 * A role is `arn:aws:iam::<account>:role/<name>` (an IAM path before the name is
 * accepted in ARNs and ignored: roles are keyed by name). Policies use the
 * access keys' format and evaluator (policy.ts). A role's policy is read at every
 * call, so changing or deleting a role takes effect at once.
 */
import type { Db } from '../store/db.ts';
import { validatePolicy, type Policy } from './policy.ts';

export interface Role {
  name: string;
  arn: string;
  description?: string;
  policy: Policy;
  createdAt: number;
}

interface Row {
  name: string;
  arn: string;
  description: string | null;
  policy: string;
  created_at: number;
}

/** IAM's rule for role names. */
export const ROLE_NAME_RE = /^[\w+=,.@-]{1,64}$/;
const ROLE_ARN_RE = /^arn:aws:iam::(\d{12}):role\/(?:[\x21-\x7e]*\/)?([\w+=,.@-]{1,64})$/;

/** `{account, name}` of a role ARN, or undefined when it is not one. */
export function parseRoleArn(arn: string): { account: string; name: string } | undefined {
  const m = ROLE_ARN_RE.exec(arn);
  return m ? { account: m[1], name: m[2] } : undefined;
}

export class RoleStoreError extends Error {
  constructor(
    message: string,
    readonly kind: 'invalid' | 'exists' | 'not-found',
  ) {
    super(message);
  }
}

export class RoleStore {
  constructor(
    private readonly db: Db,
    private readonly accountId: string,
    private readonly now: () => number = Date.now,
  ) {}

  arnOf(name: string): string {
    return `arn:aws:iam::${this.accountId}:role/${name}`;
  }

  private toRole(r: Row): Role {
    return {
      name: r.name,
      arn: r.arn,
      ...(r.description ? { description: r.description } : {}),
      policy: JSON.parse(r.policy) as Policy,
      createdAt: r.created_at,
    };
  }

  get(name: string): Role | undefined {
    const r = this.db.prepare('SELECT * FROM roles WHERE name = ?').get(name) as Row | undefined;
    return r && this.toRole(r);
  }

  /** The role an ARN names, if it is in this account and exists. */
  byArn(arn: string): Role | undefined {
    const p = parseRoleArn(arn);
    if (!p || p.account !== this.accountId) return undefined;
    return this.get(p.name);
  }

  list(): Role[] {
    return (this.db.prepare('SELECT * FROM roles ORDER BY name').all() as Row[]).map((r) => this.toRole(r));
  }

  create(input: { name: unknown; policy: unknown; description?: unknown }): Role {
    if (typeof input.name !== 'string' || !ROLE_NAME_RE.test(input.name)) {
      throw new RoleStoreError(`Role name ${JSON.stringify(input.name)} must be 1-64 letters, digits or _+=,.@-.`, 'invalid');
    }
    if (input.description !== undefined && (typeof input.description !== 'string' || input.description.length > 1000)) {
      throw new RoleStoreError('description must be a string of at most 1000 characters.', 'invalid');
    }
    let policy: Policy;
    try {
      policy = validatePolicy(input.policy);
    } catch (err) {
      throw new RoleStoreError((err as Error).message, 'invalid');
    }
    const name = input.name;
    if (this.get(name)) throw new RoleStoreError(`Role with name ${name} already exists.`, 'exists');
    const createdAt = this.now();
    this.db
      .prepare('INSERT INTO roles (name, arn, description, policy, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(name, this.arnOf(name), (input.description as string | undefined) ?? null, JSON.stringify(policy), createdAt);
    return this.get(name)!;
  }

  /** Deletes a role; tasks using it lose its permissions from their next call on. */
  delete(name: string): Role {
    const role = this.get(name);
    if (!role) throw new RoleStoreError(`The role with name ${name} cannot be found. List roles with \`skiff roles list\`.`, 'not-found');
    this.db.prepare('DELETE FROM roles WHERE name = ?').run(name);
    return role;
  }
}
