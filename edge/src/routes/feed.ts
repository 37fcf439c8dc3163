/** GET /api/v1/feed?limit=20&cursor=…&explain=1 */
import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { z } from "zod";
import { CursorError, decodeCursor, encodeCursor, indexKeys, presentItem, rejectInvalid } from "../../core/index.ts";
import type { AppEnv } from "../env.ts";
import { getFeed, type Timing } from "../feed/service.ts";
import { requireUser } from "../middleware.ts";
import { routeLimit } from "../ratelimit.ts";
import { pageLimit } from "../validation.ts";

const feedQuery = z
  .object({
    limit: pageLimit,
    // A malformed or tampered cursor is a 400 like any bad parameter ("cursor: …").
    cursor: z
      .string()
      .max(200)
      .transform((raw, ctx) => {
        try {
          return decodeCursor(raw);
        } catch (err) {
          if (!(err instanceof CursorError)) throw err;
          ctx.addIssue({ code: "custom", message: err.message });
          return z.NEVER;
        }
      })
      .optional(),
    explain: z
      .enum(["0", "1", "true", "false"])
      .optional()
      .transform((v) => v === "1" || v === "true"),
  })
  .strict();

export function serverTiming(timings: Timing[], totalMs: number): string {
  return [
    ...timings.map((t) => `${t.name};dur=${t.ms.toFixed(1)}${t.desc ? `;desc="${t.desc}"` : ""}`),
    `total;dur=${totalMs.toFixed(1)}`,
  ].join(", ");
}

export const feedRoutes = new Hono<AppEnv>().get(
  "/",
  requireUser(),
  routeLimit("reads"),
  zValidator("query", feedQuery, rejectInvalid),
  async (c) => {
    const t0 = performance.now();
    const q = c.req.valid("query");
    const logFields = c.get("logFields");
    const { rawRedis: redis, clickhouse } = c.var.clients;
    const result = await getFeed(
      {
        redis,
        clickhouse,
        keys: indexKeys(c.var.config.index.namespace),
        ranking: c.var.config.ranking,
        now: () => Date.now(),
        waitUntil: (p) => c.executionCtx.waitUntil(p),
        log: logFields,
      },
      c.get("userId"),
      q.cursor ?? null,
      q.limit,
    );
    logFields.cache = result.cache;
    c.header("X-Cache", result.cache);
    c.header("Server-Timing", serverTiming(result.timings, performance.now() - t0));
    c.header("Cache-Control", "private, no-store");
    return c.json({
      items: result.items.map((i) => presentItem(i, q.explain)),
      next_cursor: result.next ? encodeCursor(result.next) : null,
    });
  },
);
