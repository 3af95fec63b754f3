/**
 * The Secrets Manager subset (AWS JSON 1.1, `X-Amz-Target: secretsmanager.<Op>`):
 * CreateSecret, GetSecretValue, PutSecretValue, DescribeSecret, ListSecrets,
 * DeleteSecret — so `aws secretsmanager ... --endpoint-url` and the SDK work.
 * IAM actions are `secretsmanager:<Op>` on the secret's ARN.
 *
 * No response but GetSecretValue carries a value; error messages never do.
 */
import { randomBytes } from 'node:crypto';
import type { JsonProtocol } from '../api/http-server.ts';
import { ApiError, ErrorCode, invalidParameter } from '../api/errors.ts';
import { optBool, optInt, optString } from '../api/input.ts';
import type { SecretMeta, SecretStore } from './secret-store.ts';

export const SECRETS_TARGET_PREFIX = 'secretsmanager';

const NAME_RE = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const TOKEN_RE = /^[A-Za-z0-9-]{32,64}$/;
const MAX_VALUE_BYTES = 65_536;
const secs = (ms: number) => ms / 1000;

const notFound = () => new ApiError(ErrorCode.ResourceNotFoundException, "Secrets Manager can't find the specified secret.");

export function secretArn(region: string, account: string, name: string): string {
  const suffix = [...randomBytes(6)].map((b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'[b % 52]).join('');
  return `arn:aws:secretsmanager:${region}:${account}:secret:${name}-${suffix}`;
}

function valueOf(input: Record<string, unknown>): { string?: string; binary?: Buffer } {
  const s = optString(input, 'SecretString');
  const b = optString(input, 'SecretBinary');
  if (s !== undefined && b !== undefined) throw invalidParameter('You can\'t specify both a binary secret value and a string secret value in the same secret.');
  if (s === undefined && b === undefined) throw invalidParameter('You must provide either SecretString or SecretBinary.');
  const value = s !== undefined ? { string: s } : { binary: Buffer.from(b!, 'base64') };
  const size = value.string !== undefined ? Buffer.byteLength(value.string) : value.binary!.length;
  if (size > MAX_VALUE_BYTES) throw invalidParameter(`The secret value is ${size} bytes; Secrets Manager allows at most ${MAX_VALUE_BYTES}.`);
  return value;
}

function token(input: Record<string, unknown>): string | undefined {
  const t = optString(input, 'ClientRequestToken');
  if (t !== undefined && !TOKEN_RE.test(t)) throw invalidParameter('ClientRequestToken must be 32-64 letters, digits or hyphens (a UUID works).');
  return t;
}

const describeView = (m: SecretMeta) => ({
  ARN: m.arn,
  Name: m.name,
  ...(m.description ? { Description: m.description } : {}),
  CreatedDate: secs(m.createdAt),
  LastChangedDate: secs(m.changedAt),
  ...(m.deletedAt ? { DeletedDate: secs(m.deletedAt) } : {}),
  VersionIdsToStages: Object.fromEntries(m.versions.filter((v) => v.stages.length).map((v) => [v.versionId, v.stages])),
});

export function secretsProtocol(store: SecretStore, ids: { region: string; account: string; now?: () => number }): JsonProtocol {
  const now = ids.now ?? Date.now;
  const resolve = (input: Record<string, unknown>, opts: { allowDeleted?: boolean } = {}) => {
    store.purgeDue();
    const id = optString(input, 'SecretId');
    if (!id) throw invalidParameter('SecretId is required: the secret\'s name or ARN.');
    const row = store.find(id);
    if (!row) throw notFound();
    if (row.deleted_at && !opts.allowDeleted) {
      throw new ApiError(ErrorCode.InvalidRequestException, "You can't perform this operation on the secret because it was marked for deletion.");
    }
    return row;
  };

  return {
    targetPrefix: SECRETS_TARGET_PREFIX,
    operations: {
      CreateSecret: (input) => {
        store.purgeDue();
        const name = optString(input, 'Name');
        if (!name || !NAME_RE.test(name)) throw invalidParameter('Name must be 1-512 characters: letters, digits and /_+=.@-');
        const description = optString(input, 'Description');
        const value = valueOf(input);
        if (store.find(name)) throw new ApiError(ErrorCode.ResourceExistsException, `The operation failed because the secret ${name} already exists.`);
        const v = store.create(secretArn(ids.region, ids.account, name), name, description, value, token(input));
        return { ARN: v.arn, Name: v.name, VersionId: v.versionId };
      },
      GetSecretValue: (input) => {
        const row = resolve(input);
        const v = store.getValue(row.arn, { versionId: optString(input, 'VersionId'), stage: optString(input, 'VersionStage') });
        if (!v) throw new ApiError(ErrorCode.ResourceNotFoundException, "Secrets Manager can't find the specified secret value for the version or staging label given.");
        return {
          ARN: v.arn,
          Name: v.name,
          VersionId: v.versionId,
          ...(v.binary ? { SecretBinary: v.binary.toString('base64') } : { SecretString: v.string }),
          VersionStages: v.stages,
          CreatedDate: secs(v.createdAt),
        };
      },
      PutSecretValue: (input) => {
        const row = resolve(input);
        const r = store.put(row.arn, valueOf(input), token(input));
        return { ARN: row.arn, Name: row.name, VersionId: r.versionId, VersionStages: r.stages };
      },
      DescribeSecret: (input) => describeView(store.describe(resolve(input, { allowDeleted: true }).arn)!),
      ListSecrets: (input) => {
        store.purgeDue();
        const max = optInt(input, 'MaxResults') ?? 100;
        if (max < 1 || max > 100) throw invalidParameter('MaxResults must be 1..100.');
        const start = Number(optString(input, 'NextToken') ?? '0');
        if (!Number.isInteger(start) || start < 0) throw invalidParameter('NextToken is not valid: pass the NextToken of the previous page.');
        const all = store.list(optBool(input, 'IncludePlannedDeletion') === true);
        const page = all.slice(start, start + max).map((m) => {
          const { VersionIdsToStages, ...rest } = describeView(m);
          return { ...rest, SecretVersionsToStages: VersionIdsToStages };
        });
        return { SecretList: page, ...(start + max < all.length ? { NextToken: String(start + max) } : {}) };
      },
      DeleteSecret: (input) => {
        const row = resolve(input, { allowDeleted: true });
        const force = optBool(input, 'ForceDeleteWithoutRecovery') === true;
        const window = optInt(input, 'RecoveryWindowInDays');
        if (force && window !== undefined) throw invalidParameter("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
        if (window !== undefined && (window < 7 || window > 30)) throw invalidParameter('RecoveryWindowInDays must be 7..30.');
        const at = force ? now() : now() + (window ?? 30) * 86_400_000;
        if (force) store.deleteNow(row.arn);
        else store.scheduleDeletion(row.arn, at);
        return { ARN: row.arn, Name: row.name, DeletionDate: secs(at) };
      },
    },
  };
}

/** The secret ARN an operation acts on, for the policy check (`*` when it names none or none exists yet). */
export function secretResources(store: SecretStore, operation: string, input: Record<string, unknown>, ids: { region: string; account: string }): string[] {
  if (operation === 'ListSecrets') return ['*'];
  if (operation === 'CreateSecret') {
    const name = typeof input.Name === 'string' ? input.Name : '';
    return [`arn:aws:secretsmanager:${ids.region}:${ids.account}:secret:${name}-??????`];
  }
  const id = typeof input.SecretId === 'string' ? input.SecretId : undefined;
  const row = id ? store.find(id) : undefined;
  return [row?.arn ?? '*'];
}
