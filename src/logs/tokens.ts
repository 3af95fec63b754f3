/**
 * Paging tokens of the CloudWatch Logs subset.
 *
 * GetLogEvents tokens look like AWS's: `f/` or `b/` and 56 digits (the stream id,
 * then the position as timestamp+1 and event id, zero-padded). `f/<key>` asks for
 * the events after that position, `b/<key>` for the events before it. A token
 * names its stream: one passed for another stream is refused.
 *
 * List and FilterLogEvents tokens are opaque (base64url JSON of the last item's
 * sort key); a token that does not decode is an InvalidParameterException.
 */
import type { Key } from './log-store.ts';

export class TokenError extends Error {}

export interface StreamToken {
  direction: 'f' | 'b';
  key: Key;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

export function streamToken(direction: 'f' | 'b', streamId: number, key: Key): string {
  return `${direction}/${pad(streamId, 16)}${pad(key.ts + 1, 20)}${pad(key.id, 20)}`;
}

export function parseStreamToken(token: string, streamId: number): StreamToken {
  const m = /^([fb])\/(\d{16})(\d{20})(\d{20})$/.exec(token);
  if (!m) throw new TokenError('The specified nextToken is invalid: pass nextForwardToken or nextBackwardToken from a previous GetLogEvents response.');
  if (Number(m[2]) !== streamId) throw new TokenError('The specified nextToken is invalid: it belongs to another log stream.');
  const ts = Number(m[3]) - 1;
  const id = Number(m[4]);
  if (!Number.isSafeInteger(ts) || !Number.isSafeInteger(id)) throw new TokenError('The specified nextToken is invalid.');
  return { direction: m[1] as 'f' | 'b', key: { ts, id } };
}

/** An opaque token carrying a small JSON value (a keyset position). */
export function pageToken(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function parsePageToken<T>(token: string, valid: (v: unknown) => v is T): T {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw new TokenError('The specified nextToken is invalid: pass the nextToken of the previous response unchanged.');
  }
  if (!valid(v)) throw new TokenError('The specified nextToken is invalid: pass the nextToken of the previous response unchanged.');
  return v;
}

export const isKey = (v: unknown): v is Key =>
  typeof v === 'object' && v !== null && Number.isSafeInteger((v as Key).ts) && Number.isSafeInteger((v as Key).id);
