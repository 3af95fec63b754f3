/**
 * Resolving a task's container `secrets` at start, as the ECS agent does with
 * the task's execution role: every `valueFrom` must be a Secrets Manager ARN,
 * optionally followed by `:json-key:version-stage:version-id` (each part may be
 * empty), the execution role's policy must allow `secretsmanager:GetSecretValue`
 * on the secret's ARN, and the value (or the JSON key's value) becomes the
 * container's environment variable `name`.
 *
 * Failures are worded like ECS's stoppedReason after "ResourceInitializationError: "
 * and never contain a secret's value.
 */
import { evaluate, type Policy } from '../auth/policy.ts';
import type { SecretStore } from './secret-store.ts';

export interface SecretReference {
  /** The secret's ARN (full or partial, without the JSON key/version suffix). */
  secretArn: string;
  jsonKey?: string;
  versionStage?: string;
  versionId?: string;
}

/** Thrown when a task's secrets cannot be resolved; the message is its stoppedReason without the error prefix. */
export class SecretResolutionError extends Error {}

const PREFIX = 'unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s)';

/**
 * Splits `arn:aws:secretsmanager:<region>:<account>:secret:<name>[:json-key[:version-stage[:version-id]]]`.
 * Undefined when valueFrom is not a Secrets Manager ARN (an SSM parameter, a bare name ...).
 */
export function parseSecretValueFrom(valueFrom: string): SecretReference | undefined {
  const parts = valueFrom.split(':');
  if (parts.length < 7 || parts.length > 10 || parts[0] !== 'arn' || parts[2] !== 'secretsmanager' || parts[5] !== 'secret' || !parts[6]) return undefined;
  const [jsonKey, versionStage, versionId] = parts.slice(7);
  return {
    secretArn: parts.slice(0, 7).join(':'),
    ...(jsonKey ? { jsonKey } : {}),
    ...(versionStage ? { versionStage } : {}),
    ...(versionId ? { versionId } : {}),
  };
}

export interface ExecutionIdentity {
  /** The task's execution role ARN, if it has one. */
  roleArn?: string;
  /** The role's policy; undefined when the role does not exist. */
  policy?: Policy;
  /** The principal Skiff acts as, for messages: arn:aws:sts::<account>:assumed-role/<role>/<taskId>. */
  principalArn: string;
}

/**
 * The environment variables of one container's secrets. Throws
 * SecretResolutionError (ECS wording, no values) on the first failure.
 */
export function resolveContainerSecrets(
  containerName: string,
  secrets: { name: string; valueFrom: string }[],
  who: ExecutionIdentity,
  store: Pick<SecretStore, 'find' | 'getValue'>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of secrets) {
    const ref = parseSecretValueFrom(s.valueFrom);
    if (!ref) {
      throw new SecretResolutionError(
        `unable to pull secrets or registry auth: execution resource retrieval failed: secret ${s.name} of container ${containerName}: valueFrom '${s.valueFrom}' is not a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>[:json-key:version-stage:version-id]); Skiff does not serve SSM parameters`,
      );
    }
    const row = store.find(ref.secretArn);
    const resource = row?.arn ?? ref.secretArn;
    const denied = (why: string) =>
      new SecretResolutionError(
        `${PREFIX}: AccessDeniedException: User: ${who.principalArn} is not authorized to perform: secretsmanager:GetSecretValue on resource: ${resource} ${why}`,
      );
    if (!who.roleArn) throw denied('because the task has no execution role: set executionRoleArn in the task definition to a role allowed secretsmanager:GetSecretValue on this secret');
    if (!who.policy) throw denied(`because the execution role ${who.roleArn} does not exist: create it with \`skiff roles create\``);
    const decision = evaluate(who.policy, 'secretsmanager:GetSecretValue', resource);
    if (decision === 'explicit-deny') throw denied('with an explicit deny in an identity-based policy');
    if (decision !== 'allow') throw denied('because no identity-based policy allows the secretsmanager:GetSecretValue action');
    if (!row || row.deleted_at) throw new SecretResolutionError(`${PREFIX}: ResourceNotFoundException: Secrets Manager can't find the specified secret. (${ref.secretArn})`);
    const value = store.getValue(row.arn, { versionId: ref.versionId, stage: ref.versionStage });
    if (!value) {
      throw new SecretResolutionError(
        `${PREFIX}: ResourceNotFoundException: Secrets Manager can't find the specified secret value for VersionId: ${ref.versionId ?? '-'}, VersionStage: ${ref.versionStage ?? 'AWSCURRENT'} (${row.arn})`,
      );
    }
    const text = value.string ?? value.binary!.toString('utf8');
    if (ref.jsonKey) {
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch {
        throw new SecretResolutionError(`unable to pull secrets or registry auth: execution resource retrieval failed: secret ${row.arn}: the value is not a JSON object, so json-key '${ref.jsonKey}' cannot be read`);
      }
      const v = doc && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>)[ref.jsonKey] : undefined;
      if (v === undefined) {
        throw new SecretResolutionError(`unable to pull secrets or registry auth: execution resource retrieval failed: retrieved secret from Secrets Manager did not contain json key ${ref.jsonKey} (${row.arn})`);
      }
      env[s.name] = typeof v === 'string' ? v : JSON.stringify(v);
    } else {
      env[s.name] = text;
    }
  }
  return env;
}
