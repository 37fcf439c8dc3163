/**
 * `npm run check:consistency`: PostgreSQL vs ClickHouse, every table, then ClickHouse's derived
 * data (event authors, counted flags, aggregates) against the counting rules; exit 1 on any
 * difference or violation.
 */
import { checkConsistency, differences } from "../ch/consistency.ts";
import { checkDerived } from "../ch/derived.ts";
import { commandClients, commandFailure } from "../src/clients.ts";

const { clients } = commandClients("check:consistency");
const pool = clients.pg({ max: 2 });
const ch = clients.clickhouse();
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
  console.error(`check:consistency failed: ${commandFailure(err)}`);
  process.exitCode = 2;
} finally {
  await Promise.allSettled([pool.end(), ch.close()]);
}
