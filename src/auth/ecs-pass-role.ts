/**
 * Which IAM roles an ECS operation passes to ECS, for the `iam:PassRole` check
 * AWS makes before it lets a caller hand a role to its tasks. Passing a role is
 * what lets a task act with the role's policy (task role: the credentials at
 * 169.254.170.2; execution role: the secrets read at start), so a caller must be
 * allowed `iam:PassRole` on each role, with `iam:PassedToService` =
 * `ecs-tasks.amazonaws.com`:
 *
 *   RegisterTaskDefinition   taskRoleArn, executionRoleArn of the input
 *   RunTask, StartTask       overrides.taskRoleArn / overrides.executionRoleArn, else
 *                            the referenced task definition's (the roles the task gets)
 *   CreateService            the referenced task definition's roles
 *   UpdateService            the new task definition's roles, when it names one (without
 *                            one the service keeps the code and roles it already had, and a
 *                            service takes no overrides)
 *
 * The resource checked is the role's canonical ARN: Skiff keys roles by name
 * and ignores an IAM path, so `role/team/admin` reaches role `admin` and is
 * checked as `role/admin` (a grant on `role/team/*` cannot reach a role outside
 * that path). A string that is not a role ARN is checked as given (it grants
 * nothing: no role has it). A reference that does not resolve yields no roles;
 * the operation then fails on its own.
 */
import { parseTaskDefinitionRef, type ArnContext } from '../ecs/arns.ts';
import { parseRoleArn } from './roles.ts';

export const ECS_TASKS_SERVICE = 'ecs-tasks.amazonaws.com';

export interface TaskRoles {
  taskRoleArn?: string;
  executionRoleArn?: string;
}

export interface EcsPassRoleDeps {
  arns: ArnContext;
  /** A task definition's roles: a revision, or the latest ACTIVE one when `revision` is undefined. */
  taskDefinitionRoles(family: string, revision: number | undefined): TaskRoles | undefined;
}

export interface PassedRole {
  roleArn: string;
  /** The value of iam:PassedToService. */
  service: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** `arn:aws:iam::<account>:role/<name>` for any role ARN (path dropped); other strings unchanged. */
export function canonicalRoleArn(arn: string): string {
  const p = parseRoleArn(arn);
  return p ? `arn:aws:iam::${p.account}:role/${p.name}` : arn;
}

function definitionRoles(ref: unknown, deps: EcsPassRoleDeps): TaskRoles {
  if (!str(ref)) return {};
  try {
    const r = parseTaskDefinitionRef(ref as string, deps.arns);
    return deps.taskDefinitionRoles(r.family, r.revision) ?? {};
  } catch {
    return {};
  }
}

/** The distinct roles `operation` with `input` passes to ECS, canonical, in the order named. */
export function ecsPassedRoles(operation: string, input: Record<string, unknown>, deps: EcsPassRoleDeps): PassedRole[] {
  let roles: (string | undefined)[] = [];
  switch (operation) {
    case 'RegisterTaskDefinition':
      roles = [str(input.taskRoleArn), str(input.executionRoleArn)];
      break;
    case 'RunTask':
    case 'StartTask': {
      const o = obj(input.overrides);
      const def = definitionRoles(input.taskDefinition, deps);
      roles = [str(o.taskRoleArn) ?? def.taskRoleArn, str(o.executionRoleArn) ?? def.executionRoleArn];
      break;
    }
    case 'CreateService':
    case 'UpdateService': {
      const def = definitionRoles(input.taskDefinition, deps);
      roles = [def.taskRoleArn, def.executionRoleArn];
      break;
    }
  }
  const out = [...new Set(roles.filter((r): r is string => !!r).map(canonicalRoleArn))];
  return out.map((roleArn) => ({ roleArn, service: ECS_TASKS_SERVICE }));
}
