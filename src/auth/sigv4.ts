/**
 * AWS Signature Version 4, the verifying side: parse the `Authorization` header,
 * rebuild the canonical request from what arrived on the wire, and compare
 * signatures in constant time. Pure functions over a plain request description,
 * so they are tested with AWS's published vectors and against the SDK's signer.
 *
 * Only header-based signing (`Authorization: AWS4-HMAC-SHA256 ...`) is accepted;
 * presigned query strings and unsigned payloads are not (Skiff serves no S3).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
/** Largest accepted difference between the request's time and the server's (AWS: 5 minutes). */
export const MAX_SKEW_MS = 5 * 60_000;

/** A request as it arrived: method, the raw path and query (wire form), headers, body bytes. */
export interface WireRequest {
  method: string;
  /** Path and query exactly as sent, e.g. `/skiff/v1/tasks/abc?follow=1`. */
  url: string;
  /** Header name (any case) → values in arrival order. */
  headers: Record<string, string[]>;
  body: Buffer;
}

export interface ParsedAuthorization {
  accessKeyId: string;
  /** yyyymmdd */
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

/** Why a request cannot be verified; `kind` picks the AWS error type. */
export class SigV4Error extends Error {
  constructor(
    readonly kind: 'missing' | 'incomplete' | 'signature' | 'expired',
    message: string,
  ) {
    super(message);
  }
}

export const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ as %XX (upper case). */
export function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The canonical URI: dot segments removed, each segment encoded once more (non-S3 rule). */
export function canonicalUri(rawPath: string): string {
  if (!rawPath || rawPath === '/') return '/';
  const out: string[] = [];
  for (const seg of rawPath.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const trailing = rawPath.endsWith('/') && out.length > 0 ? '/' : '';
  return '/' + out.map(uriEncode).join('/') + trailing;
}

/** The canonical query string: decoded pairs re-encoded strictly, sorted by name then value. */
export function canonicalQuery(rawQuery: string): string {
  if (!rawQuery) return '';
  const pairs: [string, string][] = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    pairs.push([uriEncode(safeDecode(name)), uriEncode(safeDecode(value))]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

const trimValue = (v: string) => v.trim().replace(/\s+/g, ' ');

export function canonicalHeaders(headers: Record<string, string[]>, signed: string[]): string {
  const byName = new Map<string, string[]>();
  for (const [k, vs] of Object.entries(headers)) {
    const name = k.toLowerCase();
    byName.set(name, [...(byName.get(name) ?? []), ...vs]);
  }
  return signed.map((h) => `${h}:${(byName.get(h) ?? []).map(trimValue).join(',')}\n`).join('');
}

export function canonicalRequest(req: WireRequest, signedHeaders: string[], payloadHash: string): string {
  const q = req.url.indexOf('?');
  const path = q < 0 ? req.url : req.url.slice(0, q);
  const query = q < 0 ? '' : req.url.slice(q + 1);
  return [
    req.method.toUpperCase(),
    canonicalUri(path),
    canonicalQuery(query),
    canonicalHeaders(req.headers, signedHeaders),
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return [ALGORITHM, amzDate, scope, sha256Hex(canonical)].join('\n');
}

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  // Four HMACs that give the same key all day: remembered (AWS's SDKs cache it the same way), bounded.
  const id = `${date}/${region}/${service}\u0000${secret}`;
  let key = signingKeys.get(id);
  if (!key) {
    key = hmac(hmac(hmac(hmac('AWS4' + secret, date), region), service), 'aws4_request');
    if (signingKeys.size >= 1000) signingKeys.clear();
    signingKeys.set(id, key);
  }
  return key;
}

const signingKeys = new Map<string, Buffer>();

export function signature(secret: string, auth: Pick<ParsedAuthorization, 'date' | 'region' | 'service'>, amzDate: string, canonical: string): string {
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  return createHmac('sha256', signingKey(secret, auth.date, auth.region, auth.service)).update(stringToSign(amzDate, scope, canonical)).digest('hex');
}

function header(req: WireRequest, name: string): string | undefined {
  for (const [k, vs] of Object.entries(req.headers)) if (k.toLowerCase() === name && vs.length) return vs.join(',');
  return undefined;
}

/** Parses `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ecs/aws4_request, SignedHeaders=a;b, Signature=hex`. */
export function parseAuthorization(value: string | undefined): ParsedAuthorization {
  if (!value) throw new SigV4Error('missing', 'Missing Authentication Token');
  if (!value.startsWith(ALGORITHM + ' ')) {
    throw new SigV4Error('incomplete', `Only ${ALGORITHM} is supported (Authorization header starts with '${value.split(' ')[0].slice(0, 40)}').`);
  }
  const fields = new Map<string, string>();
  for (const part of value.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const missing = ['Credential', 'SignedHeaders', 'Signature'].filter((f) => !fields.get(f));
  if (missing.length) {
    throw new SigV4Error('incomplete', `Authorization header requires ${missing.map((m) => `'${m}'`).join(', ')} parameter(s). Authorization=${ALGORITHM} ${[...fields.keys()].join(', ')}`);
  }
  const cred = fields.get('Credential')!.split('/');
  if (cred.length !== 5 || cred[4] !== 'aws4_request' || !/^\d{8}$/.test(cred[1]) || !cred[0]) {
    throw new SigV4Error('incomplete', `Credential should be scoped to a valid region, a service and 'aws4_request': <key>/<yyyymmdd>/<region>/<service>/aws4_request (got '${cred.slice(1).join('/')}').`);
  }
  const signedHeaders = fields.get('SignedHeaders')!.split(';').map((h) => h.trim().toLowerCase());
  const sig = fields.get('Signature')!;
  if (!/^[0-9a-f]{64}$/.test(sig)) throw new SigV4Error('incomplete', 'Signature must be 64 lower-case hex characters.');
  return { accessKeyId: cred[0], date: cred[1], region: cred[2], service: cred[3], signedHeaders, signature: sig };
}

/** `20150830T123600Z` → epoch ms, or NaN. */
export function parseAmzDate(v: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(v);
  if (!m) return NaN;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}

export const formatAmzDate = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

/**
 * The first half of verification, before the key is looked up: the header is
 * well formed, the time is within 5 minutes, host and x-amz-date are signed.
 */
export function preVerify(req: WireRequest, now: number): { auth: ParsedAuthorization; amzDate: string } {
  const auth = parseAuthorization(header(req, 'authorization'));
  const amzDate = header(req, 'x-amz-date');
  const date = header(req, 'date');
  let when: number;
  let stamp: string;
  if (amzDate) {
    when = parseAmzDate(amzDate);
    stamp = amzDate;
  } else if (date) {
    when = Date.parse(date);
    stamp = Number.isFinite(when) ? formatAmzDate(when) : '';
  } else {
    throw new SigV4Error('incomplete', "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  }
  if (!Number.isFinite(when)) throw new SigV4Error('incomplete', `X-Amz-Date '${amzDate ?? date}' is not a valid date: use yyyyMMddTHHmmssZ.`);
  if (!auth.signedHeaders.includes('host')) throw new SigV4Error('signature', "'Host' must be a signed header.");
  if (amzDate && !auth.signedHeaders.includes('x-amz-date')) throw new SigV4Error('signature', "'X-Amz-Date' must be a signed header.");
  if (stamp.slice(0, 8) !== auth.date) {
    throw new SigV4Error('signature', `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.date}' != '${stamp.slice(0, 8)}'`);
  }
  if (when < now - MAX_SKEW_MS) {
    throw new SigV4Error('expired', `Signature expired: ${stamp} is now earlier than ${formatAmzDate(now - MAX_SKEW_MS)} (${formatAmzDate(now)} - 5 min.)`);
  }
  if (when > now + MAX_SKEW_MS) {
    throw new SigV4Error('expired', `Signature not yet current: ${stamp} is still later than ${formatAmzDate(now + MAX_SKEW_MS)} (${formatAmzDate(now)} + 5 min.)`);
  }
  return { auth, amzDate: stamp };
}

/** The second half: with the key's secret, rebuild the signature and compare. */
export function verifySignature(req: WireRequest, auth: ParsedAuthorization, amzDate: string, secret: string): void {
  const bodyHash = sha256Hex(req.body);
  const claimed = header(req, 'x-amz-content-sha256');
  if (claimed !== undefined && claimed !== bodyHash) {
    throw new SigV4Error('signature', 'The provided x-amz-content-sha256 header does not match what was computed.');
  }
  const canonical = canonicalRequest(req, auth.signedHeaders, bodyHash);
  const expected = Buffer.from(signature(secret, auth, amzDate, canonical), 'hex');
  const given = Buffer.from(auth.signature, 'hex');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw new SigV4Error(
      'signature',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
  }
}

/** Node's `rawHeaders` ([name, value, name, value, ...]) → name → values. */
export function headersFromRaw(raw: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i].toLowerCase();
    (out[k] ??= []).push(raw[i + 1]);
  }
  return out;
}
