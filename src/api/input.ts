/**
 * Typed readers for request fields. A field of the wrong type is the caller's
 * mistake and becomes an InvalidParameterException naming the field, never a
 * crash deeper down.
 */
import { invalidParameter } from './errors.ts';

type Input = Record<string, unknown>;

export function optString(input: Input, field: string, opts: { max?: number } = {}): string | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidParameter(`${field} must be a string.`);
  if (opts.max !== undefined && v.length > opts.max) throw invalidParameter(`${field} must be at most ${opts.max} characters (got ${v.length}).`);
  return v;
}

export function reqString(input: Input, field: string, opts: { max?: number } = {}): string {
  const v = optString(input, field, opts);
  if (v === undefined || v === '') throw invalidParameter(`${field} is required.`);
  return v;
}

export function optStringList(input: Input, field: string, opts: { max?: number } = {}): string[] | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw invalidParameter(`${field} must be a list of strings.`);
  if (opts.max !== undefined && v.length > opts.max) throw invalidParameter(`${field} can have at most ${opts.max} items (got ${v.length}).`);
  return v as string[];
}

export function optInt(input: Input, field: string): number | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalidParameter(`${field} must be an integer.`);
  return v;
}

export function optBool(input: Input, field: string): boolean | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalidParameter(`${field} must be true or false.`);
  return v;
}

export function optObjectList(input: Input, field: string): Input[] | undefined {
  const v = input[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'object' || x === null || Array.isArray(x))) {
    throw invalidParameter(`${field} must be a list of objects.`);
  }
  return v as Input[];
}
