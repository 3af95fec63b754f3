/**
 * Skiff's SQLite SQL as PostgreSQL, in one place. Repositories write the SQLite
 * dialect; PgDb runs each statement through `translate` once (cached by text).
 *
 * What it rewrites (outside string literals):
 * - parameters: `?` in order and `@name` (each name one `$n`, reused) → `$n`;
 *   a parameter next to `||` is cast to text (PostgreSQL cannot infer it);
 * - `INSERT OR IGNORE INTO` → `INSERT INTO ... ON CONFLICT DO NOTHING`;
 * - `json_extract(expr, '$.a.b')` → `(expr::jsonb #> '{a,b}')` (a jsonb value the
 *   client decodes to the JavaScript value SQLite returns), and under `sum(...)`
 *   its number;
 * - `instr(a, b)` → `strpos(a, b)`;
 * - `x = ? COLLATE NOCASE` → `lower(x) = lower(?)`; `LIKE` → `ILIKE` (SQLite's
 *   LIKE ignores ASCII case);
 * - camelCase aliases (`AS taskId`) are quoted, or PostgreSQL would fold them;
 * - `PRAGMA data_version` → other connections' changes to the tasks table (schema.ts);
 * - an INSERT into a table with a generated id gets `RETURNING` it (lastInsertRowid).
 * `rowid` is a real column of the PostgreSQL tables that are ordered by it.
 * Anything else SQLite-specific fails loudly (see UNSUPPORTED) rather than
 * meaning something else; repositories keep such queries dialect-neutral.
 */
import { GENERATED_IDS } from './schema.ts';

export interface Translated {
  text: string;
  /** The server-side prepared statement's name (parsed and planned once per connection). */
  name: string;
  /** For `@name` parameters: the name of each `$n`, in order. Undefined: positional. */
  names?: string[];
  /** The generated id column an INSERT returns (for lastInsertRowid). */
  returning?: string;
}

const UNSUPPORTED = /\bINSERT\s+OR\s+REPLACE\b|\bjson_each\b|\bjson_group_array\b|\bjson_type\b|\brandomblob\b|\bPRAGMA\b/i;

/** Splits SQL into code and string-literal segments (odd indexes are literals, quotes included). */
function segments(sql: string): string[] {
  const out: string[] = [];
  let code = '';
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i];
    if (ch !== "'") {
      code += ch;
      continue;
    }
    let j = i + 1;
    while (j < sql.length) {
      if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
      else if (sql[j] === "'") break;
      else j++;
    }
    out.push(code, sql.slice(i, j + 1));
    code = '';
    i = j;
  }
  out.push(code);
  return out;
}

/** `'$.a.b'` → `'{a,b}'`. */
function jsonPath(literal: string): string {
  const m = /^'\$((?:\.[A-Za-z_][A-Za-z0-9_]*)+)'$/.exec(literal);
  if (!m) throw new Error(`json_extract path ${literal} has no PostgreSQL translation (only '$.key.key' paths)`);
  return `'{${m[1].slice(1).split('.').join(',')}}'`;
}

let statements = 0;

/** Changes made to `tasks` by other connections (see schema.ts). */
const DATA_VERSION = `SELECT (CASE WHEN is_called THEN last_value ELSE 0 END)
  - coalesce(nullif(current_setting('skiff.own_bumps', true), ''), '0')::bigint AS data_version FROM skiff_data_version`;

export function translate(sql: string): Translated {
  const name = `skiff_${++statements}`;
  const trimmed = sql.trim();
  if (/^PRAGMA\s+data_version$/i.test(trimmed)) return { name, text: DATA_VERSION };
  const parts = segments(sql);
  // json_extract(<expr>, '<path>'): the path is a literal segment right after "json_extract(<expr>, ".
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const m = /(sum\(\s*)?json_extract\(\s*([A-Za-z_][A-Za-z0-9_.]*)\s*,\s*$/i.exec(parts[i]);
    if (!m) continue;
    const after = /^\s*\)/.exec(parts[i + 2] ?? '');
    if (!after) throw new Error(`json_extract in ${sql} has no PostgreSQL translation`);
    const path = jsonPath(parts[i + 1]);
    parts[i] = parts[i].slice(0, m.index) + (m[1] ? `${m[1]}(${m[2]}::jsonb #>> ${path})::numeric` : `(${m[2]}::jsonb #> ${path})`);
    parts[i + 1] = '';
    parts[i + 2] = parts[i + 2].slice(after[0].length);
  }
  const names: string[] = [];
  let n = 0;
  let ignore = false;
  for (let i = 0; i < parts.length; i += 2) {
    let code = parts[i];
    if (UNSUPPORTED.test(code)) throw new Error(`SQLite-only SQL has no PostgreSQL translation: ${sql}`);
    if (/\bINSERT\s+OR\s+IGNORE\s+INTO\b/i.test(code)) {
      code = code.replace(/\bINSERT\s+OR\s+IGNORE\s+INTO\b/i, 'INSERT INTO');
      ignore = true;
    }
    code = code.replace(/([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*\?\s+COLLATE\s+NOCASE\b/gi, 'lower($1) = lower(?)');
    code = code.replace(/\binstr\(/gi, 'strpos(');
    code = code.replace(/\bLIKE\b/g, 'ILIKE').replace(/\blike\b/g, 'ILIKE');
    code = code.replace(/\bAS\s+([a-z]+[A-Z][A-Za-z0-9]*)\b/g, 'AS "$1"');
    code = code.replace(/(\|\|\s*)?(\?|@[A-Za-z_][A-Za-z0-9_]*)(\s*\|\|)?/g, (_all, before: string | undefined, p: string, afterOp: string | undefined) => {
      let k: number;
      if (p === '?') k = ++n;
      else {
        const idx = names.indexOf(p.slice(1));
        k = idx >= 0 ? idx + 1 : names.push(p.slice(1));
      }
      const cast = before || afterOp ? '::text' : '';
      return `${before ?? ''}$${k}${cast}${afterOp ?? ''}`;
    });
    parts[i] = code;
  }
  if (n && names.length) throw new Error(`SQL mixes ? and @name parameters: ${sql}`);
  let text = parts.join('');
  if (ignore) text = `${text.trimEnd().replace(/;$/, '')} ON CONFLICT DO NOTHING`;
  const into = /^\s*INSERT\s+INTO\s+([A-Za-z_][A-Za-z0-9_]*)/i.exec(text);
  const returning = into ? GENERATED_IDS[into[1].toLowerCase()] : undefined;
  if (returning) text = `${text.trimEnd()} RETURNING ${returning}`;
  return { name, text, ...(names.length ? { names } : {}), ...(returning ? { returning } : {}) };
}
