/**
 * Roles for tasks: `roles create|list|show|delete`, clients of /skiff/v1/roles.
 * A task definition names them by ARN (taskRoleArn, executionRoleArn).
 */
import { readFileSync } from 'node:fs';
import { skiffFetch } from '../client.ts';
import { render } from '../render.ts';
import type { CommandModule } from '../context.ts';

interface Statements {
  Statement: { Effect: string; Action?: unknown; NotAction?: unknown; Resource?: unknown; NotResource?: unknown }[];
}

interface RoleView {
  name: string;
  arn: string;
  description?: string;
  createdAt: string;
  /** The effective policy: every statement of the role's policies. */
  policy: Statements;
  /** Where the statements come from: inline policies (`skiff-policy` from `roles create`, others from `aws iam put-role-policy`) and attached managed policies. */
  policies?: { type: 'inline' | 'managed'; name: string; arn?: string; document: Statements }[];
}

function readPolicy(file: string): unknown {
  const text = file.trimStart().startsWith('{') ? file : readFileSync(file.replace(/^file:\/\//, ''), 'utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`--policy-file ${file} is not valid JSON`);
  }
}

const list = (v: unknown) => (v === undefined ? '' : Array.isArray(v) ? v.join(',') : String(v));

export const roleCommands: CommandModule = ({ program, globals, format }) => {
  const roles = program.command('roles').description('roles tasks act with (taskRoleArn, executionRoleArn): create, list, show, delete');

  roles
    .command('create')
    .description('create a role with an IAM-like policy')
    .requiredOption('--name <name>', 'role name (its ARN is arn:aws:iam::<account>:role/<name>)')
    .requiredOption('--policy-file <file>', 'policy JSON: {"Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:..."}]}')
    .option('--description <text>', 'what the role is for')
    .action(async (opts: { name: string; policyFile: string; description?: string }) => {
      const body = { name: opts.name, policy: readPolicy(opts.policyFile), description: opts.description };
      const data = (await (await skiffFetch(globals(), '/skiff/v1/roles', { method: 'POST', body })).json()) as { role: RoleView };
      render(format(), data, () => ({ columns: ['NAME', 'ARN'], rows: [[data.role.name, data.role.arn]] }));
    });

  roles
    .command('list')
    .description('list roles')
    .action(async () => {
      const data = (await (await skiffFetch(globals(), '/skiff/v1/roles')).json()) as { roles: RoleView[] };
      render(format(), data, () => ({
        columns: ['NAME', 'ARN', 'POLICIES', 'STATEMENTS', 'CREATED'],
        rows: data.roles.map((r) => [r.name, r.arn, String(r.policies?.length ?? 1), String(r.policy.Statement.length), r.createdAt]),
      }));
    });

  roles
    .command('show <name>')
    .description("a role and its policies' statements (inline and attached)")
    .action(async (name: string) => {
      const data = (await (await skiffFetch(globals(), `/skiff/v1/roles/${encodeURIComponent(name)}`)).json()) as { role: RoleView };
      const policies = data.role.policies ?? [{ type: 'inline' as const, name: '-', document: data.role.policy }];
      render(format(), data, () => ({
        columns: ['POLICY', 'EFFECT', 'ACTION', 'RESOURCE'],
        rows: policies.flatMap((p) =>
          p.document.Statement.map((s) => [
            p.type === 'managed' ? `${p.name} (attached)` : p.name,
            s.Effect,
            s.Action !== undefined ? list(s.Action) : `NOT ${list(s.NotAction)}`,
            s.Resource !== undefined ? list(s.Resource) : `NOT ${list(s.NotResource)}`,
          ]),
        ),
      }));
      if (format() === 'table') console.error(`${data.role.arn}${data.role.description ? ` — ${data.role.description}` : ''}`);
    });

  roles
    .command('delete <name>')
    .description('delete a role: tasks using it lose its permissions from their next call on')
    .action(async (name: string) => {
      const data = (await (await skiffFetch(globals(), `/skiff/v1/roles/${encodeURIComponent(name)}`, { method: 'DELETE' })).json()) as { role: RoleView };
      render(format(), data, () => ({ columns: ['NAME', 'ARN', 'STATUS'], rows: [[data.role.name, data.role.arn, 'deleted']] }));
    });
};
