/**
 * `npm run check:notifications`: every user's notification groups in Redis vs what PostgreSQL's
 * live likes, comments and follows say they should be (origin/src/notifications/check.ts);
 * exit 1 on any difference (like check:index), 2 when the check itself fails.
 */
import { notificationKeys } from "#core/keys.ts";
import { commandClients, commandFailure } from "../src/clients.ts";
import { checkAllNotifications } from "../src/notifications/check.ts";

const LISTED = 50;
const { config, clients } = commandClients("check:notifications");
const db = clients.pg({ max: 2 });
const redis = clients.redis();
try {
  const report = await checkAllNotifications(db, redis, notificationKeys(config.index.namespace));
  for (const d of report.differences.slice(0, LISTED)) {
    console.log(
      `${d.user} ${d.gid} ${d.what}${d.actor ? ` ${d.actor}` : ""}: redis ${d.actual ?? "-"} | postgres ${d.expected ?? "-"}`,
    );
  }
  const n = report.differences.length;
  const listed = n > LISTED ? ` (the first ${LISTED} listed)` : "";
  console.log(
    `${report.users} users compared: ${n === 0 ? "consistent, 0 differences" : `INCONSISTENT: ${n} differences${listed}`}`,
  );
  process.exitCode = n === 0 ? 0 : 1;
} catch (err) {
  console.error(`check:notifications failed: ${commandFailure(err)}`);
  process.exitCode = 2;
} finally {
  redis.disconnect();
  await db.end();
}
