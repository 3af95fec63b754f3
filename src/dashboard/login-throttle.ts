/**
 * Slows down guessing at the login page: after `maxFailures` failed logins from
 * one address within `windowMs`, that address is refused until the window
 * since its first failure has passed. A success clears its count.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, { first: number; count: number }>();
  private readonly maxFailures: number;
  private readonly windowMs: number;

  constructor(limits: { maxFailures?: number; windowMs?: number } = {}, private readonly now: () => number = Date.now) {
    this.maxFailures = limits.maxFailures ?? 10;
    this.windowMs = limits.windowMs ?? 5 * 60_000;
  }

  /** 0 when `ip` may try; otherwise how long it must wait. */
  retryAfterMs(ip: string): number {
    const f = this.failures.get(ip);
    if (!f) return 0;
    const left = f.first + this.windowMs - this.now();
    if (left <= 0) {
      this.failures.delete(ip);
      return 0;
    }
    return f.count >= this.maxFailures ? left : 0;
  }

  failed(ip: string): void {
    const t = this.now();
    const f = this.failures.get(ip);
    if (!f || t - f.first >= this.windowMs) this.failures.set(ip, { first: t, count: 1 });
    else f.count++;
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value!);
  }

  succeeded(ip: string): void {
    this.failures.delete(ip);
  }
}
