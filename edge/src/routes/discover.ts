/**
 * GET /api/v1/trending (public) and GET /api/v1/discover/suggested-users (authenticated): the
 * generator's Redis key when present, else computed from ClickHouse, cached in waitUntil.
 */
import { Hono } from "hono";
import { z } from "zod";
import {
  ApiError,
  type CandidateRowLike,
  HOT_POSTS_KEY,
  HOT_POSTS_TTL_S,
  presentItem,
  type RankedItem,
  rankHotPosts,
  SUGGEST_TTL_S,
  SUGGESTED_USERS_SQL,
  type SuggestedUser,
  suggestionsFromRows,
  suggestKey,
  TRENDING_CANDIDATES_SQL,
} from "../../core/index.ts";
import { clickhouseFor, redisFor } from "../clients.ts";
import type { AppEnv } from "../env.ts";
import { requireUser } from "../middleware.ts";

const limitSchema = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }).strict();

function parseLimit(query: Record<string, string>): number {
  const q = limitSchema.safeParse(query);
  if (!q.success) {
    const i = q.error.issues[0];
    throw new ApiError("bad_request", `${i?.path.join(".") || "query"}: ${i?.message ?? "invalid"}`);
  }
  return q.data.limit;
}

/** Trending pool size read from ClickHouse before ranking. */
const TRENDING_POOL = 1000;

export const discoverRoutes = new Hono<AppEnv>()
  .get("/trending", async (c) => {
    const limit = parseLimit(c.req.query());
    const redis = redisFor(c.env);
    let items = await redis.get<RankedItem[]>(HOT_POSTS_KEY).catch((err) => {
      c.get("logFields").redis_error = String(err);
      return null;
    });
    let cache = "HIT";
    if (!items) {
      cache = "MISS";
      try {
        const rs = await clickhouseFor(c.env).query({
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
      c.executionCtx.waitUntil(redis.set(HOT_POSTS_KEY, computed, { ex: HOT_POSTS_TTL_S }).catch(() => {}));
    }
    c.header("X-Cache", cache);
    c.get("logFields").cache = cache;
    return c.json({ items: items.slice(0, limit).map((i) => presentItem(i, false)) });
  })
  .get("/discover/suggested-users", requireUser(), async (c) => {
    const limit = parseLimit(c.req.query());
    const userId = c.get("userId");
    const redis = redisFor(c.env);
    let users = await redis.get<SuggestedUser[]>(suggestKey(userId)).catch(() => null);
    let cache = "HIT";
    if (!users) {
      cache = "MISS";
      try {
        const rs = await clickhouseFor(c.env).query({
          query: SUGGESTED_USERS_SQL,
          query_params: { viewer: userId, limit: 20 },
          format: "JSONEachRow",
        });
        users = suggestionsFromRows(await rs.json<{ user_id: string; score: string; reason: string }>());
      } catch (err) {
        c.get("logFields").clickhouse_error = String(err);
        throw new ApiError("unavailable", "suggestions temporarily unavailable; retry shortly");
      }
      const computed = users;
      c.executionCtx.waitUntil(redis.set(suggestKey(userId), computed, { ex: SUGGEST_TTL_S }).catch(() => {}));
    }
    c.header("X-Cache", cache);
    c.get("logFields").cache = cache;
    return c.json({ users: users.slice(0, limit) });
  });
