/**
 * GET /api/v1/trending (public): the hot-posts generator's Redis key when present, else
 * ranked here from ClickHouse's trending candidates and cached in waitUntil.
 */
import { ApiError } from "#core/errors.ts";
import { hotPostsWrites, rankHotPosts } from "#core/feed/hot-posts.ts";
import { hydrateFromMiss, hydrateFromRead, presentItems } from "#core/feed/present.ts";
import type { CandidateRowLike } from "#core/feed/rows.ts";
import { indexKeys } from "#core/keys.ts";
import type { RankedItem } from "#core/ranking/rank.ts";
import { hydrationReads, parseHydration } from "#core/reads/posts.ts";
import { TRENDING_CANDIDATES_SQL } from "#core/sql/queries.ts";
import { operations } from "../api/contract.ts";
import { routeLimit } from "../ratelimit.ts";
import { upstashAtomic, upstashExec } from "../redis-exec.ts";
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
      // The list and its ids (what feed misses read) are written together (one slot: the ids
      // key is tagged by the list's name), as the generator does.
      const write = upstashAtomic(c.var.clients.rawRedis)(hotPostsWrites(keys.hotPosts, items));
      c.executionCtx.waitUntil(write.catch(() => {}));
    }
    c.header("X-Cache", cache);
    c.get("logFields").cache = cache;
    // Live counts and cards: one hydration read of the index (the list's own numbers are up to a
    // minute old). Without Redis, the cards are the ids alone and the counts zero.
    const page = items.slice(0, limit);
    const plan = hydrationReads(
      keys,
      null,
      page.map((i) => ({ postId: i.postId, authorId: i.authorId })),
    );
    const rendered = await upstashExec(c.var.clients.rawRedis)(plan.commands)
      .then((replies) => {
        // A post the index does not hold was deleted since the list was built, unless the index
        // holds none of them (not ready): then each keeps what the list knows.
        const h = parseHydration(plan, replies);
        return presentItems(page, false, hydrateFromRead(h, null, h.posts.size === 0));
      })
      .catch((err) => {
        c.get("logFields").redis_error = String(err);
        return presentItems(page, false, hydrateFromMiss(null, null));
      });
    return c.json({ items: rendered }, 200);
  },
);
