/**
 * The store's database cannot be reached (PostgreSQL down, refusing, or not
 * answering in time). Not fatal: the API answers a ServerException with this
 * message (src/api/http-server.ts) and the next statement tries again, so
 * Skiff recovers by itself when the database returns.
 */
export class StoreUnavailableError extends Error {
  readonly code = 'SKIFF_STORE_UNAVAILABLE';
  constructor(database: string, reason: string) {
    super(`Skiff cannot reach its database ${database}: ${reason}. Check that PostgreSQL is running and reachable, then try again.`);
    this.name = 'StoreUnavailableError';
  }
}
