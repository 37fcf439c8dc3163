/** `npm run db:migrate`: applies pending PostgreSQL migrations to DATABASE_URL. */
import pg from "pg";
import { readConfig } from "../src/config.ts";
import { migrate } from "./migrate.ts";

const client = new pg.Client({ connectionString: readConfig().databaseUrl });
try {
  await client.connect();
  const r = await migrate(client, undefined, (m) => console.log(`[db:migrate] ${m}`));
  console.log(`[db:migrate] ${r.applied.length} applied, ${r.alreadyApplied.length} already applied`);
} catch (err) {
  console.error(`[db:migrate] ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await client.end().catch(() => {});
}
