/**
 * GET /api/v1/discover/suggested-users (authenticated): the suggestions generator's Redis key
 * when present (X-Cache: HIT), else computed (MISS) from the serving index in three round trips
 * of single-key commands (edge/core/reads/suggestions.ts), or from ClickHouse when the index
 * cannot answer (not ready, no follower counts yet, the viewer not in it, Redis failing), and
 * cached in waitUntil. Server-Timing and the log's `suggest_source` say which one answered.
 *
 * The index's round trip 1 is sent alongside the cache read, not after it: a MISS then waits
 * for one round trip less (the cache read and trip 1 overlap), and a HIT drops trip 1's
 * replies (seven small reads of the viewer's keys: the price of the overlap).
 */
import { ApiError } from "#core/errors.ts";
import { indexKeys, SUGGEST_TTL_S, suggestKey } from "#core/keys.ts";
import {
  parseSuggestions1,
  SUGGESTIONS_PER_USER,
  type SuggestedUser,
  suggestionReads1,
  suggestionsAfterTrip1,
  suggestionsFromRows,
} from "#core/reads/suggestions.ts";
import { SUGGESTED_USERS_SQL } from "#core/sql/queries.ts";
import { operations } from "../api/contract.ts";
import { requireUser } from "../middleware.ts";
import { routeLimit } from "../ratelimit.ts";
import { upstashExec } from "../redis-exec.ts";
import { serverTiming, type Timing } from "../timing.ts";
import { apiRouter } from "../validation.ts";

export const discoverRoutes = apiRouter().openapi(
  { ...operations.getSuggestedUsers, middleware: [requireUser(), routeLimit("suggestions")] as const },
  async (c) => {
    const t0 = performance.now();
    const { limit } = c.req.valid("query");
    const userId = c.get("userId");
    // The index's keys hold ids as ClickHouse and PostgreSQL print them (lower case).
    const viewer = userId.toLowerCase();
    const log = c.get("logFields");
    const { redis, rawRedis, clickhouse } = c.var.clients;
    const timings: Timing[] = [];
    const lap = (name: string, since: number, desc?: string) =>
      timings.push({ name, ms: performance.now() - since, ...(desc ? { desc } : {}) });

    const keys = indexKeys(c.var.config.index.namespace);
    const exec = upstashExec(rawRedis);
    let t = performance.now();
    const trip1 = exec(suggestionReads1(keys, viewer));
    // Ignored by a HIT (errors included); kept alive to its end rather than cancelled mid-request.
    c.executionCtx.waitUntil(trip1.catch(() => {}));
    let users = await redis.get<SuggestedUser[]>(suggestKey(userId)).catch(() => null);
    lap("cache", t);
    let cache = "HIT";
    if (!Array.isArray(users)) {
      cache = "MISS";
      users = null;
      let why = "index not ready";
      t = performance.now();
      try {
        const t1 = parseSuggestions1(viewer, await trip1);
        if (t1.ready) users = (await suggestionsAfterTrip1(exec, keys, [t1])).get(viewer) ?? null;
        if (users) lap("index", t);
      } catch (err) {
        log.redis_error = String(err);
        why = "index unreadable";
      }
      if (!users) {
        t = performance.now();
        try {
          const rs = await clickhouse.query({
            query: SUGGESTED_USERS_SQL,
            query_params: { viewer, limit: SUGGESTIONS_PER_USER },
            format: "JSONEachRow",
          });
          users = suggestionsFromRows(await rs.json<{ user_id: string; score: number | string; reason: string }>());
        } catch (err) {
          log.clickhouse_error = String(err);
          throw new ApiError("unavailable", "suggestions temporarily unavailable; retry shortly");
        }
        lap("clickhouse", t, why);
        log.suggest_source = "clickhouse";
      } else log.suggest_source = "index";
      const computed = users;
      c.executionCtx.waitUntil(redis.set(suggestKey(userId), computed, { ex: SUGGEST_TTL_S }).catch(() => {}));
    }
    c.header("X-Cache", cache);
    c.header("Server-Timing", serverTiming(timings, performance.now() - t0));
    log.cache = cache;
    return c.json({ users: users.slice(0, limit) }, 200);
  },
);
