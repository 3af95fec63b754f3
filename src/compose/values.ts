/**
 * The value forms a Compose file uses: ports, durations, byte sizes, env files,
 * shell-split command strings and `${VAR}` interpolation. Pure functions;
 * each throws an Error whose message says what form is expected.
 */
export interface ComposePort {
  /** Port the container listens on. */
  target: number;
  published?: string;
  protocol: 'tcp' | 'udp';
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** "8080", "8080:80", "127.0.0.1:8080:80/udp", 80, or {target, published, protocol}. */
export function parsePort(p: unknown): ComposePort {
  if (isObj(p)) {
    const target = Number(p.target);
    if (!Number.isInteger(target) || target < 1 || target > 65535) throw new Error('target must be a port number 1..65535');
    const protocol = (p.protocol ?? 'tcp') as string;
    if (protocol !== 'tcp' && protocol !== 'udp') throw new Error('protocol must be tcp or udp');
    return { target, protocol, ...(p.published !== undefined ? { published: String(p.published) } : {}) };
  }
  const s = String(p);
  const bad = () => new Error(`${JSON.stringify(s)} is not a port: use CONTAINER, HOST:CONTAINER or IP:HOST:CONTAINER, optionally /tcp or /udp`);
  const m = /^(?:\[[0-9a-fA-F:.]+\]:)?([^/]*?)(?:\/(tcp|udp))?$/.exec(s);
  if (!m) throw bad();
  const parts = m[1]!.split(':');
  const targetText = parts.pop()!;
  const publishedText = parts.pop();
  if (!/^\d+$/.test(targetText) || (publishedText !== undefined && !/^[\d-]*$/.test(publishedText)) || parts.length > 1) throw bad();
  if (parts.length === 1 && !/^[0-9.]+$/.test(parts[0]!)) throw bad();
  const target = Number(targetText);
  if (target < 1 || target > 65535) throw new Error(`${target} is not a port number (1..65535)`);
  return { target, protocol: (m[2] ?? 'tcp') as 'tcp' | 'udp', ...(publishedText ? { published: publishedText } : {}) };
}

const DURATION_UNITS: Record<string, number> = { us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** Compose durations ("1m30s", "500ms", "10s", a number of seconds) → seconds. */
export function parseDuration(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  const s = String(v).trim();
  if (!/^(\d+(\.\d+)?(us|ms|s|m|h))+$/.test(s)) throw new Error(`${JSON.stringify(v)} is not a duration (for example 30s, 1m30s, 500ms)`);
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(us|ms|s|m|h)/g)) total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
  return total;
}

const BYTE_UNITS: Record<string, number> = { b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 };

/** Compose byte values ("512m", "1g", "2GB", a number of bytes) → bytes. */
export function parseBytes(v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(String(v));
  const unit = m ? BYTE_UNITS[(m[2] || 'b').toLowerCase()] : undefined;
  if (!m || unit === undefined || Number(m[1]) <= 0) throw new Error(`${JSON.stringify(v)} is not a size (for example 512m, 1g or a number of bytes)`);
  return Math.ceil(Number(m[1]) * unit);
}

/** KEY=VALUE lines; `#` comments and blank lines skipped; optional quotes around the value. */
export function parseEnvFile(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(t);
    if (!m) continue;
    let v = m[2]!;
    if (/^"(.*)"$/.test(v)) v = v.slice(1, -1).replace(/\\n/g, '\n').replace(/\\"/g, '"');
    else if (/^'(.*)'$/.test(v)) v = v.slice(1, -1);
    else v = v.replace(/\s+#.*$/, '');
    out.push([m[1]!, v]);
  }
  return out;
}

/** Splits a command line the way a POSIX shell splits words (quotes and backslashes; no expansion). */
export function shellWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < s.length && '"\\$`'.includes(s[i + 1]!)) cur += s[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote in ${JSON.stringify(s)}`);
  if (inWord) out.push(cur);
  return out;
}

export function interpolateString(s: string, env: Record<string, string | undefined>, problems: string[] = [], path = ''): string {
  return s.replace(/\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g, (m, braced, op, arg, bare) => {
    if (m === '$$') return '$';
    const key = (braced ?? bare) as string;
    const value = env[key];
    const unset = value === undefined || (op?.startsWith(':') && value === '');
    if (op === ':-' || op === '-') return unset ? arg : value!;
    if (op === ':?' || op === '?') {
      if (unset) problems.push(`${path || 'file'}: ${key} is required${arg ? ` (${arg})` : ''} but not set`);
      return value ?? '';
    }
    return value ?? '';
  });
}
