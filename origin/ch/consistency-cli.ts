/**
 * `npm run check:consistency`: PostgreSQL vs ClickHouse, every table, then ClickHouse's derived
 * data (event authors, counted flags, aggregates) against the counting rules; exit 1 on any
 * difference or violation.
 */
import { createClient } from "@clickhouse/client";
import pg from "pg";
import { readConfig } from "../src/config.ts";
import { checkConsistency, differences } from "./consistency.ts";
import { checkDerived } from "./derived.ts";

const cfg = readConfig();
const pool = new pg.Pool({ connectionString: cfg.databaseUrl, max: 2 });
const ch = createClient({
  url: cfg.clickhouse.url,
  username: cfg.clickhouse.username,
  password: cfg.clickhouse.password,
  database: cfg.clickhouse.database,
});
try {
  const reports = await checkConsistency(pool, ch);
  let total = 0;
  for (const r of reports) {
    const n = differences(r);
    total += n;
    console.log(
      `${r.table.padEnd(9)} pg rows ${r.pg.rows} live ${r.pg.live} digest ${r.pg.digest} | ` +
        `ch rows ${r.ch.rows} live ${r.ch.live} digest ${r.ch.digest} | ${n === 0 ? "OK" : `${n} differences`}`,
    );
    for (const k of r.missingInClickHouse) console.log(`  missing in ClickHouse: ${k}`);
    for (const k of r.extraInClickHouse) console.log(`  extra in ClickHouse:   ${k}`);
    for (const d of r.different) console.log(`  different ${d.key}: pg ${d.pg} ch ${d.ch}`);
    if (r.unlisted) console.log(`  … and ${r.unlisted} more`);
  }
  for (const d of await checkDerived(ch)) {
    total += d.violations;
    console.log(`derived  ${d.rule}: ${d.violations === 0 ? "OK" : `${d.violations} violations`}`);
    for (const e of d.examples) console.log(`  ${e.key}: ${e.detail}`);
  }
  console.log(total === 0 ? "consistent: 0 differences" : `INCONSISTENT: ${total} differences`);
  process.exitCode = total === 0 ? 0 : 1;
} catch (err) {
  console.error(`check:consistency failed: ${(err as Error).message}`);
  process.exitCode = 2;
} finally {
  await Promise.allSettled([pool.end(), ch.close()]);
}
