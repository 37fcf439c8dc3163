/**
 * The safety net under the serving index's post counters: a periodic comparison of every
 * window post's counters (likes, comments, shares, impressions) with ClickHouse's post_totals,
 * which count the same things by the same rules. The updater keeps them equal, so in normal
 * operation this repairs nothing; a repair is a bug report, counted in
 * `origin_index_repairs_total{kind="post_counters"}` and logged with the post.
 *
 * The two pipelines lag each other by about a second, so a difference seen once may be in
 * flight: a post is repaired only when the same difference (the same index value and the same
 * ClickHouse value) was already seen by the previous run, and then only if the index still holds
 * the value seen (a compare-and-set script), so a bump landing in between is never overwritten.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import type { Redis } from "ioredis";
import { encodePostCounters, INDEX_POST_WINDOW_MS, type IndexKeys } from "../../../edge/core/keys.ts";

const WINDOW_TOTALS = `SELECT toString(p.id) AS pid, toString(p.author_id) AS aid,
    toInt64(ifNull(t.likes, 0)) AS l, toInt64(ifNull(t.comments, 0)) AS c,
    toInt64(ifNull(t.shares, 0)) AS s, toInt64(ifNull(t.impressions, 0)) AS i
  FROM (SELECT id, author_id FROM posts_current
        WHERE deleted_at IS NULL AND created_at >= now64(3) - toIntervalMillisecond({window_ms:UInt64})) AS p
  LEFT JOIN (SELECT post_id, sum(likes) AS likes, sum(comments) AS comments, sum(shares) AS shares,
                    sum(impressions) AS impressions
             FROM post_totals
             WHERE post_id IN (SELECT id FROM posts_current
                               WHERE created_at >= now64(3) - toIntervalMillisecond({window_ms:UInt64}))
             GROUP BY post_id) AS t ON t.post_id = p.id
  SETTINGS join_use_nulls = 1`;

/** Sets a counter field only while it still holds the value the comparison saw ("" = absent). */
const CAS_COUNTERS_LUA = `
local cur = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if cur ~= ARGV[2] then return 0 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1
`;

/** Repairs by kind, kept for the metrics (origin_index_repairs_total). */
export class IndexRepairs {
  readonly byKind: Record<string, number> = { post_counters: 0 };
  /** Differences seen by the last run, post id → "index|clickhouse". */
  suspects = new Map<string, string>();
}

export type ReconcileReport = {
  posts: number;
  /** Differences seen this run (repaired or not). */
  differences: number;
  repaired: number;
};

/** Normalizes an author-hash counter value as encodePostCounters writes it ("" when all zero). */
function normal(v: string | null): string {
  if (!v) return "";
  const n = v.split(",").map((x) => Math.max(0, Number(x) || 0));
  return encodePostCounters({ likes: n[0] ?? 0, comments: n[1] ?? 0, shares: n[2] ?? 0, impressions: n[3] ?? 0 }) ?? "";
}

export async function reconcilePostCounters(
  ch: ClickHouseClient,
  redis: Redis,
  keys: IndexKeys,
  repairs: IndexRepairs,
  log: (msg: string, detail: Record<string, unknown>) => void = () => {},
  opts: { batch?: number; signal?: AbortSignal } = {},
): Promise<ReconcileReport> {
  const rs = await ch.query({
    query: WINDOW_TOTALS,
    query_params: { window_ms: INDEX_POST_WINDOW_MS },
    format: "JSONEachRow",
  });
  const size = opts.batch ?? 500;
  const report: ReconcileReport = { posts: 0, differences: 0, repaired: 0 };
  const seen = new Map<string, string>();
  type Row = {
    pid: string;
    aid: string;
    l: number | string;
    c: number | string;
    s: number | string;
    i: number | string;
  };
  let batch: Row[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const p = redis.pipeline();
    for (const r of batch) p.hget(keys.authorPosts(r.aid), r.pid).hget(keys.authorPosts(r.aid), `${r.pid}:n`);
    const res = (await p.exec()) ?? [];
    for (const [j, r] of batch.entries()) {
      const [baseErr, base] = res[2 * j] ?? [];
      const [nErr, n] = res[2 * j + 1] ?? [];
      if (baseErr || nErr) throw baseErr ?? nErr;
      // A post the index does not hold (trimmed, not yet upserted) is the bootstrap's business.
      if (base === null || base === undefined) continue;
      report.posts++;
      const have = normal(n as string | null);
      const want =
        encodePostCounters({
          likes: Number(r.l),
          comments: Number(r.c),
          shares: Number(r.s),
          impressions: Number(r.i),
        }) ?? "";
      if (have === want) continue;
      report.differences++;
      const diff = `${have}|${want}`;
      seen.set(r.pid, diff);
      if (repairs.suspects.get(r.pid) !== diff) continue;
      const ok = await redis.eval(
        CAS_COUNTERS_LUA,
        1,
        keys.authorPosts(r.aid),
        `${r.pid}:n`,
        (n as string | null) ?? "",
        want,
      );
      if (Number(ok) === 1) {
        report.repaired++;
        repairs.byKind.post_counters = (repairs.byKind.post_counters ?? 0) + 1;
        log("index post counters repaired from ClickHouse", {
          post: r.pid,
          author: r.aid,
          index: have,
          clickhouse: want,
        });
      }
    }
    batch = [];
  };
  for await (const rows of rs.stream<Row>()) {
    for (const row of rows) {
      batch.push(row.json());
      if (batch.length >= size) {
        await flush();
        if (opts.signal?.aborted) {
          repairs.suspects = seen;
          return report;
        }
      }
    }
  }
  await flush();
  repairs.suspects = seen;
  return report;
}
