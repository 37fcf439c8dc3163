/**
 * Versioned PostgreSQL migrations: `NNNN_name.sql` files applied in order, each in its own
 * transaction, recorded in `schema_migrations` with a checksum. A changed file that was already
 * applied is an error (write a new migration instead). A session advisory lock makes concurrent
 * runs (two origins starting) safe.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type pg from "pg";
import { transaction } from "../src/writes/tx.ts";

export interface Migration {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: string[];
}

/** Default folder of the project's migrations. */
const MIGRATIONS_DIR = join(import.meta.dirname, "migrations");
const LOCK_KEY = 7_302_811_455; // arbitrary, fixed: identifies "edge-feed migrations" in pg_locks

function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort();
  return files.map((file) => {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) throw new Error(`migration file name must look like 0001_name.sql: ${file}`);
    const sql = readFileSync(join(dir, file), "utf8");
    return { version: m[1] as string, name: m[2] as string, sql, checksum: sha256(sql) };
  });
}

export async function migrate(
  client: pg.ClientBase,
  migrations: Migration[] = loadMigrations(),
  log: (msg: string) => void = () => {},
): Promise<MigrateResult> {
  await client.query("SELECT pg_advisory_lock($1)", [LOCK_KEY]);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: string; checksum: string }>(
      "SELECT version, checksum FROM schema_migrations",
    );
    const done = new Map(rows.map((r) => [r.version, r.checksum]));
    const result: MigrateResult = { applied: [], alreadyApplied: [] };
    for (const m of migrations) {
      const checksum = done.get(m.version);
      if (checksum !== undefined) {
        if (checksum !== m.checksum) {
          throw new Error(`migration ${m.version}_${m.name} changed after it was applied; add a new migration instead`);
        }
        result.alreadyApplied.push(m.version);
        continue;
      }
      const t0 = Date.now();
      try {
        await transaction(client, async (db) => {
          await db.query(m.sql);
          await db.query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", [
            m.version,
            m.name,
            m.checksum,
          ]);
        });
      } catch (err) {
        throw new Error(`migration ${m.version}_${m.name} failed: ${(err as Error).message}`, { cause: err });
      }
      result.applied.push(m.version);
      log(`applied ${m.version}_${m.name} in ${Date.now() - t0} ms`);
    }
    return result;
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [LOCK_KEY]);
  }
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
