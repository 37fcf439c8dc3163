/** PostgreSQL helpers for integration tests: each test gets a database of its own. */
import { randomBytes } from "node:crypto";
import pg from "pg";

/** Superuser connection of the local stack (trust auth on the machine's cluster). */
export const PG_ADMIN_URL = process.env.PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export async function adminClient(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable at ${PG_ADMIN_URL}; run \`npm run stack:up\` first`, { cause: err });
  }
  return client;
}

/**
 * Creates a uniquely named empty database (`t_<prefix>_<12 hex>`); `drop()` removes it, and
 * `npm run stack:down` removes any a killed run left behind.
 */
export async function tempDatabase(prefix = "db"): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `t_${prefix}_${randomBytes(6).toString("hex")}`;
  const admin = await adminClient();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const a = await adminClient();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}
