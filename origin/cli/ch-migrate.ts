/** `npm run ch:migrate`: applies the ClickHouse DDL in clickhouse/ to CLICKHOUSE_DATABASE. */
import { migrateClickHouse } from "../ch/migrate.ts";
import { commandClients } from "../src/clients.ts";

const { config, clients } = commandClients("ch:migrate");
const { database } = config.clickhouse;
const admin = clients.clickhouse({ database: false });
const client = clients.clickhouse();
try {
  const r = await migrateClickHouse(admin, client, database, undefined, (m) => console.log(`[ch:migrate] ${m}`));
  console.log(`[ch:migrate] ${database}: ${r.applied.length} applied, ${r.alreadyApplied.length} already applied`);
} catch (err) {
  console.error(`[ch:migrate] ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await Promise.all([admin.close(), client.close()]);
}
