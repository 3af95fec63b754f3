/**
 * Dashboard sessions: what a browser holds instead of a SigV4 secret.
 *
 * A session is created after the user proved they know an access key's secret
 * (login page). It remembers only the access key id — never the secret — and
 * every data call made for it is signed with that key as it stands in the key
 * store at that moment, so a revoked key or a changed policy takes effect on
 * the next call.
 *
 * The browser gets a random 256-bit token (HttpOnly, SameSite=Strict cookie);
 * the store keeps only its SHA-256, so a memory dump does not hand out live
 * cookies. Sessions live in memory: a server restart logs everyone out.
 * A session ends after `idleMs` without use or `maxAgeMs` after login,
 * whichever comes first, or on logout.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface Session {
  accessKeyId: string;
  createdAt: number;
  lastUsedAt: number;
  /** When the session ends if it stays in use (createdAt + maxAgeMs). */
  expiresAt: number;
}

export interface SessionLimits {
  /** Ends a session unused this long (default 30 minutes). */
  idleMs: number;
  /** Ends a session this long after login, used or not (default 12 hours). */
  maxAgeMs: number;
  /** At most this many live sessions; the least recently used goes first (default 1000). */
  maxSessions: number;
}

export const DEFAULT_SESSION_LIMITS: Readonly<SessionLimits> = Object.freeze({ idleMs: 30 * 60_000, maxAgeMs: 12 * 3_600_000, maxSessions: 1000 });

const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;
const digest = (token: string) => createHash('sha256').update(token).digest('base64url');

export class SessionStore {
  /** digest(token) → session; Map order is least recently used first. */
  private readonly sessions = new Map<string, Session>();
  readonly limits: Readonly<SessionLimits>;

  constructor(
    limits: Partial<SessionLimits> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.limits = Object.freeze({ ...DEFAULT_SESSION_LIMITS, ...limits });
  }

  /** Starts a session for a verified key; returns the token for the cookie (shown nowhere else). */
  create(accessKeyId: string): { token: string; session: Session } {
    this.sweep();
    while (this.sessions.size >= this.limits.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
    const token = randomBytes(32).toString('base64url');
    const now = this.now();
    const session: Session = { accessKeyId, createdAt: now, lastUsedAt: now, expiresAt: now + this.limits.maxAgeMs };
    this.sessions.set(digest(token), session);
    return { token, session };
  }

  /** The live session of a token (and marks it used), or undefined: unknown, malformed, idle too long or too old. */
  use(token: string | undefined): Session | undefined {
    if (!token || !TOKEN_RE.test(token)) return undefined;
    const id = digest(token);
    const s = this.sessions.get(id);
    if (!s) return undefined;
    const now = this.now();
    if (this.expired(s, now)) {
      this.sessions.delete(id);
      return undefined;
    }
    s.lastUsedAt = now;
    this.sessions.delete(id); // re-insert: most recently used last
    this.sessions.set(id, s);
    return s;
  }

  /** Ends a session (logout); true if it was live. */
  end(token: string | undefined): boolean {
    if (!token || !TOKEN_RE.test(token)) return false;
    return this.sessions.delete(digest(token));
  }

  /** Ends every session of a key (e.g. the key turned out revoked). */
  endAllOf(accessKeyId: string): void {
    for (const [id, s] of this.sessions) if (s.accessKeyId === accessKeyId) this.sessions.delete(id);
  }

  get size(): number {
    this.sweep();
    return this.sessions.size;
  }

  private expired(s: Session, now: number): boolean {
    return now >= s.expiresAt || now - s.lastUsedAt >= this.limits.idleMs;
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (this.expired(s, now)) this.sessions.delete(id);
  }
}
