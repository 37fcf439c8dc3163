import { createClient } from "@clickhouse/client";
import { FEED_CANDIDATES_SQL, FEED_QUERY_LIMITS } from "/work/main/edge/core/index.ts";

const db = process.argv[2] ?? "bench_s";
const ch = createClient({ url: "http://127.0.0.1:8123", database: db });
const users = (
  await (
    await ch.query({
      query: "SELECT toString(follower_id) AS u FROM follows_cdc GROUP BY follower_id ORDER BY u LIMIT 10",
      format: "JSONEachRow",
    })
  ).json<{ u: string }>()
).map((r) => r.u);
const parts: Record<string, string> = {
  followees: "SELECT count() FROM follows_cdc FINAL WHERE follower_id = {viewer:UUID} AND deleted_at IS NULL",
  followees_nofinal: "SELECT count() FROM follows_cdc WHERE follower_id = {viewer:UUID} AND deleted_at IS NULL",
  f1: `SELECT count() FROM (SELECT id FROM posts_cdc FINAL WHERE author_id IN (SELECT followee_id FROM follows_cdc FINAL WHERE follower_id = {viewer:UUID} AND deleted_at IS NULL) AND created_at >= now64(3) - INTERVAL 72 HOUR AND deleted_at IS NULL ORDER BY created_at DESC LIMIT 500)`,
  f1_nofinal: `SELECT count() FROM (SELECT id FROM posts_cdc WHERE author_id IN (SELECT followee_id FROM follows_cdc WHERE follower_id = {viewer:UUID} AND deleted_at IS NULL) AND created_at >= now64(3) - INTERVAL 72 HOUR AND deleted_at IS NULL ORDER BY created_at DESC LIMIT 500)`,
  affinity:
    "SELECT count() FROM (SELECT author_id, sum(interactions) AS n FROM user_author_90d WHERE user_id = {viewer:UUID} AND day >= today() - 90 GROUP BY author_id HAVING n > 0 ORDER BY n DESC, author_id LIMIT 50)",
  popular:
    "SELECT count() FROM (SELECT author_id FROM author_stats GROUP BY author_id HAVING sum(followers) > 0 ORDER BY sum(followers) DESC, author_id LIMIT 20)",
  trending:
    "SELECT count() FROM posts_by_id FINAL WHERE id IN (SELECT post_id FROM trending_posts WHERE generation = (SELECT max(generation) FROM trending_posts) ORDER BY rank LIMIT 200) AND deleted_at IS NULL",
  full: FEED_CANDIDATES_SQL,
  full_matcte: FEED_CANDIDATES_SQL.replace(
    "SETTINGS join_use_nulls = 1",
    "SETTINGS join_use_nulls = 1, enable_materialized_cte = 1",
  ),
};
for (const [name, sql] of Object.entries(parts)) {
  const ms: number[] = [];
  for (const u of users) {
    const t = performance.now();
    try {
      const rs = await ch.query({
        query: sql,
        query_params: { viewer: u, ...FEED_QUERY_LIMITS },
        format: "JSONEachRow",
      });
      await rs.json();
    } catch (e) {
      console.log(name, (e as Error).message.slice(0, 200));
      break;
    }
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  console.log(name.padEnd(18), "p50", ms[5]?.toFixed(1), "max", ms[ms.length - 1]?.toFixed(1));
}
await ch.close();
