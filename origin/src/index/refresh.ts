/**
 * Periodic refreshes of the index parts ClickHouse computes: affinity over 90 days (the
 * updater only ever adds and subtracts, so interactions that age out of the window leave
 * through here) and the popular authors of the cold-start source.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import type { IndexKeys } from "#core/keys.ts";
import { POPULAR_AUTHORS } from "#core/serving/read.ts";
import type { AnyRedis } from "../redis-cluster.ts";
import { BOOTSTRAP_SQL } from "./bootstrap.ts";
import type { IndexWriter } from "./writer.ts";

export async function refreshPopularAuthors(ch: ClickHouseClient, redis: AnyRedis, keys: IndexKeys): Promise<number> {
  const rs = await ch.query({
    query: BOOTSTRAP_SQL.popular,
    query_params: { n: POPULAR_AUTHORS },
    format: "JSONEachRow",
  });
  const authors = (await rs.json<{ aid: string }>()).map((r) => r.aid);
  await redis.set(keys.popularAuthors, JSON.stringify(authors));
  return authors.length;
}

/**
 * Every user's affinity as ClickHouse counts it, written in batches of `batchUsers`; a user the
 * updater bumped in the last AFFINITY_REFRESH_QUIET_MS is left to the updater this time.
 */
export async function refreshAffinity(
  ch: ClickHouseClient,
  writer: IndexWriter,
  opts: { batchUsers?: number; signal?: AbortSignal } = {},
): Promise<{ users: number; replaced: number }> {
  const rs = await ch.query({ query: `${BOOTSTRAP_SQL.affinity} ORDER BY user_id`, format: "JSONEachRow" });
  const size = opts.batchUsers ?? 500;
  let batch = new Map<string, [string, number][]>();
  let users = 0;
  let replaced = 0;
  for await (const rows of rs.stream<{ uid: string; aid: string; n: string }>()) {
    for (const row of rows) {
      const r = row.json();
      if (!batch.has(r.uid) && batch.size >= size) {
        replaced += await writer.refreshAffinity(batch);
        users += batch.size;
        batch = new Map();
        if (opts.signal?.aborted) return { users, replaced };
      }
      const list = batch.get(r.uid) ?? [];
      list.push([r.aid, Number(r.n)]);
      batch.set(r.uid, list);
    }
  }
  replaced += await writer.refreshAffinity(batch);
  users += batch.size;
  return { users, replaced };
}
