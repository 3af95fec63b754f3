/**
 * The `Condition` block of a policy statement, the subset Skiff evaluates:
 *
 *   "Condition": { "StringEquals": { "iam:PassedToService": "ecs-tasks.amazonaws.com" } }
 *
 * Operators: StringEquals, StringNotEquals, StringEqualsIgnoreCase,
 * StringNotEqualsIgnoreCase, StringLike, StringNotLike, each also with the
 * `IfExists` suffix. Keys: only those in CONDITION_KEYS (a condition on a key
 * Skiff never sets would silently never match, which turns a Deny into nothing:
 * such policies are refused instead). Key names are case-insensitive, values
 * case-sensitive unless the operator says IgnoreCase.
 *
 * As IAM evaluates it: every operator in the block must hold (AND), every key
 * under an operator must hold (AND), and a key holds when the request's value
 * matches any of the listed values (OR). A key absent from the request: a
 * positive operator does not hold, a negated one (`Not`) holds, and an
 * `...IfExists` operator holds.
 */

/** The request context: condition key (lower case) → value. */
export type ConditionContext = Readonly<Record<string, string>>;

export type ConditionBlock = Record<string, Record<string, string | string[]>>;

/** Condition keys Skiff sets on requests (lower case), and where. */
export const CONDITION_KEYS: Record<string, string> = {
  'iam:passedtoservice': 'iam:PassRole: the service the role is passed to (ecs-tasks.amazonaws.com for task and execution roles)',
};

const BASE_OPERATORS = ['StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike', 'StringNotLike'] as const;
type BaseOperator = (typeof BASE_OPERATORS)[number];

function parseOperator(op: string): { base: BaseOperator; ifExists: boolean } | undefined {
  const ifExists = op.endsWith('IfExists');
  const base = (ifExists ? op.slice(0, -'IfExists'.length) : op) as BaseOperator;
  return BASE_OPERATORS.includes(base) ? { base, ifExists } : undefined;
}

/** Problems with a statement's Condition block (empty when it is valid). */
export function conditionProblems(cond: unknown, where: string): string[] {
  if (typeof cond !== 'object' || cond === null || Array.isArray(cond)) return [`${where} must be an object {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}.`];
  const problems: string[] = [];
  for (const [op, keys] of Object.entries(cond)) {
    if (!parseOperator(op)) {
      problems.push(`${where}: operator '${op}' is not supported (Skiff evaluates ${BASE_OPERATORS.join(', ')}, each also with IfExists).`);
      continue;
    }
    if (typeof keys !== 'object' || keys === null || Array.isArray(keys) || Object.keys(keys).length === 0) {
      problems.push(`${where}.${op} must be an object of condition keys to values, e.g. {"iam:PassedToService": "ecs-tasks.amazonaws.com"}.`);
      continue;
    }
    for (const [key, v] of Object.entries(keys as Record<string, unknown>)) {
      if (!CONDITION_KEYS[key.toLowerCase()]) {
        problems.push(`${where}.${op}: condition key '${key}' is not supported (Skiff sets ${Object.keys(CONDITION_KEYS).map(displayKey).join(', ')}).`);
      }
      const values = typeof v === 'string' ? [v] : v;
      if (!Array.isArray(values) || values.length === 0 || values.some((x) => typeof x !== 'string')) {
        problems.push(`${where}.${op}.${key} must be a string or a non-empty list of strings.`);
      }
    }
  }
  return problems;
}

const displayKey = (k: string) => (k === 'iam:passedtoservice' ? 'iam:PassedToService' : k);

function like(pattern: string, value: string): boolean {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's').test(value);
}

function holds(base: BaseOperator, values: string[], actual: string): boolean {
  switch (base) {
    case 'StringEquals':
      return values.includes(actual);
    case 'StringNotEquals':
      return !values.includes(actual);
    case 'StringEqualsIgnoreCase':
      return values.some((v) => v.toLowerCase() === actual.toLowerCase());
    case 'StringNotEqualsIgnoreCase':
      return !values.some((v) => v.toLowerCase() === actual.toLowerCase());
    case 'StringLike':
      return values.some((v) => like(v, actual));
    case 'StringNotLike':
      return !values.some((v) => like(v, actual));
  }
}

/**
 * Whether a statement's Condition block holds for the request context. Policies
 * are validated when stored; should an unknown operator reach here anyway, it
 * fails closed: it holds for a Deny and not for an Allow.
 */
export function conditionHolds(cond: ConditionBlock | undefined, context: ConditionContext, effect: 'Allow' | 'Deny'): boolean {
  if (!cond) return true;
  for (const [op, keys] of Object.entries(cond)) {
    const parsed = parseOperator(op);
    if (!parsed || typeof keys !== 'object' || keys === null) return effect === 'Deny';
    for (const [key, v] of Object.entries(keys)) {
      const actual = context[key.toLowerCase()];
      const values = typeof v === 'string' ? [v] : v;
      if (actual === undefined) {
        if (parsed.ifExists || parsed.base.includes('Not')) continue;
        return false;
      }
      if (!holds(parsed.base, values, actual)) return false;
    }
  }
  return true;
}
