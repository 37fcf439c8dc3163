/**
 * GET /api/v1/posts/:id/stats (the post's author only): hourly counts of the last 7 days from
 * ClickHouse's post_metrics_1h, cached POST_STATS_CACHE_TTL_S in Redis.
 * - Round trip 1 (Redis): the cached answer and the post's author in the serving index.
 * - A cached answer names its author: the author gets it (HIT), anyone else a 403.
 * - Otherwise ClickHouse: the hours, and (when the index has no entry: a post older than the
 *   index's 8 days, or the index not ready) the author from posts_current, both at once. The
 *   author check comes before anything is answered. The answer is cached in waitUntil.
 */
import { ApiError } from "#core/errors.ts";
import { indexKeys } from "#core/keys.ts";
import {
  authorFromIndex,
  POST_AUTHOR_SQL,
  POST_STATS_CACHE_TTL_S,
  POST_STATS_SQL,
  type PostStatsBody,
  type PostStatsRow,
  postStatsBody,
  postStatsKey,
  postStatsSince,
} from "#core/reads/post-stats.ts";
import { operations } from "../api/contract.ts";
import { requireUser } from "../middleware.ts";
import { routeLimit } from "../ratelimit.ts";
import { upstashExec } from "../redis-exec.ts";
import { apiRouter } from "../validation.ts";

function cachedBody(reply: unknown): PostStatsBody | null {
  if (typeof reply !== "string") return null;
  try {
    const b = JSON.parse(reply) as PostStatsBody;
    return typeof b?.author_id === "string" && Array.isArray(b.hours) ? b : null;
  } catch {
    return null;
  }
}

export const statsRoutes = apiRouter().openapi(
  { ...operations.getPostStats, middleware: [requireUser(), routeLimit("feed")] as const },
  async (c) => {
    const postId = c.req.valid("param").id.toLowerCase();
    const userId = c.get("userId").toLowerCase();
    const log = c.get("logFields");
    const { rawRedis, clickhouse } = c.var.clients;
    const ns = c.var.config.index.namespace;
    const key = postStatsKey(ns, postId);
    c.header("Cache-Control", "private, no-store");

    let cached: PostStatsBody | null = null;
    let indexed: { author: string; deleted: boolean } | null = null;
    try {
      const [hit, post] = await upstashExec(rawRedis)([
        ["GET", key],
        ["HMGET", indexKeys(ns).post(postId), "a", "d"],
      ]);
      cached = cachedBody(hit);
      indexed = authorFromIndex(post);
    } catch (err) {
      log.redis_error = String(err); // Redis down: ClickHouse alone answers
    }
    if (cached) {
      if (cached.author_id !== userId) throw new ApiError("forbidden", "only the post's author can read its stats");
      c.header("X-Cache", "HIT");
      log.cache = "HIT";
      return c.json(cached, 200);
    }
    if (indexed?.deleted) throw new ApiError("not_found", "post not found");
    if (indexed && indexed.author !== userId)
      throw new ApiError("forbidden", "only the post's author can read its stats");

    const now = Date.now();
    const query = async <T>(sql: string, params: Record<string, unknown>): Promise<T[]> => {
      const rs = await clickhouse.query({ query: sql, query_params: params, format: "JSONEachRow" });
      return rs.json<T>();
    };
    let rows: PostStatsRow[];
    let author: string;
    try {
      const [hours, found] = await Promise.all([
        query<PostStatsRow>(POST_STATS_SQL, { post: postId, since: Math.floor(postStatsSince(now) / 1000) }),
        indexed
          ? Promise.resolve([{ author: indexed.author, deleted: false }])
          : query<{ author: string; deleted: number | boolean }>(POST_AUTHOR_SQL, { post: postId }),
      ]);
      const row = found[0];
      if (!row || Number(row.deleted) === 1 || row.deleted === true) throw new ApiError("not_found", "post not found");
      rows = hours;
      author = row.author.toLowerCase();
    } catch (err) {
      if (err instanceof ApiError) throw err;
      log.clickhouse_error = String(err);
      throw new ApiError("unavailable", "post stats temporarily unavailable; retry shortly");
    }
    if (author !== userId) throw new ApiError("forbidden", "only the post's author can read its stats");
    const body = postStatsBody(postId, author, rows, now);
    c.executionCtx.waitUntil(
      rawRedis
        .set(key, JSON.stringify(body), { ex: POST_STATS_CACHE_TTL_S })
        .catch((e) => (log.stats_cache_error = String(e))),
    );
    c.header("X-Cache", "MISS");
    log.cache = "MISS";
    return c.json(body, 200);
  },
);
