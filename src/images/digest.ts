/**
 * Digest strings and hashing helpers.
 *
 * Contract: only `sha256:<64 lowercase hex>` digests are accepted anywhere in the image
 * code. A digest string is validated with `parseDigest` before it is ever used to build
 * a file path or a URL.
 */
import { createHash } from 'node:crypto';
import { ImagePullError } from './images.ts';

const DIGEST_RE = /^sha256:([0-9a-f]{64})$/;

export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST_RE.test(value);
}

/** Returns the 64-char hex part of a valid digest; throws ImagePullError otherwise. */
export function parseDigest(value: unknown, what = 'digest'): string {
  if (typeof value !== 'string') throw new ImagePullError(`invalid ${what}: expected a string`);
  const m = DIGEST_RE.exec(value);
  if (!m) {
    const shown = value.length > 80 ? `${value.slice(0, 80)}...` : value;
    throw new ImagePullError(`invalid ${what} ${JSON.stringify(shown)}: only sha256:<64 lowercase hex> digests are supported`);
  }
  return m[1];
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256Digest(data: Uint8Array | string): string {
  return `sha256:${sha256Hex(data)}`;
}
