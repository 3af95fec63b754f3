// The PostgreSQL connection behind PgDb (pg-db.ts), in a worker thread.
//
// Contract: the main thread posts one request at a time on `port` ({id, op, ...})
// and blocks on `flag` (Atomics.wait); this worker answers each request with one
// message on `port` ({id, ok, ...}), then sets flag[0] to 1 and notifies. One
// connection (the `pg` client), opened on first use and again after it is lost:
// a lost connection fails the request in flight and every later statement of the
// transaction it was in (until the main thread's ROLLBACK), never silently runs
// the rest of a transaction in autocommit on a new connection.
//
// Plain JavaScript on purpose: it is loaded by path as a worker (dev and dist alike).
import { workerData } from 'node:worker_threads';
import pg from 'pg';

const { port, flag, url, connectTimeoutMs, statementTimeoutMs } = workerData;

pg.types.setTypeParser(20, (v) => Number(v)); // bigint (epoch ms, counts): JavaScript numbers as SQLite gives them
pg.types.setTypeParser(1700, (v) => Number(v)); // numeric (sums)

/** @type {pg.Client | undefined} */
let client;
/** Connection lost inside a transaction: refuse statements until the main thread ends the transaction. */
let broken = false;
let inTx = false;

async function connection() {
  if (client) return client;
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs, statement_timeout: statementTimeoutMs, application_name: 'skiff' });
  c.on('error', () => {
    if (client === c) lost();
  });
  c.on('end', () => {
    if (client === c) lost();
  });
  try {
    await c.connect();
  } catch (e) {
    c.end().catch(() => {});
    throw e;
  }
  client = c;
  return c;
}

function lost() {
  client?.end().catch(() => {});
  client = undefined;
  if (inTx) broken = true;
}

const TX_END = /^\s*(COMMIT|ROLLBACK)\b(?!\s+TO)/i;

async function handle(req) {
  const ending = req.op === 'query' && TX_END.test(req.sql);
  if (broken) {
    if (ending) {
      broken = false;
      inTx = false;
      if (/^\s*ROLLBACK/i.test(req.sql)) return { rows: [], rowCount: 0 };
    }
    throw Object.assign(new Error('the connection to the database was lost during this transaction; it was rolled back'), { code: 'SKIFF_DB_UNAVAILABLE' });
  }
  if (req.op === 'close') {
    const c = client;
    client = undefined;
    await c?.end();
    return { rows: [], rowCount: 0 };
  }
  const c = await connection();
  if (req.op === 'exec') {
    await c.query(req.sql);
    return { rows: [], rowCount: 0 };
  }
  try {
    const r = await c.query({ name: req.name, text: req.sql, values: req.params });
    if (/^\s*BEGIN\b/i.test(req.sql)) inTx = true; // a BEGIN that failed opened nothing
    return { rows: r.rows, rowCount: r.rowCount ?? 0 };
  } finally {
    if (ending) inTx = false;
  }
}

port.on('message', async (req) => {
  let answer;
  try {
    answer = { id: req.id, ok: true, ...(await handle(req)) };
  } catch (e) {
    const err = /** @type {any} */ (e);
    // Errors from the server carry a severity; a refused, reset or timed-out connection does not.
    const connectionProblem = !err.severity && ((typeof err.code === 'string' && /^E[A-Z]+$/.test(err.code)) || /connect|terminated|timeout|not queryable/i.test(String(err.message)));
    if (connectionProblem) lost();
    answer = { id: req.id, ok: false, error: { message: String(err.message ?? err), code: err.code, detail: err.detail, constraint: err.constraint, connection: connectionProblem } };
  }
  port.postMessage(answer);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
