/** `npm run db:migrate`: applies pending PostgreSQL migrations to DATABASE_URL. */
import { migrate } from "../db/migrate.ts";
import { commandClients } from "../src/clients.ts";

// One connection: the migrations' advisory lock is held by the session.
const pool = commandClients("db:migrate").clients.pg({ max: 1 });
try {
  const client = await pool.connect();
  try {
    const r = await migrate(client, undefined, (m) => console.log(`[db:migrate] ${m}`));
    console.log(`[db:migrate] ${r.applied.length} applied, ${r.alreadyApplied.length} already applied`);
  } finally {
    client.release();
  }
} catch (err) {
  console.error(`[db:migrate] ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await pool.end().catch(() => {});
}
