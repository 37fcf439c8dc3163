/**
 * Applies the ClickHouse DDL in `clickhouse/NNNN_name.sql`, in order, to one database. Every
 * statement is idempotent (IF NOT EXISTS), so a run interrupted halfway is finished by the
 * next. Applied files are recorded with a checksum in `schema_migrations`; editing an applied
 * file is an error (add a new one). Works against a real server or the local gateway.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ClickHouseClient } from "@clickhouse/client";

const CLICKHOUSE_SQL_DIR = join(import.meta.dirname, "../../clickhouse");

export interface ChMigration {
  version: string;
  name: string;
  statements: string[];
  checksum: string;
}

/** Splits a DDL file into statements: `--` comment lines dropped, split at `;` ending a line. */
export function splitStatements(sql: string): string[] {
  return sql
    .split("\n")
    .filter((line) => !line.trim().startsWith("--"))
    .join("\n")
    .split(/;[ \t]*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function loadChMigrations(dir: string = CLICKHOUSE_SQL_DIR): ChMigration[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .map((file) => {
      const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
      if (!m) throw new Error(`ClickHouse migration file name must look like 0001_name.sql: ${file}`);
      const sql = readFileSync(join(dir, file), "utf8");
      return {
        version: m[1] as string,
        name: m[2] as string,
        statements: splitStatements(sql),
        checksum: createHash("sha256").update(sql).digest("hex"),
      };
    });
}

/**
 * `admin` may point at any database (it creates `database`); `client` must have `database`
 * as its default database, since the DDL uses unqualified names.
 */
export async function migrateClickHouse(
  admin: ClickHouseClient,
  client: ClickHouseClient,
  database: string,
  migrations: ChMigration[] = loadChMigrations(),
  log: (msg: string) => void = () => {},
): Promise<{ applied: string[]; alreadyApplied: string[] }> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) throw new Error(`bad ClickHouse database name: ${database}`);
  await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` });
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS schema_migrations
      (version String, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
      ENGINE = ReplacingMergeTree ORDER BY version`,
  });
  const rs = await client.query({
    query: "SELECT version, checksum FROM schema_migrations FINAL",
    format: "JSONEachRow",
  });
  const done = new Map((await rs.json<{ version: string; checksum: string }>()).map((r) => [r.version, r.checksum]));
  const result = { applied: [] as string[], alreadyApplied: [] as string[] };
  for (const m of migrations) {
    const prior = done.get(m.version);
    if (prior !== undefined) {
      if (prior !== m.checksum) {
        throw new Error(`ClickHouse migration ${m.version}_${m.name} changed after it was applied; add a new one`);
      }
      result.alreadyApplied.push(m.version);
      continue;
    }
    const t0 = Date.now();
    for (const statement of m.statements) {
      try {
        await client.command({ query: statement });
      } catch (err) {
        const head = statement.split("\n")[0];
        throw new Error(`ClickHouse migration ${m.version}_${m.name} failed at "${head}": ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    await client.insert({
      table: "schema_migrations",
      values: [{ version: m.version, name: m.name, checksum: m.checksum }],
      format: "JSONEachRow",
    });
    result.applied.push(m.version);
    log(`applied ${m.version}_${m.name} (${m.statements.length} statements) in ${Date.now() - t0} ms`);
  }
  return result;
}
