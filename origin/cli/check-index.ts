/**
 * `npm run check:index`: the serving index in Redis vs what ClickHouse says it should hold;
 * exit 1 on any difference (like check:consistency), 2 when the check itself fails.
 */
import { indexKeys } from "#core/keys.ts";
import { commandClients, commandFailure } from "../src/clients.ts";
import { checkIndex } from "../src/index/check.ts";

const { config, clients } = commandClients("check:index");
const ch = clients.clickhouse();
const redis = clients.redis();
try {
  const keys = indexKeys(config.index.namespace);
  if (!(await redis.exists(keys.ready))) console.log("the index is not ready (no bootstrap yet, or flushed)");
  const report = await checkIndex(ch, redis, keys);
  for (const d of report.differences) {
    console.log(`${d.key}${d.field ? ` ${d.field}` : ""}: index ${d.index ?? "-"} | clickhouse ${d.clickhouse ?? "-"}`);
  }
  const n = report.total;
  const listed = n > report.differences.length ? ` (the first ${report.differences.length} listed)` : "";
  console.log(
    `${report.keysCompared} keys compared: ${n === 0 ? "consistent, 0 differences" : `INCONSISTENT: ${n} differences${listed}`}`,
  );
  process.exitCode = n === 0 ? 0 : 1;
} catch (err) {
  console.error(`check:index failed: ${commandFailure(err)}`);
  process.exitCode = 2;
} finally {
  redis.disconnect();
  await ch.close();
}
