/**
 * Shares one in-flight operation per key between concurrent callers.
 *
 * Contract: `run(key, signal, fn)` starts `fn` if no operation for `key` is in flight,
 * else joins the running one. The operation gets its own AbortSignal that fires only
 * when every caller that joined it has aborted; a caller that aborts stops waiting at
 * once (rejecting with `abortError()`) while the others keep the operation alive.
 */
import { ImagePullError } from './images.ts';

interface Flight<T> {
  promise: Promise<T>;
  controller: AbortController;
  waiters: number;
}

export function abortError(): ImagePullError {
  return new ImagePullError('the pull was cancelled');
}

export class SingleFlight<T> {
  private readonly flights = new Map<string, Flight<T>>();

  run(key: string, signal: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortError());
    let flight = this.flights.get(key);
    if (!flight) {
      const controller = new AbortController();
      const f: Flight<T> = { controller, waiters: 0, promise: Promise.resolve() as Promise<T> };
      f.promise = (async () => {
        try {
          return await fn(controller.signal);
        } finally {
          this.flights.delete(key);
        }
      })();
      f.promise.catch(() => {}); // joiners see the error; never an unhandled rejection
      this.flights.set(key, f);
      flight = f;
    }
    const f = flight;
    f.waiters++;
    if (!signal) return f.promise;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        f.waiters--;
        if (f.waiters === 0) f.controller.abort();
        reject(abortError());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      f.promise.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }
}
