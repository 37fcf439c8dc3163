/** `npm run ch:migrate`: applies the ClickHouse DDL in clickhouse/ to CLICKHOUSE_DATABASE. */
import { createClient } from "@clickhouse/client";
import { readConfig } from "../src/config.ts";
import { migrateClickHouse } from "./migrate.ts";

const { clickhouse: cfg } = readConfig();
const admin = createClient({ url: cfg.url, username: cfg.username, password: cfg.password });
const client = createClient({ url: cfg.url, username: cfg.username, password: cfg.password, database: cfg.database });
try {
  const r = await migrateClickHouse(admin, client, cfg.database, undefined, (m) => console.log(`[ch:migrate] ${m}`));
  console.log(`[ch:migrate] ${cfg.database}: ${r.applied.length} applied, ${r.alreadyApplied.length} already applied`);
} catch (err) {
  console.error(`[ch:migrate] ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await Promise.all([admin.close(), client.close()]);
}
