/**
 * The EC2 Query protocol's request side: a form-encoded body
 * (`Action=DescribeVpcs&Version=2016-11-15&Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-...`)
 * decoded into a tree, with readers for the shapes EC2 uses (numbered lists
 * `Name.N`, structures `Name.Member`).
 */
import { Ec2Error } from './errors.ts';

/** A decoded Query request: a tree whose leaves are strings; numbered keys hold list members. */
export interface QueryTree {
  [key: string]: string | QueryTree;
}

const MAX_PARAMS = 10_000;
const MAX_DEPTH = 8;

/** Decodes a form body into a tree: `A.1.B=x` → `{A: {1: {B: 'x'}}}`. A key given twice keeps the last value. */
export function parseQueryBody(body: string): QueryTree {
  const root: QueryTree = Object.create(null);
  const params = new URLSearchParams(body);
  let n = 0;
  for (const [key, value] of params) {
    if (++n > MAX_PARAMS) throw new Ec2Error('InvalidParameterValue', `The request has more than ${MAX_PARAMS} parameters.`);
    const path = key.split('.');
    if (path.length > MAX_DEPTH || path.some((p) => p === '' || p === '__proto__')) {
      throw new Ec2Error('InvalidParameterValue', `The parameter name '${key}' is not valid.`);
    }
    let node = root;
    for (const part of path.slice(0, -1)) {
      const next = node[part];
      if (typeof next === 'string' || next === undefined) node[part] = Object.create(null) as QueryTree;
      node = node[part] as QueryTree;
    }
    const leaf = path.at(-1)!;
    if (typeof node[leaf] !== 'object') node[leaf] = value;
  }
  return root;
}

/** Reads typed values out of a (sub)tree; messages name the parameter as the caller wrote it. */
export class QueryReader {
  constructor(
    readonly tree: QueryTree,
    private readonly prefix = '',
  ) {}

  private name(key: string): string {
    return this.prefix ? `${this.prefix}.${key}` : key;
  }

  str(key: string): string | undefined {
    const v = this.tree[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new Ec2Error('InvalidParameterValue', `${this.name(key)} must be a single value.`);
    return v;
  }

  required(key: string): string {
    const v = this.str(key);
    if (v === undefined || v === '') throw new Ec2Error('MissingParameter', `The request must contain the parameter ${this.name(key)}.`);
    return v;
  }

  int(key: string): number | undefined {
    const v = this.str(key);
    if (v === undefined) return undefined;
    if (!/^-?\d{1,10}$/.test(v)) throw new Ec2Error('InvalidParameterValue', `${this.name(key)} must be an integer, not '${v}'.`);
    return Number(v);
  }

  bool(key: string): boolean | undefined {
    const v = this.str(key);
    if (v === undefined) return undefined;
    if (v !== 'true' && v !== 'false') throw new Ec2Error('InvalidParameterValue', `${this.name(key)} must be true or false, not '${v}'.`);
    return v === 'true';
  }

  /** The members of the numbered list `key.1`, `key.2`, ... as readers, in index order. */
  structs(key: string): QueryReader[] {
    const v = this.tree[key];
    if (v === undefined) return [];
    if (typeof v === 'string') throw new Ec2Error('InvalidParameterValue', `${this.name(key)} must be a list (${this.name(key)}.1...).`);
    return listIndexes(v, this.name(key)).map((i) => {
      const m = v[i];
      if (typeof m === 'string') throw new Ec2Error('InvalidParameterValue', `${this.name(key)}.${i} must be a structure.`);
      return new QueryReader(m!, `${this.name(key)}.${i}`);
    });
  }

  /** The values of the numbered list of strings `key.1`, `key.2`, ... in index order. */
  strings(key: string): string[] {
    const v = this.tree[key];
    if (v === undefined) return [];
    if (typeof v === 'string') throw new Ec2Error('InvalidParameterValue', `${this.name(key)} must be a list (${this.name(key)}.1...).`);
    return listIndexes(v, this.name(key)).map((i) => {
      const m = v[i];
      if (typeof m !== 'string') throw new Ec2Error('InvalidParameterValue', `${this.name(key)}.${i} must be a single value.`);
      return m;
    });
  }
}

function listIndexes(node: QueryTree, name: string): string[] {
  const keys = Object.keys(node);
  for (const k of keys) {
    if (!/^[1-9]\d{0,4}$/.test(k)) throw new Ec2Error('InvalidParameterValue', `${name}.${k} is not a list member: members are numbered from 1.`);
  }
  return keys.sort((a, b) => Number(a) - Number(b));
}

/** An EC2 filter: `Filter.N.Name` with values `Filter.N.Value.M`. */
export interface Filter {
  name: string;
  values: string[];
}

/** Reads `Filter.N`, refusing names the operation does not know. */
export function readFilters(q: QueryReader, known: readonly string[]): Filter[] {
  return q.structs('Filter').map((f) => {
    const name = f.required('Name');
    if (!known.includes(name)) {
      throw new Ec2Error('InvalidParameterValue', `The filter '${name}' is invalid. Skiff supports: ${known.join(', ')}.`);
    }
    return { name, values: f.strings('Value') };
  });
}

/** Whether `value` matches a filter value; `*` and `?` are wildcards as in EC2. */
export function filterMatches(values: string[], value: string | undefined): boolean {
  if (value === undefined) return false;
  return values.some((v) => (/[*?]/.test(v) ? wildcard(v).test(value) : v === value));
}

function wildcard(pattern: string): RegExp {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}
