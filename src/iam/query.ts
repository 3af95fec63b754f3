/**
 * The IAM Query protocol's request side: a form-encoded body
 * (`Action=CreateRole&Version=2010-05-08&RoleName=app&AssumeRolePolicyDocument=%7B...`)
 * read as flat parameters; lists are `Name.member.N` (`Tags.member.1.Key`).
 * Messages name the parameter as IAM's validation does.
 */
import { IamError } from './errors.ts';

const MAX_PARAMS = 1_000;

export class IamParams {
  private readonly values = new Map<string, string>();

  /** From a form body, or from parameters already decoded (`all()` of another reader). */
  constructor(source: string | Record<string, string>) {
    let n = 0;
    for (const [k, v] of typeof source === 'string' ? new URLSearchParams(source) : Object.entries(source)) {
      if (++n > MAX_PARAMS) throw new IamError('ValidationError', `The request has more than ${MAX_PARAMS} parameters.`);
      this.values.set(k, v);
    }
  }

  /** Every parameter, for authorization before the action runs. */
  all(): Record<string, string> {
    return Object.fromEntries(this.values);
  }

  str(key: string): string | undefined {
    return this.values.get(key);
  }

  required(key: string): string {
    const v = this.values.get(key);
    if (v === undefined || v === '') {
      throw new IamError('ValidationError', `1 validation error detected: Value null at '${lowerFirst(key)}' failed to satisfy constraint: Member must not be null`);
    }
    return v;
  }

  int(key: string, min: number, max: number): number | undefined {
    const v = this.values.get(key);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!/^-?\d{1,10}$/.test(v) || n < min || n > max) {
      throw new IamError('ValidationError', `1 validation error detected: Value '${v}' at '${lowerFirst(key)}' failed to satisfy constraint: Member must be an integer from ${min} to ${max}`);
    }
    return n;
  }

  /** The structures of the list `key.member.N` as readers of their fields, in index order. */
  members(key: string): Map<string, string>[] {
    const byIndex = new Map<number, Map<string, string>>();
    const prefix = `${key}.member.`;
    for (const [k, v] of this.values) {
      if (!k.startsWith(prefix)) continue;
      const [index, ...field] = k.slice(prefix.length).split('.');
      if (!/^[1-9]\d{0,3}$/.test(index)) throw new IamError('ValidationError', `${k} is not a list member: members are ${prefix}1, ${prefix}2, ...`);
      const m = byIndex.get(Number(index)) ?? new Map<string, string>();
      m.set(field.join('.'), v);
      byIndex.set(Number(index), m);
    }
    return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, m]) => m);
  }
}

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

/**
 * One page of `items` (already in key order) for IAM's Marker/MaxItems: the
 * marker is the key of the last item returned, opaque to the caller.
 */
export function page<T>(items: T[], key: (item: T) => string, marker: string | undefined, maxItems = 100): { items: T[]; isTruncated: boolean; marker?: string } {
  let start = 0;
  if (marker !== undefined) {
    const after = Buffer.from(marker, 'base64url').toString('utf8');
    if (!after || Buffer.from(after, 'utf8').toString('base64url') !== marker) {
      throw new IamError('ValidationError', 'Marker is not valid: pass the Marker of the previous response unchanged.');
    }
    start = items.findIndex((i) => key(i) > after);
    if (start < 0) start = items.length;
  }
  const slice = items.slice(start, start + maxItems);
  const isTruncated = start + maxItems < items.length;
  return { items: slice, isTruncated, ...(isTruncated ? { marker: Buffer.from(key(slice.at(-1)!), 'utf8').toString('base64url') } : {}) };
}
