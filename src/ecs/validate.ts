/**
 * Shared validation primitives for ECS request shapes (task definitions,
 * RunTask, overrides).
 *
 * Shape tests (`isObj`, `present`) and `compact` are plain functions. The
 * checks that throw are built by `checks(fail)` around the error the caller's
 * operation answers with: RegisterTaskDefinition passes `clientError`
 * (ClientException), RunTask `invalidParameter` (InvalidParameterException).
 * Every message names the field (`what`) and says what is expected.
 */

export type Obj = Record<string, unknown>;

/** Builds the error a failed check throws. */
export type Fail = (message: string) => Error;

/** A plain JSON object (not null, not an array). */
export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Given: neither undefined nor null (ECS treats JSON null as absent). */
export function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

/** Drops undefined fields in place so the output has only the keys ECS would show. */
export function compact<T extends Obj>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

/** The throwing checks, each failing with `fail(message)`. */
export function checks(fail: Fail) {
  return {
    /** An integer from `min` to `max` inclusive. */
    int(v: unknown, what: string, min: number, max: number): number {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
        throw fail(`${what} must be an integer from ${min} to ${max}; got ${JSON.stringify(v)}.`);
      }
      return v;
    },

    /** A string, non-empty unless `allowEmpty`, at most `max` characters when given. */
    str(v: unknown, what: string, opts: { max?: number; allowEmpty?: boolean } = {}): string {
      if (typeof v !== 'string') throw fail(`${what} must be a string; got ${JSON.stringify(v)}.`);
      if (!opts.allowEmpty && v === '') throw fail(`${what} must not be empty.`);
      if (opts.max !== undefined && v.length > opts.max) throw fail(`${what} must be at most ${opts.max} characters; got ${v.length}.`);
      return v;
    },

    bool(v: unknown, what: string): boolean {
      if (typeof v !== 'boolean') throw fail(`${what} must be true or false; got ${JSON.stringify(v)}.`);
      return v;
    },

    strList(v: unknown, what: string): string[] {
      if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw fail(`${what} must be a list of strings.`);
      return v as string[];
    },

    list(v: unknown, what: string): unknown[] {
      if (!Array.isArray(v)) throw fail(`${what} must be a list.`);
      return v;
    },

    /** One of the `allowed` strings. */
    oneOf<T extends string>(v: unknown, allowed: readonly T[], what: string): T {
      if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
        throw fail(`${what} must be one of ${allowed.join(', ')}; got ${JSON.stringify(v)}.`);
      }
      return v as T;
    },

    /** An object of string keys and string values (copied). */
    strMap(v: unknown, what: string): Record<string, string> {
      if (!isObj(v) || Object.values(v).some((s) => typeof s !== 'string')) throw fail(`${what} must be an object of string keys and string values.`);
      return { ...(v as Record<string, string>) };
    },
  };
}
