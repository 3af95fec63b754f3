/**
 * Skiff's endpoints for roles, authorized like any other call (skiff:ListRoles,
 * skiff:CreateRole, skiff:GetRole, skiff:DeleteRole on the role's ARN).
 * Creating a role is as powerful as the policy it may give a task: grant
 * skiff:CreateRole to administrators only.
 *
 * A view of the same roles the IAM API (src/iam/) manages: create is IAM's
 * CreateRole (trusting ecs-tasks.amazonaws.com) + PutRolePolicy `skiff-policy`;
 * a role shows its effective `policy` (every statement of its inline and
 * attached policies) and `policies` (where each comes from); delete removes
 * the role with its inline policies and attachments.
 *
 *   GET    /skiff/v1/roles                               → { roles: [...] }
 *   POST   /skiff/v1/roles {name, policy, description?}  → { role }
 *   GET    /skiff/v1/roles/:roleName                     → { role }
 *   DELETE /skiff/v1/roles/:roleName                     → { role }
 */
import type { FastifyInstance } from 'fastify';
import { ApiError, ErrorCode, invalidParameter } from '../api/errors.ts';
import { routeHandler } from '../api/route-handler.ts';
import { parsePermissionsPolicy, RoleStoreError, type Role, type RoleStore } from './roles.ts';

/** A role as Skiff's API shows it; with `roles`, also its policies one by one. */
export const roleView = (r: Role, roles?: RoleStore) => ({
  name: r.name,
  arn: r.arn,
  roleId: r.roleId,
  path: r.path,
  ...(r.description ? { description: r.description } : {}),
  createdAt: new Date(r.createdAt).toISOString(),
  policy: r.policy,
  ...(roles
    ? {
        policies: [
          ...roles.inlinePolicies(r.name).map((p) => ({ type: 'inline' as const, name: p.name, document: parsePermissionsPolicy(p.document) })),
          ...roles.attachedPolicies(r.name).map((p) => ({ type: 'managed' as const, name: p.name, arn: p.arn, document: parsePermissionsPolicy(roles.getPolicy(p.arn)!.document) })),
        ],
      }
    : {}),
});

export function roleRoutes(app: FastifyInstance, deps: { roles: RoleStore }): void {
  const handle = routeHandler((err) => {
    if (!(err instanceof RoleStoreError)) return err;
    if (err.kind === 'exists') return new ApiError(ErrorCode.ResourceExistsException, err.message);
    if (err.kind === 'not-found') return new ApiError(ErrorCode.ResourceNotFoundException, err.message);
    if (err.kind === 'conflict') return new ApiError(ErrorCode.ResourceInUseException, err.message);
    return invalidParameter(err.message);
  });
  const found = (name: string) => {
    const r = deps.roles.get(name);
    if (!r) throw new RoleStoreError(`The role with name ${name} cannot be found. List roles with \`skiff roles list\`.`, 'not-found');
    return r;
  };

  app.get('/skiff/v1/roles', handle(() => ({ roles: deps.roles.list().map((r) => roleView(r, deps.roles)) })));

  app.post<{ Body: unknown }>(
    '/skiff/v1/roles',
    handle((req: { body: unknown }) => {
      const body = req.body as { name?: unknown; policy?: unknown; description?: unknown } | undefined;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw invalidParameter('The body must be a JSON object: {"name": "...", "policy": {"Statement": [...]}}.');
      }
      if (body.policy === undefined) throw invalidParameter('policy is required: an IAM-like policy document {"Statement": [{"Effect", "Action", "Resource"}]}.');
      let policy = body.policy;
      if (typeof policy === 'string') {
        try {
          policy = JSON.parse(policy);
        } catch {
          throw invalidParameter('policy is not valid JSON.');
        }
      }
      return { role: roleView(deps.roles.create({ name: body.name, policy, description: body.description }), deps.roles) };
    }),
  );

  app.get<{ Params: { roleName: string } }>(
    '/skiff/v1/roles/:roleName',
    handle((req: { params: { roleName: string } }) => ({ role: roleView(found(req.params.roleName), deps.roles) })),
  );

  app.delete<{ Params: { roleName: string } }>(
    '/skiff/v1/roles/:roleName',
    handle((req: { params: { roleName: string } }) => ({ role: roleView(deps.roles.delete(req.params.roleName)) })),
  );
}
