/**
 * maxResults/nextToken paging for List* operations.
 *
 * Tokens are opaque base64url strings carrying the position plus a checksum of
 * the query (operation, filters) they were issued for, so a token from another
 * query, or a mangled one, is rejected with InvalidParameterException instead of
 * silently paging through the wrong list.
 *
 * `paginate` is ECS's (maxResults checked, InvalidParameterException);
 * `pageOf` is the same paging for another protocol that checks its own page
 * size and answers a bad token with its own error.
 *
 * Position is an offset by default. Give `keyOf` (items must then be sorted by
 * that key, ascending) to page by the last key seen instead: a list that changes
 * between calls then neither repeats nor skips the items that remain.
 */
import { createHash } from 'node:crypto';
import { invalidParameter } from '../api/errors.ts';

export interface TokenOptions<T> {
  /** What the list was filtered by (operation name, cluster, family, status...); tokens are bound to it. */
  query?: unknown;
  /** Page by key instead of offset; items must be sorted ascending by this key. */
  keyOf?: (item: T) => string;
  /** The error for a token that was not issued for this query or was altered (default: ECS's InvalidParameterException). */
  invalidToken?: () => Error;
}

export interface PageOptions<T> extends Omit<TokenOptions<T>, 'invalidToken'> {
  /** Page size when maxResults is absent (ECS: 100 for most lists, 10 for ListServices). */
  defaultMax: number;
  /** Largest maxResults accepted (ECS: 100). */
  max?: number;
}

export interface Page<T> {
  page: T[];
  nextToken?: string;
}

interface TokenBody {
  v: 1;
  /** Offset of the next item (offset mode). */
  o?: number;
  /** Key of the last item returned (key mode). */
  k?: string;
  /** Query checksum. */
  q: string;
}

function queryChecksum(query: unknown): string {
  return createHash('sha256').update(stableJson(query ?? null)).digest('base64url').slice(0, 12);
}

function stableJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
    .join(',')}}`;
}

function encodeToken(body: TokenBody): string {
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

function invalidToken(): Error {
  return invalidParameter(
    'Invalid nextToken: it was not issued for this request or has been altered. Repeat the request without nextToken to start from the first page, keeping the same filters while paging.',
  );
}

function decodeToken(token: string, q: string, keyMode: boolean, invalidToken: () => Error): TokenBody {
  if (typeof token !== 'string' || token.length === 0 || token.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(token)) throw invalidToken();
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalidToken();
  }
  if (typeof body !== 'object' || body === null) throw invalidToken();
  const b = body as Partial<TokenBody>;
  if (b.v !== 1 || b.q !== q) throw invalidToken();
  if (keyMode ? typeof b.k !== 'string' : typeof b.o !== 'number' || !Number.isInteger(b.o) || b.o < 0) throw invalidToken();
  return b as TokenBody;
}

/** Checks maxResults: an integer from 1 to `max`, or absent (→ defaultMax). */
export function resolveMaxResults(maxResults: number | undefined | null, defaultMax: number, max = 100): number {
  if (maxResults === undefined || maxResults === null) return defaultMax;
  if (typeof maxResults !== 'number' || !Number.isInteger(maxResults) || maxResults < 1 || maxResults > max) {
    throw invalidParameter(`maxResults must be an integer from 1 to ${max}; got ${JSON.stringify(maxResults)}. Use nextToken to get further pages.`);
  }
  return maxResults;
}

/** One page of `items` and the token for the next page (absent on the last page). */
export function paginate<T>(items: readonly T[], maxResults: number | undefined | null, nextToken: string | undefined | null, opts: PageOptions<T>): Page<T> {
  return pageOf(items, resolveMaxResults(maxResults, opts.defaultMax, opts.max ?? 100), nextToken, opts);
}

/** One page of `size` items from where `nextToken` points, and the token for the next page (absent on the last page). */
export function pageOf<T>(items: readonly T[], size: number, nextToken: string | undefined | null, opts: TokenOptions<T> = {}): Page<T> {
  const q = queryChecksum(opts.query);
  const keyOf = opts.keyOf;
  let start = 0;
  if (nextToken !== undefined && nextToken !== null && nextToken !== '') {
    const body = decodeToken(nextToken, q, keyOf !== undefined, opts.invalidToken ?? invalidToken);
    if (keyOf) {
      const k = body.k!;
      start = items.findIndex((it) => keyOf(it) > k);
      if (start < 0) start = items.length;
    } else {
      start = Math.min(body.o!, items.length);
    }
  }
  const page = items.slice(start, start + size);
  const end = start + page.length;
  if (end >= items.length || page.length === 0) return { page };
  const token = keyOf ? encodeToken({ v: 1, k: keyOf(page[page.length - 1]), q }) : encodeToken({ v: 1, o: end, q });
  return { page, nextToken: token };
}
