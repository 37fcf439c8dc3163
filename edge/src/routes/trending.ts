/**
 * GET /api/v1/trending (public): the hot-posts generator's Redis key when present, else
 * ranked here from ClickHouse's trending candidates and cached in waitUntil.
 */
import {
  ApiError,
  type CandidateRowLike,
  HOT_POSTS_TTL_S,
  hotPostIds,
  indexKeys,
  presentItem,
  type RankedItem,
  rankHotPosts,
  TRENDING_CANDIDATES_SQL,
} from "../../core/index.ts";
import { operations } from "../api/contract.ts";
import { routeLimit } from "../ratelimit.ts";
import { apiRouter } from "../validation.ts";

/** Trending pool size read from ClickHouse before ranking. */
const TRENDING_POOL = 1000;

export const trendingRoutes = apiRouter().openapi(
  { ...operations.getTrending, middleware: [routeLimit("anon")] as const },
  async (c) => {
    const { limit } = c.req.valid("query");
    const { redis, clickhouse } = c.var.clients;
    const keys = indexKeys(c.var.config.index.namespace);
    let items = await redis.get<RankedItem[]>(keys.hotPosts).catch((err) => {
      c.get("logFields").redis_error = String(err);
      return null;
    });
    let cache = "HIT";
    if (!items) {
      cache = "MISS";
      try {
        const rs = await clickhouse.query({
          query: TRENDING_CANDIDATES_SQL,
          query_params: { pool: TRENDING_POOL },
          format: "JSONEachRow",
        });
        items = rankHotPosts(await rs.json<CandidateRowLike>(), Date.now());
      } catch (err) {
        c.get("logFields").clickhouse_error = String(err);
        throw new ApiError("unavailable", "trending temporarily unavailable; retry shortly");
      }
      const computed = items;
      // The list and its ids (what feed misses read) are written together, as the generator does.
      const write = redis.multi();
      write.set(keys.hotPosts, computed, { ex: HOT_POSTS_TTL_S });
      write.set(keys.hotPostIds, hotPostIds(computed), { ex: HOT_POSTS_TTL_S });
      c.executionCtx.waitUntil(write.exec().catch(() => {}));
    }
    c.header("X-Cache", cache);
    c.get("logFields").cache = cache;
    return c.json({ items: items.slice(0, limit).map((i) => presentItem(i, false)) }, 200);
  },
);
