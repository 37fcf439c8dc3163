import { createClient } from "@clickhouse/client";
import { FEED_CANDIDATES_SQL, FEED_QUERY_LIMITS, SUGGESTED_USERS_SQL } from "/work/main/edge/core/index.ts";

const db = process.argv[2] ?? "bench_s";
const ch = createClient({ url: "http://127.0.0.1:8123", database: db });
const users = (
  await (
    await ch.query({
      query: "SELECT toString(follower_id) AS u FROM follows_cdc GROUP BY follower_id ORDER BY u LIMIT 20",
      format: "JSONEachRow",
    })
  ).json<{ u: string }>()
).map((r) => r.u);
for (const [name, sql, extra] of [
  ["feed", FEED_CANDIDATES_SQL, FEED_QUERY_LIMITS],
  ["suggest", SUGGESTED_USERS_SQL, { limit: 20 }],
] as const) {
  const ms: number[] = [];
  for (const u of users) {
    const t = performance.now();
    const rs = await ch.query({ query: sql, query_params: { viewer: u, ...extra }, format: "JSONEachRow" });
    const rows = await rs.json();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  console.log(name, "p50", ms[10]?.toFixed(1), "max", ms[19]?.toFixed(1));
}
await ch.close();
