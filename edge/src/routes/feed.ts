/** GET /api/v1/feed?limit=20&cursor=…&explain=1 */
import { Hono } from "hono";
import { z } from "zod";
import {
  ApiError,
  CursorError,
  decodeCursor,
  encodeCursor,
  type FeedCursor,
  pageOf,
  parseWeights,
  presentItem,
} from "../../core/index.ts";
import { clickhouseFor, redisFor } from "../clients.ts";
import type { AppEnv } from "../env.ts";
import { getFeed, type Timing } from "../feed/service.ts";
import { requireUser } from "../middleware.ts";

const querySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().max(200).optional(),
    explain: z.enum(["0", "1", "true", "false"]).optional(),
  })
  .strict();

export function serverTiming(timings: Timing[], totalMs: number): string {
  return [...timings.map((t) => `${t.name};dur=${t.ms.toFixed(1)}`), `total;dur=${totalMs.toFixed(1)}`].join(", ");
}

export const feedRoutes = new Hono<AppEnv>().get("/", requireUser(), async (c) => {
  const t0 = performance.now();
  const q = querySchema.safeParse(c.req.query());
  if (!q.success) {
    const issue = q.error.issues[0];
    throw new ApiError("bad_request", `${issue?.path.join(".") || "query"}: ${issue?.message ?? "invalid"}`);
  }
  let cursor: FeedCursor | null = null;
  if (q.data.cursor !== undefined) {
    try {
      cursor = decodeCursor(q.data.cursor);
    } catch (err) {
      if (err instanceof CursorError) throw new ApiError("bad_request", `cursor: ${err.message}`);
      throw err;
    }
  }
  const explain = q.data.explain === "1" || q.data.explain === "true";
  const logFields = c.get("logFields");
  const result = await getFeed(
    {
      redis: redisFor(c.env),
      clickhouse: clickhouseFor(c.env),
      ranking: {
        weights: parseWeights({
          freshness: c.env.RANK_WEIGHT_FRESHNESS,
          engagement: c.env.RANK_WEIGHT_ENGAGEMENT,
          affinity: c.env.RANK_WEIGHT_AFFINITY,
        }),
      },
      now: () => Date.now(),
      waitUntil: (p) => c.executionCtx.waitUntil(p),
      log: logFields,
    },
    c.get("userId"),
    cursor,
  );
  const page = pageOf(result.entry, result.offset, q.data.limit);
  logFields.cache = result.cache;
  c.header("X-Cache", result.cache);
  c.header("Server-Timing", serverTiming(result.timings, performance.now() - t0));
  c.header("Cache-Control", "private, no-store");
  return c.json({
    items: page.items.map((i) => presentItem(i, explain)),
    next_cursor: page.next ? encodeCursor(page.next) : null,
  });
});
