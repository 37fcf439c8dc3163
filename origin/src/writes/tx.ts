/**
 * The one way the origin runs a PostgreSQL transaction (the write APIs, the experiments
 * projection, the migrations): BEGIN, the work, COMMIT; on a throw, ROLLBACK and the error.
 */
import type pg from "pg";

/** One transaction on `client`: COMMIT, or ROLLBACK (its own failure ignored) and the error rethrown. */
export async function transaction<C extends pg.ClientBase, T>(client: C, fn: (client: C) => Promise<T>): Promise<T> {
  try {
    await client.query("BEGIN");
    const out = await fn(client);
    await client.query("COMMIT");
    return out;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  }
}

/** One transaction on a client of `pool`, released after; a failure goes through `mapError` (the caller's API errors). */
export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  mapError: (err: unknown) => never,
): Promise<T> {
  const client = await pool.connect();
  try {
    return await transaction(client, fn);
  } catch (err) {
    return mapError(err);
  } finally {
    client.release();
  }
}
