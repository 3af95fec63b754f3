/**
 * IAM-like policies attached to access keys, and their evaluation.
 *
 *   { "Version": "2012-10-17",
 *     "Statement": [ { "Effect": "Allow" | "Deny",
 *                      "Action": "ecs:Describe*" | [...],   (or NotAction)
 *                      "Resource": "arn:aws:ecs:*:*:cluster/prod" | [...],  (or NotResource)
 *                      "Condition": { "StringEquals": { "iam:PassedToService": "ecs-tasks.amazonaws.com" } } } ] }  (optional, policy-conditions.ts)
 *
 * Evaluation as IAM does it for one identity policy: an explicit Deny that
 * matches wins; otherwise an Allow that matches allows; otherwise the call is
 * implicitly denied. `*` matches any run of characters and `?` one character;
 * actions match case-insensitively, resources case-sensitively. A call that
 * touches several resources is allowed only if every one of them is. A
 * statement with a Condition applies only when the condition holds for the
 * request's context (the keys Skiff sets, e.g. iam:PassedToService on
 * iam:PassRole); a request without that key does not satisfy a positive
 * condition.
 */
import { conditionHolds, conditionProblems, type ConditionBlock, type ConditionContext } from './policy-conditions.ts';

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: ConditionBlock;
}

export interface Policy {
  Version?: string;
  Statement: PolicyStatement[];
}

export type Decision = 'allow' | 'explicit-deny' | 'implicit-deny';

export class PolicyError extends Error {}

export const ADMIN_POLICY: Policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
export const READ_ONLY_POLICY: Policy = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: [
        'ecs:Describe*', 'ecs:List*', 'skiff:Get*',
        'logs:Describe*', 'logs:Get*', 'logs:Filter*',
        'ec2:Describe*',
        'application-autoscaling:Describe*',
        // Secret metadata only (what `skiff doctor` checks); never GetSecretValue.
        'secretsmanager:DescribeSecret', 'secretsmanager:ListSecrets',
      ],
      Resource: '*',
    },
    { Effect: 'Deny', Action: ['skiff:GetAuditLog', 'skiff:ListAccessKeys'], Resource: '*' },
  ],
};

const ACTION_RE = /^(\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$/;

/** Checks a policy document's shape; every problem is reported at once. */
export function validatePolicy(doc: unknown): Policy {
  const problems: string[] = [];
  const p = doc as Policy;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new PolicyError('The policy must be a JSON object with a Statement list.');
  if (p.Version !== undefined && p.Version !== '2012-10-17' && p.Version !== '2008-10-17') problems.push(`Version must be 2012-10-17 (got ${JSON.stringify(p.Version)}).`);
  const stmts = Array.isArray(p.Statement) ? p.Statement : p.Statement && typeof p.Statement === 'object' ? [p.Statement as PolicyStatement] : undefined;
  if (!stmts || stmts.length === 0) throw new PolicyError('The policy needs a Statement: a list of {Effect, Action, Resource}.');
  const list = (v: unknown, field: string, i: number): string[] | undefined => {
    if (v === undefined) return undefined;
    const arr = typeof v === 'string' ? [v] : v;
    if (!Array.isArray(arr) || arr.length === 0 || arr.some((x) => typeof x !== 'string' || x === '')) {
      problems.push(`Statement[${i}].${field} must be a non-empty string or list of strings.`);
      return undefined;
    }
    return arr as string[];
  };
  stmts.forEach((s, i) => {
    if (typeof s !== 'object' || s === null) {
      problems.push(`Statement[${i}] must be an object.`);
      return;
    }
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') problems.push(`Statement[${i}].Effect must be Allow or Deny (got ${JSON.stringify(s.Effect)}).`);
    if ((s.Action === undefined) === (s.NotAction === undefined)) problems.push(`Statement[${i}] needs exactly one of Action or NotAction.`);
    if ((s.Resource === undefined) === (s.NotResource === undefined)) problems.push(`Statement[${i}] needs exactly one of Resource or NotResource.`);
    for (const a of [...(list(s.Action, 'Action', i) ?? []), ...(list(s.NotAction, 'NotAction', i) ?? [])]) {
      if (!ACTION_RE.test(a)) problems.push(`Statement[${i}]: action '${a}' must look like service:Operation (wildcards * and ? allowed), e.g. ecs:Describe*.`);
    }
    for (const r of [...(list(s.Resource, 'Resource', i) ?? []), ...(list(s.NotResource, 'NotResource', i) ?? [])]) {
      if (r !== '*' && !r.startsWith('arn:')) problems.push(`Statement[${i}]: resource '${r}' must be * or an ARN (wildcards allowed).`);
    }
    if (s.Condition !== undefined) problems.push(...conditionProblems(s.Condition, `Statement[${i}].Condition`));
    const known = new Set(['Sid', 'Effect', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition']);
    for (const k of Object.keys(s)) if (!known.has(k)) problems.push(`Statement[${i}].${k} is not supported (Skiff evaluates Effect, Action/NotAction, Resource/NotResource, Condition).`);
  });
  if (problems.length) throw new PolicyError(problems.join(' '));
  return { Version: p.Version ?? '2012-10-17', Statement: stmts };
}

const patternCache = new Map<string, RegExp>();
function wildcard(pattern: string, ignoreCase: boolean): RegExp {
  const key = (ignoreCase ? 'i' : 's') + pattern;
  let re = patternCache.get(key);
  if (!re) {
    const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    re = new RegExp(`^${body}$`, ignoreCase ? 'is' : 's');
    if (patternCache.size > 10_000) patternCache.clear();
    patternCache.set(key, re);
  }
  return re;
}

const asList = (v: string | string[] | undefined): string[] => (v === undefined ? [] : typeof v === 'string' ? [v] : v);

export const actionMatches = (pattern: string, action: string) => wildcard(pattern, true).test(action);
export const resourceMatches = (pattern: string, resource: string) => wildcard(pattern, false).test(resource);

function statementMatches(s: PolicyStatement, action: string, resource: string, context: ConditionContext): boolean {
  const actionOk = s.Action !== undefined ? asList(s.Action).some((p) => actionMatches(p, action)) : !asList(s.NotAction).some((p) => actionMatches(p, action));
  if (!actionOk) return false;
  const resourceOk =
    s.Resource !== undefined ? asList(s.Resource).some((p) => resourceMatches(p, resource)) : !asList(s.NotResource).some((p) => resourceMatches(p, resource));
  return resourceOk && conditionHolds(s.Condition, context, s.Effect);
}

const NO_CONTEXT: ConditionContext = Object.freeze({});

/** The decision for one action on one resource; `context` holds the request's condition keys (lower case). */
export function evaluate(policy: Policy, action: string, resource: string, context: ConditionContext = NO_CONTEXT): Decision {
  let allowed = false;
  for (const s of policy.Statement) {
    if (!statementMatches(s, action, resource, context)) continue;
    if (s.Effect === 'Deny') return 'explicit-deny';
    allowed = true;
  }
  return allowed ? 'allow' : 'implicit-deny';
}

/** The decision for one action on several resources: the first resource not allowed decides. */
export function evaluateAll(policy: Policy, action: string, resources: string[], context: ConditionContext = NO_CONTEXT): { decision: Decision; resource: string } {
  const list = resources.length ? resources : ['*'];
  let firstImplicit: string | undefined;
  for (const r of list) {
    const d = evaluate(policy, action, r, context);
    if (d === 'explicit-deny') return { decision: d, resource: r };
    if (d === 'implicit-deny' && firstImplicit === undefined) firstImplicit = r;
  }
  return firstImplicit === undefined ? { decision: 'allow', resource: list[0] } : { decision: 'implicit-deny', resource: firstImplicit };
}
