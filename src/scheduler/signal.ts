/**
 * "Something changed, look again": any number of senders (API handlers, the
 * Spot reclaimer) notify; the loops that subscribed (the service scheduler)
 * run a pass soon. Built before both sides, so neither needs the other to
 * exist first.
 */
export class ChangeSignal {
  private readonly listeners = new Set<() => void>();

  /** Calls `listener` on every notify until the returned function is called. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(): void {
    for (const l of this.listeners) l();
  }
}
