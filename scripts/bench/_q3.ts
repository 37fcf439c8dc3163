import { createClient } from "@clickhouse/client";

const ch = createClient({ url: "http://127.0.0.1:8123", database: "bench_s" });
const q = "SELECT count() FROM follows_cdc WHERE follower_id = toUUID('00000000-0000-0000-0000-000000000000')";
for (const settings of [
  {},
  { max_threads: 1 },
  { max_threads: 1, use_query_cache: 0 },
  { log_queries: 0 },
  { max_threads: 1, log_queries: 0 },
  { use_skip_indexes: 0, max_threads: 1 },
] as Record<string, unknown>[]) {
  const ms: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    await (await ch.query({ query: q, format: "JSONEachRow", clickhouse_settings: settings })).json();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  console.log(JSON.stringify(settings), "p50", ms[15]?.toFixed(2));
}
const ms: number[] = [];
for (let i = 0; i < 30; i++) {
  const t = performance.now();
  await (await ch.query({ query: "SELECT 1", format: "JSONEachRow" })).json();
  ms.push(performance.now() - t);
}
ms.sort((a, b) => a - b);
console.log("select 1 p50", ms[15]?.toFixed(2));
await ch.close();
