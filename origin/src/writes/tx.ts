/** One transaction on a pooled client for the write APIs: COMMIT, or ROLLBACK and the error mapped by the caller. */
import type pg from "pg";

export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  mapError: (err: unknown) => never,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const out = await fn(client);
    await client.query("COMMIT");
    return out;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    return mapError(err);
  } finally {
    client.release();
  }
}
