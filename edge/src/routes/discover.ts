/**
 * GET /api/v1/discover/suggested-users (authenticated): the suggestions generator's Redis key
 * when present, else computed from ClickHouse and cached in waitUntil.
 */
import {
  ApiError,
  SUGGEST_TTL_S,
  SUGGESTED_USERS_SQL,
  SUGGESTIONS_PER_USER,
  type SuggestedUser,
  suggestionsFromRows,
  suggestKey,
} from "../../core/index.ts";
import { operations } from "../api/contract.ts";
import { requireUser } from "../middleware.ts";
import { routeLimit } from "../ratelimit.ts";
import { apiRouter } from "../validation.ts";

export const discoverRoutes = apiRouter().openapi(
  { ...operations.getSuggestedUsers, middleware: [requireUser(), routeLimit("suggestions")] as const },
  async (c) => {
    const { limit } = c.req.valid("query");
    const userId = c.get("userId");
    const { redis, clickhouse } = c.var.clients;
    let users = await redis.get<SuggestedUser[]>(suggestKey(userId)).catch(() => null);
    let cache = "HIT";
    if (!users) {
      cache = "MISS";
      try {
        const rs = await clickhouse.query({
          query: SUGGESTED_USERS_SQL,
          query_params: { viewer: userId, limit: SUGGESTIONS_PER_USER },
          format: "JSONEachRow",
        });
        users = suggestionsFromRows(await rs.json<{ user_id: string; score: number | string; reason: string }>());
      } catch (err) {
        c.get("logFields").clickhouse_error = String(err);
        throw new ApiError("unavailable", "suggestions temporarily unavailable; retry shortly");
      }
      const computed = users;
      c.executionCtx.waitUntil(redis.set(suggestKey(userId), computed, { ex: SUGGEST_TTL_S }).catch(() => {}));
    }
    c.header("X-Cache", cache);
    c.get("logFields").cache = cache;
    return c.json({ users: users.slice(0, limit) }, 200);
  },
);
