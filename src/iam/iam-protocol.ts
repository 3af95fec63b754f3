/**
 * The IAM subset Skiff serves over the Query protocol (`POST /`, form body
 * `Action=...&Version=2010-05-08&...`, signed for service `iam`, XML answers),
 * so `aws iam ... --endpoint-url` and @aws-sdk/client-iam work:
 *
 *   CreateRole, GetRole, ListRoles, DeleteRole, UpdateAssumeRolePolicy,
 *   PutRolePolicy, GetRolePolicy, DeleteRolePolicy, ListRolePolicies,
 *   CreatePolicy, GetPolicy, GetPolicyVersion, ListPolicies, DeletePolicy,
 *   AttachRolePolicy, DetachRolePolicy, ListAttachedRolePolicies
 *
 * The roles are the same ones `/skiff/v1/roles` shows (src/auth/roles.ts). IAM
 * actions are `iam:<Action>` on the role's ARN (the policy's ARN for policy
 * actions, `*` for the listings). Policy documents travel URL-encoded in both
 * directions, as IAM sends them. IAM is global: any signing region is accepted.
 */
import { randomUUID } from 'node:crypto';
import type { ManagedPolicy, Role, RoleStore, Tag } from '../auth/roles.ts';
import { IamError, errorXml, toIamError } from './errors.ts';
import { IamParams, page } from './query.ts';
import { responseXml, type XmlValue } from './xml.ts';

export const IAM_API_VERSION = '2010-05-08';

export interface IamDeps {
  roles: RoleStore;
  log?: (msg: string) => void;
}

type Result = Record<string, XmlValue> | undefined;
type Handler = (q: IamParams) => Result;

const iso = (ms: number) => new Date(ms).toISOString();
const encodeDoc = (doc: string) => encodeURIComponent(doc);

function roleXml(r: Role, full: boolean): Record<string, XmlValue> {
  return {
    Path: r.path,
    RoleName: r.name,
    RoleId: r.roleId,
    Arn: r.arn,
    CreateDate: iso(r.createdAt),
    AssumeRolePolicyDocument: encodeDoc(r.trustPolicy),
    Description: r.description,
    MaxSessionDuration: r.maxSessionDuration,
    ...(full && r.tags.length ? { Tags: r.tags.map((t) => ({ Key: t.Key, Value: t.Value })) } : {}),
  };
}

function policyXml(p: ManagedPolicy): Record<string, XmlValue> {
  return {
    PolicyName: p.name,
    PolicyId: p.policyId,
    Arn: p.arn,
    Path: p.path,
    DefaultVersionId: 'v1',
    AttachmentCount: p.attachmentCount,
    PermissionsBoundaryUsageCount: 0,
    IsAttachable: true,
    Description: p.description,
    CreateDate: iso(p.createdAt),
    UpdateDate: iso(p.updatedAt),
  };
}

function readTags(q: IamParams): Tag[] {
  return q.members('Tags').map((m, i) => {
    const Key = m.get('Key');
    const Value = m.get('Value') ?? '';
    if (!Key || Key.length > 128 || Value.length > 256) throw new IamError('ValidationError', `Tags.member.${i + 1}: a tag has a Key of 1-128 characters and a Value of at most 256.`);
    return { Key, Value };
  });
}

const paging = (q: IamParams) => ({ marker: q.str('Marker'), maxItems: q.int('MaxItems', 1, 1000) ?? 100 });

export class IamApi {
  /** IAM service prefix of every action (`iam:<Action>`), and the service requests are signed for. */
  readonly service = 'iam';
  private readonly handlers: Record<string, Handler>;

  constructor(private readonly deps: IamDeps) {
    const roles = deps.roles;
    this.handlers = {
      CreateRole: (q) => {
        const role = roles.createRole({
          name: q.required('RoleName'),
          trustPolicy: q.required('AssumeRolePolicyDocument'),
          path: q.str('Path'),
          description: q.str('Description'),
          maxSessionDuration: q.int('MaxSessionDuration', 3600, 43200),
          tags: readTags(q),
        });
        return { Role: roleXml(role, true) };
      },
      GetRole: (q) => ({ Role: roleXml(this.role(q.required('RoleName')), true) }),
      ListRoles: (q) => {
        const { marker, maxItems } = paging(q);
        const p = page(roles.list(q.str('PathPrefix') ?? '/'), (r) => r.name, marker, maxItems);
        return { Roles: p.items.map((r) => roleXml(r, false)), IsTruncated: p.isTruncated, Marker: p.marker };
      },
      DeleteRole: (q) => (roles.deleteRole(q.required('RoleName')), undefined),
      UpdateAssumeRolePolicy: (q) => (roles.updateTrustPolicy(q.required('RoleName'), q.required('PolicyDocument')), undefined),
      PutRolePolicy: (q) => (roles.putInlinePolicy(q.required('RoleName'), q.required('PolicyName'), q.required('PolicyDocument')), undefined),
      GetRolePolicy: (q) => {
        const p = roles.getInlinePolicy(q.required('RoleName'), q.required('PolicyName'));
        return { RoleName: p.roleName, PolicyName: p.name, PolicyDocument: encodeDoc(p.document) };
      },
      DeleteRolePolicy: (q) => (roles.deleteInlinePolicy(q.required('RoleName'), q.required('PolicyName')), undefined),
      ListRolePolicies: (q) => {
        const role = this.role(q.required('RoleName'));
        const { marker, maxItems } = paging(q);
        const p = page(roles.inlinePolicies(role.name), (x) => x.name, marker, maxItems);
        return { PolicyNames: p.items.map((x) => x.name), IsTruncated: p.isTruncated, Marker: p.marker };
      },
      CreatePolicy: (q) => {
        const policy = roles.createPolicy({ name: q.required('PolicyName'), document: q.required('PolicyDocument'), path: q.str('Path'), description: q.str('Description') });
        return { Policy: policyXml(policy) };
      },
      GetPolicy: (q) => ({ Policy: policyXml(this.policy(q.required('PolicyArn'))) }),
      GetPolicyVersion: (q) => {
        const p = this.policy(q.required('PolicyArn'));
        const version = q.required('VersionId');
        if (version !== 'v1') throw new IamError('NoSuchEntity', `Policy ${p.arn} version ${version} does not exist or is not attachable.`);
        return { PolicyVersion: { Document: encodeDoc(p.document), VersionId: 'v1', IsDefaultVersion: true, CreateDate: iso(p.createdAt) } };
      },
      ListPolicies: (q) => {
        const scope = q.str('Scope') ?? 'All';
        if (!['All', 'Local', 'AWS'].includes(scope)) throw new IamError('ValidationError', `Scope must be All, AWS or Local (got '${scope}').`);
        const { marker, maxItems } = paging(q);
        let list = scope === 'AWS' ? [] : roles.listPolicies(q.str('PathPrefix') ?? '/');
        if (q.str('OnlyAttached') === 'true') list = list.filter((p) => p.attachmentCount > 0);
        const p = page(list, (x) => x.name, marker, maxItems);
        return { Policies: p.items.map(policyXml), IsTruncated: p.isTruncated, Marker: p.marker };
      },
      DeletePolicy: (q) => (roles.deletePolicy(q.required('PolicyArn')), undefined),
      AttachRolePolicy: (q) => (roles.attach(q.required('RoleName'), q.required('PolicyArn')), undefined),
      DetachRolePolicy: (q) => (roles.detach(q.required('RoleName'), q.required('PolicyArn')), undefined),
      ListAttachedRolePolicies: (q) => {
        const role = this.role(q.required('RoleName'));
        const prefix = q.str('PathPrefix') ?? '/';
        const { marker, maxItems } = paging(q);
        const p = page(roles.attachedPolicies(role.name).filter((x) => x.path.startsWith(prefix)), (x) => x.name, marker, maxItems);
        return { AttachedPolicies: p.items.map((x) => ({ PolicyName: x.name, PolicyArn: x.arn })), IsTruncated: p.isTruncated, Marker: p.marker };
      },
    };
  }

  private role(name: string): Role {
    const r = this.deps.roles.get(name);
    if (!r) throw new IamError('NoSuchEntity', `The role with name ${name} cannot be found.`);
    return r;
  }

  private policy(arn: string): ManagedPolicy {
    const p = this.deps.roles.getPolicy(arn);
    if (!p) throw new IamError('NoSuchEntity', `Policy ${arn} was not found.`);
    return p;
  }

  /** Decodes a form body into the action and its parameters (for authorization before `run`). */
  decode(body: string): { action: string; params: Record<string, string> } {
    const q = new IamParams(body);
    const action = q.str('Action');
    if (!action) throw new IamError('MissingAction', 'The request must contain the parameter Action.');
    const version = q.str('Version');
    if (version !== undefined && version !== IAM_API_VERSION) throw new IamError('ValidationError', `Version must be ${IAM_API_VERSION} (got '${version}').`);
    if (!Object.hasOwn(this.handlers, action)) {
      throw new IamError('InvalidAction', `Could not find operation ${action} for version ${IAM_API_VERSION}. Skiff's IAM subset: ${Object.keys(this.handlers).join(', ')}.`);
    }
    return { action, params: q.all() };
  }

  /** The resources `iam:<action>` touches, for authorization: the role's ARN, else the policy's, else `*`. */
  resources(action: string, params: Record<string, unknown>): string[] {
    const str = (k: string) => (typeof params[k] === 'string' ? (params[k] as string) : undefined);
    const roleName = str('RoleName');
    if (roleName) return [this.deps.roles.get(roleName)?.arn ?? this.deps.roles.arnOf(roleName, action === 'CreateRole' ? (str('Path') ?? '/') : '/')];
    if (str('PolicyArn')) return [str('PolicyArn')!];
    if (action === 'CreatePolicy' && str('PolicyName')) return [this.deps.roles.policyArnOf(str('PolicyName')!, str('Path') ?? '/')];
    return ['*'];
  }

  /** Runs a decoded action; returns the response document. */
  async run(action: string, params: Record<string, unknown>, requestId: string): Promise<string> {
    const q = new IamParams(params as Record<string, string>);
    const result = this.handlers[action](q);
    return responseXml(action, requestId, result);
  }

  errorResponse(err: unknown, requestId: string): { status: number; body: string; code: string } {
    let e = toIamError(err);
    if (!e) {
      this.deps.log?.(`iam: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      e = new IamError('ServiceFailure', 'Skiff hit an internal error; see the server log for details.');
    }
    return { status: e.status, body: errorXml(e, requestId), code: e.code };
  }

  newRequestId(): string {
    return randomUUID();
  }
}
