/**
 * The dashboard's session cookie: HttpOnly (no script can read it), SameSite=Strict
 * (never sent on a request another site starts), Path=/dashboard (never sent to
 * the API), Secure when served over HTTPS, and Max-Age no longer than the session.
 */

export const SESSION_COOKIE = 'skiff_session';
export const COOKIE_PATH = '/dashboard';

/** Cookie name → value from a `Cookie` header (first occurrence wins, as browsers order the most specific first). */
export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (name && !(name in out)) out[name] = value;
  }
  return out;
}

/** The `Set-Cookie` value that hands the browser a session token. */
export function sessionCookie(token: string, opts: { secure: boolean; maxAgeSec: number }): string {
  return [`${SESSION_COOKIE}=${token}`, `Path=${COOKIE_PATH}`, `Max-Age=${Math.max(0, Math.floor(opts.maxAgeSec))}`, 'HttpOnly', 'SameSite=Strict', ...(opts.secure ? ['Secure'] : [])].join('; ');
}

/** The `Set-Cookie` value that makes the browser forget the session. */
export function clearedSessionCookie(opts: { secure: boolean }): string {
  return [`${SESSION_COOKIE}=`, `Path=${COOKIE_PATH}`, 'Max-Age=0', 'HttpOnly', 'SameSite=Strict', ...(opts.secure ? ['Secure'] : [])].join('; ');
}
