/**
 * `--database` / SKIFF_DATABASE_URL: PostgreSQL holding the control plane's
 * state instead of the data dir's SQLite (src/store/postgres/). Checked once
 * with the rest of the server's settings (server-config.ts).
 */
/** Where the control plane keeps its state when not in the data dir's SQLite (`--database`, SKIFF_DATABASE_URL). */
export interface DatabaseSetting {
  /** postgres://USER[:PASSWORD]@HOST[:PORT]/DB, as given (a unix socket dir via ?host=/dir). */
  url: string;
  /** The URL without its password, for messages and logs. */
  display: string;
}

export function parseDatabaseSetting(value: string | undefined, problems: string[]): DatabaseSetting | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    problems.push(`--database / SKIFF_DATABASE_URL must be a URL such as postgres://skiff@127.0.0.1:5432/skiff (got ${value})`);
    return undefined;
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    problems.push(`--database / SKIFF_DATABASE_URL: only PostgreSQL is supported (postgres://USER@HOST:PORT/DB); got ${u.protocol.replace(/:$/, '')}`);
    return undefined;
  }
  if (u.pathname.length <= 1) problems.push(`--database / SKIFF_DATABASE_URL names no database: add /DBNAME, e.g. postgres://skiff@127.0.0.1:5432/skiff`);
  u.password = '';
  return { url: value, display: u.toString() };
}
