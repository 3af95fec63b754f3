/**
 * Pending exec sessions and their tokens.
 *
 * ExecuteCommand (control/execute-command.ts) registers what to run and gets a
 * session id and a token; the stream route (stream-route.ts) redeems the token
 * when the client opens the WebSocket. The token, not SigV4, authorizes the
 * stream, so:
 *   - it is 32 random bytes (base64url), unguessable; only its SHA-256 is kept;
 *   - it is bound to its session: presented for another session id, it is refused;
 *   - it is single-use: the first successful redeem removes the session;
 *   - it expires `ttlMs` (default 60 s) after it was issued, unused.
 * At most `maxPending` sessions wait at once (the oldest is dropped past that).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface ExecTarget {
  taskArn: string;
  taskId: string;
  containerName: string;
  /** Driver container id. */
  runtimeId: string;
  args: string[];
  /** Who asked (principal ARN), for the server log. */
  principal?: string;
}

interface Pending extends ExecTarget {
  tokenHash: Buffer;
  expiresAt: number;
}

export type RedeemResult = { ok: true; target: ExecTarget } | { ok: false; reason: string };

const hash = (token: string) => createHash('sha256').update(token).digest();

export class ExecSessions {
  private readonly pending = new Map<string, Pending>();
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly maxPending: number;
  /** `ws://host:port` (or wss) of this server, asked when a session is made (the server knows it once it listens); streamUrl = base + /skiff/v1/exec/<id>. */
  private readonly streamBase: () => string;

  constructor(opts: { streamBase: () => string; ttlMs?: number; now?: () => number; maxPending?: number }) {
    this.streamBase = opts.streamBase;
    this.ttlMs = opts.ttlMs ?? 60_000;
    this.now = opts.now ?? Date.now;
    this.maxPending = opts.maxPending ?? 1000;
  }

  create(target: ExecTarget): { sessionId: string; token: string; streamUrl: string } {
    this.prune();
    while (this.pending.size >= this.maxPending) this.pending.delete(this.pending.keys().next().value!);
    const sessionId = `ecs-execute-command-${randomBytes(10).toString('hex')}`;
    const token = randomBytes(32).toString('base64url');
    this.pending.set(sessionId, { ...target, tokenHash: hash(token), expiresAt: this.now() + this.ttlMs });
    return { sessionId, token, streamUrl: `${this.streamBase()}/skiff/v1/exec/${sessionId}` };
  }

  /** Checks `token` for `sessionId`; on success the session is taken (no second use). */
  redeem(sessionId: string, token: string | undefined): RedeemResult {
    this.prune();
    const p = this.pending.get(sessionId);
    if (!p) return { ok: false, reason: 'no such exec session (already used, expired, or never issued): call ExecuteCommand again' };
    if (!token || !timingSafeEqual(hash(token), p.tokenHash)) return { ok: false, reason: 'the token does not belong to this exec session' };
    this.pending.delete(sessionId);
    const { tokenHash: _h, expiresAt: _e, ...target } = p;
    return { ok: true, target };
  }

  get size(): number {
    return this.pending.size;
  }

  private prune(): void {
    const now = this.now();
    for (const [id, p] of this.pending) if (p.expiresAt <= now) this.pending.delete(id);
  }
}
